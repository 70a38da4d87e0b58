import type { OpDefinition } from '../op';
import { convOps } from './conv';
import { elementwiseOps } from './elementwise';
import { linearOps } from './linear';
import { normalizationOps } from './normalization';
import { poolOps } from './pool';
import { reduceOps } from './reduce';
import { shapeOps } from './shape';

/** Every ONNX operator the engine runs (default domain), by op type. Constant is folded at load. */
export const OPS: Readonly<Record<string, OpDefinition>> = {
  ...convOps,
  ...elementwiseOps,
  ...linearOps,
  ...normalizationOps,
  ...poolOps,
  ...reduceOps,
  ...shapeOps,
};

export function isSupported(opType: string): boolean {
  return opType === 'Constant' || opType in OPS;
}

export function supportedOperators(): string[] {
  return [...Object.keys(OPS), 'Constant'].sort();
}
