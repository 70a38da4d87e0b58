import * as tf from '@tensorflow/tfjs-core';

/**
 * tf.gather along `axis` with host-known indices, whose gradient is a matrix product with the
 * one-hot selection matrix: tfjs's own gather gradient needs UnsortedSegmentSum, which the wasm
 * backend lacks. Duplicate indices accumulate, as a gradient must.
 */
export function gatherAxis(x: tf.Tensor, indices: number[], indicesShape: number[], axis: number): tf.Tensor {
  const dim = x.shape[axis];
  const run = tf.customGrad((input) => {
    const t = input as tf.Tensor;
    const y = tf.gather(t, tf.tensor(indices, indicesShape, 'int32'), axis);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor) => {
        const selection = new Float32Array(dim * indices.length);
        indices.forEach((index, k) => (selection[index * indices.length + k] += 1));
        // Move the gathered axes to the front, multiply by the selection, and move back.
        const rank = dy.rank;
        const span = indicesShape.length;
        const order = [...Array(rank).keys()];
        const front = [...order.slice(axis, axis + span), ...order.slice(0, axis), ...order.slice(axis + span)];
        const moved = tf.transpose(dy, front);
        const rest = moved.shape.slice(span);
        const flat = tf.reshape(moved, [indices.length, -1]);
        const scattered = tf.reshape(tf.matMul(tf.tensor2d(selection, [dim, indices.length]), flat), [dim, ...rest]);
        const back = [...Array(x.rank).keys()];
        const inverse = [...back.slice(1, axis + 1), 0, ...back.slice(axis + 1)];
        return tf.transpose(scattered, inverse);
      },
    };
  });
  return run(x);
}
