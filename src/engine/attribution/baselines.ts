import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import type { InputSpec } from '../model/model';
import { formatShape } from './common';
import { Random } from '../random';

/**
 * Baselines (reference inputs x') for path methods and occlusion:
 *
 * - `zero`: all zeros in the model's input space (black image when preprocessing maps black
 *   to 0).
 * - `blur`: each channel blurred with a Gaussian, as scipy.ndimage.gaussian_filter does it
 *   (kernel truncated at 4σ, 'reflect' borders), the "blurred" baseline of Sturmfels, Lundberg
 *   & Lee, "Visualizing the Impact of Feature Attribution Baselines" (Distill 2020), who blur
 *   299×299 inputs with σ = 20 px. The default σ keeps that ratio to the image size:
 *   σ = 20 · max(H, W) / 299 (≈ 15 px at 224, ≈ 1.9 px at 28). `blur:<σ>` sets σ in pixels.
 * - `uniform`: uniform noise in [min(x), max(x)] from a seeded JS PRNG (same on every backend).
 * - a user tensor shaped like the input, with or without the batch dimension.
 */
export const NAMED_BASELINES = ['zero', 'blur', 'uniform'] as const;

/** Sturmfels et al. blur 299-pixel images with σ = 20. */
export const BLUR_SIGMA_PER_PIXEL = 20 / 299;

/** Default σ (pixels) of the `blur` baseline for an H×W input. */
export function defaultBlurSigma(height: number, width: number): number {
  return BLUR_SIGMA_PER_PIXEL * Math.max(height, width);
}

/** Offset of the uniform-baseline stream from the user's seed, so it differs from the noise tunnel's. */
const UNIFORM_SEED_OFFSET = 0x5eed;

/** Axes (in a sample without batch dim) of channel, height and width, from the input layout. */
export function imageAxes(spec: InputSpec): { c: number; h: number; w: number } | undefined {
  if (spec.shape.length !== 3) return undefined;
  return spec.layout === 'NHWC' ? { h: 0, w: 1, c: 2 } : { c: 0, h: 1, w: 2 };
}

/**
 * Resolves a baseline option for the given inputs (flat data of n samples of `spec.shape`) into
 * flat float32 data: either one baseline shared by all samples (length = sample size) or one
 * per sample (length = n · sample size). `numeric` allows a number written as a string (occlusion).
 */
export async function resolveBaseline(
  option: string | tf.Tensor | undefined,
  spec: InputSpec,
  inputs: Float32Array,
  n: number,
  seed: number,
  numeric = false,
): Promise<Float32Array> {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  if (option === undefined || option === 'zero') return new Float32Array(size);
  if (typeof option !== 'string') return tensorBaseline(option, spec);
  if (option === 'uniform') return uniformBaseline(inputs, n, size, seed);
  if (option === 'blur' || option.startsWith('blur:')) {
    const axes = imageAxes(spec);
    if (!axes) throw new InputError(`baseline 'blur' needs an image input [C, H, W]; the model's input is ${formatShape(spec.shape)}`);
    let sigma = defaultBlurSigma(spec.shape[axes.h], spec.shape[axes.w]);
    if (option !== 'blur') {
      const text = option.slice('blur:'.length);
      sigma = Number(text);
      if (text.trim() === '' || !Number.isFinite(sigma) || sigma <= 0) {
        throw new InputError(`baseline '${option}': the blur sigma must be a positive number of pixels`);
      }
    }
    const out = new Float32Array(n * size);
    for (let i = 0; i < n; i++) {
      out.set(gaussianBlur(inputs.subarray(i * size, (i + 1) * size), spec.shape, axes, sigma), i * size);
    }
    return out;
  }
  if (numeric && option.trim() !== '' && Number.isFinite(Number(option))) {
    return new Float32Array(size).fill(Number(option));
  }
  const choices = [...NAMED_BASELINES, 'blur:<sigma>', ...(numeric ? ['a number'] : []), 'a .npy file'];
  throw new InputError(`unknown baseline '${option}': expected ${choices.join(', ')}`);
}

