import type * as tf from '@tensorflow/tfjs-core';
import { CancelledError, InputError } from '../errors';
import type { Model } from '../model/model';
import type {
  AttributionRequest,
  AttributionResult,
  BatchAttributionRequest,
  BatchAttributionResult,
  MethodOptions,
} from './method';

/** Number of elements of one sample: the product of the model's input shape. */
export function sampleSize(model: Model): number {
  return model.input.shape.reduce((a, b) => a * b, 1);
}

export function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Checks that `inputs` is a batch of the model's input ([N, ...model.input.shape], N ≥ 1) and
 * that `target` is a class index. Returns N.
 */
export function validateInputs(model: Model, inputs: tf.Tensor, target: number, single: boolean): number {
  const n = validateInputShape(model, inputs, single);
  if (!Number.isInteger(target) || target < 0 || target >= model.numClasses) {
    throw new InputError(`target ${target} is not a class index: expected an integer in 0..${model.numClasses - 1}`);
  }
  return n;
}

/** Checks that `inputs` is a batch of the model's input ([N, ...model.input.shape], N = 1 if `single`). Returns N. */
export function validateInputShape(model: Model, inputs: tf.Tensor, single: boolean): number {
  const expected = model.input.shape;
  const shape = inputs.shape;
  const ok =
    shape.length === expected.length + 1 &&
    shape[0] >= 1 &&
    (!single || shape[0] === 1) &&
    expected.every((d, i) => shape[i + 1] === d);
  if (!ok) {
    const want = single ? formatShape([1, ...expected]) : formatShape(['N', ...expected]);
    throw new InputError(`input has shape ${formatShape(shape)}, the model expects ${want}`);
  }
  return shape[0];
}

/** Validates an optional positive-integer option and returns it or its default. */
export function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new InputError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** Validates an optional boolean option and returns it or its default. */
export function booleanOption(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InputError(`${name} must be true or false, got ${String(value)}`);
  return value;
}

/** A seed: any integer (default 0); reduced to 32 bits by the PRNG. */
export function seedOption(value: number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InputError(`seed must be an integer, got ${String(value)}`);
  }
  return value;
}

/**
 * Lets the event loop run (progress messages, abort events), then throws CancelledError if
 * the signal fired. Called before every batch.
 */
export async function checkpoint(signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) throw new CancelledError();
  await new Promise<void>((resolve) => setImmediate(resolve));
  if (signal?.aborted) throw new CancelledError();
}

/** Counts units of work done and reports them through an optional callback. */
export class Progress {
  private done = 0;
  constructor(
    readonly total: number,
    private readonly report: ((done: number, total: number) => void) | undefined,
  ) {
    this.report?.(0, total);
  }

  advance(units: number): void {
    this.done = Math.min(this.total, this.done + units);
    this.report?.(this.done, this.total);
  }
}

type BatchFn = (request: BatchAttributionRequest, options: MethodOptions) => Promise<BatchAttributionResult>;

/** Implements AttributionMethod.attribute with the method's batch function and N = 1. */
export async function attributeOne(
  batch: BatchFn,
  request: AttributionRequest,
  options: MethodOptions,
): Promise<AttributionResult> {
  validateInputs(request.model, request.input, request.target, true);
  const { model, input, target, onProgress, signal, pool } = request;
  const result = await batch({ model, inputs: input, target, onProgress, signal, pool }, options);
  return {
    attribution: result.attributions,
    ...(result.deltas ? { delta: result.deltas[0] } : {}),
    ...(result.outputDifferences ? { outputDifference: result.outputDifferences[0] } : {}),
    ...(result.boundaries ? { boundary: result.boundaries[0] } : {}),
    ...(result.stepsUsed ? { stepsUsed: result.stepsUsed[0] } : {}),
    ...(result.targetMet ? { targetMet: result.targetMet[0] } : {}),
  };
}
