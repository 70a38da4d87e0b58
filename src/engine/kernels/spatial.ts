import * as tf from '@tensorflow/tfjs-core';

/** Per-axis begin/end padding of the two spatial dims: [[top, bottom], [left, right]]. May be negative (crop). */
export type SpatialPads = [[number, number], [number, number]];

/**
 * Pads (positive entries) and crops (negative entries) the H and W axes of an NHWC tensor.
 * Gradient formulas need both: a forward pad of p becomes a crop of p on the way back.
 */
export function padOrCrop(x: tf.Tensor4D, pads: SpatialPads, value = 0): tf.Tensor4D {
  const [[t, b], [l, r]] = pads;
  let y = x;
  if (t > 0 || b > 0 || l > 0 || r > 0) {
    y = tf.pad(y, [[0, 0], [Math.max(t, 0), Math.max(b, 0)], [Math.max(l, 0), Math.max(r, 0)], [0, 0]], value);
  }
  if (t < 0 || b < 0 || l < 0 || r < 0) {
    const [n, h, w, c] = y.shape;
    const top = Math.max(-t, 0);
    const left = Math.max(-l, 0);
    y = tf.slice(y, [0, top, left, 0], [n, h - top - Math.max(-b, 0), w - left - Math.max(-r, 0), c]);
  }
  return y;
}

/**
 * Inserts (s - 1) zeros between neighbouring pixels along H and W: [N,h,w,C] -> [N,(h-1)sh+1,(w-1)sw+1,C].
 * Done with reshape and pad, forward ops every backend has, so strided gradients need no scatter kernel.
 */
export function dilateSpatial(x: tf.Tensor4D, strides: [number, number]): tf.Tensor4D {
  const [sh, sw] = strides;
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const rows = tf.reshape(tf.pad(tf.reshape(x, [n * h, 1, w * c]), [[0, 0], [0, sh - 1], [0, 0]]), [n, h * sh, w, c]);
  const cols = tf.reshape(tf.pad(tf.reshape(rows, [n * h * sh, w, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]), [n, h * sh, w * sw, c]);
  return tf.slice(cols, [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]) as tf.Tensor4D;
}

/** Output size of a window of effective extent `extent` sliding with `stride` over `size` padded input. */
export function windowCount(size: number, extent: number, stride: number): number {
  return Math.floor((size - extent) / stride) + 1;
}

/**
 * The upstream gradient of a strided, padded window op arranged so that a stride-1 "valid"
 * correlation with the spatially flipped kernel yields the input gradient:
 * dx[i] = sum_j dyDilated[i + pad - j] W[j]. Lets convolution gradients run as forward convolutions.
 */
export function gradientAsCorrelationInput(
  dy: tf.Tensor4D,
  inputShape: readonly number[],
  kernel: [number, number],
  strides: [number, number],
  pads: SpatialPads,
): tf.Tensor4D {
  const [, h, w] = inputShape;
  const dyd = dilateSpatial(dy, strides);
  const [, dh, dw] = dyd.shape;
  const [kh, kw] = kernel;
  const [[t], [l]] = pads;
  return padOrCrop(dyd, [
    [kh - 1 - t, h + t - dh],
    [kw - 1 - l, w + l - dw],
  ]);
}
