import * as tf from '@tensorflow/tfjs-core';
import { axis, required, type OpDefinition, type RunContext } from '../op';

const binary = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): OpDefinition => ({
  run: (ctx) => f(required(ctx, 0), required(ctx, 1)),
});

const unary = (f: (x: tf.Tensor, ctx: RunContext) => tf.Tensor): OpDefinition => ({
  run: (ctx) => f(required(ctx, 0), ctx),
});

/** Clip's bounds: attributes before opset 11, optional scalar inputs from 11 on. */
function clipBounds(ctx: RunContext): [number, number] {
  if (ctx.node.opset < 11) {
    return [ctx.node.attrs.float('min', -Infinity), ctx.node.attrs.float('max', Infinity)];
  }
  const min = ctx.inputs[1] ? ctx.floats(1)?.[0] : undefined;
  const max = ctx.inputs[2] ? ctx.floats(2)?.[0] : undefined;
  return [min ?? -Infinity, max ?? Infinity];
}

function clip(x: tf.Tensor, [min, max]: [number, number]): tf.Tensor {
  if (Number.isFinite(min) && Number.isFinite(max)) return tf.clipByValue(x, min, max);
  if (Number.isFinite(min)) return tf.maximum(x, min);
  if (Number.isFinite(max)) return tf.minimum(x, max);
  return x;
}

const positive = (x: tf.Tensor) => tf.cast(tf.greater(x, 0), 'float32');
const between = (x: tf.Tensor, low: number, high: number) => tf.cast(tf.logicalAnd(tf.greater(x, low), tf.less(x, high)), 'float32');

/**
 * f'(x) of each elementwise nonlinearity, for modified-gradient rules that fall back to it (and
 * that need it without differentiating f again). At kinks the one-sided value PyTorch uses.
 */
export const ACTIVATION_DERIVATIVES: Record<string, (x: tf.Tensor, ctx: RunContext) => tf.Tensor> = {
  Relu: positive,
  LeakyRelu: (x, ctx) => tf.where(tf.greater(x, 0), tf.onesLike(x), tf.fill(x.shape, ctx.node.attrs.float('alpha', 0.01))),
  Elu: (x, ctx) => tf.where(tf.greater(x, 0), tf.onesLike(x), tf.mul(ctx.node.attrs.float('alpha', 1), tf.exp(tf.minimum(x, 0)))),
  Sigmoid: (x) => {
    const s = tf.sigmoid(x);
    return tf.mul(s, tf.sub(1, s));
  },
  Tanh: (x) => tf.sub(1, tf.square(tf.tanh(x))),
  HardSigmoid: (x, ctx) => {
    const alpha = ctx.node.attrs.float('alpha', 0.2);
    const z = tf.add(tf.mul(x, alpha), ctx.node.attrs.float('beta', 0.5));
    return tf.mul(between(z, 0, 1), alpha);
  },
  HardSwish: (x) => tf.add(tf.mul(between(x, -3, 3), tf.add(tf.div(x, 3), 0.5)), tf.cast(tf.greaterEqual(x, 3), 'float32')),
  Clip: (x, ctx) => {
    const [min, max] = clipBounds(ctx);
    return between(x, min, max);
  },
};

/** Softmax before opset 13 flattens to 2-D at `axis` (default 1); from 13 on it is over one axis (default -1). */
function softmax(x: tf.Tensor, ctx: RunContext): tf.Tensor {
  const rank = x.rank;
  if (ctx.node.opset < 13) {
    const a = axis(ctx.node.attrs.int('axis', 1), rank);
    const outer = x.shape.slice(0, a).reduce((p, q) => p * q, 1);
    return tf.reshape(tf.softmax(tf.reshape(x, [outer, -1])), x.shape);
  }
  const a = axis(ctx.node.attrs.int('axis', -1), rank);
  if (a === rank - 1) return tf.softmax(x);
  const perm = [...Array(rank).keys()].filter((d) => d !== a).concat(a);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return tf.transpose(tf.softmax(tf.transpose(x, perm)), inverse);
}

/** relu(x) + alpha (exp(min(x, 0)) - 1): differentiable everywhere tfjs needs it (a where() would not be). */
function elu(x: tf.Tensor, alpha: number): tf.Tensor {
  if (alpha === 1) return tf.elu(x);
  return tf.add(tf.relu(x), tf.mul(alpha, tf.sub(tf.exp(tf.minimum(x, 0)), 1)));
}

export const elementwiseOps: Record<string, OpDefinition> = {
  Add: binary(tf.add),
  Sub: binary(tf.sub),
  Mul: binary(tf.mul),
  Div: {
    run: (ctx) => {
      const [a, b] = [required(ctx, 0), required(ctx, 1)];
      // ONNX integer division truncates toward zero; tf.div on int32 floors.
      return a.dtype === 'int32' ? tf.cast(tf.div(tf.cast(a, 'float32'), tf.cast(b, 'float32')), 'int32') : tf.div(a, b);
    },
  },
  Relu: unary((x) => tf.relu(x)),
  LeakyRelu: unary((x, ctx) => tf.leakyRelu(x, ctx.node.attrs.float('alpha', 0.01))),
  Elu: unary((x, ctx) => elu(x, ctx.node.attrs.float('alpha', 1))),
  Sigmoid: unary((x) => tf.sigmoid(x)),
  Tanh: unary((x) => tf.tanh(x)),
  HardSigmoid: unary((x, ctx) =>
    tf.clipByValue(tf.add(tf.mul(x, ctx.node.attrs.float('alpha', 0.2)), ctx.node.attrs.float('beta', 0.5)), 0, 1),
  ),
  HardSwish: unary((x) => tf.mul(x, tf.clipByValue(tf.add(tf.mul(x, 1 / 6), 0.5), 0, 1))),
  Clip: unary((x, ctx) => clip(x, clipBounds(ctx))),
  Softmax: unary(softmax),
  Identity: unary((x) => x),
  Dropout: {
    run: (ctx) => {
      const x = required(ctx, 0);
      if (ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '') {
        return [x, tf.onesLike(tf.cast(x, 'bool'))];
      }
      return x;
    },
  },
};
