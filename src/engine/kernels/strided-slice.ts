import * as tf from '@tensorflow/tfjs-core';

/** One axis of a strided slice as ascending positions start, start + step, … (count of them), maybe reversed. */
export interface AxisSlice {
  start: number;
  step: number;
  count: number;
  reversed: boolean;
}

/**
 * Strided slicing with a gradient: tfjs registers none for StridedSlice. The gradient places each
 * upstream value back at its position — per axis: un-reverse, spread by the step with zeros
 * (reshape + pad), pad to the input's extent — using forward ops every backend has.
 */
export function stridedSlice(x: tf.Tensor, axes: AxisSlice[]): tf.Tensor {
  const inputShape = x.shape;
  const run = tf.customGrad((input) => {
    const t = input as tf.Tensor;
    const begin = axes.map((a) => a.start);
    const end = axes.map((a) => a.start + (a.count - 1) * a.step + 1);
    let y = tf.stridedSlice(t, begin, end, axes.map((a) => a.step));
    const reversedAxes = axes.flatMap((a, i) => (a.reversed ? [i] : []));
    if (reversedAxes.length > 0) y = tf.reverse(y, reversedAxes);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor) => {
        let g = reversedAxes.length > 0 ? tf.reverse(dy, reversedAxes) : dy;
        axes.forEach((a, i) => {
          g = spreadAxis(g, i, a.step, a.count);
          const extent = a.count === 0 ? 0 : (a.count - 1) * a.step + 1;
          const pads = g.shape.map((_, k) => (k === i ? [a.start, inputShape[i] - a.start - extent] : [0, 0]) as [number, number]);
          g = tf.pad(g, pads);
        });
        return g;
      },
    };
  });
  return run(x);
}

/** Along `axis`, puts step − 1 zeros after each element and drops the trailing ones. */
function spreadAxis(g: tf.Tensor, axis: number, step: number, count: number): tf.Tensor {
  if (step === 1 || count === 0) return g;
  const shape = g.shape;
  const outer = shape.slice(0, axis + 1).reduce((p, q) => p * q, 1);
  const inner = shape.slice(axis + 1).reduce((p, q) => p * q, 1);
  const spread = tf.reshape(tf.pad(tf.reshape(g, [outer, 1, inner]), [[0, 0], [0, step - 1], [0, 0]]), [
    ...shape.slice(0, axis),
    count * step,
    ...shape.slice(axis + 1),
  ]);
  const size = [...spread.shape];
  size[axis] = (count - 1) * step + 1;
  return tf.slice(spread, spread.shape.map(() => 0), size);
}
