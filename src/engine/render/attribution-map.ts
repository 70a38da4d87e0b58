import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../model/model';

/**
 * An attribution reduced over channels to one 2-D map at the input's height × width, row-major:
 * what every view of an attribution (overlay PNG, panel heatmap) starts from.
 */
export interface AttributionMap {
  height: number;
  width: number;
  /** Σ_c a_c. */
  signed: Float32Array;
  /** Σ_c |a_c|. */
  absolute: Float32Array;
}

/** Where the channels of one attribution are: [C, H, W] (channels first) or [H, W, C]. */
export interface ChannelLayout {
  channels: number;
  height: number;
  width: number;
  channelsLast: boolean;
}

/**
 * Σ_c a_c and Σ_c |a_c| of every pixel, accumulated in float64 in channel order: the one channel
 * reduction the renderers and the similarity measures share, so a heatmap and the numbers
 * computed from it cannot disagree about what a pixel's attribution is.
 */
export function sumChannels(values: ArrayLike<number>, layout: ChannelLayout): { signed: Float64Array; absolute: Float64Array } {
  const { channels, height, width, channelsLast } = layout;
  const pixels = height * width;
  if (values.length !== pixels * channels) {
    throw new Error(`${values.length} attribution values for a ${channels}×${height}×${width} map`);
  }
  const signed = new Float64Array(pixels);
  const absolute = new Float64Array(pixels);
  for (let p = 0; p < pixels; p++) {
    let s = 0;
    let a = 0;
    for (let c = 0; c < channels; c++) {
      const v = values[channelsLast ? p * channels + c : c * pixels + p];
      s += v;
      a += Math.abs(v);
    }
    signed[p] = s;
    absolute[p] = a;
  }
  return { signed, absolute };
}

/**
 * The attribution of `input` as a 2-D map at the input's size. An input-shaped attribution is
 * summed over channels in the model's layout. A coarser single-channel map (Grad-CAM's [1, 1, h, w])
 * is resized bilinearly with aligned corners first, as Grad-CAM visualisations do, and its
 * magnitude taken after resizing (interpolating magnitudes would fill in zero crossings).
 */
export function attributionMap(model: Model, input: tf.Tensor, attribution: tf.Tensor): AttributionMap {
  const { height, width, channels, layout } = model.input;
  if (attribution.size === input.size) {
    const sums = sumChannels(attribution.dataSync(), { channels, height, width, channelsLast: layout === 'NHWC' });
    return { height, width, signed: Float32Array.from(sums.signed), absolute: Float32Array.from(sums.absolute) };
  }
  const [h, w] = attribution.shape.slice(-2);
  if (attribution.size !== h * w) {
    throw new Error(`an attribution of shape [${attribution.shape.join(', ')}] is neither input-shaped nor a single-channel map`);
  }
  const values =
    h === height && w === width
      ? Float32Array.from(attribution.dataSync())
      : tf.tidy(() => {
          const map = tf.reshape(attribution, [1, h, w, 1]) as tf.Tensor4D;
          return Float32Array.from(tf.image.resizeBilinear(map, [height, width], true).dataSync());
        });
  return { height, width, signed: values, absolute: values.map(Math.abs) };
}
