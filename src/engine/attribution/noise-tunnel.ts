import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import { resolveBaseline } from './baselines';
import { checkpoint, sampleSize, seedOption, positiveInteger, validateInputs } from './common';
import type { AttributionMethod, AttributionRequest, AttributionResult, MethodOptions } from './method';
import { Random } from '../random';

/**
 * Noise tunnel (Captum's NoiseTunnel) around any method: attribute `samples` copies of the input
 * with Gaussian noise N(0, σ²) added, σ = stdev · (max(x) - min(x)) (SmoothGrad, Smilkov et al.
 * 2017: noise level as a fraction of the input range), then aggregate per value:
 * - smoothgrad: mean of the attributions;
 * - smoothgrad_sq: mean of their squares;
 * - vargrad: their variance (mean of squares - square of mean, as Captum).
 *
 * The noise comes from a seeded JS PRNG (random.ts), so results are identical on every backend.
 * All noisy samples go to the method's attributeBatch in one call (in chunks of at most
 * MAX_CHUNK_BYTES of inputs), so the method batches their model passes together; a method
 * without attributeBatch is called once per sample.
 * Input-derived baselines (blur, uniform) are computed once from the clean input, as Captum
 * keeps the baselines fixed while it perturbs the inputs.
 */
export const NOISE_TYPES = ['smoothgrad', 'smoothgrad_sq', 'vargrad'] as const;
export type NoiseType = (typeof NOISE_TYPES)[number];

/** Options the noise tunnel reads, whatever the method. */
export const NOISE_OPTIONS: readonly (keyof MethodOptions)[] = ['noise', 'samples', 'stdev', 'seed'];

export const DEFAULT_SAMPLES = 25;
export const DEFAULT_STDEV = 0.15;

/** Noisy inputs held at once; more samples are attributed in several chunks. */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;

interface NoiseSettings {
  noise: NoiseType;
  samples: number;
  stdev: number;
  seed: number;
}

export function noiseSettings(options: MethodOptions): NoiseSettings {
  const noise = options.noise as string | undefined;
  if (noise === undefined || !(NOISE_TYPES as readonly string[]).includes(noise)) {
    throw new InputError(`unknown noise '${String(noise)}': expected one of ${NOISE_TYPES.join(', ')}`);
  }
  const samples = positiveInteger('samples', options.samples, DEFAULT_SAMPLES);
  const stdev = options.stdev ?? DEFAULT_STDEV;
  if (typeof stdev !== 'number' || !Number.isFinite(stdev) || stdev < 0) {
    throw new InputError(`stdev must be a non-negative number (a fraction of the input range), got ${String(stdev)}`);
  }
  return { noise: noise as NoiseType, samples, stdev, seed: seedOption(options.seed) };
}

/** Appends `count` noisy copies of x (x + σ·N(0, 1), drawn in order from `random`). */
export function noisyCopies(x: Float32Array, count: number, sigma: number, random: Random): Float32Array {
  const out = new Float32Array(count * x.length);
  for (let s = 0; s < count; s++) {
    const o = s * x.length;
    for (let d = 0; d < x.length; d++) out[o + d] = x[d] + sigma * random.normal();
  }
  return out;
}

/**
 * Attributes `samples` noisy copies of request.input with `method` and aggregates them
 * (smoothgrad / smoothgrad_sq / vargrad; see the top of this file). Path methods under
 * smoothgrad also get the mean delta and mean F(x + ε) - F(x′).
 */
