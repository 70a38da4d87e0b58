import * as tf from '@tensorflow/tfjs-core';
import type { SpatialPads } from '../../kernels/spatial';
import * as A from '../nhwc/activations';
import { GLOROT_UNIFORM, initSpec, ONES, ZEROS, type InitSpec } from '../nhwc/initializers';
import type { OpBehaviour } from '../nhwc/op-graph';
import * as ops from '../nhwc/ops';
import type { HostTensor } from '../onnx/tensor-proto';
import { activationName, activationStep, type ActivationStep } from './activations';
import type { Json } from './config';

/** What one Keras layer class needs (its weights, in Keras's order) and does (graph steps). */

export interface WeightRole {
  role: string;
  init: InitSpec;
}

/** One node of a layer's computation; the first step reads the layer's inputs, each next one the previous output. */
export interface Step {
  /** Appended to the layer's name for the node's name ('' for the layer's main node). */
  suffix: string;
  opType: string;
  op: OpBehaviour;
}

export interface BuildEnv {
  keras3: boolean;
  inputs: number;
  owned: ops.Owned;
  weight(role: string): HostTensor;
}

interface LayerKind {
  weights?(c: Json): WeightRole[];
  steps(c: Json, env: BuildEnv): Step[];
}

/** A problem with one layer's config; the loader names the file and layer. */
export class LayerConfigError extends Error {}

type Pair = [number, number];

function pair(v: unknown, fallback: Pair, what: string): Pair {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  throw new LayerConfigError(`${what} ${JSON.stringify(v)} is not 2-D`);
}

function padding(c: Json): ops.Padding {
  const p = String(c.padding ?? 'valid').toLowerCase();
  if (p === 'same' || p === 'valid') return p;
  throw new LayerConfigError(`padding '${p}' is not supported (same, valid)`);
}

function channelsLast(c: Json): void {
  const f = c.data_format;
  if (f !== undefined && f !== null && f !== 'channels_last') {
    throw new LayerConfigError(`data_format '${String(f)}' is not supported (channels_last only)`);
  }
}

const useBias = (c: Json) => c.use_bias !== false;
const num = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback);

function fusedActivation(c: Json, keras3: boolean): Step[] {
  const name = activationName(c.activation);
  const step = name === undefined ? undefined : activationStep(name, keras3);
  if (step === undefined) throw new LayerConfigError(`activation ${JSON.stringify(c.activation)} is not supported`);
  return step ? [{ suffix: `/${name}`, ...step }] : [];
}

const plain = (suffix: string, opType: string, op: OpBehaviour): Step => ({ suffix, opType, op });
const stepOf = (suffix: string, s: ActivationStep): Step => ({ suffix, opType: s.opType, op: s.op });
const act = (a: A.Activation): Step => ({ suffix: '', opType: a.opType, op: a.behaviour });

function kernelAndBias(kernelRole: string, initKey: string) {
  return (c: Json): WeightRole[] => [
    { role: kernelRole, init: initSpec(c[initKey], GLOROT_UNIFORM) },
    ...(useBias(c) ? [{ role: 'bias', init: initSpec(c.bias_initializer, ZEROS) }] : []),
  ];
}

function withBias(c: Json, env: BuildEnv, main: Step[]): Step[] {
  const steps = [...main];
  if (useBias(c)) steps.push(plain('/bias', 'BiasAdd', ops.biasAdd(env.owned, env.weight('bias'))));
  return [...steps, ...fusedActivation(c, env.keras3)];
}

function poolSpec(c: Json): ops.PoolSpec {
  channelsLast(c);
  const kernel = pair(c.pool_size, [2, 2], 'pool_size');
  return { kernel, strides: pair(c.strides, kernel, 'strides'), padding: padding(c) };
}

/** ZeroPadding2D / Cropping2D amounts: n, [h, w] or [[top, bottom], [left, right]]. */
function spatialAmounts(v: unknown, what: string): SpatialPads {
  if (typeof v === 'number') return [[v, v], [v, v]];
  if (Array.isArray(v) && v.length === 2) {
    const [h, w] = v.map((e) => (typeof e === 'number' ? ([e, e] as Pair) : pair(e, [0, 0], what)));
    return [h, w];
  }
  throw new LayerConfigError(`${what} ${JSON.stringify(v)} is not understood`);
}

const negate = ([[t, b], [l, r]]: SpatialPads): SpatialPads => [[-t, -b], [-l, -r]];

function perAxis(v: unknown, what: string): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v) && v.flat(8).every((x) => typeof x === 'number')) return v.flat(8) as number[];
  throw new LayerConfigError(`${what} ${JSON.stringify(v)} is not a number or a list of numbers`);
}

const IDENTITY: LayerKind = { steps: () => [plain('', 'Identity', ops.identity())] };

