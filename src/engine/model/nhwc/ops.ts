import * as tf from '@tensorflow/tfjs-core';
import { Conv2DKernel } from '../../kernels/conv2d';
import { DepthwiseConv2DKernel } from '../../kernels/depthwise-conv2d';
import { averagePool } from '../../kernels/pool';
import { padOrCrop, type SpatialPads } from '../../kernels/spatial';
import type { PoolWindow } from '../model';
import type { HostTensor } from '../onnx/tensor-proto';
import type { OpBehaviour } from './op-graph';

/**
 * Channels-last building blocks shared by the Keras and TF.js loaders. Weights arrive as host
 * arrays and become tensors (or gradient kernels) owned by the graph (pushed to `owned`), captured
 * by the closures so that they never sit on the differentiated path.
 */

export type Owned = { dispose(): void }[];
/** TensorFlow's padding: 'same' (extra row/column at the end), 'valid', or explicit. */
export type Padding = 'same' | 'valid' | SpatialPads;
type Pair = [number, number];

/** Explicit pads of a window op on input size [h, w] (TF's SAME puts the odd pixel at the end). */
export function resolvePads(padding: Padding, size: Pair, kernel: Pair, strides: Pair, dilations: Pair = [1, 1]): SpatialPads {
  if (padding === 'valid') return [[0, 0], [0, 0]];
  if (padding !== 'same') return padding;
  const pads = [0, 1].map((d) => {
    const extent = dilations[d] * (kernel[d] - 1) + 1;
    const out = Math.ceil(size[d] / strides[d]);
    const total = Math.max((out - 1) * strides[d] + extent - size[d], 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)] as Pair;
  });
  return [pads[0], pads[1]];
}

function keep<T extends tf.Tensor>(owned: Owned, t: T): T {
  owned.push(t);
  return t;
}

/** A host array as a tensor owned by the graph. */
export function constant(owned: Owned, h: HostTensor, shape: number[] = h.shape): tf.Tensor {
  return keep(owned, tf.tensor(h.values, shape, h.dtype));
}

const spatial = (x: tf.Tensor): Pair => [x.shape[1] as number, x.shape[2] as number];

function checkChannels(x: tf.Tensor, expected: number, what: string): void {
  if (x.rank !== 4) throw new Error(`${what} needs a 4-D NHWC input, got shape [${x.shape}]`);
  if (x.shape[3] !== expected) throw new Error(`${what}: input has ${x.shape[3]} channels, the weights expect ${expected}`);
}

export interface ConvSpec {
  /** [kh, kw, cin / groups, cout] (Keras and TF layout). */
  filter: HostTensor;
  strides: Pair;
  dilations: Pair;
  padding: Padding;
  groups?: number;
}

/** 2-D convolution (grouped when groups > 1) with the engine's forward-op input gradient. */
export function conv2d(owned: Owned, spec: ConvSpec): OpBehaviour {
  const [kh, kw, cinPerGroup, cout] = spec.filter.shape;
  const groups = spec.groups ?? 1;
  if (cout % groups !== 0) throw new Error(`${cout} filters are not divisible into ${groups} groups`);
  const per = cout / groups;
  const all = tf.tensor4d(spec.filter.values as Float32Array, [kh, kw, cinPerGroup, cout]);
  const kernels = Array.from({ length: groups }, (_, g) => {
    const filter = groups === 1 ? all : (tf.slice(all, [0, 0, 0, g * per], [kh, kw, cinPerGroup, per]) as tf.Tensor4D);
    const kernel = new Conv2DKernel(filter, spec.dilations, spec.strides);
    owned.push(kernel);
    return kernel;
  });
  if (groups > 1) all.dispose();
  return {
    kind: 'plain',
    run: ([x]) => {
      checkChannels(x, cinPerGroup * groups, 'Conv2D');
      const pads = resolvePads(spec.padding, spatial(x), [kh, kw], spec.strides, spec.dilations);
      if (groups === 1) return kernels[0].apply(x as tf.Tensor4D, { strides: spec.strides, pads });
      const parts = tf.split(x, groups, 3) as tf.Tensor4D[];
      return tf.concat(parts.map((p, g) => kernels[g].apply(p, { strides: spec.strides, pads })), 3);
    },
  };
}

/** Depthwise convolution, filter [kh, kw, cin, multiplier], with the forward-op input gradient. */
export function depthwiseConv2d(owned: Owned, spec: Omit<ConvSpec, 'groups'>): OpBehaviour {
  const [kh, kw, cin, m] = spec.filter.shape;
  const kernel = new DepthwiseConv2DKernel(tf.tensor4d(spec.filter.values as Float32Array, [kh, kw, cin, m]), spec.dilations);
  owned.push(kernel);
  return {
    kind: 'plain',
    run: ([x]) => {
      checkChannels(x, cin, 'DepthwiseConv2D');
      const pads = resolvePads(spec.padding, spatial(x), [kh, kw], spec.strides, spec.dilations);
      return kernel.apply(x as tf.Tensor4D, spec.strides, pads);
    },
  };
}

/** x + b along the last axis. */
export function biasAdd(owned: Owned, bias: HostTensor): OpBehaviour {
  const b = constant(owned, bias, [bias.values.length]);
  return { kind: 'plain', run: ([x]) => tf.add(x, b) };
}

