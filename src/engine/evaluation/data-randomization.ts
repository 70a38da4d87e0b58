/**
 * The data-randomization test (Adebayo et al. 2018, PAPERS.md §3): the same architecture trained on
 * labels permuted across the training samples has learned nothing about the classes, only memorised
 * the samples; an explanation that depends on what the model learned must change. For each method,
 * the map of the original model is compared with the map of the model trained on permuted labels
 * (trained in-tool by src/engine/training/train.ts, or any model file of the same architecture and
 * input), for the original model's predicted class, by the similarities of similarity.ts.
 *
 * Verdict: the Spearman rank correlation ρ of the absolute maps (channel-summed), averaged over the
 * inputs. A method PASSES when ρ < threshold (default 0.5, the sanity checks' threshold, see
 * sanity.ts: in the paper's data-randomization figure (MNIST and Fashion-MNIST) gradient and
 * Grad-CAM maps of the random-label model rank pixels differently from the true-label model's,
 * while Guided Backprop keeps showing the digit; ρ ≥ 0.5 means most of the ranking is shared). A
 * NaN ρ (a constant map) does not pass. Methods multiplying by the input (Gradient × Input,
 * Integrated Gradients) are expected to be only weakly sensitive: the input's own structure
 * dominates their absolute maps.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MethodOptions } from '../attribution/method';
import { attribute, getMethod } from '../attribution/registry';
import { CancelledError, InputError } from '../errors';
import type { Model } from '../model/model';
import { comparisonOptions } from './sanity';
import { compareMaps, prepareMap, type Similarity } from './similarity';
import { checkMaxMapSide, DEFAULT_MAX_MAP_SIDE, mapPreview, mapsByDefault, type MapPreview } from './map-preview';

/** ρ of the absolute maps at or above which a method fails (as sanity.ts's DEFAULT_SANITY_THRESHOLD). */
export const DEFAULT_DATA_RANDOMIZATION_THRESHOLD = 0.5;

export const DEFAULT_DATA_RANDOMIZATION_METHODS = ['saliency', 'input_x_gradient', 'integrated_gradients', 'guided_backprop', 'gradcam'] as const;

export interface DataRandomizationOptions {
  methods: readonly string[];
  /** Options per method id, over the defaults (saliency signed, Grad-CAM upsampled at the last conv block). */
  methodOptions?: Readonly<Record<string, MethodOptions>>;
  threshold?: number;
  /** Include the maps of the first input (default: inputs of at most 64×64 pixels), as sanity.ts does. */
  includeMaps?: boolean;
  /** Maps with a side longer than this are average-pooled in the result (default 64). */
  maxMapSide?: number;
  signal?: AbortSignal;
  /** (done, total) in attribution maps computed. */
  onProgress?: (done: number, total: number) => void;
}

export interface MethodDataRandomization {
  method: string;
  label: string;
  multipliesByInput: boolean;
  /** One per input. */
  similarities: Similarity[];
  /** Means over the inputs. */
  meanSpearmanAbs: number;
  meanSpearmanSigned: number;
  /** meanSpearmanAbs < threshold. */
  passed: boolean;
  attributionMs: number;
  /** With includeMaps: the first input's map on the original model and on the permuted-label one. */
  original?: MapPreview;
  randomized?: MapPreview;
}

export interface DataRandomizationResult {
  /** The original model's predicted class of each input (the target of both maps). */
  targets: number[];
  /** The permuted-label model's predicted class of each input. */
  randomizedPredictions: number[];
  threshold: number;
  methods: MethodDataRandomization[];
}


function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Compares each method's maps on `model` and on `randomizedModel` (trained on permuted labels) for
 * inputs [N, ...model.input.shape]. The caller keeps both models and the input.
 */
export async function dataRandomizationCheck(
  model: Model,
  randomizedModel: Model,
  inputs: tf.Tensor,
  options: DataRandomizationOptions,
): Promise<DataRandomizationResult> {
  const { methods, signal } = options;
  if (methods.length === 0) throw new InputError('data randomization: no methods given');
  for (const id of methods) getMethod(id);
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
  if (!same(model.input.shape, randomizedModel.input.shape) || model.numClasses !== randomizedModel.numClasses) {
    throw new InputError(
      `${randomizedModel.path}: input [${randomizedModel.input.shape}] and ${randomizedModel.numClasses} classes differ from ` +
        `${model.path}'s [${model.input.shape}] and ${model.numClasses}; the permuted-label model must have the same architecture`,
    );
  }
  const threshold = options.threshold ?? DEFAULT_DATA_RANDOMIZATION_THRESHOLD;
  const includeMaps = options.includeMaps ?? mapsByDefault(model.input);
  const maxMapSide = options.maxMapSide ?? DEFAULT_MAX_MAP_SIDE;
  checkMaxMapSide(maxMapSide);
  const n = inputs.shape[0];
  const predictions = (m: Model) => tf.tidy(() => Array.from(tf.argMax(m.logits(inputs), 1).dataSync()));
  const targets = predictions(model);
  const randomizedPredictions = predictions(randomizedModel);
  const total = methods.length * n * 2;
  let done = 0;

  const results: MethodDataRandomization[] = [];
  for (const id of methods) {
    const method = getMethod(id);
    const methodOptions = comparisonOptions(model, id, options.methodOptions?.[id]);
    const started = performance.now();
    const similarities: Similarity[] = [];
    let previews: { original: MapPreview; randomized: MapPreview } | undefined;
    for (let i = 0; i < n; i++) {
      const input = tf.slice(inputs, i, 1);
      try {
        const maps = [];
        for (const m of [model, randomizedModel]) {
          if (signal?.aborted) throw new CancelledError();
          const { attribution } = await attribute(id, { model: m, input, target: targets[i], signal }, methodOptions);
          try {
            maps.push(prepareMap(await attribution.data(), attribution.shape, model.input.layout));
          } finally {
            attribution.dispose();
          }
          options.onProgress?.(++done, total);
        }
        similarities.push(compareMaps(maps[0], maps[1]));
        if (includeMaps && i === 0) previews = { original: mapPreview(maps[0], maxMapSide), randomized: mapPreview(maps[1], maxMapSide) };
      } finally {
        input.dispose();
      }
    }
    const meanSpearmanAbs = mean(similarities.map((s) => s.spearmanAbs));
    results.push({
      method: id,
      label: method.label,
      multipliesByInput: method.multipliesByInput,
      similarities,
      meanSpearmanAbs,
      meanSpearmanSigned: mean(similarities.map((s) => s.spearmanSigned)),
      passed: meanSpearmanAbs < threshold,
      attributionMs: Math.round((performance.now() - started) * 10) / 10,
      ...previews,
    });
  }
  return { targets, randomizedPredictions, threshold, methods: results };
}
