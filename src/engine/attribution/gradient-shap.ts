import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import type { InputSpec } from '../model/model';
import { resolveBaseline } from './baselines';
import { batchSizeFor } from './batching';
import { attributeOne, formatShape, positiveInteger, Progress, sampleSize, seedOption, validateInputs } from './common';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';
import { evaluateTargets, forwardPasses, gradientPasses } from './passes';
import { Random } from '../random';

/**
 * GradientSHAP (Lundberg & Lee 2017) as Captum's GradientShap computes it
 * (captum/attr/_core/gradient_shap.py: a smoothgrad NoiseTunnel around InputBaselineXGradient
 * with draw_baseline_from_distrib=True). For each of `samples` draws per input:
 *   x̃ = x + N(0, σ²)                         (σ = stdev · (max x − min x); Captum's stdevs = σ)
 *   b ~ uniformly one baseline of the distribution
 *   α ~ U(0, 1)
 *   a = (x̃ − b) ⊙ ∇F(b + α (x̃ − b))          (Captum multiplies by the noisy input minus b)
 * and the attribution is the mean of a over the draws: in expectation Σ a = E[F(x̃) − F(b)].
 *
 * Baseline distribution (`baseline`):
 * - a tensor [K, ...input shape]: K baselines (e.g. a .npy of reference images), or one baseline
 *   shaped like the input;
 * - 'zero' (default): the single all-zero input;
 * - 'uniform': a fresh seeded uniform-noise image in [min x, max x] for every draw;
 * - 'blur' / 'blur:<σ>': the single blurred input (baselines.ts).
 *
 * The delta is Captum's convergence delta averaged over the draws:
 * Σ attribution − mean_draws(F(x̃) − F(b)), reported with outputDifference = mean_draws(F(x̃) − F(b)).
 * With stdev 0 that is Σ attribution − (F(x) − E_draws[F(b)]). It measures the error of the
 * one-point (random α) estimate of each path integral; it is exactly 0 on a linear model.
 *
 * Randomness comes from the seeded JS PRNG (random.ts), identical on every backend: one stream
 * for the baseline index and α of every draw, and one stream per draw for its noise and its
 * uniform baseline, so they can be regenerated for the forward passes without being stored.
 * All N·samples gradient evaluations are batched together.
 */
export const DEFAULT_SHAP_SAMPLES = 50;
export const DEFAULT_SHAP_STDEV = 0;

/** Offsets of the streams from the user's seed. */
const DRAW_SEED_OFFSET = 0x6a5b;
const NOISE_SEED_OFFSET = 0x71c3;
const UNIFORM_SEED_OFFSET = 0x2f17;

/** A 32-bit seed for stream `stream` of draw `draw`. */
function drawSeed(seed: number, stream: number, draw: number): number {
  return (Math.imul((seed + stream) | 0, 0x9e3779b1) ^ Math.imul(draw + 1, 0x85ebca6b)) >>> 0;
}

/** The baseline distribution: K fixed baselines shared by the inputs, one per input, or uniform noise per draw. */
type Distribution =
  | { kind: 'set'; data: Float32Array; count: number; perInput: boolean }
  | { kind: 'uniform'; lo: Float64Array; hi: Float64Array };

async function distribution(
  option: string | tf.Tensor | undefined,
  spec: InputSpec,
  inputs: Float32Array,
  n: number,
  seed: number,
): Promise<Distribution> {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  if (option instanceof tf.Tensor) {
    const shape = option.shape;
    const fits = (offset: number): boolean =>
      shape.length === spec.shape.length + offset && spec.shape.every((d, i) => shape[i + offset] === d);
    if (!(fits(0) || (fits(1) && shape[0] >= 1))) {
      throw new InputError(
        `baseline has shape ${formatShape(shape)}, expected a set of baselines ${formatShape(['K', ...spec.shape])} or one baseline ${formatShape(spec.shape)}`,
      );
    }
    if (option.dtype !== 'float32' && option.dtype !== 'int32') {
      throw new InputError(`baseline has dtype ${option.dtype}, expected a numeric array`);
    }
    const data = Float32Array.from(await option.data());
    return { kind: 'set', data, count: data.length / size, perInput: false };
  }
  if (option === 'uniform') {
    const lo = new Float64Array(n);
    const hi = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      lo[i] = Infinity;
      hi[i] = -Infinity;
      for (let d = i * size; d < (i + 1) * size; d++) {
        lo[i] = Math.min(lo[i], inputs[d]);
        hi[i] = Math.max(hi[i], inputs[d]);
      }
    }
    return { kind: 'uniform', lo, hi };
  }
  // zero, blur, blur:<σ> and errors for anything else: baselines.ts.
  const data = await resolveBaseline(option, spec, inputs, n, seed);
  return { kind: 'set', data, count: 1, perInput: data.length !== size };
}

