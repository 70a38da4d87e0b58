import * as tf from '@tensorflow/tfjs-core';
import { inputToDisplay } from '../data/preprocess';
import type { Model } from '../model/model';
import type { RgbaImage } from '../data/image';
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
 * An attribution drawn over its input: signed maps (any negative value) on the diverging colormap,
 * non-negative ones on the sequential. A coarser map (Grad-CAM's h×w) is resized bilinearly to the
 * input's size first, as Grad-CAM visualisations do.
 */
export function renderAttribution(model: Model, input: tf.Tensor, attribution: tf.Tensor, opacity?: number): RgbaImage {
  const { height, width, channels, layout } = model.input;
  const isInputShaped = attribution.size === input.size;
  const values = tf.tidy(() => {
    if (isInputShaped) return attribution.dataSync() as Float32Array;
    const [h, w] = attribution.shape.slice(-2);
    const map = tf.reshape(attribution, [1, h, w, 1]) as tf.Tensor4D;
    return tf.image.resizeBilinear(map, [height, width], true).dataSync() as Float32Array;
  });
  const signed = values.some((v) => v < 0);
  const background = inputToDisplay(input.dataSync() as Float32Array, model.input);
  const upscale = displayScale(model);
  const shape = isInputShaped ? { channels, height, width, layout } : { channels: 1, height, width, layout };
  return renderHeatmap(values, shape, { signed, background, opacity, upscale });
}