/** x·W (+ b) on the last axis of x, W [in, out] (Keras Dense; TF MatMul with transposes). */
export function dense(owned: Owned, kernel: HostTensor, bias: HostTensor | undefined, transposeKernel = false): OpBehaviour {
  const w = constant(owned, kernel) as tf.Tensor2D;
  const b = bias ? constant(owned, bias, [bias.values.length]) : undefined;
  const inFeatures = w.shape[transposeKernel ? 1 : 0];
  return {
    kind: 'plain',
    run: ([x]) => {
      if (x.shape[x.rank - 1] !== inFeatures) throw new Error(`input of shape [${x.shape}] does not end in the ${inFeatures} features the weights expect`);
      const flat = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, inFeatures]) as tf.Tensor2D);
      let y: tf.Tensor = tf.matMul(flat, w, false, transposeKernel);
      if (b) y = tf.add(y, b);
      return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), y.shape[1] as number]);
    },
  };
}

/** y = x·a + b with a, b per index of `axis` (batch norm in inference mode, normalization layers). */
export function affine(owned: Owned, a: Float32Array, b: Float32Array, axis = -1): OpBehaviour {
  const at = keep(owned, tf.tensor1d(a));
  const bt = keep(owned, tf.tensor1d(b));
  return {
    kind: 'plain',
    run: ([x]) => {
      const ax = axis < 0 ? axis + x.rank : axis;
      if (x.shape[ax] !== a.length && a.length !== 1) throw new Error(`input of shape [${x.shape}] does not have ${a.length} entries on axis ${ax}`);
      const shape = x.shape.map((_, i) => (i === ax ? a.length : 1)).slice(1);
      return tf.add(tf.mul(x, tf.reshape(at, shape)), tf.reshape(bt, shape));
    },
  };
}

/** Inference-mode batch norm as the affine map x·γ/√(σ²+ε) + (β − μ·γ/√(σ²+ε)). */
export function batchNorm(
  owned: Owned,
  p: { gamma?: HostTensor; beta?: HostTensor; mean: HostTensor; variance: HostTensor; epsilon: number },
  axis = -1,
): OpBehaviour {
  const c = p.mean.values.length;
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    a[i] = (p.gamma ? p.gamma.values[i] : 1) / Math.sqrt(p.variance.values[i] + p.epsilon);
    b[i] = (p.beta ? p.beta.values[i] : 0) - p.mean.values[i] * a[i];
  }
  return affine(owned, a, b, axis);
}

export interface PoolSpec {
  kernel: Pair;
  strides: Pair;
  padding: Padding;
}

/** Max pooling's window on a given input (the rules and the engine's MaxPool gradient take it). */
export function maxPoolWindow(spec: PoolSpec): (x: tf.Tensor4D) => PoolWindow {
  return (x) => {
    if (x.rank !== 4) throw new Error(`MaxPool needs a 4-D NHWC input, got shape [${x.shape}]`);
    return { kernel: spec.kernel, strides: spec.strides, dilations: [1, 1], pads: resolvePads(spec.padding, spatial(x), spec.kernel, spec.strides) };
  };
}

/** The whole spatial extent as one max-pooling window (global max pooling). */
export function globalMaxWindow(x: tf.Tensor4D): PoolWindow {
  const size = spatial(x);
  return { kernel: size, strides: size, dilations: [1, 1], pads: [[0, 0], [0, 0]] };
}

/** Average pooling; with 'same' padding the divisor counts only input pixels (TensorFlow). */
export function avgPool(spec: PoolSpec): OpBehaviour {
  return {
    kind: 'plain',
    run: ([x]) => {
      if (x.rank !== 4) throw new Error(`AveragePooling needs a 4-D NHWC input, got shape [${x.shape}]`);
      const pads = resolvePads(spec.padding, spatial(x), spec.kernel, spec.strides);
      return averagePool(x as tf.Tensor4D, { kernel: spec.kernel, strides: spec.strides, dilations: [1, 1], pads }, [[0, 0], [0, 0]]);
    },
  };
}

export function globalAvgPool(keepdims: boolean): OpBehaviour {
  return { kind: 'plain', run: ([x]) => tf.mean(x, [1, 2], keepdims) };
}

/** Zero padding (positive) or cropping (negative) of H and W. */
export function padSpatial(pads: SpatialPads): OpBehaviour {
  return { kind: 'plain', run: ([x]) => padOrCrop(x as tf.Tensor4D, pads) };
}

/** Reshape keeping the batch axis: `shape` excludes it (-1 allowed once). */
export function reshape(shape: number[]): OpBehaviour {
  return { kind: 'plain', run: ([x]) => tf.reshape(x, [x.shape[0], ...shape]) };
}

export const flatten = (): OpBehaviour => ({ kind: 'plain', run: ([x]) => tf.reshape(x, [x.shape[0], -1]) });

export const identity = (): OpBehaviour => ({ kind: 'plain', run: ([x]) => x });

/** Sum of any number of inputs (broadcasting). */
export const addAll = (): OpBehaviour => ({ kind: 'plain', run: (xs) => (xs.length === 1 ? xs[0] : xs.length === 2 ? tf.add(xs[0], xs[1]) : tf.addN(xs)) });

export function concat(axis: number): OpBehaviour {
  return { kind: 'plain', run: (xs) => tf.concat(xs, axis < 0 ? axis + xs[0].rank : axis) };
}
