import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import { attributeOne, validateInputs } from './common';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';
import { modifiedGradients } from './modified-gradient';
import { EpsilonRule } from './rules';

/** Captum's EpsilonRule default. */
export const DEFAULT_EPSILON = 1e-9;

/**
 * ε-LRP (Bach et al. 2015) in Ancona et al.'s modified-gradient form: x ⊙ g, where backprop uses
 * f(z) / (z + ε·sign(z)) as the derivative of every nonlinearity. On ReLU networks with small ε it
 * equals Gradient × Input.
 */
async function lrpEpsilonBatch(request: BatchAttributionRequest, options: MethodOptions): Promise<BatchAttributionResult> {
  const epsilon = options.epsilon ?? DEFAULT_EPSILON;
  if (!(typeof epsilon === 'number' && Number.isFinite(epsilon) && epsilon > 0)) {
    throw new InputError(`epsilon must be a positive number, got ${String(epsilon)}`);
  }
  const n = validateInputs(request.model, request.inputs, request.target, false);
  const data = (await request.inputs.data()) as Float32Array;
  const g = await modifiedGradients(request, options, new EpsilonRule(epsilon), data, n);
  for (let i = 0; i < g.length; i++) g[i] *= data[i];
  return { attributions: tf.tensor(g, request.inputs.shape, 'float32') };
}

export const lrpEpsilon: AttributionMethod = {
  id: 'lrp_epsilon',
  label: 'ε-LRP',
  multipliesByInput: true,
  hasDelta: false,
  options: ['epsilon', 'batchSize'],
  attribute: (request, options) => attributeOne(lrpEpsilonBatch, request, options),
  attributeBatch: lrpEpsilonBatch,
};
