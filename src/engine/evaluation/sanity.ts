/**
 * Model-parameter randomization tests (Adebayo et al. 2018, PAPERS.md §3). Each method's map of
 * the trained model is compared with its maps after re-initialising parameters:
 *
 * - cascading: the randomizable layers from the last (logits) to the first, cumulatively — step k
 *   has the top k layers randomized, the last step the whole network;
 * - independent: one layer at a time (from the top as well), the others kept trained.
 *
 * The target stays the trained model's predicted class throughout. Every comparison reports the
 * four similarities of similarity.ts (Spearman of absolute and of signed maps, SSIM, HOG).
 *
 * Verdict. The statistic is the Spearman rank correlation of the absolute maps (the paper's main
 * measure; ranks ignore the scale that randomization changes and absolute values ignore sign flips,
 * so it is the harder measure to pass), averaged over the steps: the normalised area under the
 * paper's cascading curve. A method passes when that mean is below the threshold (default 0.5).
 * The mean, not the last step alone, because the paper's finding is about how early a map reacts:
 * Guided Backprop stays alike while the top layers — the ones that decide the class — are random,
 * and only the last step of a small network may already differ for every method (on the MNIST
 * example all six methods fall below 0.5 once all four layers are random, while Guided Backprop's
 * mean stays near 0.6 and the gradient's near 0.35). In independent mode the mean over the
 * single-layer randomizations likewise asks whether the map depends on the layers' parameters.
 * 0.5 is a heuristic between the paper's two groups (the gradient and Grad-CAM fall to ρ ≈ 0–0.3,
 * Guided Backprop and Guided Grad-CAM stay high); ρ ≥ 0.5 means that most of the ranking of
 * important pixels is shared, which a viewer sees as "the same map". The last step's ρ is
 * reported too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attribute, getMethod } from '../attribution/registry';
import type { MethodOptions } from '../attribution/method';
import { CancelledError, InputError } from '../errors';
import { classLabel, defaultGradcamLayer } from '../explain';
import type { Model } from '../model/model';
import { compareMaps, prepareMap, type HogOptions, type PreparedMap, type Similarity } from './similarity';
import { checkMaxMapSide, DEFAULT_MAX_MAP_SIDE, mapPreview, mapsByDefault, type MapPreview } from './map-preview';

export type { MapPreview } from './map-preview';

export type RandomizationMode = 'cascading' | 'independent';

export const SANITY_MODES: readonly RandomizationMode[] = ['cascading', 'independent'];

/** The methods the CLI checks by default: the paper's plus Gradient × Input and Guided Grad-CAM. */
export const DEFAULT_SANITY_METHODS = [
  'saliency',
  'input_x_gradient',
  'integrated_gradients',
  'guided_backprop',
  'gradcam',
  'guided_gradcam',
] as const;

/** ρ of the absolute maps at or above which a method fails (see the module comment). */
export const DEFAULT_SANITY_THRESHOLD = 0.5;

export interface SanityOptions {
  methods: readonly string[];
  mode: RandomizationMode;
  /** Seed of the re-initialisation (each layer draws from its own stream of it). Default 0. */
  seed?: number;
  /** Options per method id, over the defaults (saliency signed, Grad-CAM upsampled, Grad-CAM layer). */
  methodOptions?: Readonly<Record<string, MethodOptions>>;
  /** Verdict threshold on ρ of the absolute maps (default 0.5). */
  threshold?: number;
  /** Include the 2-D maps (default: inputs of at most 64×64 pixels). */
  includeMaps?: boolean;
  /** Maps with a side longer than this are average-pooled in the result (default 64). */
  maxMapSide?: number;
  hog?: HogOptions;
  signal?: AbortSignal;
  /** (done, total) in attribution maps computed. */
  onProgress?: (done: number, total: number) => void;
}

export interface SanityStep {
  /** The layer this step randomizes (cascading: the one added). */
  layer: string;
  /** Every layer randomized at this step. */
  randomized: string[];
}

export interface StepSimilarity extends Similarity {
  map?: MapPreview;
}

export interface MethodSanity {
  method: string;
  label: string;
  options: MethodOptions;
  /** Whether the method multiplies by the input (expected to be only weakly sensitive). */
  multipliesByInput: boolean;
  original?: MapPreview;
  /** One per step, in `steps` order. */
  similarities: StepSimilarity[];
  verdict: {
    /** meanSpearmanAbs < threshold (a NaN mean, from a constant map, does not pass). */
    passed: boolean;
    /** Mean over the steps of ρ between the absolute maps. */
    meanSpearmanAbs: number;
    /** ρ between the absolute maps at the last step (cascading: the fully randomized model). */
    lastSpearmanAbs: number;
    threshold: number;
  };
  attributionMs: number;
}

export interface SanityResult {
  mode: RandomizationMode;
  seed: number;
  target: number;
  targetLabel: string;
  /** The randomizable layers, in graph order. */
  layers: string[];
  steps: SanityStep[];
  threshold: number;
  methods: MethodSanity[];
}

