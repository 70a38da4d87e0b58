import * as tf from '@tensorflow/tfjs-core';
import { resolveBaseline } from '../attribution/baselines';
import { batchSizeFor } from '../attribution/batching';
import { positiveInteger, Progress, seedOption, validateInputs } from '../attribution/common';
import { evaluateTargets, forwardPasses } from '../attribution/passes';
import { InputError } from '../errors';
import type { Model } from '../model/model';
import { Random } from '../random';
import { pearson } from './similarity';
import { featureAttributions, featureGroups } from './features';

/**
 * Sensitivity-n (Ancona, Ceolini, Öztireli & Gross, ICLR 2018; PAPERS.md §2). A method satisfies
 * it when Σ_{i∈S} R_i = F(x) − F(x with S set to the baseline) for every subset S of n features.
 * Measured as in the paper: for each n of a grid, `subsets` random subsets S of n features are
 * drawn, and the Pearson correlation between Σ_{i∈S} R_i and the output drop
 * F(x) − F(x_S) over those subsets is the method's value at n (F: the target's logit).
 *
 * The drops depend only on the subsets, never on the method: they are computed once, in
 * batched forward passes, and every method's subset sums are correlated with the same drops.
 * Features are pixels (all channels together) or p×p patches (features.ts); a feature's
 * attribution is the sum of the map over it.
 *
 * A correlation is NaN (null in JSON) where it is undefined: when the drops or a method's sums
 * do not vary over the subsets of an n (standard deviation ≤ 1e-6 of their root mean square,
 * e.g. a map that is zero on every feature, or a model whose output ignores the input).
 */
export const DEFAULT_SENSITIVITY_COUNT = 20;
export const DEFAULT_MAX_FRACTION = 0.8;
export const DEFAULT_SUBSETS = 100;

/** Relative spread below which a sample counts as constant (its correlation is undefined). */
export const DEGENERATE_SPREAD = 1e-6;

/** The default methods compared (Ancona et al.'s comparison); occlusion's window matches the features. */
export const SENSITIVITY_N_METHODS = ['saliency', 'input_x_gradient', 'integrated_gradients', 'occlusion', 'deeplift', 'gradient_shap'];

/** Offset of the subset stream from the user's seed, so it differs from the other seeded streams. */
const SUBSET_SEED_OFFSET = 0x53e5;

export interface SensitivityNOptions {
  /** Explicit subset sizes (integers in 1..features); default: `count` log-spaced sizes. */
  ns?: number[];
  /** Number of log-spaced subset sizes from 1 to `maxFraction` of the features (default 20). */
  count?: number;
  /** Largest subset size as a fraction of the features, in (0, 1] (default 0.8). */
  maxFraction?: number;
  /** Random subsets per n (default 100). */
  subsets?: number;
  /** Feature size: 1 = pixels (default), p = p×p patches. */
  patch?: number;
  /** What removed features are set to: zero (default), blur, uniform, a number, or a tensor shaped like the input. */
  baseline?: string | tf.Tensor;
  /** Seed of the subsets (and of a uniform baseline); default 0. */
  seed?: number;
  /** Upper bound on the inputs of one forward pass (default: sized from memory). */
  batchSize?: number;
}