const KINDS: Record<string, LayerKind> = {
  Conv2D: {
    weights: kernelAndBias('kernel', 'kernel_initializer'),
    steps: (c, env) => {
      channelsLast(c);
      const op = ops.conv2d(env.owned, {
        filter: env.weight('kernel'),
        strides: pair(c.strides, [1, 1], 'strides'),
        dilations: pair(c.dilation_rate, [1, 1], 'dilation_rate'),
        padding: padding(c),
        groups: num(c.groups, 1),
      });
      return withBias(c, env, [plain('', 'Conv2D', op)]);
    },
  },
  DepthwiseConv2D: {
    weights: kernelAndBias('depthwise_kernel', 'depthwise_initializer'),
    steps: (c, env) => {
      channelsLast(c);
      const op = ops.depthwiseConv2d(env.owned, {
        filter: env.weight('depthwise_kernel'),
        strides: pair(c.strides, [1, 1], 'strides'),
        dilations: pair(c.dilation_rate, [1, 1], 'dilation_rate'),
        padding: padding(c),
      });
      return withBias(c, env, [plain('', 'DepthwiseConv2D', op)]);
    },
  },
  SeparableConv2D: {
    weights: (c) => [
      { role: 'depthwise_kernel', init: initSpec(c.depthwise_initializer, GLOROT_UNIFORM) },
      { role: 'pointwise_kernel', init: initSpec(c.pointwise_initializer, GLOROT_UNIFORM) },
      ...(useBias(c) ? [{ role: 'bias', init: initSpec(c.bias_initializer, ZEROS) }] : []),
    ],
    steps: (c, env) => {
      channelsLast(c);
      const depthwise = ops.depthwiseConv2d(env.owned, {
        filter: env.weight('depthwise_kernel'),
        strides: pair(c.strides, [1, 1], 'strides'),
        dilations: pair(c.dilation_rate, [1, 1], 'dilation_rate'),
        padding: padding(c),
      });
      const pointwise = ops.conv2d(env.owned, { filter: env.weight('pointwise_kernel'), strides: [1, 1], dilations: [1, 1], padding: 'valid' });
      return withBias(c, env, [plain('/depthwise', 'DepthwiseConv2D', depthwise), plain('', 'Conv2D', pointwise)]);
    },
  },
  Dense: {
    weights: kernelAndBias('kernel', 'kernel_initializer'),
    steps: (c, env) => [
      plain('', 'Dense', ops.dense(env.owned, env.weight('kernel'), useBias(c) ? env.weight('bias') : undefined)),
      ...fusedActivation(c, env.keras3),
    ],
  },
  BatchNormalization: {
    weights: (c) => [
      ...(c.scale !== false ? [{ role: 'gamma', init: initSpec(c.gamma_initializer, ONES) }] : []),
      ...(c.center !== false ? [{ role: 'beta', init: initSpec(c.beta_initializer, ZEROS) }] : []),
      { role: 'moving_mean', init: initSpec(c.moving_mean_initializer, ZEROS) },
      { role: 'moving_variance', init: initSpec(c.moving_variance_initializer, ONES) },
    ],
    steps: (c, env) => {
      const axes = perAxis(c.axis ?? -1, 'axis');
      if (axes.length !== 1) throw new LayerConfigError(`batch normalization over axes [${axes}] is not supported (one axis)`);
      const op = ops.batchNorm(
        env.owned,
        {
          gamma: c.scale !== false ? env.weight('gamma') : undefined,
          beta: c.center !== false ? env.weight('beta') : undefined,
          mean: env.weight('moving_mean'),
          variance: env.weight('moving_variance'),
          epsilon: num(c.epsilon, 1e-3),
        },
        axes[0],
      );
      return [plain('', 'BatchNormalization', op)];
    },
  },
  Activation: {
    steps: (c, env) => {
      const name = activationName(c.activation);
      const step = name === undefined ? undefined : activationStep(name, env.keras3);
      if (step === undefined) throw new LayerConfigError(`activation ${JSON.stringify(c.activation)} is not supported`);
      return [step ? stepOf('', step) : plain('', 'Identity', ops.identity())];
    },
  },
  ReLU: { steps: (c) => [act(A.kerasRelu(c.max_value as number | null, num(c.negative_slope, 0), num(c.threshold, 0)))] },
  LeakyReLU: { steps: (c) => [act(A.leakyRelu(num(c.negative_slope ?? c.alpha, 0.3)))] },
  ELU: { steps: (c) => [act(A.elu(num(c.alpha, 1)))] },
  Softmax: { steps: (c) => [plain('', 'Softmax', { kind: 'softmax', axis: perAxis(c.axis ?? -1, 'axis')[0] })] },
  PReLU: {
    weights: (c) => [{ role: 'alpha', init: initSpec(c.alpha_initializer, ZEROS) }],
    steps: (_c, env) => {
      const alpha = env.weight('alpha');
      return [act(A.prelu(ops.constant(env.owned, alpha)))];
    },
  },
  MaxPooling2D: { steps: (c) => [plain('', 'MaxPool', { kind: 'maxPool', window: ops.maxPoolWindow(poolSpec(c)) })] },
  AveragePooling2D: { steps: (c) => [plain('', 'AveragePool', ops.avgPool(poolSpec(c)))] },
  GlobalAveragePooling2D: {
    steps: (c) => {
      channelsLast(c);
      return [plain('', 'GlobalAveragePool', ops.globalAvgPool(c.keepdims === true))];
    },
  },
  GlobalMaxPooling2D: {
    steps: (c) => {
      channelsLast(c);
      const pool = plain('', 'GlobalMaxPool', { kind: 'maxPool', window: ops.globalMaxWindow });
      return c.keepdims === true ? [pool] : [pool, plain('/flatten', 'Flatten', ops.flatten())];
    },
  },
  Add: { steps: () => [plain('', 'Add', ops.addAll())] },
  Subtract: {
    steps: (_c, env) => {
      if (env.inputs !== 2) throw new LayerConfigError(`Subtract needs 2 inputs, got ${env.inputs}`);
      return [plain('', 'Sub', { kind: 'plain', run: ([a, b]) => tf.sub(a, b) })];
    },
  },
  Multiply: {
    steps: (_c, env) => {
      if (env.inputs !== 2) throw new LayerConfigError(`Multiply of ${env.inputs} inputs is not supported (2)`);
      return [plain('', 'Mul', { kind: 'product', f: (a, b) => tf.mul(a, b) })];
    },
  },
  Average: {
    steps: (_c, env) => [plain('', 'Add', ops.addAll()), plain('/mean', 'Mul', { kind: 'plain', run: ([x]) => tf.mul(x, 1 / env.inputs) })],
  },
  Concatenate: { steps: (c) => [plain('', 'Concat', ops.concat(num(c.axis, -1)))] },
  Flatten: {
    steps: (c) => {
      channelsLast(c);
      return [plain('', 'Flatten', ops.flatten())];
    },
  },
  Reshape: { steps: (c) => [plain('', 'Reshape', ops.reshape(perAxis(c.target_shape, 'target_shape')))] },
  Permute: {
    steps: (c) => {
      const dims = perAxis(c.dims, 'dims');
      return [plain('', 'Transpose', { kind: 'plain', run: ([x]) => tf.transpose(x, [0, ...dims]) })];
    },
  },
  Rescaling: {
    steps: (c) => {
      const scale = perAxis(c.scale ?? 1, 'scale');
      const offset = perAxis(c.offset ?? 0, 'offset');
      const run = ([x]: tf.Tensor[]) => tf.add(tf.mul(x, scale.length === 1 ? scale[0] : tf.tensor1d(scale)), offset.length === 1 ? offset[0] : tf.tensor1d(offset));
      return [plain('', 'Rescaling', { kind: 'plain', run })];
    },
  },
  Normalization: {
    weights: (c) =>
      c.mean !== undefined && c.mean !== null
        ? []
        : [
            { role: 'mean', init: ZEROS },
            { role: 'variance', init: ONES },
            { role: 'count', init: ZEROS },
          ],
    steps: (c, env) => {
      const fromConfig = c.mean !== undefined && c.mean !== null;
      const mean = fromConfig ? perAxis(c.mean, 'mean') : Array.from(env.weight('mean').values);
      const variance = fromConfig ? perAxis(c.variance, 'variance') : Array.from(env.weight('variance').values);
      const axes = c.axis === null ? [] : perAxis(c.axis ?? -1, 'axis');
      if (axes.length > 1) throw new LayerConfigError(`normalization over axes [${axes}] is not supported (one axis)`);
      if (mean.length !== variance.length) throw new LayerConfigError(`mean has ${mean.length} values, variance ${variance.length}`);
      // Keras: (x − mean) / max(√variance, 1e-7); inverted: x · max(√variance, 1e-7) + mean.
      const sd = variance.map((v) => Math.max(Math.sqrt(v), 1e-7));
      const invert = c.invert === true;
      const a = Float32Array.from(sd, (s) => (invert ? s : 1 / s));
      const b = Float32Array.from(mean, (m, i) => (invert ? m : -m / sd[i]));
      return [plain('', 'Normalization', ops.affine(env.owned, a, b, axes[0] ?? -1))];
    },
  },
  ZeroPadding2D: {
    steps: (c) => {
      channelsLast(c);
      return [plain('', 'Pad', ops.padSpatial(spatialAmounts(c.padding ?? 1, 'padding')))];
    },
  },
  Cropping2D: {
    steps: (c) => {
      channelsLast(c);
      return [plain('', 'Crop', ops.padSpatial(negate(spatialAmounts(c.cropping ?? 0, 'cropping'))))];
    },
  },
  Dropout: IDENTITY,
  SpatialDropout1D: IDENTITY,
  SpatialDropout2D: IDENTITY,
  GaussianNoise: IDENTITY,
  GaussianDropout: IDENTITY,
  AlphaDropout: IDENTITY,
  ActivityRegularization: IDENTITY,
  Identity: IDENTITY,
};

export function isSupportedLayer(className: string): boolean {
  return className in KINDS;
}

export function supportedLayers(): string[] {
  return Object.keys(KINDS).sort();
}

/** The weights a layer of this class and config holds, in Keras's order. */
export function layerWeights(className: string, config: Json): WeightRole[] {
  return KINDS[className].weights?.(config) ?? [];
}

/** The graph steps of one call of a layer. */
export function layerSteps(className: string, config: Json, env: BuildEnv): Step[] {
  return KINDS[className].steps(config, env);
}
