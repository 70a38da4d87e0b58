import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import { imageAxes, resolveBaseline } from './baselines';
import { batchSizeFor } from './batching';
import { attributeOne, formatShape, Progress, sampleSize, seedOption, validateInputs } from './common';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';
import { evaluateTargets, forwardPasses } from './passes';

/** Default window: an eighth of the image per side (a 8×8 grid of windows). */
export function defaultWindow(height: number, width: number): [number, number] {
  return [Math.ceil(height / 8), Math.ceil(width / 8)];
}

/** Default stride: half the window per side (as in Captum's tutorials), so windows overlap. */
export function defaultStride(window: [number, number]): [number, number] {
  return [Math.ceil(window[0] / 2), Math.ceil(window[1] / 2)];
}

/**
 * Window positions along one dimension, as Captum's Occlusion counts them:
 * ceil((size - window) / stride) + 1, starting at 0, 0 + stride, ...; the last window may
 * run past the end and is then cut off at the border.
 */
export function windowStarts(size: number, window: number, stride: number): number[] {
  const count = Math.ceil((size - window) / stride) + 1;
  return Array.from({ length: count }, (_, k) => k * stride);
}

function pairOption(name: string, value: unknown, fallback: [number, number]): [number, number] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => Number.isInteger(v) && v > 0)) {
    throw new InputError(`${name} must be two positive integers [height, width], got ${JSON.stringify(value)}`);
  }
  return [value[0], value[1]];
}

/**
 * Occlusion (Zeiler & Fergus 2014) with Captum's semantics (Occlusion + FeatureAblation): a
 * window of window[0]×window[1] pixels over all channels slides with `stride`; each position
 * replaces the covered values by the baseline (default 0) and records
 * F(x) - F(occluded); a value's attribution is the mean of that difference over every window
 * covering it. The positions of an input are evaluated in batched forward passes.
 */
async function occlusionBatch(request: BatchAttributionRequest, options: MethodOptions): Promise<BatchAttributionResult> {
  const { model, inputs, target } = request;
  const spec = model.input;
  const axes = imageAxes(spec);
  if (!axes) throw new InputError(`occlusion needs an image input [C, H, W]; the model's input is ${formatShape(spec.shape)}`);
  const [height, width, channels] = [spec.shape[axes.h], spec.shape[axes.w], spec.shape[axes.c]];
  const window = pairOption('window', options.window, defaultWindow(height, width));
  const stride = pairOption('stride', options.stride, defaultStride(window));
  if (window[0] > height || window[1] > width) {
    throw new InputError(`window ${window[0]}x${window[1]} does not fit in the ${height}x${width} input`);
  }
  if ((window[0] < height && stride[0] > window[0]) || (window[1] < width && stride[1] > window[1])) {
    throw new InputError(
      `stride ${stride[0]}x${stride[1]} is larger than the window ${window[0]}x${window[1]}: some pixels would never be occluded`,
    );
  }
  const seed = seedOption(options.seed);
  const n = validateInputs(model, inputs, target, false);
  const size = sampleSize(model);
  const data = (await inputs.data()) as Float32Array;
  const baseline = await resolveBaseline(options.baseline, spec, data, n, seed, true);
  const perSampleBaseline = baseline.length !== size;

  const rows = windowStarts(height, window[0], stride[0]);
  const cols = windowStarts(width, window[1], stride[1]);
  const positions = rows.length * cols.length;
  const strides = [spec.shape[1] * spec.shape[2], spec.shape[2], 1];
  const index = (c: number, h: number, w: number): number => c * strides[axes.c] + h * strides[axes.h] + w * strides[axes.w];
  const region = (p: number): [number, number, number, number] => {
    const top = rows[Math.floor(p / cols.length)];
    const left = cols[p % cols.length];
    return [top, Math.min(top + window[0], height), left, Math.min(left + window[1], width)];
  };

  // How many windows cover each pixel (the same for every input).
  const coverage = new Float64Array(height * width);
  for (let p = 0; p < positions; p++) {
    const [t, b, l, r] = region(p);
    for (let h = t; h < b; h++) for (let w = l; w < r; w++) coverage[h * width + w] += 1;
  }

  const forwardBatch = batchSizeFor(model, 'forward', options, positions);
  const ctx = { model, target, signal: request.signal, pool: request.pool };
  const progress = new Progress(n * (positions + 1), request.onProgress);
  const original = await evaluateTargets(ctx, data, n, batchSizeFor(model, 'forward', options, n));
  progress.advance(n);

  const attributions = new Float32Array(n * size);
  for (let i = 0; i < n; i++) {
    const x = data.subarray(i * size, (i + 1) * size);
    const base = perSampleBaseline ? baseline.subarray(i * size, (i + 1) * size) : baseline;
    const total = new Float64Array(height * width);
    await forwardPasses(
      { ...ctx, progress },
      positions,
      forwardBatch,
      (start, end) => {
        const out = new Float32Array((end - start) * size);
        for (let p = start; p < end; p++) {
          const o = (p - start) * size;
          out.set(x, o);
          const [t, b, l, r] = region(p);
          for (let c = 0; c < channels; c++) {
            for (let h = t; h < b; h++) {
              for (let w = l; w < r; w++) {
                const j = index(c, h, w);
                out[o + j] = base[j];
              }
            }
          }
        }
        return out;
      },
      (start, end, values) => {
        for (let p = start; p < end; p++) {
          const diff = original[i] - values[p - start];
          const [t, b, l, r] = region(p);
          for (let h = t; h < b; h++) for (let w = l; w < r; w++) total[h * width + w] += diff;
        }
      },
    );
    for (let c = 0; c < channels; c++) {
      for (let h = 0; h < height; h++) {
        for (let w = 0; w < width; w++) {
          attributions[i * size + index(c, h, w)] = total[h * width + w] / coverage[h * width + w];
        }
      }
    }
  }
  return { attributions: tf.tensor(attributions, inputs.shape, 'float32') };
}

export const occlusion: AttributionMethod = {
  id: 'occlusion',
  label: 'Occlusion',
  multipliesByInput: false,
  hasDelta: false,
  options: ['window', 'stride', 'baseline', 'seed', 'batchSize'],
  attribute: (request, options) => attributeOne(occlusionBatch, request, options),
  attributeBatch: occlusionBatch,
};
