import * as tf from '@tensorflow/tfjs-core';
import { nodeError, required, type OpDefinition, type RunContext } from '../op';

function gemm(ctx: RunContext): tf.Tensor {
  const attrs = ctx.node.attrs;
  const [a, b] = [required(ctx, 0), required(ctx, 1)];
  if (a.rank !== 2 || b.rank !== 2) throw nodeError(ctx.node, `inputs must be 2-D, got [${a.shape}] and [${b.shape}]`);
  const alpha = attrs.float('alpha', 1);
  const beta = attrs.float('beta', 1);
  let y: tf.Tensor = tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, attrs.int('transA', 0) === 1, attrs.int('transB', 0) === 1);
  if (alpha !== 1) y = tf.mul(y, alpha);
  const c = ctx.inputs[2];
  if (c && beta !== 0) y = tf.add(y, beta === 1 ? c : tf.mul(c, beta));
  return y;
}

/** numpy matmul: 1-D operands are promoted and the added axis removed; batch axes broadcast. */
function matmul(ctx: RunContext): tf.Tensor {
  let a = required(ctx, 0);
  let b = required(ctx, 1);
  const aVector = a.rank === 1;
  const bVector = b.rank === 1;
  if (aVector) a = tf.reshape(a, [1, a.shape[0]]);
  if (bVector) b = tf.reshape(b, [b.shape[0], 1]);
  let y: tf.Tensor;
  if (b.rank === 2 && a.rank > 2) {
    // Fold the batch axes into rows: one 2-D product instead of a broadcast batched one.
    const lead = a.shape.slice(0, -1);
    y = tf.reshape(tf.matMul(tf.reshape(a, [-1, a.shape[a.rank - 1]]) as tf.Tensor2D, b as tf.Tensor2D), [...lead, b.shape[1] as number]);
  } else {
    y = tf.matMul(a, b);
  }
  if (aVector) y = tf.squeeze(y, [y.rank - 2]);
  if (bVector) y = tf.squeeze(y, [y.rank - 1]);
  return y;
}

export const linearOps: Record<string, OpDefinition> = {
  Gemm: { run: gemm },
  MatMul: { run: matmul },
};
