import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../model/model';
import { positiveInteger, sampleSize } from './common';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * Bytes one batch may hold in activations, per backend. The wasm heap is capped at 4 GiB and
 * also holds the model's weights, the inputs and tfjs's own allocations: a quarter of it is
 * a safe share for one pass. The cpu backend keeps tensors in JS typed arrays; the native
 * TensorFlow backend in its own allocator (more room); GPU backends in device memory
 * (usually less room).
 */
export const MEMORY_BUDGETS: Readonly<Record<string, number>> = {
  wasm: 1 * GiB,
  cpu: 1 * GiB,
  tensorflow: 2 * GiB,
  webgl: 256 * MiB,
  webgpu: 256 * MiB,
};

/** Budget for a backend not listed in MEMORY_BUDGETS. */
export const DEFAULT_MEMORY_BUDGET = 512 * MiB;

/**
 * A backward pass keeps every forward activation for the gradient and allocates gradients of
 * about the same size again, plus temporaries: about 3× the forward activations.
 */
export const BACKWARD_FACTOR = 3;

/** Upper bound on a batch whatever the budget, so tiny models do not build huge tensors. */
export const MAX_BATCH = 256;

export type PassKind = 'forward' | 'backward';

/** Memory budget in bytes for one pass on `backend` (default: the active backend). */
export function memoryBudget(backend: string = tf.getBackend()): number {
  return MEMORY_BUDGETS[backend] ?? DEFAULT_MEMORY_BUDGET;
}

/**
 * How many inputs to evaluate in one pass: the memory budget of the active backend divided by
 * the bytes one sample needs (model.activationBytesPerSample, ×BACKWARD_FACTOR for a backward
 * pass, plus the input itself), clamped to [1, MAX_BATCH] and to `needed`. An explicit
 * `batchSize` option overrides the estimate (still clamped to `needed`).
 */
export function batchSizeFor(
  model: Model,
  kind: PassKind,
  options: { batchSize?: number },
  needed: number = Number.POSITIVE_INFINITY,
): number {
  const cap = Math.max(1, needed);
  if (options.batchSize !== undefined) {
    return Math.min(positiveInteger('batchSize', options.batchSize, 1), cap);
  }
  const activations = Number.isFinite(model.activationBytesPerSample) ? Math.max(0, model.activationBytesPerSample) : 0;
  const perSample = (kind === 'backward' ? BACKWARD_FACTOR : 1) * activations + 2 * 4 * sampleSize(model);
  const fit = Math.floor(memoryBudget() / Math.max(1, perSample));
  return Math.max(1, Math.min(fit, MAX_BATCH, cap));
}
