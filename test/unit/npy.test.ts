import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { encodeNpy, parseNpy, toFloat32 } from '../../src/engine/data/npy';
import { InputError } from '../../src/engine/errors';

// Fixtures are written by numpy: test/fixtures/npy/make_npy.py states the values used below.
const DIR = path.join(__dirname, '..', 'fixtures', 'npy');
const load = (name: string) => parseNpy(readFileSync(path.join(DIR, name)), name);
const BASE = [-1, -0.5, 0, 0.5, 1, 1.5];

test('float32, version 1.0', () => {
  const a = load('f4.npy');
  assert.deepEqual(a.shape, [2, 3]);
  assert.equal(a.dtype, 'float32');
  assert.ok(a.data instanceof Float32Array);
  assert.deepEqual(Array.from(a.data), BASE);
});

test('float64 keeps double precision', () => {
  const a = load('f8.npy');
  assert.equal(a.dtype, 'float64');
  assert.ok(a.data instanceof Float64Array);
  assert.deepEqual(Array.from(a.data), BASE.map((v) => v + 1e-10));
});

test('uint8, int32, int64 and bool', () => {
  const u1 = load('u1.npy');
  assert.equal(u1.dtype, 'uint8');
  assert.deepEqual(Array.from(u1.data), [0, 1, 127, 128, 254, 255]);

  const i4 = load('i4.npy');
  assert.equal(i4.dtype, 'int32');
  assert.deepEqual(i4.shape, [2, 3]);
  assert.deepEqual(Array.from(i4.data), [-2147483648, -1, 0, 1, 2, 2147483647]);

  const i8 = load('i8.npy');
  assert.equal(i8.dtype, 'int64');
  assert.deepEqual(Array.from(i8.data), [-(2 ** 40), -3, 0, 7, 2 ** 40]);

  const b1 = load('b1.npy');
  assert.equal(b1.dtype, 'bool');
  assert.deepEqual(Array.from(b1.data), [1, 0, 1, 1]);
});

test('scalar and empty shapes', () => {
  const s = load('scalar.npy');
  assert.deepEqual(s.shape, []);
  assert.deepEqual(Array.from(s.data), [2.5]);
  const e = load('empty.npy');
  assert.deepEqual(e.shape, [0, 4]);
  assert.equal(e.data.length, 0);
});

test('format versions 2.0 and 3.0', () => {
  for (const name of ['v2.npy', 'v3.npy']) {
    const a = load(name);
    assert.deepEqual(a.shape, [2, 3], name);
    assert.deepEqual(Array.from(a.data), BASE, name);
  }
});

test('parses from an unaligned view of a larger buffer', () => {
  const file = readFileSync(path.join(DIR, 'f8.npy'));
  const shifted = new Uint8Array(file.length + 3);
  shifted.set(file, 3);
  const a = parseNpy(shifted.subarray(3), 'f8.npy');
  assert.deepEqual(Array.from(a.data), BASE.map((v) => v + 1e-10));
});

test('toFloat32 converts and keeps float32 as is', () => {
  const f4 = load('f4.npy');
  assert.equal(toFloat32(f4), f4.data);
  const i4 = toFloat32(load('i4.npy'));
  assert.ok(i4 instanceof Float32Array);
  assert.deepEqual(Array.from(i4), [-2147483648, -1, 0, 1, 2, 2147483648]);
});

test('encodeNpy writes the same bytes as np.save', () => {
  const expected = readFileSync(path.join(DIR, 'encoded_reference.npy'));
  const encoded = encodeNpy(new Float32Array(BASE), [1, 2, 3]);
  assert.deepEqual(Buffer.from(encoded), expected);
  assert.equal((encoded.length - 6 * 4) % 64, 0, 'header padded to 64 bytes');
});

test('encodeNpy round-trips other shapes, header a multiple of 64 bytes ending in a newline', () => {
  for (const shape of [[7], [], [2, 1, 28, 28], [1, 3, 224, 224]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const bytes = encodeNpy(data, shape);
    const headerLength = bytes[8] | (bytes[9] << 8);
    assert.equal((10 + headerLength) % 64, 0, `shape ${shape}`);
    assert.equal(bytes[10 + headerLength - 1], 0x0a);
    const text = Buffer.from(bytes.subarray(10, 10 + headerLength)).toString('latin1');
    const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
    assert.ok(text.startsWith(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`), text);
    const back = parseNpy(bytes, 'x.npy');
    assert.deepEqual(back.shape, shape);
    assert.deepEqual(back.data, data);
  }
});

test('encodeNpy rejects a shape that does not match the data', () => {
  assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), /holds 6 values but data has 5/);
});

function rejects(name: string, bytes: Uint8Array | undefined, pattern: RegExp): void {
  const data = bytes ?? readFileSync(path.join(DIR, name));
  assert.throws(
    () => parseNpy(data, `samples/${name}`),
    (e: unknown) => {
      assert.ok(e instanceof InputError, `expected InputError, got ${e}`);
      assert.ok(e.message.startsWith(`samples/${name}: `), e.message);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
}

test('errors name the file and the problem', () => {
  rejects('bad_magic.npy', undefined, /not a \.npy file/);
  rejects('short.npy', new Uint8Array([0x93, 0x4e]), /not a \.npy file/);
  rejects('truncated.npy', undefined, /truncated data: shape \(2, 3\) needs 24 bytes, found 19/);
  rejects('truncated_header.npy', undefined, /truncated \.npy header/);
  rejects('fortran.npy', undefined, /fortran_order arrays are not supported/);
  rejects('bigendian.npy', undefined, /unsupported dtype '>f4' \(big-endian\); expected little-endian float32/);
  rejects('object.npy', undefined, /unsupported object dtype/);
  rejects('structured.npy', undefined, /unsupported structured dtype/);
  rejects('complex.npy', undefined, /unsupported dtype '<c8'/);
});

test('unknown format version and malformed headers', () => {
  const good = readFileSync(path.join(DIR, 'f4.npy'));
  const v9 = Uint8Array.from(good);
  v9[6] = 9;
  rejects('v9.npy', v9, /unsupported \.npy format version 9\.0/);

  const noShape = Uint8Array.from(good);
  const header = Buffer.from(noShape.subarray(10, 80)).toString('latin1').replace("'shape'", "'shope'");
  noShape.set(Buffer.from(header, 'latin1'), 10);
  rejects('noshape.npy', noShape, /malformed \.npy header \(no 'shape'\)/);
});
