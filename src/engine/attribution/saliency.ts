import * as tf from '@tensorflow/tfjs-core';
import { batchSizeFor } from './batching';
import { attributeOne, booleanOption, Progress, validateInputs } from './common';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';
import { inputGradients } from './passes';

/**
 * Saliency (Simonyan et al. 2014): the gradient of logits[target] w.r.t. the input, in absolute
 * value by default as Captum's Saliency (abs=True); `abs: false` keeps the sign.
 */
async function saliencyBatch(request: BatchAttributionRequest, options: MethodOptions): Promise<BatchAttributionResult> {
  const { model, inputs, target } = request;
  const abs = booleanOption('abs', options.abs, true);
  const n = validateInputs(model, inputs, target, false);
  const batchSize = batchSizeFor(model, 'backward', options, n);
  const data = (await inputs.data()) as Float32Array;
  const progress = new Progress(n, request.onProgress);
  const grads = await inputGradients({ model, target, signal: request.signal, progress, pool: request.pool }, data, n, batchSize);
  if (abs) for (let i = 0; i < grads.length; i++) grads[i] = Math.abs(grads[i]);
  return { attributions: tf.tensor(grads, inputs.shape, 'float32') };
}

export const saliency: AttributionMethod = {
  id: 'saliency',
  label: 'Saliency (gradient)',
  multipliesByInput: false,
  hasDelta: false,
  options: ['abs', 'batchSize'],
  attribute: (request, options) => attributeOne(saliencyBatch, request, options),
  attributeBatch: saliencyBatch,
};
