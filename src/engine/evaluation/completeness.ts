import * as tf from '@tensorflow/tfjs-core';
import type { AttributionRequest, AttributionResult, MethodOptions } from '../attribution/method';
import { attribute, getMethod, METHODS } from '../attribution/registry';
import { InputError } from '../errors';

/**
 * Completeness (Sundararajan et al. 2017; PAPERS.md §1): a path method's attributions sum to the
 * output difference along the path, Σ_i R_i = F(x) − F(x'). What is left over, the delta, is the
 * error of the method's estimate of the path integral (quadrature for IG and BIG, the random α
 * of GradientSHAP; DeepLIFT's is exact up to float rounding).
 */

/** Ids of the methods with a completeness delta (path methods), in registry order. */
export function pathMethodIds(): string[] {
  return METHODS.filter((m) => m.hasDelta).map((m) => m.id);
}

export interface CompletenessEntry {
  method: string;
  /** Σ attribution, float64 over the map. */
  sum: number;
  /** F(x) − F(x') along the method's path (GradientSHAP: its mean over the draws). */
  outputDifference: number;
  /** Σ attribution − (F(x) − F(x')) as the method reports it: the signed absolute error. */
  delta: number;
  /** |delta|. */
  absoluteDelta: number;
  /** |delta| / |F(x) − F(x')|; NaN (null in JSON) when F(x) = F(x'). */
  relativeDelta: number;
  /** integrated_gradients: the steps used (adaptive steps: where they stopped). */
  stepsUsed?: number;
  /** integrated_gradients with adaptive steps: whether the target relative delta was reached. */
  targetMet?: boolean;
}

/** Checks that `method` reports a completeness delta; InputError listing the path methods otherwise. */
export function requirePathMethod(method: string): void {
  if (!getMethod(method).hasDelta) {
    throw new InputError(`method '${method}' has no completeness delta: completeness applies to ${pathMethodIds().join(', ')}`);
  }
}

/** The completeness entry of one path method's result (the attribution stays the caller's). */
export async function completenessOf(method: string, result: AttributionResult): Promise<CompletenessEntry> {
  requirePathMethod(method);
  if (result.delta === undefined || result.outputDifference === undefined) {
    throw new Error(`method '${method}' returned no delta`);
  }
  const data = await result.attribution.data();
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i];
  const { delta, outputDifference } = result;
  return {
    method,
    sum,
    outputDifference,
    delta,
    absoluteDelta: Math.abs(delta),
    relativeDelta: outputDifference !== 0 ? Math.abs(delta) / Math.abs(outputDifference) : NaN,
    ...(result.stepsUsed !== undefined ? { stepsUsed: result.stepsUsed } : {}),
    ...(result.targetMet !== undefined ? { targetMet: result.targetMet } : {}),
  };
}

/**
 * Runs each path method on the request (through the registry, with its options) and returns its
 * completeness entry; the attributions are disposed. Default: every path method with default
 * options. Progress is reported per method as (methods done, methods).
 */
export async function completeness(
  request: AttributionRequest,
  methods: readonly { id: string; options?: MethodOptions }[] = pathMethodIds().map((id) => ({ id })),
): Promise<CompletenessEntry[]> {
  for (const { id } of methods) requirePathMethod(id);
  const entries: CompletenessEntry[] = [];
  const { onProgress, ...rest } = request;
  onProgress?.(0, methods.length);
  for (const { id, options } of methods) {
    const result = await attribute(id, rest, options ?? {});
    try {
      entries.push(await completenessOf(id, result));
    } finally {
      tf.dispose(result.attribution);
    }
    onProgress?.(entries.length, methods.length);
  }
  return entries;
}
