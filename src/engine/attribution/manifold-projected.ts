import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import { projected } from '../manifold/alignment';
import { deconvnet } from './deconvnet';
import { deeplift } from './deeplift';
import { gradientShap } from './gradient-shap';
import { guidedBackprop } from './guided-backprop';
import { inputXGradient } from './input-x-gradient';
import { integratedGradients } from './integrated-gradients';
import { lrpEpsilon } from './lrp-epsilon';
import type { ManifoldModel } from '../manifold/model-space';
import { attributeOne, checkpoint, validateInputs } from './common';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';
import { occlusion } from './occlusion';
import { saliency } from './saliency';

/**
 * Methods that can be projected: those whose map has the input's shape. Imported directly (not
 * through registry.ts, which imports this file).
 */
const BASES: readonly AttributionMethod[] = [
  saliency,
  inputXGradient,
  integratedGradients,
  gradientShap,
  deeplift,
  lrpEpsilon,
  guidedBackprop,
  deconvnet,
  occlusion,
];

const OWN: readonly (keyof MethodOptions)[] = ['base', 'manifold'];

/** Every option some base reads: manifold_projected passes them on to its base. */
const PASSED: readonly (keyof MethodOptions)[] = [...new Set(BASES.flatMap((m) => m.options))];

/**
 * Manifold-projected attribution (PAPERS.md §4, Bordt et al. 2022): a base attribution a
 * (option `base`, default signed saliency, i.e. the raw gradient) projected onto the tangent
 * space T of the data manifold at the input, P_T a. The manifold comes with the request as
 * option `manifold` (a ManifoldModel, e.g. autoencoderManifold(vae) from src/engine/manifold);
 * there is no default, since it must be trained on the model's data. Other options go to the
 * base method. With several inputs each is projected on its own tangent space.
 */
async function projectedBatch(request: BatchAttributionRequest, options: MethodOptions): Promise<BatchAttributionResult> {
  await checkpoint(request.signal);
  const { base, baseOptions, manifold } = resolve(options);
  const n = validateInputs(request.model, request.inputs, request.target, false);
  const result = base.attributeBatch
    ? await base.attributeBatch(request, baseOptions)
    : await stacked(base, request, baseOptions, n);
  try {
    const a = (await result.attributions.data()) as Float32Array;
    const d = a.length / n;
    const out = new Float32Array(a.length);
    for (let i = 0; i < n; i++) {
      await checkpoint(request.signal);
      const input = tf.slice(request.inputs, i, 1);
      try {
        const basis = await manifold.tangentSpace(request.model, input, { signal: request.signal });
        out.set(projected(a.subarray(i * d, (i + 1) * d), basis), i * d);
      } finally {
        input.dispose();
      }
    }
    return { attributions: tf.tensor(out, result.attributions.shape, 'float32') };
  } finally {
    result.attributions.dispose();
  }
}

async function stacked(base: AttributionMethod, request: BatchAttributionRequest, options: MethodOptions, n: number): Promise<BatchAttributionResult> {
  const parts: tf.Tensor[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const input = tf.slice(request.inputs, i, 1);
      try {
        parts.push((await base.attribute({ model: request.model, input, target: request.target, signal: request.signal }, options)).attribution);
      } finally {
        input.dispose();
      }
    }
    return { attributions: tf.concat(parts, 0) };
  } finally {
    tf.dispose(parts);
  }
}

function resolve(options: MethodOptions): { base: AttributionMethod; baseOptions: MethodOptions; manifold: ManifoldModel } {
  const baseId = options.base ?? 'saliency';
  const base = BASES.find((m) => m.id === baseId);
  if (!base) throw new InputError(`manifold_projected: base '${baseId}' is not one of ${BASES.map((m) => m.id).join(', ')}`);
  const manifold = options.manifold;
  if (!manifold || typeof manifold.tangentSpace !== 'function') {
    throw new InputError("manifold_projected needs option manifold (a trained manifold model, e.g. a VAE on the model's data)");
  }
  const baseOptions: MethodOptions = {};
  for (const key of Object.keys(options) as (keyof MethodOptions)[]) {
    if (options[key] === undefined || OWN.includes(key)) continue;
    if (key === 'seed' && !base.options.includes('seed')) continue; // left by the noise tunnel
    if (!base.options.includes(key)) {
      throw new InputError(`manifold_projected: base '${base.id}' does not take option '${key}': it takes ${base.options.join(', ')}`);
    }
    (baseOptions as Record<string, unknown>)[key] = options[key];
  }
  if (base.id === 'saliency' && baseOptions.abs === undefined) baseOptions.abs = false;
  return { base, baseOptions, manifold };
}

export const manifoldProjected: AttributionMethod = {
  id: 'manifold_projected',
  label: 'Manifold-projected attribution',
  multipliesByInput: false,
  hasDelta: false,
  options: [...OWN, ...PASSED],
  attribute: (request, options) => attributeOne(projectedBatch, request, options),
  attributeBatch: projectedBatch,
};