async function gradientShapBatch(request: BatchAttributionRequest, options: MethodOptions): Promise<BatchAttributionResult> {
  const { model, inputs, target } = request;
  const samples = positiveInteger('samples', options.samples, DEFAULT_SHAP_SAMPLES);
  const stdev = options.stdev ?? DEFAULT_SHAP_STDEV;
  if (typeof stdev !== 'number' || !Number.isFinite(stdev) || stdev < 0) {
    throw new InputError(`stdev must be a non-negative number (a fraction of the input range), got ${String(stdev)}`);
  }
  const seed = seedOption(options.seed);
  const n = validateInputs(model, inputs, target, false);
  const size = sampleSize(model);
  const data = (await inputs.data()) as Float32Array;
  const dist = await distribution(options.baseline, model.input, data, n, seed);

  // σ per input, as the noise tunnel: a fraction of the input's range.
  const sigma = new Float64Array(n);
  if (stdev > 0) {
    for (let i = 0; i < n; i++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let d = i * size; d < (i + 1) * size; d++) {
        lo = Math.min(lo, data[d]);
        hi = Math.max(hi, data[d]);
      }
      sigma[i] = stdev * (hi - lo);
    }
  }

  // Baseline index and α of every draw e = i·samples + s, in order.
  const draws = n * samples;
  const random = new Random(seed + DRAW_SEED_OFFSET);
  const which = new Int32Array(draws);
  const alphas = new Float64Array(draws);
  for (let e = 0; e < draws; e++) {
    if (dist.kind === 'set') which[e] = Math.min(dist.count - 1, Math.floor(random.uniform() * dist.count));
    alphas[e] = random.uniform();
  }

  /** Writes draw e's noisy input into `noisy` and its baseline into `base` (both at offset o). */
  const fill = (e: number, noisy: Float32Array, base: Float32Array, o: number): void => {
    const i = Math.floor(e / samples);
    const x = i * size;
    if (sigma[i] > 0) {
      const noise = new Random(drawSeed(seed, NOISE_SEED_OFFSET, e));
      for (let d = 0; d < size; d++) noisy[o + d] = data[x + d] + sigma[i] * noise.normal();
    } else {
      noisy.set(data.subarray(x, x + size), o);
    }
    if (dist.kind === 'uniform') {
      const u = new Random(drawSeed(seed, UNIFORM_SEED_OFFSET, e));
      const lo = dist.lo[i];
      const width = dist.hi[i] - lo;
      for (let d = 0; d < size; d++) base[o + d] = lo + width * u.uniform();
    } else {
      const b = (dist.perInput ? i : which[e]) * size;
      base.set(dist.data.subarray(b, b + size), o);
    }
  };

  const backwardBatch = batchSizeFor(model, 'backward', options, draws);
  const forwardBatch = batchSizeFor(model, 'forward', options, draws);
  const ctx = { model, target, signal: request.signal };
  const progress = new Progress(draws, request.onProgress);

  // Σ_draws (x̃ − b) ⊙ ∇F(b + α (x̃ − b)) per input, float64.
  const sums = new Float64Array(n * size);
  // x̃ − b of each batch by its start, from make() to consume() (a pool makes batches ahead).
  const differences = new Map<number, Float32Array>();
  await gradientPasses(
    { ...ctx, progress },
    draws,
    backwardBatch,
    (start, end) => {
      const count = end - start;
      const noisy = new Float32Array(count * size);
      const base = new Float32Array(count * size);
      for (let e = start; e < end; e++) fill(e, noisy, base, (e - start) * size);
      const points = new Float32Array(count * size);
      const diffs = new Float32Array(count * size);
      differences.set(start, diffs);
      for (let e = start; e < end; e++) {
        const alpha = alphas[e];
        const o = (e - start) * size;
        for (let d = 0; d < size; d++) {
          const diff = noisy[o + d] - base[o + d];
          diffs[o + d] = diff;
          points[o + d] = base[o + d] + alpha * diff;
        }
      }
      return points;
    },
    (start, end, grads) => {
      const diffs = differences.get(start)!;
      differences.delete(start);
      for (let e = start; e < end; e++) {
        const x = Math.floor(e / samples) * size;
        const o = (e - start) * size;
        for (let d = 0; d < size; d++) sums[x + d] += diffs[o + d] * grads[o + d];
      }
    },
  );

  // mean over draws of F(x̃) − F(b), per input.
  const meanOutput = new Float64Array(n);
  if (stdev === 0) {
    const atInput = await evaluateTargets(ctx, data, n, batchSizeFor(model, 'forward', options, n));
    meanOutput.set(atInput);
  } else {
    await forwardPasses(
      ctx,
      draws,
      forwardBatch,
      (start, end) => {
        const noisy = new Float32Array((end - start) * size);
        const scratch = new Float32Array((end - start) * size);
        for (let e = start; e < end; e++) fill(e, noisy, scratch, (e - start) * size);
        return noisy;
      },
      (start, end, values) => {
        for (let e = start; e < end; e++) meanOutput[Math.floor(e / samples)] += values[e - start] / samples;
      },
    );
  }
  const meanBaseline = new Float64Array(n);
  if (dist.kind === 'uniform') {
    await forwardPasses(
      ctx,
      draws,
      forwardBatch,
      (start, end) => {
        const scratch = new Float32Array((end - start) * size);
        const base = new Float32Array((end - start) * size);
        for (let e = start; e < end; e++) fill(e, scratch, base, (e - start) * size);
        return base;
      },
      (start, end, values) => {
        for (let e = start; e < end; e++) meanBaseline[Math.floor(e / samples)] += values[e - start] / samples;
      },
    );
  } else {
    // F of the baselines some draw used (a large set need not be evaluated whole).
    const used = dist.perInput ? Array.from({ length: n }, (_, i) => i) : [...new Set(which)].sort((a, b) => a - b);
    const picked = new Float32Array(used.length * size);
    used.forEach((b, j) => picked.set(dist.data.subarray(b * size, (b + 1) * size), j * size));
    const values = await evaluateTargets(ctx, picked, used.length, batchSizeFor(model, 'forward', options, used.length));
    const atBaseline = new Map(used.map((b, j) => [b, values[j]]));
    for (let e = 0; e < draws; e++) {
      const i = Math.floor(e / samples);
      meanBaseline[i] += (atBaseline.get(dist.perInput ? i : which[e]) as number) / samples;
    }
  }

  const attributions = new Float32Array(n * size);
  const deltas: number[] = [];
  const outputDifferences: number[] = [];
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let d = 0; d < size; d++) {
      const j = i * size + d;
      attributions[j] = sums[j] / samples;
      sum += attributions[j];
    }
    const difference = meanOutput[i] - meanBaseline[i];
    outputDifferences.push(difference);
    deltas.push(sum - difference);
  }
  return { attributions: tf.tensor(attributions, inputs.shape, 'float32'), deltas, outputDifferences };
}

export const gradientShap: AttributionMethod = {
  id: 'gradient_shap',
  label: 'GradientSHAP',
  multipliesByInput: true,
  hasDelta: true,
  options: ['samples', 'stdev', 'baseline', 'seed', 'batchSize'],
  attribute: (request, options) => attributeOne(gradientShapBatch, request, options),
  attributeBatch: gradientShapBatch,
};
