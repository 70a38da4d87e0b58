import * as tf from '@tensorflow/tfjs-core';
import type { OpBehaviour } from './op-graph';

/** An elementwise nonlinearity with its rule-facing op type and f'(x) (for rules that fall back to it). */
export interface Activation {
  /** As the ONNX executor names it, so the rules treat both alike ('Relu', 'Clip' for ReLU6, …). */
  opType: string;
  behaviour: Extract<OpBehaviour, { kind: 'activation' }>;
}

const float = (b: tf.Tensor) => tf.cast(b, 'float32');
const positive = (x: tf.Tensor) => float(tf.greater(x, 0));
const between = (x: tf.Tensor, low: number, high: number) => float(tf.logicalAnd(tf.greater(x, low), tf.less(x, high)));

function make(opType: string, f: (x: tf.Tensor) => tf.Tensor, derivative: (x: tf.Tensor) => tf.Tensor): Activation {
  return { opType, behaviour: { kind: 'activation', f, derivative } };
}

export const relu = (): Activation => make('Relu', (x) => tf.relu(x), positive);

/** min(max(x, low), high): ReLU6 and capped ReLUs (an ONNX Clip, a rectifier for Guided Backprop). */
export const clip = (low: number, high: number): Activation => make('Clip', (x) => tf.clipByValue(x, low, high), (x) => between(x, low, high));

export const leakyRelu = (alpha: number): Activation =>
  make('LeakyRelu', (x) => tf.leakyRelu(x, alpha), (x) => tf.where(tf.greater(x, 0), tf.onesLike(x), tf.fill(x.shape, alpha)));

/**
 * Keras's ReLU layer: x ≥ max_value → max_value; threshold ≤ x < max_value → x; else
 * negative_slope·(x − threshold). The plain, capped and leaky cases map to Relu, Clip, LeakyRelu.
 */
export function kerasRelu(maxValue: number | null | undefined, negativeSlope: number, threshold: number): Activation {
  const max = maxValue ?? Infinity;
  if (threshold === 0 && negativeSlope === 0) return Number.isFinite(max) ? clip(0, max) : relu();
  if (threshold === 0 && !Number.isFinite(max)) return leakyRelu(negativeSlope);
  const f = (x: tf.Tensor) => {
    const low = tf.mul(tf.sub(x, threshold), negativeSlope);
    const y = tf.where(tf.greaterEqual(x, threshold), x, low);
    return Number.isFinite(max) ? tf.minimum(y, max) : y;
  };
  const d = (x: tf.Tensor) => tf.where(tf.greaterEqual(x, threshold), float(tf.less(x, max)), tf.fill(x.shape, negativeSlope));
  return make('Relu', f, d);
}

/** relu(x) + alpha (exp(min(x, 0)) − 1): differentiable everywhere (a where() of exp would not be). */
export function elu(alpha: number): Activation {
  const f = (x: tf.Tensor) => (alpha === 1 ? tf.elu(x) : tf.add(tf.relu(x), tf.mul(alpha, tf.sub(tf.exp(tf.minimum(x, 0)), 1))));
  return make('Elu', f, (x) => tf.where(tf.greater(x, 0), tf.onesLike(x), tf.mul(alpha, tf.exp(tf.minimum(x, 0)))));
}

export const sigmoid = (): Activation =>
  make('Sigmoid', (x) => tf.sigmoid(x), (x) => {
    const s = tf.sigmoid(x);
    return tf.mul(s, tf.sub(1, s));
  });

export const tanh = (): Activation => make('Tanh', (x) => tf.tanh(x), (x) => tf.sub(1, tf.square(tf.tanh(x))));

/** clip(alpha·x + beta, 0, 1): Keras 2 uses alpha 0.2, Keras 3 and TF.js's hardSigmoid 1/6 resp. 0.2. */
export const hardSigmoid = (alpha: number, beta = 0.5): Activation =>
  make('HardSigmoid', (x) => tf.clipByValue(tf.add(tf.mul(x, alpha), beta), 0, 1), (x) => tf.mul(between(tf.add(tf.mul(x, alpha), beta), 0, 1), alpha));

/** x · relu6(x + 3) / 6 (Keras 3's hard_silu, ONNX HardSwish). */
export const hardSwish = (): Activation =>
  make('HardSwish', (x) => tf.mul(x, tf.clipByValue(tf.add(tf.mul(x, 1 / 6), 0.5), 0, 1)), (x) =>
    tf.add(tf.mul(between(x, -3, 3), tf.add(tf.div(x, 3), 0.5)), float(tf.greaterEqual(x, 3))),
  );

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

export const selu = (): Activation =>
  make('Selu', (x) => tf.selu(x), (x) => tf.mul(SELU_SCALE, tf.where(tf.greater(x, 0), tf.onesLike(x), tf.mul(SELU_ALPHA, tf.exp(tf.minimum(x, 0))))));

export const softplus = (): Activation => make('Softplus', (x) => tf.softplus(x), (x) => tf.sigmoid(x));

export const softsign = (): Activation =>
  make('Softsign', (x) => tf.div(x, tf.add(tf.abs(x), 1)), (x) => tf.reciprocal(tf.square(tf.add(tf.abs(x), 1))));

/** x · sigmoid(x) (swish, SiLU) as one elementwise nonlinearity. */
export const swish = (): Activation =>
  make('Swish', (x) => tf.mul(x, tf.sigmoid(x)), (x) => {
    const s = tf.sigmoid(x);
    return tf.add(s, tf.mul(x, tf.mul(s, tf.sub(1, s))));
  });

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU, exact (x Φ(x)) or tanh-approximated as Keras's `approximate`. */
export function gelu(approximate: boolean): Activation {
  if (approximate) {
    const inner = (x: tf.Tensor) => tf.mul(SQRT_2_OVER_PI, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return make('Gelu', (x) => tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner(x)))), (x) => {
      const t = tf.tanh(inner(x));
      const dInner = tf.mul(SQRT_2_OVER_PI, tf.add(1, tf.mul(3 * 0.044715, tf.square(x))));
      return tf.add(tf.mul(0.5, tf.add(1, t)), tf.mul(tf.mul(0.5, x), tf.mul(tf.sub(1, tf.square(t)), dInner)));
    });
  }
  const cdf = (x: tf.Tensor) => tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  const pdf = (x: tf.Tensor) => tf.mul(1 / Math.sqrt(2 * Math.PI), tf.exp(tf.mul(-0.5, tf.square(x))));
  return make('Gelu', (x) => tf.mul(x, cdf(x)), (x) => tf.add(cdf(x), tf.mul(x, pdf(x))));
}

export const exponential = (): Activation => make('Exp', (x) => tf.exp(x), (x) => tf.exp(x));

/** x · tanh(softplus(x)). */
export const mish = (): Activation =>
  make('Mish', (x) => tf.mul(x, tf.tanh(tf.softplus(x))), (x) => {
    const t = tf.tanh(tf.softplus(x));
    return tf.add(t, tf.mul(x, tf.mul(tf.sub(1, tf.square(t)), tf.sigmoid(x))));
  });

/** Parametric ReLU with a learned slope broadcast against x (channels last). */
export function prelu(alpha: tf.Tensor): Activation {
  return make('PRelu', (x) => tf.add(tf.relu(x), tf.mul(alpha, tf.minimum(x, 0))), (x) =>
    tf.where(tf.greater(x, 0), tf.onesLike(x), tf.mul(tf.onesLike(x), alpha)),
  );
}
