import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import { BOUNDARY_SEARCH_OPTIONS, requestBoundaries } from './boundary-normal';
import { attributeOne, positiveInteger, sampleSize } from './common';
import { DEFAULT_STEPS, integratedGradients } from './integrated-gradients';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';
import { DEFAULT_RULE, quadrature } from './quadrature';

/**
 * BIG, boundary-based Integrated Gradients (Wang, Fredrikson & Datta; PAPERS.md §5): Integrated
 * Gradients of the target logit from the closest decision-boundary point x_b (boundary-search.ts,
 * for the top class at x) to x, with the IG implementation of integrated-gradients.ts (Captum's
 * quadratures, `steps` and `rule`). Completeness holds with x_b as the baseline:
 * Σ attribution ≈ F(x) − F(x_b), and delta = Σ attribution − (F(x) − F(x_b)) is reported as for IG.
 * On a linear model the result is (x − x_b) ⊙ w_t exactly.
 *
 * Each input is integrated from its own x_b: the searches of a batch run together, the IG
 * passes input by input.
 */
async function boundaryIgBatch(request: BatchAttributionRequest, options: MethodOptions): Promise<BatchAttributionResult> {
  // IG's own options first, so that a bad one fails before the search.
  const steps = positiveInteger('steps', options.steps, DEFAULT_STEPS);
  if (options.rule !== undefined && typeof options.rule !== 'string') {
    throw new InputError(`rule must be a string, got ${String(options.rule)}`);
  }
  quadrature(options.rule ?? DEFAULT_RULE, steps);

  const { model, target, signal } = request;
  const n = request.inputs.shape[0] ?? 1;
  let searchTotal = 0;
  const { points, infos } = await requestBoundaries(request, options, (done, total) => {
    searchTotal = total;
    request.onProgress?.(done, total + n * steps);
  });
  const size = sampleSize(model);
  const data = (await request.inputs.data()) as Float32Array;
  const attributions = new Float32Array(n * size);
  const deltas: number[] = [];
  const outputDifferences: number[] = [];
  const shape = [1, ...model.input.shape];
  for (let i = 0; i < n; i++) {
    const x = tf.tensor(data.subarray(i * size, (i + 1) * size), shape, 'float32');
    const baseline = tf.tensor(points.subarray(i * size, (i + 1) * size), shape, 'float32');
    try {
      const result = await integratedGradients.attributeBatch!(
        {
          model,
          inputs: x,
          target,
          signal,
          onProgress: (done) => request.onProgress?.(searchTotal + i * steps + done, searchTotal + n * steps),
        },
        { steps, rule: options.rule, baseline, batchSize: options.batchSize },
      );
      try {
        attributions.set((await result.attributions.data()) as Float32Array, i * size);
      } finally {
        result.attributions.dispose();
      }
      deltas.push(result.deltas?.[0] ?? NaN);
      outputDifferences.push(result.outputDifferences?.[0] ?? NaN);
    } finally {
      tf.dispose([x, baseline]);
    }
  }
  return {
    attributions: tf.tensor(attributions, request.inputs.shape, 'float32'),
    deltas,
    outputDifferences,
    boundaries: infos,
  };
}

export const boundaryIg: AttributionMethod = {
  id: 'boundary_ig',
  label: 'Boundary-based Integrated Gradients (BIG)',
  multipliesByInput: true,
  hasDelta: true,
  options: ['steps', 'rule', ...BOUNDARY_SEARCH_OPTIONS, 'batchSize'],
  attribute: (request, options) => attributeOne(boundaryIgBatch, request, options),
  attributeBatch: boundaryIgBatch,
};
