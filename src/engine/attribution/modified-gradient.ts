import type { ActivationRule } from '../model/model';
import { batchSizeFor } from './batching';
import { Progress, validateInputs } from './common';
import type { BatchAttributionRequest, MethodOptions } from './method';
import { inputGradients } from './passes';

/**
 * Backward passes of logits[target] under a rule for every input of the request, batched:
 * the "modified gradient" that ε-LRP, DeepLIFT, Guided Backprop and Deconvnet are made of.
 */
export async function modifiedGradients(
  request: BatchAttributionRequest,
  options: MethodOptions,
  rule: ActivationRule,
  data: Float32Array,
  n: number,
): Promise<Float32Array> {
  const { model, target } = request;
  validateInputs(model, request.inputs, target, false);
  const batchSize = batchSizeFor(model, 'backward', options, n);
  const progress = new Progress(n, request.onProgress);
  return inputGradients({ model, target, signal: request.signal, progress, rule }, data, n, batchSize);
}