async function tensorBaseline(t: tf.Tensor, spec: InputSpec): Promise<Float32Array> {
  const shape = t.shape;
  const expected = spec.shape;
  const same = (offset: number): boolean =>
    shape.length === expected.length + offset && expected.every((d, i) => shape[i + offset] === d);
  if (!(same(0) || (same(1) && shape[0] === 1))) {
    throw new InputError(
      `baseline has shape ${formatShape(shape)}, expected the input's shape ${formatShape([1, ...expected])} or ${formatShape(expected)}`,
    );
  }
  if (t.dtype !== 'float32' && t.dtype !== 'int32') {
    throw new InputError(`baseline has dtype ${t.dtype}, expected a numeric array`);
  }
  return Float32Array.from(await t.data());
}

function uniformBaseline(inputs: Float32Array, n: number, size: number, seed: number): Float32Array {
  const random = new Random(seed + UNIFORM_SEED_OFFSET);
  const out = new Float32Array(n * size);
  for (let i = 0; i < n; i++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = i * size; j < (i + 1) * size; j++) {
      lo = Math.min(lo, inputs[j]);
      hi = Math.max(hi, inputs[j]);
    }
    for (let j = i * size; j < (i + 1) * size; j++) out[j] = lo + (hi - lo) * random.uniform();
  }
  return out;
}

/**
 * Gaussian blur of one sample over its H and W axes, each channel separately, as
 * scipy.ndimage.gaussian_filter(x, sigma) with truncate=4 and mode='reflect'
 * (d c b a | a b c d | d c b a). Float64 arithmetic.
 */
export function gaussianBlur(
  sample: Float32Array,
  shape: readonly number[],
  axes: { c: number; h: number; w: number },
  sigma: number,
): Float32Array {
  const strides = [shape[1] * shape[2], shape[2], 1];
  const kernel = gaussianKernel(sigma);
  let data: Float64Array = Float64Array.from(sample);
  for (const axis of [axes.h, axes.w]) data = convolveAxis(data, shape, strides, axis, kernel);
  return Float32Array.from(data);
}

/** scipy's _gaussian_kernel1d: radius int(4σ + 0.5), weights exp(-x²/2σ²) normalized to 1. */
export function gaussianKernel(sigma: number): Float64Array {
  const radius = Math.floor(4 * sigma + 0.5);
  const kernel = new Float64Array(2 * radius + 1);
  let total = 0;
  for (let k = -radius; k <= radius; k++) {
    const v = Math.exp((-0.5 * k * k) / (sigma * sigma));
    kernel[k + radius] = v;
    total += v;
  }
  for (let i = 0; i < kernel.length; i++) kernel[i] /= total;
  return kernel;
}

/** Index into [0, n) for any integer i, mirroring with the edge sample repeated (scipy 'reflect'). */
function reflect(i: number, n: number): number {
  const period = 2 * n;
  const m = ((i % period) + period) % period;
  return m < n ? m : period - 1 - m;
}

function convolveAxis(
  data: Float64Array,
  shape: readonly number[],
  strides: number[],
  axis: number,
  kernel: Float64Array,
): Float64Array {
  const out = new Float64Array(data.length);
  const n = shape[axis];
  const stride = strides[axis];
  const radius = (kernel.length - 1) / 2;
  const others = [0, 1, 2].filter((a) => a !== axis);
  for (let a = 0; a < shape[others[0]]; a++) {
    for (let b = 0; b < shape[others[1]]; b++) {
      const base = a * strides[others[0]] + b * strides[others[1]];
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) sum += kernel[k + radius] * data[base + reflect(i + k, n) * stride];
        out[base + i * stride] = sum;
      }
    }
  }
  return out;
}
