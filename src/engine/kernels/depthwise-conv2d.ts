import * as tf from '@tensorflow/tfjs-core';
import { materialiseDilation } from './conv2d';
import { gradientAsCorrelationInput, padOrCrop, type SpatialPads } from './spatial';

/**
 * Depthwise convolution (ONNX Conv with group == input channels) with its input gradient computed
 * as a forward depthwise convolution: the wasm backend has no DepthwiseConv2dNativeBackpropInput,
 * and the cpu fallback is an order of magnitude slower.
 */
export class DepthwiseConv2DKernel {
  private readonly forwardFilter: tf.Tensor4D;
  /** One flipped [kh,kw,cin,1] filter per channel multiplier q. */
  private readonly backwardFilters: tf.Tensor4D[];

  /** `filter` is [kh, kw, cin, multiplier]; the kernel takes ownership. */
  constructor(filter: tf.Tensor4D, dilations: [number, number]) {
    this.forwardFilter = dilations[0] > 1 || dilations[1] > 1 ? tf.keep(materialiseDilation(filter, dilations)) : filter;
    if (this.forwardFilter !== filter) filter.dispose();
    const [kh, kw, cin, m] = this.forwardFilter.shape;
    this.backwardFilters = tf.tidy(() => {
      const flipped = tf.reverse(this.forwardFilter, [0, 1]);
      return Array.from({ length: m }, (_, q) => tf.keep(tf.slice(flipped, [0, 0, 0, q], [kh, kw, cin, 1]) as tf.Tensor4D));
    });
  }

  apply(x: tf.Tensor4D, strides: [number, number], pads: SpatialPads): tf.Tensor4D {
    const [kh, kw, cin, m] = this.forwardFilter.shape;
    const inputShape = x.shape;
    const run = tf.customGrad((input) => ({
      value: tf.depthwiseConv2d(padOrCrop(input as tf.Tensor4D, pads), this.forwardFilter, strides, 'valid'),
      gradFunc: (dy: tf.Tensor) => {
        const [n, oh, ow] = dy.shape;
        const perMultiplier = m === 1 ? [dy as tf.Tensor4D] : splitMultiplier(dy as tf.Tensor4D, n, oh, ow, cin, m);
        const parts = perMultiplier.map((g, q) =>
          tf.depthwiseConv2d(gradientAsCorrelationInput(g, inputShape, [kh, kw], strides, pads), this.backwardFilters[q], 1, 'valid'),
        );
        return parts.length === 1 ? parts[0] : tf.addN(parts);
      },
    }));
    return run(x) as tf.Tensor4D;
  }

  dispose(): void {
    this.forwardFilter.dispose();
    this.backwardFilters.forEach((f) => f.dispose());
  }
}

function splitMultiplier(dy: tf.Tensor4D, n: number, oh: number, ow: number, cin: number, m: number): tf.Tensor4D[] {
  const grouped = tf.reshape(dy, [n, oh, ow, cin, m]);
  return Array.from({ length: m }, (_, q) => tf.reshape(tf.slice(grouped, [0, 0, 0, 0, q], [n, oh, ow, cin, 1]), [n, oh, ow, cin]) as tf.Tensor4D);
}
