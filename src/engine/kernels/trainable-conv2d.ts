import * as tf from '@tensorflow/tfjs-core';
import { gradientAsCorrelationInput, padOrCrop, type SpatialPads } from './spatial';

/**
 * dW[kh, kw, ci, co] = Σ_{n,i,j} xPadded[n, s·i + kh, s·j + kw, ci] · dy[n, i, j, co]: a stride-1
 * convolution of the channels-as-batch input with dy as a filter dilated by the stride, so the
 * filter gradient needs no Conv2DBackpropFilter kernel (the wasm backend has none).
 */
export function filterGradient(xPadded: tf.Tensor4D, dy: tf.Tensor4D, kernel: [number, number], strides: [number, number]): tf.Tensor4D {
  const input = tf.transpose(xPadded, [3, 1, 2, 0]) as tf.Tensor4D;
  const filter = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
  const full = tf.conv2d(input, filter, 1, 'valid', 'NHWC', strides);
  const [ci, , , co] = full.shape;
  return tf.transpose(tf.slice(full, [0, 0, 0, 0], [ci, kernel[0], kernel[1], co]), [1, 2, 0, 3]) as tf.Tensor4D;
}

/**
 * A convolution (NHWC, filter [kh, kw, ci, co]) differentiable w.r.t. both its input and its filter
 * with forward convolutions only: for training (data randomization, the manifold VAE) on every
 * backend. Attribution passes use Conv2DKernel instead, which keeps weights off the gradient path.
 */
export function trainableConv2d(x: tf.Tensor4D, filter: tf.Tensor4D, strides: [number, number], pads: SpatialPads): tf.Tensor4D {
  const run = tf.customGrad((input, weights, save) => {
    const xp = padOrCrop(input as tf.Tensor4D, pads);
    const w = weights as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xp, w]);
    return {
      value: tf.conv2d(xp, w, strides, 'valid'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xp, w] = saved as tf.Tensor4D[];
        const [kh, kw] = w.shape;
        const flipped = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
        const dx = tf.conv2d(gradientAsCorrelationInput(dy as tf.Tensor4D, x.shape, [kh, kw], strides, pads), flipped, 1, 'valid');
        return [dx, filterGradient(xp, dy as tf.Tensor4D, [kh, kw], strides)];
      },
    };
  });
  return run(x, filter) as tf.Tensor4D;
}
