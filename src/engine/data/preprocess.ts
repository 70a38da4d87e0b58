import { InputError } from '../errors';
import type { InputSpec } from '../model/model';
import type { RgbaImage } from './image';

/**
 * ITU-R BT.601 luma weights, the ones PIL's convert('L') and torchvision's Grayscale use. They
 * sum to 1, so a gray image stored as RGB (R = G = B) gives back exactly its gray values once
 * stored as float32 (checked for all 256 levels), without a special case.
 */
export const LUMA_WEIGHTS = [0.299, 0.587, 0.114] as const;

/** A single mean or std applies to every channel, as torchvision's Normalize broadcasts it. */
function perChannel(values: number[], c: number, channels: number, name: string): number {
  if (values.length === 1) return values[0];
  if (values.length !== channels) {
    throw new Error(`preprocessing ${name} has ${values.length} values for a ${channels}-channel input`);
  }
  return values[c];
}

function index(spec: InputSpec, pixel: number, c: number): number {
  return spec.layout === 'NCHW' ? c * spec.width * spec.height + pixel : pixel * spec.channels + c;
}

/**
 * The model input for one image, without the batch dimension, in spec.layout:
 * x = (pixel * scale - mean[c]) / std[c]. Alpha is ignored. The image must already have the
 * model's size: resizing would change what is being explained.
 */
export function imageToInput(img: RgbaImage, spec: InputSpec, file: string): Float32Array {
  if (img.width !== spec.width || img.height !== spec.height) {
    throw new InputError(`${file}: image is ${img.width}×${img.height} but the model expects ${spec.width}×${spec.height}`);
  }
  if (spec.channels !== 1 && spec.channels !== 3) {
    throw new InputError(`${file}: the model expects ${spec.channels} input channels; an image gives 1 or 3`);
  }
  const { scale, mean, std } = spec.preprocessing;
  const channels = spec.channels;
  const pixels = img.width * img.height;
  const out = new Float32Array(pixels * channels);
  for (let c = 0; c < channels; c++) {
    const m = perChannel(mean, c, channels, 'mean');
    const s = perChannel(std, c, channels, 'std');
    for (let p = 0; p < pixels; p++) {
      const d = img.data;
      const i = 4 * p;
      const value = channels === 3 ? d[i + c] : LUMA_WEIGHTS[0] * d[i] + LUMA_WEIGHTS[1] * d[i + 1] + LUMA_WEIGHTS[2] * d[i + 2];
      out[index(spec, p, c)] = (value * scale - m) / s;
    }
  }
  return out;
}

/** Undoes the normalisation of a model input (no batch dimension) into a viewable RGBA image. */
export function inputToDisplay(data: Float32Array, spec: InputSpec): RgbaImage {
  const { width, height, channels } = spec;
  const pixels = width * height;
  if (data.length !== pixels * channels) {
    throw new Error(`inputToDisplay: ${data.length} values for a ${channels}×${height}×${width} input`);
  }
  const { scale, mean, std } = spec.preprocessing;
  const out = new Uint8Array(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    for (let k = 0; k < 3; k++) {
      const c = Math.min(k, channels - 1);
      const x = data[index(spec, p, c)];
      const pixel = (x * perChannel(std, c, channels, 'std') + perChannel(mean, c, channels, 'mean')) / scale;
      out[4 * p + k] = Math.min(255, Math.max(0, Math.round(pixel)));
    }
    out[4 * p + 3] = 255;
  }
  return { width, height, data: out };
}
