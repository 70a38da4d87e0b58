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
  /** Polyphase input-gradient filters by stride (see polyphaseFilter), built on first use. */
  private readonly polyphase = new Map<number, tf.Tensor4D>();

  /**
   * `filter` is [kh, kw, cin, cout]; the kernel takes ownership. With `strides` (equal and > 1)
   * the polyphase gradient filter for that stride is built here too (see polyphaseGradient);
   * other strides use the zero-inserting gradient.
   */
  constructor(filter: tf.Tensor4D, dilations: [number, number], strides?: [number, number]) {
    // tfjs cannot combine strides > 1 with dilations > 1: materialise the dilated filter instead.
    this.forwardFilter = dilations[0] > 1 || dilations[1] > 1 ? tf.keep(materialiseDilation(filter, dilations)) : filter;
    if (this.forwardFilter !== filter) filter.dispose();
    this.dilations = [1, 1];
    this.backwardFilter = tf.keep(tf.tidy(() => tf.transpose(tf.reverse(this.forwardFilter, [0, 1]), [0, 1, 3, 2])));
    const [kh, kw] = this.forwardFilter.shape;
    if (strides && strides[0] === strides[1] && strides[0] > 1 && (kh > 1 || kw > 1)) {
      this.polyphase.set(strides[0], tf.keep(polyphaseFilter(this.forwardFilter, strides[0])));
    }
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
          strides[0] === strides[1] && this.polyphase.has(strides[0])
            ? this.polyphaseGradient(dy as tf.Tensor4D, inputShape, strides[0], pads)
            : tf.conv2d(gradientAsCorrelationInput(dy as tf.Tensor4D, inputShape, [kh, kw], strides, pads), this.backwardFilter, 1, 'valid'),
      };
    });
    return run(x) as tf.Tensor4D;
  }

  /**
   * The input gradient of a stride-s convolution without the s²-fold work on inserted zeros of
   * gradientAsCorrelationInput: split the padded input positions i' = q·s + a into s² phases
   * (a, b); phase (a, b) receives dy correlated with the sub-filter w[a::s, b::s] (flipped), so
   * all phases are one stride-1 convolution of the undilated dy with s²·cin output channels,
   * interleaved back by depthToSpace. ResNet-18's 7×7/2 stem: 64 filter taps per position
   * instead of 196.
   */
  private polyphaseGradient(dy: tf.Tensor4D, inputShape: readonly number[], s: number, pads: SpatialPads): tf.Tensor4D {
    const [kh, kw] = this.forwardFilter.shape;
    const [, h, w] = inputShape;
    const [, oh, ow] = dy.shape;
    const mh = Math.ceil(kh / s);
    const mw = Math.ceil(kw / s);
    const [[t], [l]] = pads;
    const qh = Math.ceil((t + h) / s);
    const qw = Math.ceil((l + w) / s);
    const dyPad = padOrCrop(dy, [
      [mh - 1, qh - oh],
      [mw - 1, qw - ow],
    ]);
    const phases = tf.depthToSpace(tf.conv2d(dyPad, this.polyphase.get(s)!, 1, 'valid'), s) as tf.Tensor4D;
    return padOrCrop(phases, [
      [-t, h + t - qh * s],
      [-l, w + l - qw * s],
    ]);
  }

  dispose(): void {
    this.forwardFilter.dispose();
    this.backwardFilter.dispose();
    this.polyphase.forEach((f) => f.dispose());
    this.polyphase.clear();
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

/** F[mh', mw', co, (a·s + b)·cin + ci] = W[(M_h−1−mh')·s + a, (M_w−1−mw')·s + b, ci, co], 0 outside W. */
function polyphaseFilter(forwardFilter: tf.Tensor4D, s: number): tf.Tensor4D {
  const [kh, kw, cin, cout] = forwardFilter.shape;
  const mh = Math.ceil(kh / s);
  const mw = Math.ceil(kw / s);
  const wv = forwardFilter.dataSync();
  const depth = s * s * cin;
  const f = new Float32Array(mh * mw * cout * depth);
  for (let i = 0; i < mh; i++) {
    for (let j = 0; j < mw; j++) {
      for (let a = 0; a < s; a++) {
        const ky = (mh - 1 - i) * s + a;
        if (ky >= kh) continue;
        for (let b = 0; b < s; b++) {
          const kx = (mw - 1 - j) * s + b;
          if (kx >= kw) continue;
          for (let ci = 0; ci < cin; ci++) {
            const src = ((ky * kw + kx) * cin + ci) * cout;
            const dst = (i * mw + j) * cout * depth + (a * s + b) * cin + ci;
            for (let co = 0; co < cout; co++) f[dst + co * depth] = wv[src + co];
          }
        }
      }
    }
  }
  return tf.tensor4d(f, [mh, mw, cout, depth]);
}
