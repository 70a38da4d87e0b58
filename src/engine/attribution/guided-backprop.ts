import * as tf from '@tensorflow/tfjs-core';
import { attributeOne, validateInputs } from './common';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';
import { modifiedGradients } from './modified-gradient';
import { RectifierRule } from './rules';

/** The rectifier-rule gradient for every input: Guided Backprop or Deconvnet. */
export async function rectifiedGradients(
  kind: 'guided_backprop' | 'deconvnet',
  request: BatchAttributionRequest,
  options: MethodOptions,
): Promise<BatchAttributionResult> {
  const n = validateInputs(request.model, request.inputs, request.target, false);
  const data = (await request.inputs.data()) as Float32Array;
  const g = await modifiedGradients(request, options, new RectifierRule(kind), data, n);
  return { attributions: tf.tensor(g, request.inputs.shape, 'float32') };
}

/**
 * Guided Backprop (Springenberg et al. 2015), as Captum's GuidedBackprop: at every rectifier
 * (ReLU, LeakyReLU, ReLU6/Clip) only positive gradient passes, and only where the input was
 * positive. Shows edges of the input: it fails the sanity checks (Adebayo et al. 2018).
 */
export const guidedBackprop: AttributionMethod = {
  id: 'guided_backprop',
  label: 'Guided Backprop',
  multipliesByInput: false,
  hasDelta: false,
  options: ['batchSize'],
  attribute: (request, options) => attributeOne((r, o) => rectifiedGradients('guided_backprop', r, o), request, options),
  attributeBatch: (request, options) => rectifiedGradients('guided_backprop', request, options),
};
