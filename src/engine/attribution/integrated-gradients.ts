import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import { resolveBaseline } from './baselines';
import { batchSizeFor } from './batching';
import { attributeOne, positiveInteger, Progress, sampleSize, seedOption, validateInputs } from './common';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';
import { evaluateTargets, gradientPasses } from './passes';
import { DEFAULT_RULE, quadrature } from './quadrature';

export const DEFAULT_STEPS = 50;

/**
 * Integrated Gradients (Sundararajan et al. 2017) as Captum computes it:
 * IG(x) = (x - x') ⊙ Σ_k w_k ∇F(x' + α_k (x - x')) with Captum's quadrature (α_k, w_k)
 * (default Gauss–Legendre, 50 steps), and the convergence delta
 * Σ IG - (F(x) - F(x')). All N·steps gradient evaluations of a call are batched together,
 * across inputs when several are given (noise tunnel).
 */
async function integratedGradientsBatch(
  request: BatchAttributionRequest,
  options: MethodOptions,
): Promise<BatchAttributionResult> {
  const { model, inputs, target } = request;
  const steps = positiveInteger('steps', options.steps, DEFAULT_STEPS);
  if (options.rule !== undefined && typeof options.rule !== 'string') {
    throw new InputError(`rule must be a string, got ${String(options.rule)}`);
  }
  const { alphas, weights } = quadrature(options.rule ?? DEFAULT_RULE, steps);
  const seed = seedOption(options.seed);
  const n = validateInputs(model, inputs, target, false);
  const size = sampleSize(model);
  const data = (await inputs.data()) as Float32Array;
  const baseline = await resolveBaseline(options.baseline, model.input, data, n, seed);
  const baselines = baseline.length / size; // 1 (shared) or n
  const baseOffset = (i: number): number => (baselines === 1 ? 0 : i * size);

  const evaluations = n * steps;
  const backwardBatch = batchSizeFor(model, 'backward', options, evaluations);
  const forwardBatch = batchSizeFor(model, 'forward', options, n);
  const ctx = { model, target, signal: request.signal };
  const progress = new Progress(evaluations, request.onProgress);

  const atInput = await evaluateTargets(ctx, data, n, forwardBatch);
  const atBaseline = await evaluateTargets(ctx, baseline, baselines, forwardBatch);

  // Σ_k w_k ∇F(x' + α_k (x - x')) per input, float64.
  const integral = new Float64Array(n * size);
  await gradientPasses(
    { ...ctx, progress },
    evaluations,
    backwardBatch,
    (start, end) => {
      const out = new Float32Array((end - start) * size);
      for (let e = start; e < end; e++) {
        const i = Math.floor(e / steps);
        const alpha = alphas[e % steps];
        const x = i * size;
        const b = baseOffset(i);
        const o = (e - start) * size;
        for (let d = 0; d < size; d++) out[o + d] = baseline[b + d] + alpha * (data[x + d] - baseline[b + d]);
      }
      return out;
    },
    (start, end, grads) => {
      for (let e = start; e < end; e++) {
        const w = weights[e % steps];
        const x = Math.floor(e / steps) * size;
        const g = (e - start) * size;
        for (let d = 0; d < size; d++) integral[x + d] += w * grads[g + d];
      }
    },
  );

  const attributions = new Float32Array(n * size);
  const deltas: number[] = [];
  const outputDifferences: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = baseOffset(i);
    let sum = 0;
    for (let d = 0; d < size; d++) {
      const j = i * size + d;
      attributions[j] = (data[j] - baseline[b + d]) * integral[j];
      sum += attributions[j];
    }
    const difference = atInput[i] - atBaseline[baselines === 1 ? 0 : i];
    outputDifferences.push(difference);
    deltas.push(sum - difference);
  }
  return { attributions: tf.tensor(attributions, inputs.shape, 'float32'), deltas, outputDifferences };
}

export const integratedGradients: AttributionMethod = {
  id: 'integrated_gradients',
  label: 'Integrated Gradients',
  multipliesByInput: true,
  hasDelta: true,
  options: ['steps', 'rule', 'baseline', 'seed', 'batchSize'],
  attribute: (request, options) => attributeOne(integratedGradientsBatch, request, options),
  attributeBatch: integratedGradientsBatch,
};
