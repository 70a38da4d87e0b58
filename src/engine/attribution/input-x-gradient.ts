import * as tf from '@tensorflow/tfjs-core';
import { batchSizeFor } from './batching';
import { attributeOne, Progress, validateInputs } from './common';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';
import { inputGradients } from './passes';

/** Gradient × Input (Shrikumar et al. 2016; Captum's InputXGradient): x ⊙ ∂logits[target]/∂x. */
async function inputXGradientBatch(
  request: BatchAttributionRequest,
  options: MethodOptions,
): Promise<BatchAttributionResult> {
  const { model, inputs, target } = request;
  const n = validateInputs(model, inputs, target, false);
  const batchSize = batchSizeFor(model, 'backward', options, n);
  const data = (await inputs.data()) as Float32Array;
  const progress = new Progress(n, request.onProgress);
  const grads = await inputGradients({ model, target, signal: request.signal, progress, pool: request.pool }, data, n, batchSize);
  for (let i = 0; i < grads.length; i++) grads[i] *= data[i];
  return { attributions: tf.tensor(grads, inputs.shape, 'float32') };
}

export const inputXGradient: AttributionMethod = {
  id: 'input_x_gradient',
  label: 'Gradient × Input',
  multipliesByInput: true,
  hasDelta: false,
  options: ['batchSize'],
  attribute: (request, options) => attributeOne(inputXGradientBatch, request, options),
  attributeBatch: inputXGradientBatch,
};
