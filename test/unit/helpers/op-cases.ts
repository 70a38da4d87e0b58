import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, relativeL2 } from './fixtures';

/**
 * One-operator ONNX models built with onnx.helper, with outputs and vector–Jacobian products
 * computed independently by PyTorch/numpy in float64 (test/fixtures/make_op_cases.py).
 */
export interface FixtureArray {
  shape: number[];
  data: number[];
}

export interface OpCase {
  name: string;
  model: string;
  op: string;
  opset: number;
  inputs: Record<string, FixtureArray>;
  outputs: Record<string, FixtureArray>;
  grad?: { wrt: string; cotangent: FixtureArray; value: FixtureArray };
}

export const OPS_DIR = path.join(FIXTURES, 'ops');

export const OP_CASES = JSON.parse(fs.readFileSync(path.join(OPS_DIR, 'cases.json'), 'utf8')) as OpCase[];

/** Relative L2 for typical values; absolute for references that are (almost) zero. */
export function closeToReference(actual: ArrayLike<number>, expected: number[]): boolean {
  const norm = Math.sqrt(expected.reduce((s, v) => s + v * v, 0));
  if (norm < 1e-3) return Array.from(actual).every((v, i) => Math.abs(v - expected[i]) < 1e-6);
  return relativeL2(actual, expected) < 1e-4;
}
