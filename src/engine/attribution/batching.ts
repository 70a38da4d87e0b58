import * as tf from '@tensorflow/tfjs-core';
import * as os from 'node:os';
import type { Model } from '../model/model';
import { positiveInteger, sampleSize } from './common';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * Bytes one batch may hold in activations, for backends without a hard heap limit (see
 * HEAP_LIMITS for those). The cpu backend keeps tensors in JS typed arrays; the native
 * TensorFlow backend in its own allocator (more room); GPU backends in device memory
 * (usually less room).
 */
export const MEMORY_BUDGETS: Readonly<Record<string, number>> = {
  cpu: 1 * GiB,
  tensorflow: 2 * GiB,
  webgl: 256 * MiB,
  webgpu: 256 * MiB,
};

/**
 * Backends whose whole heap has a hard limit: the wasm heap cannot grow past 4 GiB (32-bit
 * addresses), and running out of it aborts the pass ("memory access out of bounds"). A pass may
 * use HEAP_FRACTION of the limit minus what is already allocated (weights, inputs, cached
 * tensors: tf.memory() at the time of the call); the rest absorbs fragmentation (the wasm heap
 * never shrinks and freed blocks are not always reusable) and the caller's own tensors.
 */
export const HEAP_LIMITS: Readonly<Record<string, number>> = {
  wasm: 4 * GiB,
};
export const HEAP_FRACTION = 0.6;

/** Budget for a backend not listed in MEMORY_BUDGETS or HEAP_LIMITS. */
export const DEFAULT_MEMORY_BUDGET = 512 * MiB;

/** Never plan a pass with less than this, whatever is already allocated. */
const MIN_BUDGET = 64 * MiB;

/**
 * A backward pass keeps every forward activation for the gradient and allocates gradients of
 * about the same size again, plus temporaries. Measured on wasm (tf.profile peak bytes per extra
 * sample of an IG batch ÷ the model's activationBytesPerSample, bench/README.md): ResNet-18 2.1,
 * MobileNetV2 1.8, DenseNet-121 1.8; 3 leaves room for kernels that need more.
 */
export const BACKWARD_FACTOR = 3;

/** Upper bound on a batch whatever the budget, so tiny models do not build huge tensors. */
export const MAX_BATCH = 256;

export type PassKind = 'forward' | 'backward';

/**
 * Memory budget in bytes for one pass on `backend` (default: the active backend): for a backend
 * with a heap limit, HEAP_FRACTION of it minus the bytes already allocated on it.
 */
export function memoryBudget(backend: string = tf.getBackend()): number {
  const limit = HEAP_LIMITS[backend];
  if (limit !== undefined) {
    const resident = backend === tf.getBackend() ? tf.memory().numBytes : 0;
    return Math.max(MIN_BUDGET, HEAP_FRACTION * limit - resident);
  }
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

/**
 * Batch size for a pass on the native runtime (src/engine/native): ONNX Runtime allocates from
 * the process's memory, so its budget is a quarter of the machine's RAM (at most 8 GiB) rather
 * than a share of the wasm heap. Never smaller than the batch planned for TensorFlow.js.
 */
export function nativeBatchSize(model: Model, kind: PassKind, planned: number, needed: number): number {
  const budget = Math.min(os.totalmem() / 4, 8 * GiB);
  const perSample = (kind === 'backward' ? BACKWARD_FACTOR : 1) * Math.max(0, model.activationBytesPerSample) + 2 * 4 * sampleSize(model);
  const fit = Math.floor(budget / Math.max(1, perSample));
  return Math.max(planned, Math.min(fit, MAX_BATCH, Math.max(1, needed)));
}
