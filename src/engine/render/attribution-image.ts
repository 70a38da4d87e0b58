import * as tf from '@tensorflow/tfjs-core';
import { inputToDisplay } from '../data/preprocess';
import type { Model } from '../model/model';
import type { RgbaImage } from '../data/image';
import { attributionMap } from './attribution-map';
import { enlarge, renderHeatmap } from './overlay';

/** Small inputs (MNIST's 28×28) are enlarged with crisp pixels to at least this many pixels a side. */
const MIN_DISPLAY_SIDE = 224;

function displayScale(model: Model): number {
  return Math.max(1, Math.ceil(MIN_DISPLAY_SIDE / Math.max(model.input.height, model.input.width)));
}

/** The input as the model sees it (preprocessing undone), at the size heatmaps are drawn: for `.npy` inputs that have no image file. */
export function renderInput(model: Model, input: tf.Tensor): RgbaImage {
  return enlarge(inputToDisplay(input.dataSync() as Float32Array, model.input), displayScale(model));
}

/**
 * An attribution drawn over its input: signed maps (any negative channel value) on the diverging
 * colormap, non-negative ones on the sequential. A coarser map (Grad-CAM's h×w) is resized
 * bilinearly to the input's size first (attributionMap).
 */
export function renderAttribution(model: Model, input: tf.Tensor, attribution: tf.Tensor, opacity?: number): RgbaImage {
  const map = attributionMap(model, input, attribution);
  // Σ_c a_c < Σ_c |a_c| exactly where some channel is negative; for one channel, where a < 0.
  const signed = map.signed.some((v, p) => v < map.absolute[p]);
  const background = inputToDisplay(input.dataSync() as Float32Array, model.input);
  return renderHeatmap(signed ? map.signed : map.absolute, map, { signed, background, opacity, upscale: displayScale(model) });
}