export interface SensitivityNRequest {
  model: Model;
  /** [1, ...model.input.shape] */
  input: tf.Tensor;
  target: number;
  /**
   * One attribution map per method, already computed, with the input's values (any shape with
   * as many elements) or, on an image input, one value per pixel. Tensors stay the caller's.
   */
  attributions: Record<string, Float32Array | tf.Tensor>;
  /** Reports (subsets evaluated, total). */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface DropStats {
  mean: number;
  std: number;
  min: number;
  max: number;
}

export interface SensitivityNResult {
  /** Subset sizes, ascending. */
  ns: number[];
  /** ns / features. */
  fractions: number[];
  /** Number of features (pixels or patches). */
  features: number;
  subsets: number;
  patch: number;
  /** The baseline option ('zero', 'blur', ..., or 'tensor' for a user array). */
  baseline: string;
  seed: number;
  /** F(x) and F(x'): the target logit at the input and at the baseline. */
  outputAtInput: number;
  outputAtBaseline: number;
  /** Per method, the Pearson correlation at each n (NaN where undefined). */
  curves: Record<string, number[]>;
  /** Per n, statistics of the output drops F(x) − F(x_S) over the subsets. */
  outputDrops: DropStats[];
}

/**
 * `count` distinct subset sizes from 1 to max = round(maxFraction · features) (at least 1),
 * log-spaced: n_k = round(max^(k/(count−1))), raised where rounding repeats a size (so the
 * small end becomes 1, 2, 3, …) and capped to leave room for the sizes above; always ends at
 * max. Fewer sizes when max < count (then every size 1..max).
 */
export function sensitivityNGrid(features: number, count = DEFAULT_SENSITIVITY_COUNT, maxFraction = DEFAULT_MAX_FRACTION): number[] {
  positiveInteger('count', count, 1);
  if (typeof maxFraction !== 'number' || !(maxFraction > 0 && maxFraction <= 1)) {
    throw new InputError(`maxFraction must be a number in (0, 1], got ${String(maxFraction)}`);
  }
  const max = Math.max(1, Math.round(maxFraction * features));
  const k = Math.min(count, max);
  if (k === 1) return [max];
  const ns: number[] = [];
  for (let i = 0; i < k; i++) {
    const geometric = Math.round(Math.exp((Math.log(max) * i) / (k - 1)));
    const lowest = i === 0 ? 1 : ns[i - 1] + 1;
    ns.push(Math.min(Math.max(geometric, lowest), max - (k - 1 - i)));
  }
  return ns;
}

/**
 * The random subsets: for each n, `subsets` subsets of n distinct features out of `features`,
 * drawn uniformly (partial Fisher–Yates on one running permutation) from a seeded stream; flat,
 * subset s of n at [s·n, (s+1)·n). Deterministic in (features, ns, subsets, seed).
 */
export function drawSubsets(features: number, ns: readonly number[], subsets: number, seed: number): Int32Array[] {
  const random = new Random(seed + SUBSET_SEED_OFFSET);
  const perm = Int32Array.from({ length: features }, (_, i) => i);
  return ns.map((n) => {
    const out = new Int32Array(subsets * n);
    for (let s = 0; s < subsets; s++) {
      for (let j = 0; j < n; j++) {
        const k = j + Math.floor(random.uniform() * (features - j));
        const t = perm[j];
        perm[j] = perm[k];
        perm[k] = t;
        out[s * n + j] = perm[j];
      }
    }
    return out;
  });
}

function dropStats(drops: Float64Array): DropStats {
  let mean = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of drops) {
    mean += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  mean /= drops.length;
  let variance = 0;
  for (const v of drops) variance += (v - mean) ** 2;
  return { mean, std: Math.sqrt(variance / drops.length), min, max };
}

function subsetSizes(options: SensitivityNOptions, features: number): number[] {
  if (options.ns === undefined) {
    return sensitivityNGrid(
      features,
      positiveInteger('count', options.count, DEFAULT_SENSITIVITY_COUNT),
      options.maxFraction ?? DEFAULT_MAX_FRACTION,
    );
  }
  if (options.count !== undefined || options.maxFraction !== undefined) {
    throw new InputError('give either ns or count/maxFraction, not both');
  }
  if (!Array.isArray(options.ns) || options.ns.length === 0) throw new InputError('ns must be a non-empty list of subset sizes');
  for (const n of options.ns) {
    if (!Number.isInteger(n) || n < 1 || n > features) {
      throw new InputError(`ns: subset size ${String(n)} is not an integer in 1..${features} (the number of features)`);
    }
  }
  return [...new Set(options.ns)].sort((a, b) => a - b);
}

/**
 * Sensitivity-n curves of several attribution maps of one input (see the top of this file).
 * Progress counts perturbed inputs evaluated; the signal is checked between batches.
 */
export async function sensitivityN(request: SensitivityNRequest, options: SensitivityNOptions = {}): Promise<SensitivityNResult> {
  const { model, input, target } = request;
  validateInputs(model, input, target, true);
  const patch = positiveInteger('patch', options.patch, 1);
  const subsets = positiveInteger('subsets', options.subsets, DEFAULT_SUBSETS);
  const seed = seedOption(options.seed);
  const groups = featureGroups(model.input, patch);
  const ns = subsetSizes(options, groups.count);
  const methods = Object.keys(request.attributions);
  if (methods.length === 0) throw new InputError('sensitivity-n needs at least one attribution map');
  if (subsets < 2) throw new InputError(`subsets must be at least 2 for a correlation, got ${subsets}`);

  // Per method, the attribution of every feature.
  const perFeature: Float64Array[] = [];
  for (const method of methods) {
    const map: unknown = request.attributions[method];
    let values: ArrayLike<number>;
    if (map instanceof tf.Tensor) values = (await map.data()) as Float32Array;
    else if (map instanceof Float32Array || map instanceof Float64Array || Array.isArray(map)) values = map as ArrayLike<number>;
    else throw new InputError(`attribution '${method}' must be a Float32Array or a tensor`);
    perFeature.push(featureAttributions(groups, values, method));
  }

  const size = groups.sampleSize;
  const x = (await input.data()) as Float32Array;
  const baselineOption = options.baseline;
  const baseline = await resolveBaseline(baselineOption, model.input, x, 1, seed, true);
  const ctx = { model, target, signal: request.signal };
  const [atInput] = await evaluateTargets(ctx, x, 1, 1);
  const [atBaseline] = await evaluateTargets(ctx, baseline, 1, 1);

  const sets = drawSubsets(groups.count, ns, subsets, seed);
  const total = ns.length * subsets;
  const drops = ns.map(() => new Float64Array(subsets));
  const progress = new Progress(total, request.onProgress);
  await forwardPasses(
    { ...ctx, progress },
    total,
    batchSizeFor(model, 'forward', options, total),
    (start, end) => {
      const out = new Float32Array((end - start) * size);
      for (let e = start; e < end; e++) {
        const o = (e - start) * size;
        out.set(x, o);
        const k = Math.floor(e / subsets);
        const s = e % subsets;
        const n = ns[k];
        const set = sets[k];
        for (let j = s * n; j < (s + 1) * n; j++) {
          const f = set[j];
          for (let q = groups.offsets[f]; q < groups.offsets[f + 1]; q++) {
            const d = groups.elements[q];
            out[o + d] = baseline[d];
          }
        }
      }
      return out;
    },
    (start, end, values) => {
      for (let e = start; e < end; e++) drops[Math.floor(e / subsets)][e % subsets] = atInput - values[e - start];
    },
  );

  const curves: Record<string, number[]> = {};
  const sums = new Float64Array(subsets);
  methods.forEach((method, m) => {
    const r = perFeature[m];
    curves[method] = ns.map((n, k) => {
      const set = sets[k];
      for (let s = 0; s < subsets; s++) {
        let sum = 0;
        for (let j = s * n; j < (s + 1) * n; j++) sum += r[set[j]];
        sums[s] = sum;
      }
      return pearson(sums, drops[k], DEGENERATE_SPREAD);
    });
  });

  return {
    ns,
    fractions: ns.map((n) => n / groups.count),
    features: groups.count,
    subsets,
    patch,
    baseline: baselineOption === undefined ? 'zero' : typeof baselineOption === 'string' ? baselineOption : 'tensor',
    seed,
    outputAtInput: atInput,
    outputAtBaseline: atBaseline,
    curves,
    outputDrops: drops.map(dropStats),
  };
}
