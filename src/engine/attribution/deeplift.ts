import * as tf from '@tensorflow/tfjs-core';
import { resolveBaseline } from './baselines';
import { batchSizeFor } from './batching';
import { attributeOne, sampleSize, seedOption, validateInputs } from './common';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';
import { modifiedGradients } from './modified-gradient';
import { evaluateTargets } from './passes';
import { DeepLiftRule } from './rules';

/**
 * DeepLIFT Rescale (Shrikumar et al. 2017) as a modified gradient: (x − x̄) ⊙ g, where backprop
 * uses (f(z) − f(z̄)) / (z − z̄) at every nonlinearity, z̄ its input on the baseline (one traced
 * forward pass). Summation-to-delta: Σ attributions = F(x) − F(x̄), reported as the delta.
 */
async function deepliftBatch(request: BatchAttributionRequest, options: MethodOptions): Promise<BatchAttributionResult> {
  const { model, target } = request;
  const n = validateInputs(model, request.inputs, target, false);
  const size = sampleSize(model);
  const data = (await request.inputs.data()) as Float32Array;
  const baseline = await resolveBaseline(options.baseline, model.input, data, n, seedOption(options.seed));
  const baselines = baseline.length / size;
  const attributions = new Float32Array(n * size);
  const deltas: number[] = [];
  const outputDifferences: number[] = [];
  const forward = batchSizeFor(model, 'forward', options, n);
  const ctx = { model, target, signal: request.signal };
  const atInput = await evaluateTargets(ctx, data, n, forward);
  const atBaseline = await evaluateTargets(ctx, baseline, baselines, forward);
  // One reference pass per distinct baseline; inputs sharing it are attributed together.
  const groups = baselines === 1 ? [[0, n]] : Array.from({ length: n }, (_, i) => [i, i + 1]);
  for (const [start, end] of groups) {
    const reference = baseline.subarray(baselines === 1 ? 0 : start * size, (baselines === 1 ? 1 : end) * size);
    const refTensor = tf.tensor(reference, [1, ...model.input.shape], 'float32');
    const trace = model.trace(refTensor);
    refTensor.dispose();
    try {
      const part = data.subarray(start * size, end * size);
      const inputs = tf.tensor(part, [end - start, ...model.input.shape], 'float32');
      let g: Float32Array;
      try {
        g = await modifiedGradients({ ...request, inputs }, options, new DeepLiftRule(trace), part, end - start);
      } finally {
        inputs.dispose();
      }
      for (let i = start; i < end; i++) {
        let sum = 0;
        for (let d = 0; d < size; d++) {
          const j = i * size + d;
          attributions[j] = (data[j] - reference[d]) * g[(i - start) * size + d];
          sum += attributions[j];
        }
        const difference = atInput[i] - atBaseline[baselines === 1 ? 0 : i];
        outputDifferences.push(difference);
        deltas.push(sum - difference);
      }
    } finally {
      trace.dispose();
    }
  }
  return { attributions: tf.tensor(attributions, request.inputs.shape, 'float32'), deltas, outputDifferences };
}

export const deeplift: AttributionMethod = {
  id: 'deeplift',
  label: 'DeepLIFT (Rescale)',
  multipliesByInput: true,
  hasDelta: true,
  options: ['baseline', 'seed', 'batchSize'],
  attribute: (request, options) => attributeOne(deepliftBatch, request, options),
  attributeBatch: deepliftBatch,
};