export async function noiseTunnel(
  method: AttributionMethod,
  request: AttributionRequest,
  options: MethodOptions,
): Promise<AttributionResult> {
  const settings = noiseSettings(options);
  const { model, input, target, signal } = request;
  validateInputs(model, input, target, true);
  const size = sampleSize(model);
  const x = (await input.data()) as Float32Array;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const sigma = settings.stdev * (hi - lo);

  const inner: MethodOptions = { ...options };
  delete inner.noise;
  delete inner.samples;
  delete inner.stdev;
  let ownedBaseline: tf.Tensor | undefined;
  const b = options.baseline;
  if (method.options.includes('baseline') && typeof b === 'string' && (b === 'uniform' || b.startsWith('blur'))) {
    const data = await resolveBaseline(b, model.input, x, 1, settings.seed);
    ownedBaseline = tf.tensor(data, input.shape, 'float32');
    inner.baseline = ownedBaseline;
  }

  try {
    const random = new Random(settings.seed);
    const chunk = Math.max(1, Math.min(settings.samples, Math.floor(MAX_CHUNK_BYTES / (4 * size))));
    const moments = new Moments();
    let shape: number[] = [];
    let deltaSum = 0;
    let differenceSum = 0;
    let withDelta = 0;
    const report = (samplesBefore: number, chunkSize: number) =>
      request.onProgress &&
      ((done: number, total: number): void => {
        const perSample = total / chunkSize;
        request.onProgress?.(samplesBefore * perSample + done, settings.samples * perSample);
      });

    for (let start = 0; start < settings.samples; start += chunk) {
      await checkpoint(signal);
      const count = Math.min(chunk, settings.samples - start);
      const noisy = noisyCopies(x, count, sigma, random);
      if (method.attributeBatch) {
        const t = tf.tensor(noisy, [count, ...model.input.shape], 'float32');
        let result;
        try {
          result = await method.attributeBatch(
            { model, inputs: t, target, signal, pool: request.pool, onProgress: report(start, count) },
            inner,
          );
        } finally {
          t.dispose();
        }
        try {
          shape = result.attributions.shape.slice(1);
          moments.add((await result.attributions.data()) as Float32Array, count);
        } finally {
          result.attributions.dispose();
        }
        result.deltas?.forEach((d) => (deltaSum += d));
        result.outputDifferences?.forEach((d) => (differenceSum += d));
        if (result.deltas) withDelta += count;
      } else {
        for (let s = 0; s < count; s++) {
          const t = tf.tensor(noisy.subarray(s * size, (s + 1) * size), input.shape, 'float32');
          let result;
          try {
            result = await method.attribute({ model, input: t, target, signal, pool: request.pool, onProgress: report(start + s, 1) }, inner);
          } finally {
            t.dispose();
          }
          try {
            shape = result.attribution.shape.slice(1);
            moments.add((await result.attribution.data()) as Float32Array, 1);
          } finally {
            result.attribution.dispose();
          }
          if (result.delta !== undefined) {
            deltaSum += result.delta;
            differenceSum += result.outputDifference ?? 0;
            withDelta += 1;
          }
        }
      }
    }

    const n = settings.samples;
    const out = moments.aggregate(settings.noise);
    const result: AttributionResult = { attribution: tf.tensor(out, [1, ...shape], 'float32') };
    // The mean of per-sample deltas is the delta of the mean attribution (smoothgrad only).
    if (settings.noise === 'smoothgrad' && withDelta === n) {
      result.delta = deltaSum / n;
      result.outputDifference = differenceSum / n;
    }
    return result;
  } finally {
    ownedBaseline?.dispose();
  }
}

/** Running sums of the attributions and of their squares, per value, in float64. */
class Moments {
  private sum: Float64Array | undefined;
  private sumSq: Float64Array | undefined;
  private count = 0;

  add(values: Float32Array, samples: number): void {
    const per = values.length / samples;
    const sum = (this.sum ??= new Float64Array(per));
    const sumSq = (this.sumSq ??= new Float64Array(per));
    for (let s = 0; s < samples; s++) {
      for (let k = 0; k < per; k++) {
        const v = values[s * per + k];
        sum[k] += v;
        sumSq[k] += v * v;
      }
    }
    this.count += samples;
  }

  aggregate(noise: NoiseType): Float32Array {
    const sum = this.sum ?? new Float64Array(0);
    const sumSq = this.sumSq ?? new Float64Array(0);
    const out = new Float32Array(sum.length);
    for (let k = 0; k < out.length; k++) {
      const mean = sum[k] / this.count;
      const meanSq = sumSq[k] / this.count;
      out[k] = noise === 'smoothgrad' ? mean : noise === 'smoothgrad_sq' ? meanSq : meanSq - mean * mean;
    }
    return out;
  }
}
