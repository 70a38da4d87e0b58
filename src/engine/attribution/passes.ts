import * as tf from '@tensorflow/tfjs-core';
import type { ActivationRule, Model } from '../model/model';
import { defaultPool, type PassPool } from '../parallel/pool';
import { nativeBatchSize } from './batching';
import { checkpoint, type Progress } from './common';

/**
 * Batched model evaluations shared by the methods. Inputs are produced and results consumed as
 * flat Float32Arrays in plain JS, so only the model's own ops run on the backend: the
 * arithmetic around them (interpolation, accumulation, averaging) is float64 JS, identical on
 * every backend, and no tensor outlives its batch.
 */
export interface PassContext {
  model: Model;
  target: number;
  signal?: AbortSignal;
  /** Advanced by the number of inputs evaluated after each batch. */
  progress?: Progress;
  /** Modified-gradient rule for the backward passes (rules.ts); the plain gradient without one. */
  rule?: ActivationRule;
  /**
   * Worker pool for the batches (src/engine/parallel): without one, the process's default pool
   * (none unless the CLI or engine worker set one); `null` keeps the passes on this thread.
   * Passes with a rule always run here (rules hold closures a worker cannot receive).
   */
  pool?: PassPool | null;
}

/** The pool that may take a pass of `ctx`, if any. */
function poolFor(ctx: PassContext): PassPool | undefined {
  if (ctx.rule) return undefined;
  return ctx.pool === null ? undefined : (ctx.pool ?? defaultPool());
}

/**
 * Produces inputs start..end-1 as one flat array of (end - start) samples. With a pool, the
 * batches after one may be made before it is consumed (several are computed at once): state
 * passed from make() to consume() must be kept by batch start, not in one variable.
 */
export type MakeInputs = (start: number, end: number) => Float32Array;

/** d logits[i, target] / d x[i] for every row i of x; same shape as x. Synchronous, tidy. */
export function targetGradient(model: Model, x: tf.Tensor, target: number, rule?: ActivationRule): tf.Tensor {
  return tf.tidy(() => {
    const f = (z: tf.Tensor): tf.Scalar => tf.sum(tf.slice(model.logits(z, rule), [0, target], [-1, 1]));
    return tf.grad(f)(x);
  });
}

/** logits[:, target] for a batch x, shape [N]. Synchronous, tidy. */
export function targetLogits(model: Model, x: tf.Tensor, target: number): tf.Tensor1D {
  return tf.tidy(() => tf.reshape(tf.slice(model.logits(x), [0, target], [-1, 1]), [-1]) as tf.Tensor1D);
}

function batchTensor(model: Model, data: Float32Array, n: number): tf.Tensor {
  return tf.tensor(data, [n, ...model.input.shape], 'float32');
}

/**
 * Batches start..end-1 of `count`, computed by `compute` (flat inputs → flat results) and handed
 * to `consume` in order, with cancellation checks and progress between batches.
 */
async function batches(
  ctx: PassContext,
  count: number,
  batchSize: number,
  make: MakeInputs,
  compute: (data: Float32Array, n: number) => Promise<Float32Array>,
  consume: (start: number, end: number, values: Float32Array) => void,
): Promise<void> {
  for (let start = 0; start < count; start += batchSize) {
    await checkpoint(ctx.signal);
    const end = Math.min(count, start + batchSize);
    consume(start, end, await compute(make(start, end), end - start));
    ctx.progress?.advance(end - start);
  }
}

/** Runs a synchronous tidy tensor function on a batch and reads its result back. */
async function onBackend(model: Model, data: Float32Array, n: number, f: (x: tf.Tensor) => tf.Tensor): Promise<Float32Array> {
  const x = batchTensor(model, data, n);
  try {
    const y = f(x);
    try {
      return (await y.data()) as Float32Array;
    } finally {
      y.dispose();
    }
  } finally {
    x.dispose();
  }
}

/** The native runtime's passes for ctx when it runs this model (never with a rule: rules are TensorFlow.js closures). */
function nativeFor(ctx: PassContext, batchSize: number) {
  const native = ctx.rule ? undefined : ctx.model.native?.();
  return native?.accepts(batchSize) ? native : undefined;
}

/**
 * Runs `count` inputs through the model in batches: on the native runtime when it runs this
 * model (forward passes always, gradients when the graph has a gradient program), else on the
 * pool or this thread's backend.
 */
async function passes(
  kind: 'gradient' | 'forward',
  ctx: PassContext,
  count: number,
  batchSize: number,
  make: MakeInputs,
  consume: (start: number, end: number, values: Float32Array) => void,
): Promise<void> {
  const nativeBatch = nativeBatchSize(ctx.model, kind === 'gradient' ? 'backward' : 'forward', batchSize, count);
  const native = nativeFor(ctx, nativeBatch);
  if (native && (kind === 'forward' || (await native.gradientReady()))) {
    const run = kind === 'gradient' ? native.gradient.bind(native) : native.forward.bind(native);
    return batches(ctx, count, nativeBatch, make, (data, n) => run(data, n, ctx.target), consume);
  }
  const pool = poolFor(ctx);
  const pass = { kind, model: ctx.model, target: ctx.target, signal: ctx.signal, progress: ctx.progress };
  if (pool && (await pool.run(pass, count, batchSize, make, consume))) return;
  const f = kind === 'gradient' ? (x: tf.Tensor) => targetGradient(ctx.model, x, ctx.target, ctx.rule) : (x: tf.Tensor) => targetLogits(ctx.model, x, ctx.target);
  return batches(ctx, count, batchSize, make, (data, n) => onBackend(ctx.model, data, n, f), consume);
}

/** ctx, count, batchSize, make, consume: the arguments of gradientPasses and forwardPasses. */
type PassArguments = [ctx: PassContext, count: number, batchSize: number, make: MakeInputs, consume: (start: number, end: number, values: Float32Array) => void];

/**
 * Gradients of logits[:, target] for `count` inputs, `batchSize` per backward pass.
 * `consume(start, end, grads)` receives the gradients of inputs start..end-1 (flat).
 */
export function gradientPasses(...args: PassArguments): Promise<void> {
  return passes('gradient', ...args);
}

/**
 * logits[:, target] for `count` inputs, `batchSize` per forward pass.
 * `consume(start, end, values)` receives the target logits of inputs start..end-1.
 */
export function forwardPasses(...args: PassArguments): Promise<void> {
  return passes('forward', ...args);
}

/** Target logits of a few whole inputs (flat, n samples), batched like forwardPasses. */
export async function evaluateTargets(
  ctx: PassContext,
  data: Float32Array,
  n: number,
  batchSize: number,
): Promise<Float64Array> {
  const size = data.length / n;
  const out = new Float64Array(n);
  await forwardPasses(
    { ...ctx, progress: undefined },
    n,
    batchSize,
    (s, e) => data.subarray(s * size, e * size),
    (s, _e, values) => out.set(values, s),
  );
  return out;
}

/**
 * Gradients of logits[:, target] w.r.t. each of n inputs (flat data), batched for a backward
 * pass; progress counts inputs.
 */
export async function inputGradients(
  ctx: PassContext,
  data: Float32Array,
  n: number,
  batchSize: number,
): Promise<Float32Array> {
  const size = data.length / n;
  const out = new Float32Array(data.length);
  await gradientPasses(
    ctx,
    n,
    batchSize,
    (s, e) => data.subarray(s * size, e * size),
    (s, _e, grads) => out.set(grads, s * size),
  );
  return out;
}
