import * as tf from '@tensorflow/tfjs-core';
import { dilateSpatial, gradientAsCorrelationInput, padOrCrop, type SpatialPads } from './spatial';

export interface Conv2DParams {
  strides: [number, number];
  dilations: [number, number];
  /** Explicit spatial padding [[top, bottom], [left, right]]. */
  pads: SpatialPads;
}

/**
 * A convolution kernel prepared once per weight tensor: the forward filter [kh,kw,cin,cout] and the
 * filter of its input gradient (spatially flipped, in/out swapped). Weights are constants captured
 * here, never inputs of the differentiated function, so no filter gradient is ever requested
 * (the wasm backend has no Conv2DBackpropFilter).
 */
export class Conv2DKernel {
  private readonly forwardFilter: tf.Tensor4D;
  private readonly backwardFilter: tf.Tensor4D;
  private readonly dilations: [number, number];

  /** `filter` is [kh, kw, cin, cout]; the kernel takes ownership. */
  constructor(filter: tf.Tensor4D, dilations: [number, number]) {
    // tfjs cannot combine strides > 1 with dilations > 1: materialise the dilated filter instead.
    this.forwardFilter = dilations[0] > 1 || dilations[1] > 1 ? tf.keep(materialiseDilation(filter, dilations)) : filter;
    if (this.forwardFilter !== filter) filter.dispose();
    this.dilations = [1, 1];
    this.backwardFilter = tf.keep(tf.tidy(() => tf.transpose(tf.reverse(this.forwardFilter, [0, 1]), [0, 1, 3, 2])));
  }

  /** x: NHWC. Differentiable w.r.t. x. */
  apply(x: tf.Tensor4D, params: Omit<Conv2DParams, 'dilations'>): tf.Tensor4D {
    const { strides, pads } = params;
    const [kh, kw] = this.forwardFilter.shape;
    const inputShape = x.shape;
    const run = tf.customGrad((input) => {
      const xin = input as tf.Tensor4D;
      const y = tf.conv2d(padOrCrop(xin, pads), this.forwardFilter, strides, 'valid', 'NHWC', this.dilations);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor) =>
          tf.conv2d(gradientAsCorrelationInput(dy as tf.Tensor4D, inputShape, [kh, kw], strides, pads), this.backwardFilter, 1, 'valid'),
      };
    });
    return run(x) as tf.Tensor4D;
  }

  dispose(): void {
    this.forwardFilter.dispose();
    this.backwardFilter.dispose();
  }
}

/** [kh,kw,ci,co] with (d-1) zeros between taps: the equivalent undilated filter. */
export function materialiseDilation<T extends tf.Tensor4D>(filter: T, dilations: [number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, ci, co] = filter.shape;
    const asImage = tf.reshape(tf.transpose(filter, [2, 0, 1, 3]), [ci, kh, kw, co]);
    const dilated = dilateSpatial(asImage as tf.Tensor4D, dilations);
    const [, dkh, dkw] = dilated.shape;
    return tf.transpose(tf.reshape(dilated, [ci, dkh, dkw, co]), [1, 2, 0, 3]) as tf.Tensor4D;
  });
}
