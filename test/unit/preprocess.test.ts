import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageToInput, inputToDisplay } from '../../src/engine/data/preprocess';
import type { RgbaImage } from '../../src/engine/data/image';
import type { InputSpec, Preprocessing } from '../../src/engine/model/model';
import { InputError } from '../../src/engine/errors';

function spec(channels: number, layout: 'NCHW' | 'NHWC', height: number, width: number, preprocessing: Preprocessing): InputSpec {
  const shape = layout === 'NCHW' ? [channels, height, width] : [height, width, channels];
  return { name: 'x', shape, layout, channels, height, width, preprocessing };
}

function image(width: number, height: number, pixels: number[][]): RgbaImage {
  return { width, height, data: Uint8Array.from(pixels.flat()) };
}

const IDENTITY = { scale: 1, mean: [0], std: [1] };
const TWO_PIXELS = image(2, 1, [[10, 20, 30, 255], [40, 50, 60, 0]]);

test('layouts order the values as NCHW and NHWC', () => {
  assert.deepEqual(Array.from(imageToInput(TWO_PIXELS, spec(3, 'NCHW', 1, 2, IDENTITY), 'a.png')), [10, 40, 20, 50, 30, 60]);
  assert.deepEqual(Array.from(imageToInput(TWO_PIXELS, spec(3, 'NHWC', 1, 2, IDENTITY), 'a.png')), [10, 20, 30, 40, 50, 60]);
});

test('closed-form normalisation per channel (ImageNet constants)', () => {
  const p = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const got = imageToInput(TWO_PIXELS, spec(3, 'NHWC', 1, 2, p), 'a.png');
  // (10/255 - 0.485) / 0.229 = -1.946656, (20/255 - 0.456) / 0.224 = -1.685574, ...
  const expected = [-1.946656, -1.685574, -1.281569, -1.432914, -1.160364, -0.758693];
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5, `value ${i}: ${v} vs ${expected[i]}`));
});

test('MNIST-style single channel: (p/255 - 0.1307) / 0.3081', () => {
  const gray = image(1, 1, [[255, 255, 255, 255]]);
  const got = imageToInput(gray, spec(1, 'NCHW', 1, 1, { scale: 1 / 255, mean: [0.1307], std: [0.3081] }), 'd.png');
  assert.ok(Math.abs(got[0] - 2.821487) < 1e-5, String(got[0]));
});

test('RGB to one channel by BT.601 luma; alpha ignored', () => {
  const rgb = image(2, 1, [[100, 150, 200, 0], [255, 0, 0, 255]]);
  const got = imageToInput(rgb, spec(1, 'NCHW', 1, 2, IDENTITY), 'c.png');
  // 0.299*100 + 0.587*150 + 0.114*200 = 140.75; pure red = 0.299*255 = 76.245
  assert.ok(Math.abs(got[0] - 140.75) < 1e-4, String(got[0]));
  assert.ok(Math.abs(got[1] - 76.245) < 1e-4, String(got[1]));
});

test('an already gray RGB image gives exactly its gray values', () => {
  const levels = Array.from({ length: 256 }, (_, v) => [v, v, v, 255]);
  const p = { scale: 1 / 255, mean: [0.1307], std: [0.3081] };
  const got = imageToInput(image(256, 1, levels), spec(1, 'NCHW', 1, 256, p), 'g.png');
  got.forEach((x, v) => assert.equal(x, Math.fround((v / 255 - 0.1307) / 0.3081), `level ${v}`));
});

test('gray to three channels by replication; a single mean/std applies to every channel', () => {
  const gray = image(1, 1, [[90, 90, 90, 255]]);
  const got = imageToInput(gray, spec(3, 'NCHW', 1, 1, { scale: 1, mean: [10], std: [2] }), 'g.png');
  assert.deepEqual(Array.from(got), [40, 40, 40]);
});

test('wrong size is an InputError naming the file; no silent resize', () => {
  const big = { width: 32, height: 32, data: new Uint8Array(32 * 32 * 4) };
  assert.throws(
    () => imageToInput(big, spec(1, 'NCHW', 28, 28, IDENTITY), 'digit.png'),
    (e: unknown) => e instanceof InputError && e.message === 'digit.png: image is 32×32 but the model expects 28×28',
  );
  const wide = { width: 30, height: 28, data: new Uint8Array(30 * 28 * 4) };
  assert.throws(() => imageToInput(wide, spec(1, 'NCHW', 28, 28, IDENTITY), 'w.png'), /w\.png: image is 30×28 but the model expects 28×28/);
});

test('a model with neither 1 nor 3 channels cannot take an image', () => {
  assert.throws(
    () => imageToInput(TWO_PIXELS, spec(4, 'NCHW', 1, 2, IDENTITY), 'a.png'),
    (e: unknown) => e instanceof InputError && /^a\.png: the model expects 4 input channels/.test(e.message),
  );
});

test('inputToDisplay undoes the normalisation and clamps', () => {
  const p = { scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1] };
  const s = spec(3, 'NCHW', 1, 2, p);
  // pixel = (x * std + mean) * 255, rounded and clamped to 0..255
  const x = Float32Array.from([0, 10, 0.2, -10, -0.5, 0.1]);
  const shown = inputToDisplay(x, s);
  assert.equal(shown.width, 2);
  assert.equal(shown.height, 1);
  assert.deepEqual(Array.from(shown.data), [128, 153, 0, 255, 255, 0, 153, 255]);
});

test('inputToDisplay of a one-channel input is gray, and inverts imageToInput', () => {
  const p = { scale: 1 / 255, mean: [0.1307], std: [0.3081] };
  const s = spec(1, 'NHWC', 1, 3, p);
  const img = image(3, 1, [[0, 0, 0, 255], [77, 77, 77, 255], [255, 255, 255, 255]]);
  assert.deepEqual(inputToDisplay(imageToInput(img, s, 'g.png'), s), img);
});