/** The randomization steps: from the top layer down, cumulative (cascading) or one at a time. */
export function randomizationSteps(layers: readonly string[], mode: RandomizationMode): SanityStep[] {
  const top = [...layers].reverse();
  return top.map((layer, k) => ({ layer, randomized: mode === 'cascading' ? top.slice(0, k + 1) : [layer] }));
}

/** The options each method runs with: defaults suited to the comparison, then the caller's. */
export function comparisonOptions(model: Model, id: string, given: MethodOptions | undefined): MethodOptions {
  const options: MethodOptions = {};
  // The paper compares the signed gradient (and its absolute value separately).
  if (id === 'saliency') options.abs = false;
  // Grad-CAM maps at input resolution, as the paper shows them, so SSIM and HOG see the same grid.
  if (id === 'gradcam') options.upsample = true;
  if (id === 'gradcam' || id === 'guided_gradcam') options.layer = defaultGradcamLayer(model);
  return { ...options, ...given };
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

/**
 * Runs the randomization test for every method on one input. The caller keeps `model` and
 * `input`; every randomized copy is disposed before returning (or throwing).
 */
export async function sanityCheck(model: Model, input: tf.Tensor, options: SanityOptions): Promise<SanityResult> {
  const { methods, mode, signal } = options;
  if (methods.length === 0) throw new InputError('sanity: no methods given');
  if (!SANITY_MODES.includes(mode)) throw new InputError(`sanity: mode must be one of ${SANITY_MODES.join(', ')}, got '${String(mode)}'`);
  for (const id of methods) getMethod(id);
  const layers = [...model.randomizableLayers];
  if (layers.length === 0) throw new InputError(`${model.path}: the model has no layers with parameters to randomize`);
  const seed = options.seed ?? 0;
  const threshold = options.threshold ?? DEFAULT_SANITY_THRESHOLD;
  const includeMaps = options.includeMaps ?? mapsByDefault(model.input);
  const maxMapSide = options.maxMapSide ?? DEFAULT_MAX_MAP_SIDE;
  checkMaxMapSide(maxMapSide);
  const preview = (map: PreparedMap) => mapPreview(map, maxMapSide);
  const steps = randomizationSteps(layers, mode);
  const methodOptions = new Map(methods.map((id) => [id, comparisonOptions(model, id, options.methodOptions?.[id])]));

  const target = tf.tidy(() => tf.argMax(model.logits(input), 1).dataSync()[0]);
  const total = methods.length * (steps.length + 1);
  let done = 0;
  const elapsed = new Map<string, number>(methods.map((id) => [id, 0]));

  const mapOf = async (m: Model, id: string): Promise<PreparedMap> => {
    checkCancelled(signal);
    const started = performance.now();
    const result = await attribute(id, { model: m, input, target, signal }, methodOptions.get(id));
    try {
      const values = await result.attribution.data();
      return prepareMap(values, result.attribution.shape, model.input.layout);
    } finally {
      result.attribution.dispose();
      elapsed.set(id, elapsed.get(id)! + performance.now() - started);
      options.onProgress?.(++done, total);
    }
  };

  const originals = new Map<string, PreparedMap>();
  for (const id of methods) originals.set(id, await mapOf(model, id));
  const similarities = new Map<string, StepSimilarity[]>(methods.map((id) => [id, []]));
  for (const step of steps) {
    checkCancelled(signal);
    const randomized = model.withRandomized(step.randomized, seed);
    try {
      for (const id of methods) {
        const map = await mapOf(randomized, id);
        const s: StepSimilarity = compareMaps(originals.get(id)!, map, { hog: options.hog });
        if (includeMaps) s.map = preview(map);
        similarities.get(id)!.push(s);
      }
    } finally {
      randomized.dispose();
    }
  }

  return {
    mode,
    seed,
    target,
    targetLabel: classLabel(model, target),
    layers,
    steps,
    threshold,
    methods: methods.map((id) => {
      const method = getMethod(id);
      const sims = similarities.get(id)!;
      const mean = sims.reduce((sum, x) => sum + x.spearmanAbs, 0) / sims.length;
      const { baseline, ...jsonOptions } = methodOptions.get(id)!;
      return {
        method: id,
        label: method.label,
        options: { ...jsonOptions, ...(baseline !== undefined ? { baseline: typeof baseline === 'string' ? baseline : 'tensor' } : {}) },
        multipliesByInput: method.multipliesByInput,
        ...(includeMaps ? { original: preview(originals.get(id)!) } : {}),
        similarities: sims,
        verdict: { passed: mean < threshold, meanSpearmanAbs: mean, lastSpearmanAbs: sims[sims.length - 1].spearmanAbs, threshold },
        attributionMs: Math.round(elapsed.get(id)! * 10) / 10,
      };
    }),
  };
}
