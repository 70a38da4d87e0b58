import * as tf from '@tensorflow/tfjs-core';
import { marginLossGradient, searchBoundaries, searchSettings } from '../adversarial/boundary-search';
import { InputError } from '../errors';
import { batchSizeFor } from './batching';
import { attributeOne, checkpoint, sampleSize, validateInputs } from './common';
import type {
  AttributionMethod,
  BatchAttributionRequest,
  BatchAttributionResult,
  BoundaryInfo,
  MethodOptions,
} from './method';

/**
 * Boundary attributions (PAPERS.md §5; Wang, Fredrikson & Datta, "Robust Models Are More
 * Interpretable Because Attributions Look Normal"): explain x with the closest point x_b of the
 * decision boundary, found by the PGD search of src/engine/adversarial/boundary-search.ts
 * (always for the top class c at x, whatever the target).
 *
 * `boundary_normal` is the normal of the boundary at x_b: the gradient there of the target's
 * margin z_t − max_{j≠t} z_j. For the predicted class (t = c, the default target) that is
 * ∇(z_c − z_k)(x_b), k the class on the other side of the boundary: the normal of the boundary
 * {z_c = z_k}, pointing into c's region (on a linear model w_c − w_k exactly). We take the margin
 * rather than z_c alone (the BSM of Wang et al.'s code is ∇z_c at x_b) because the boundary is a
 * level set of the margin, not of z_c: ∇z_c also carries the component shared by all logits.
 *
 * When the search finds no boundary point within the largest ε, the methods throw an InputError
 * that says so (no attribution without a boundary); findBoundary itself returns found = false.
 */

/** Options of the boundary search, read by both boundary methods. */
export const BOUNDARY_SEARCH_OPTIONS: readonly (keyof MethodOptions)[] = ['norm', 'epsilons', 'pgdSteps', 'restarts', 'clamp', 'seed'];

export interface RequestBoundaries {
  /** The boundary points, flat (n samples of the model input). */
  points: Float32Array;
  infos: BoundaryInfo[];
}

/**
 * Searches the boundary point of every input of a batch request (progress: the search's own
 * units, reported through `onProgress`). Throws an InputError if an input has none.
 */
export async function requestBoundaries(
  request: BatchAttributionRequest,
  options: MethodOptions,
  onProgress?: (done: number, total: number) => void,
): Promise<RequestBoundaries> {
  const { model, inputs, target } = request;
  const settings = searchSettings(model, options);
  const n = validateInputs(model, inputs, target, false);
  const size = sampleSize(model);
  const data = (await inputs.data()) as Float32Array;
  const found = await searchBoundaries(model, data, n, settings, { batchSize: options.batchSize, signal: request.signal, onProgress });
  const points = new Float32Array(n * size);
  const infos = found.map((b, i): BoundaryInfo => {
    if (!b.found) {
      const largest = settings.epsilons[settings.epsilons.length - 1];
      throw new InputError(
        `no decision-boundary point found: PGD (${settings.norm}) up to ε = ${Number(largest.toPrecision(6))} kept the top class ${b.originalClass}${n > 1 ? ` of input ${i}` : ''}; give larger epsilons`,
      );
    }
    points.set(b.point, i * size);
    return {
      found: true,
      distance: b.distance[settings.norm],
      norm: settings.norm,
      epsilon: b.epsilon,
      originalClass: b.originalClass,
      crossedTo: b.crossedTo,
    };
  });
  return { points, infos };
}

async function boundaryNormalBatch(request: BatchAttributionRequest, options: MethodOptions): Promise<BatchAttributionResult> {
  const { model, target, signal } = request;
  let searchTotal = 0;
  const n = request.inputs.shape[0] ?? 1;
  const { points, infos } = await requestBoundaries(request, options, (done, total) => {
    searchTotal = total;
    request.onProgress?.(done, total + n);
  });
  const size = sampleSize(model);
  const batch = batchSizeFor(model, 'backward', options, n);
  const normals = new Float32Array(n * size);
  const classes = new Int32Array(batch).fill(target);
  for (let start = 0; start < n; start += batch) {
    await checkpoint(signal);
    const end = Math.min(n, start + batch);
    const x = tf.tensor(points.subarray(start * size, end * size), [end - start, ...model.input.shape], 'float32');
    try {
      const { grads, logits } = marginLossGradient(model, x, classes.subarray(0, end - start));
      try {
        const g = (await grads.data()) as Float32Array;
        // The margin loss is max_{j≠t} z_j − z_t: its gradient is minus the normal.
        for (let j = 0; j < g.length; j++) normals[start * size + j] = -g[j];
      } finally {
        tf.dispose([grads, logits]);
      }
    } finally {
      x.dispose();
    }
    request.onProgress?.(searchTotal + end, searchTotal + n);
  }
  return { attributions: tf.tensor(normals, request.inputs.shape, 'float32'), boundaries: infos };
}

export const boundaryNormal: AttributionMethod = {
  id: 'boundary_normal',
  label: 'Boundary normal',
  multipliesByInput: false,
  hasDelta: false,
  options: [...BOUNDARY_SEARCH_OPTIONS, 'batchSize'],
  attribute: (request, options) => attributeOne(boundaryNormalBatch, request, options),
  attributeBatch: boundaryNormalBatch,
};
