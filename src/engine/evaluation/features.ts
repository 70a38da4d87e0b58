import { imageAxes } from '../attribution/baselines';
import { formatShape } from '../attribution/common';
import { InputError } from '../errors';
import type { InputSpec } from '../model/model';

/**
 * Features for the perturbation metrics: groups of input values removed (set to the baseline)
 * together. On an image input [C, H, W] (either layout) a feature is a pixel with all its
 * channels, or with `patch` p > 1 a square p×p superpixel (cut at the right and bottom borders
 * when p does not divide H or W), numbered row by row. On any other input every value is a
 * feature (patch must be 1).
 *
 * Stored as compressed rows: feature f holds elements `elements[offsets[f]..offsets[f+1]]`
 * (flat indices into one sample) and, on images, pixels `pixels[pixelOffsets[f]..]` (h·W + w).
 */
export interface FeatureGroups {
  /** Number of features. */
  count: number;
  patch: number;
  offsets: Int32Array;
  elements: Int32Array;
  /** Image inputs only: the pixels of each feature, for per-pixel maps [1, 1, H, W]. */
  pixelOffsets?: Int32Array;
  pixels?: Int32Array;
  /** Number of pixels H·W of an image input, else undefined. */
  pixelCount?: number;
  /** Values in one sample. */
  sampleSize: number;
}

export function featureGroups(spec: InputSpec, patch = 1): FeatureGroups {
  if (!Number.isInteger(patch) || patch <= 0) throw new InputError(`patch must be a positive integer, got ${String(patch)}`);
  const sampleSize = spec.shape.reduce((a, b) => a * b, 1);
  const axes = imageAxes(spec);
  if (!axes) {
    if (patch !== 1) {
      throw new InputError(`patch ${patch} needs an image input [C, H, W]; the model's input is ${formatShape(spec.shape)}`);
    }
    const offsets = Int32Array.from({ length: sampleSize + 1 }, (_, i) => i);
    const elements = Int32Array.from({ length: sampleSize }, (_, i) => i);
    return { count: sampleSize, patch, offsets, elements, sampleSize };
  }
  const [channels, height, width] = [spec.shape[axes.c], spec.shape[axes.h], spec.shape[axes.w]];
  if (patch > Math.min(height, width)) {
    throw new InputError(`patch ${patch} is larger than the ${height}x${width} input`);
  }
  const strides = [spec.shape[1] * spec.shape[2], spec.shape[2], 1];
  const rows = Math.ceil(height / patch);
  const cols = Math.ceil(width / patch);
  const count = rows * cols;
  const offsets = new Int32Array(count + 1);
  const pixelOffsets = new Int32Array(count + 1);
  const elements = new Int32Array(sampleSize);
  const pixels = new Int32Array(height * width);
  let e = 0;
  let p = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const f = r * cols + c;
      offsets[f] = e;
      pixelOffsets[f] = p;
      for (let h = r * patch; h < Math.min((r + 1) * patch, height); h++) {
        for (let w = c * patch; w < Math.min((c + 1) * patch, width); w++) {
          pixels[p++] = h * width + w;
          for (let ch = 0; ch < channels; ch++) elements[e++] = ch * strides[axes.c] + h * strides[axes.h] + w * strides[axes.w];
        }
      }
    }
  }
  offsets[count] = e;
  pixelOffsets[count] = p;
  return { count, patch, offsets, elements, pixelOffsets, pixels, pixelCount: height * width, sampleSize };
}

/**
 * The attribution of every feature: the sum of the map over the feature's values, in float64.
 * `map` holds either one value per input value (the input's shape) or, on an image input, one
 * value per pixel ([1, 1, H, W], e.g. an upsampled Grad-CAM). `name` labels errors.
 */
export function featureAttributions(groups: FeatureGroups, map: ArrayLike<number>, name: string): Float64Array {
  const out = new Float64Array(groups.count);
  if (map.length === groups.sampleSize) {
    for (let f = 0; f < groups.count; f++) {
      let sum = 0;
      for (let k = groups.offsets[f]; k < groups.offsets[f + 1]; k++) sum += map[groups.elements[k]];
      out[f] = sum;
    }
  } else if (groups.pixels && map.length === groups.pixelCount) {
    const { pixelOffsets, pixels } = groups as Required<FeatureGroups>;
    for (let f = 0; f < groups.count; f++) {
      let sum = 0;
      for (let k = pixelOffsets[f]; k < pixelOffsets[f + 1]; k++) sum += map[pixels[k]];
      out[f] = sum;
    }
  } else {
    const sizes = groups.pixelCount !== undefined ? `${groups.sampleSize} (one per input value) or ${groups.pixelCount} (one per pixel)` : `${groups.sampleSize}`;
    throw new InputError(`attribution '${name}' has ${map.length} values, expected ${sizes}`);
  }
  for (let f = 0; f < groups.count; f++) {
    if (!Number.isFinite(out[f])) throw new InputError(`attribution '${name}' holds a non-finite value`);
  }
  return out;
}
