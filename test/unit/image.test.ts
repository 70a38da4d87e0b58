import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodeImage, type RgbaImage } from '../../src/engine/data/image';
import { InputError } from '../../src/engine/errors';

// Written by PIL in test/fixtures/npy/make_npy.py; each pixel is a closed-form function of (x, y).
const DIR = path.join(__dirname, '..', 'fixtures', 'images');
const load = (name: string) => decodeImage(readFileSync(path.join(DIR, name)), name);

function pixel(img: RgbaImage, x: number, y: number): number[] {
  const i = 4 * (y * img.width + x);
  return Array.from(img.data.subarray(i, i + 4));
}

function expectEvery(img: RgbaImage, width: number, height: number, expected: (x: number, y: number) => number[]): void {
  assert.equal(img.width, width);
  assert.equal(img.height, height);
  assert.equal(img.data.length, width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) assert.deepEqual(pixel(img, x, y), expected(x, y), `pixel (${x}, ${y})`);
  }
}

test('8-bit gray PNG expands to opaque RGBA', () => {
  expectEvery(load('gray.png'), 5, 4, (x, y) => {
    const v = 10 * x + 40 * y;
    return [v, v, v, 255];
  });
});

test('gray + alpha PNG keeps its alpha', () => {
  expectEvery(load('gray_alpha.png'), 5, 4, (x, y) => {
    const v = 10 * x + 40 * y;
    return [v, v, v, 255 - 50 * x];
  });
});

test('RGB and RGBA PNG', () => {
  expectEvery(load('rgb.png'), 5, 4, (x, y) => [50 * x, 60 * y, 200, 255]);
  expectEvery(load('rgba.png'), 5, 4, (x, y) => [50 * x, 60 * y, 200, 255 - 50 * x]);
});

test('palette PNG looks its indices up', () => {
  const palette = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];
  expectEvery(load('palette.png'), 5, 4, (x, y) => [...palette[(x + y) % 3], 255]);
});

test('16-bit gray PNG is rounded to 8 bits', () => {
  expectEvery(load('gray16.png'), 5, 4, (x, y) => {
    const v = Math.round(((1000 * x + 5000 * y) * 255) / 65535);
    return [v, v, v, 255];
  });
});

test('JPEG decodes close to its source (lossy)', () => {
  const check = (img: RgbaImage, expected: (x: number, y: number) => number[]) => {
    assert.equal(img.width, 16);
    assert.equal(img.height, 16);
    let worst = 0;
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        const got = pixel(img, x, y);
        assert.equal(got[3], 255);
        expected(x, y).forEach((v, k) => (worst = Math.max(worst, Math.abs(got[k] - v))));
      }
    }
    assert.ok(worst <= 8, `largest error ${worst}`);
  };
  check(load('ramp.jpg'), (x, y) => [16 * x, 16 * y, 128]);
  check(load('ramp_gray.jpg'), (x, y) => [8 * x + 4 * y, 8 * x + 4 * y, 8 * x + 4 * y]);
});

function rejects(name: string, bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => decodeImage(bytes, `samples/${name}`),
    (e: unknown) => {
      assert.ok(e instanceof InputError, `expected InputError, got ${e}`);
      assert.ok(e.message.startsWith(`samples/${name}: `), e.message);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
}

test('unsupported and broken files are InputErrors naming the file', () => {
  rejects('not_supported.gif', readFileSync(path.join(DIR, 'not_supported.gif')), /not a PNG or JPEG image/);
  rejects('empty.png', new Uint8Array(0), /not a PNG or JPEG image/);
  rejects('truncated.png', readFileSync(path.join(DIR, 'truncated.png')), /cannot decode PNG/);
  const jpeg = readFileSync(path.join(DIR, 'ramp.jpg'));
  rejects('truncated.jpg', jpeg.subarray(0, 200), /cannot decode JPEG/);
});

test('a JPEG too large for the memory guard is refused', () => {
  // A header claiming 9000×9000 pixels: under jpeg-js's 100 MP cap, but 324 MB of RGBA alone.
  const jpeg = Uint8Array.from(readFileSync(path.join(DIR, 'ramp.jpg')));
  let sof = 2;
  while (!(jpeg[sof] === 0xff && (jpeg[sof + 1] === 0xc0 || jpeg[sof + 1] === 0xc2))) sof += 2 + ((jpeg[sof + 2] << 8) | jpeg[sof + 3]);
  jpeg.set([9000 >> 8, 9000 & 0xff, 9000 >> 8, 9000 & 0xff], sof + 5);
  rejects('huge.jpg', jpeg, /cannot decode JPEG: maxMemoryUsageInMB limit exceeded/);
});
