import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseNpy, toFloat32 } from '../../../src/engine/data/npy';

export const FIXTURES = path.resolve(__dirname, '..', '..', 'fixtures');
export const REPO = path.resolve(__dirname, '..', '..', '..');

/** A committed .npy fixture (written by numpy in a fixture script) as a float32 tensor. */
export function npyTensor(file: string): tf.Tensor {
  const arr = parseNpy(fs.readFileSync(file), file);
  return tf.tensor(toFloat32(arr), arr.shape, 'float32');
}

/** ‖a − b‖ / ‖b‖ over all elements; the tests' measure of agreement with a reference. */
export function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
  }
  return Math.sqrt(num) / Math.sqrt(den || 1);
}

/** Backends every engine test runs on: results must agree across them. */
export const TEST_BACKENDS = ['cpu', 'wasm'] as const;

/** A fresh temporary folder. */
export function tempDir(prefix = 'lens-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
