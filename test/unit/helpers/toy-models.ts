import * as tf from '@tensorflow/tfjs-core';
import type { InputSpec, LayerInfo, LayerSplit, Model } from '../../../src/engine/model/model';

/**
 * Toy models implementing the Model interface directly with tf ops, with their parameters also
 * kept as plain JS arrays so tests can compute expectations in closed form with JS loops.
 */

/** A tiny deterministic generator for test data (independent of the engine's PRNG). */
export function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296 - 0.5; // uniform in [-0.5, 0.5)
  };
}

export function randomArray(length: number, seed: number, scale = 1): number[] {
  const next = lcg(seed);
  return Array.from({ length }, () => scale * 2 * next());
}

export interface ToyModel extends Model {
  /** Batch size of every logits() / split() call, in order. */
  readonly calls: number[];
}

function inputSpec(shape: number[], layout: 'NCHW' | 'NHWC' = 'NCHW'): InputSpec {
  const [channels, height, width] = layout === 'NCHW' ? shape : [shape[2], shape[0], shape[1]];
  return {
    name: 'input',
    shape,
    layout,
    channels,
    height,
    width,
    preprocessing: { scale: 1, mean: [0], std: [1] },
  };
}

interface ToyParts {
  shape: number[];
  layout?: 'NCHW' | 'NHWC';
  numClasses: number;
  logits(x: tf.Tensor): tf.Tensor2D;
  layers?: LayerInfo[];
  split?(x: tf.Tensor, layer: string): LayerSplit;
  tensors: tf.Tensor[];
  activationBytesPerSample?: number;
}

function toyModel(parts: ToyParts): ToyModel {
  const calls: number[] = [];
  return {
    path: 'toy.onnx',
    format: 'onnx',
    input: inputSpec(parts.shape, parts.layout),
    numClasses: parts.numClasses,
    labels: undefined,
    layers: parts.layers ?? [],
    activationBytesPerSample: parts.activationBytesPerSample ?? 1024,
    calls,
    logits(x) {
      calls.push(x.shape[0]);
      return parts.logits(x);
    },
    // Toy models are written as plain tf ops, without rule sites: a rule changes nothing, which is
    // exact for the linear ones (no nonlinearity to modify).
    trace() {
      return { inputs: () => [], dispose() {} };
    },
    randomizableLayers: [],
    withRandomized() {
      throw new Error('toy models have no parameters to randomize');
    },
    split(x, layer) {
      calls.push(x.shape[0]);
      if (!parts.split) throw new Error('toy model has no layers');
      return parts.split(x, layer);
    },
    dispose() {
      for (const t of parts.tensors) t.dispose();
    },
  };
}

/** f(x) = W·x + b on the flattened input. */
export interface LinearToy extends ToyModel {
  W: number[][];
  b: number[];
}

export function linearModel(shape = [2, 5, 6], numClasses = 3, seed = 1, layout: 'NCHW' | 'NHWC' = 'NCHW'): LinearToy {
  const d = shape.reduce((a, b) => a * b, 1);
  const flatW = randomArray(numClasses * d, seed);
  const b = randomArray(numClasses, seed + 1);
  const W = Array.from({ length: numClasses }, (_, k) => flatW.slice(k * d, (k + 1) * d));
  const wT = tf.tensor2d(flatW, [numClasses, d]);
  const wt = tf.transpose(wT);
  wT.dispose();
  const bias = tf.tensor1d(b);
  const model = toyModel({
    shape,
    layout,
    numClasses,
    tensors: [wt, bias],
    logits: (x) => tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], d]), wt), bias) as tf.Tensor2D),
  });
  return Object.assign(model, { W, b });
}

/** f(x) = V·tanh(W·x): smooth and nonlinear. */
export interface TanhToy extends ToyModel {
  W: number[][];
  V: number[][];
  /** f(x) in float64 JS. */
  f(x: ArrayLike<number>): number[];
}

export function tanhModel(shape = [1, 4, 4], hidden = 6, numClasses = 3, seed = 7): TanhToy {
  const d = shape.reduce((a, b) => a * b, 1);
  const flatW = randomArray(hidden * d, seed, 0.8);
  const flatV = randomArray(numClasses * hidden, seed + 1, 1.5);
  const W = Array.from({ length: hidden }, (_, j) => flatW.slice(j * d, (j + 1) * d));
  const V = Array.from({ length: numClasses }, (_, k) => flatV.slice(k * hidden, (k + 1) * hidden));
  const wTensor = tf.tensor2d(flatW, [hidden, d]);
  const vTensor = tf.tensor2d(flatV, [numClasses, hidden]);
  const model = toyModel({
    shape,
    numClasses,
    tensors: [wTensor, vTensor],
    logits: (x) =>
      tf.tidy(() => {
        const h = tf.tanh(tf.matMul(tf.reshape(x, [x.shape[0], d]), wTensor, false, true));
        return tf.matMul(h, vTensor, false, true) as tf.Tensor2D;
      }),
  });
  const f = (x: ArrayLike<number>): number[] => {
    const h = W.map((row) => Math.tanh(row.reduce((s, w, i) => s + w * x[i], 0)));
    return V.map((row) => row.reduce((s, v, j) => s + v * h[j], 0));
  };
  return Object.assign(model, { W, V, f });
}

/** f_k(x) = Σ_i a[k][i] x_i². */
export interface QuadraticToy extends ToyModel {
  a: number[][];
}

export function quadraticModel(shape = [1, 3, 3], numClasses = 2, seed = 11): QuadraticToy {
  const d = shape.reduce((a, b) => a * b, 1);
  const flat = randomArray(numClasses * d, seed, 2);
  const a = Array.from({ length: numClasses }, (_, k) => flat.slice(k * d, (k + 1) * d));
  const aTensor = tf.tensor2d(flat, [numClasses, d]);
  const model = toyModel({
    shape,
    numClasses,
    tensors: [aTensor],
    logits: (x) =>
      tf.tidy(() => {
        const flatX = tf.reshape(x, [x.shape[0], d]);
        return tf.matMul(tf.mul(flatX, flatX), aTensor, false, true) as tf.Tensor2D;
      }),
  });
  return Object.assign(model, { a });
}

/**
 * A tiny CNN, NCHW input [cin, size, size] (size even):
 * conv1 = conv3x3 'same' (cout filters, bias) → relu1 = ReLU → pool1 = 2×2 average pool,
 * stride 2 → fc = U·flatten(pool1) + c. Layers conv1, relu1 ([cout, size, size]), pool1
 * ([cout, size/2, size/2]) and fc (2-D: the logits).
 */
export interface ConvToy extends ToyModel {
  cin: number;
  cout: number;
  size: number;
  /** kernel[o][i][dy][dx] */
  kernel: number[][][][];
  bias: number[];
  /** U[k] over flatten(pool1) in (c, i, j) order. */
  U: number[][];
  c: number[];
}

export function convModel(cin = 2, cout = 3, size = 6, numClasses = 4, seed = 21): ConvToy {
  const half = size / 2;
  const flatK = randomArray(cout * cin * 9, seed);
  const bias = randomArray(cout, seed + 1, 0.2);
  const features = cout * half * half;
  const flatU = randomArray(numClasses * features, seed + 2);
  const c = randomArray(numClasses, seed + 3);
  const kernel = Array.from({ length: cout }, (_, o) =>
    Array.from({ length: cin }, (_, i) =>
      Array.from({ length: 3 }, (_, dy) => Array.from({ length: 3 }, (_, dx) => flatK[((o * cin + i) * 3 + dy) * 3 + dx])),
    ),
  );
  const U = Array.from({ length: numClasses }, (_, k) => flatU.slice(k * features, (k + 1) * features));
  // tf filter layout [dy, dx, in, out]
  const filterData = new Float32Array(9 * cin * cout);
  for (let dy = 0; dy < 3; dy++)
    for (let dx = 0; dx < 3; dx++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) filterData[((dy * 3 + dx) * cin + i) * cout + o] = kernel[o][i][dy][dx];
  const filter = tf.tensor4d(filterData, [3, 3, cin, cout]);
  const biasT = tf.tensor1d(bias);
  const uT = tf.tensor2d(flatU, [numClasses, features]);
  const cT = tf.tensor1d(c);

  const conv = (x: tf.Tensor): tf.Tensor => {
    const nhwc = tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D;
    const y = tf.add(tf.conv2d(nhwc, filter, 1, 'same'), biasT);
    return tf.transpose(y, [0, 3, 1, 2]);
  };
  const pool = (a: tf.Tensor): tf.Tensor => {
    const nhwc = tf.transpose(a, [0, 2, 3, 1]) as tf.Tensor4D;
    return tf.transpose(tf.avgPool(nhwc, 2, 2, 'valid'), [0, 3, 1, 2]);
  };
  const fc = (a: tf.Tensor): tf.Tensor2D =>
    tf.add(tf.matMul(tf.reshape(a, [a.shape[0], features]), uT, false, true), cT) as tf.Tensor2D;

  const layers: LayerInfo[] = [
    { name: 'conv1', opType: 'Conv', output: 'conv1_out', params: ['conv1.weight', 'conv1.bias'] },
    { name: 'relu1', opType: 'Relu', output: 'relu1_out', params: [] },
    { name: 'pool1', opType: 'AveragePool', output: 'pool1_out', params: [] },
    { name: 'fc', opType: 'Gemm', output: 'logits', params: ['fc.weight', 'fc.bias'] },
  ];
  const model = toyModel({
    shape: [cin, size, size],
    numClasses,
    tensors: [filter, biasT, uT, cT],
    layers,
    logits: (x) => tf.tidy(() => fc(pool(tf.relu(conv(x))))),
    split: (x, layer) => {
      if (layer === 'conv1' || layer === 'conv1_out') return { activation: conv(x), head: (a) => fc(pool(tf.relu(a))) };
      if (layer === 'relu1' || layer === 'relu1_out') return { activation: tf.relu(conv(x)), head: (a) => fc(pool(a)) };
      if (layer === 'pool1' || layer === 'pool1_out') return { activation: pool(tf.relu(conv(x))), head: (a) => fc(a) };
      if (layer === 'fc' || layer === 'logits') {
        return { activation: fc(pool(tf.relu(conv(x)))), head: (a) => a as tf.Tensor2D };
      }
      throw new Error(`no layer ${layer}`);
    },
  });
  return Object.assign(model, { cin, cout, size, kernel, bias, U, c });
}

/** The conv toy's activations in float64 JS: conv1 [cout][size][size], relu1, pool1 [cout][size/2][size/2]. */
export function convActivations(m: ConvToy, x: ArrayLike<number>): { conv1: number[][][]; relu1: number[][][]; pool1: number[][][] } {
  const { cin, cout, size } = m;
  const at = (i: number, h: number, w: number): number =>
    h < 0 || w < 0 || h >= size || w >= size ? 0 : x[(i * size + h) * size + w];
  const conv1 = Array.from({ length: cout }, (_, o) =>
    Array.from({ length: size }, (_, h) =>
      Array.from({ length: size }, (_, w) => {
        let s = m.bias[o];
        for (let i = 0; i < cin; i++)
          for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) s += m.kernel[o][i][dy][dx] * at(i, h + dy - 1, w + dx - 1);
        return s;
      }),
    ),
  );
  const relu1 = conv1.map((ch) => ch.map((row) => row.map((v) => Math.max(0, v))));
  const half = size / 2;
  const pool1 = relu1.map((ch) =>
    Array.from({ length: half }, (_, i) =>
      Array.from({ length: half }, (_, j) => (ch[2 * i][2 * j] + ch[2 * i][2 * j + 1] + ch[2 * i + 1][2 * j] + ch[2 * i + 1][2 * j + 1]) / 4),
    ),
  );
  return { conv1, relu1, pool1 };
}

/** Input data for a model, deterministic. */
export function inputData(model: Model, seed = 99, scale = 1): number[] {
  const d = model.input.shape.reduce((a, b) => a * b, 1);
  return randomArray(d, seed, scale);
}

export function inputTensor(model: Model, data: number[]): tf.Tensor {
  return tf.tensor(data, [1, ...model.input.shape], 'float32');
}

// ---- test utilities ----

/**
 * Asserts |actual - expected| ≤ rtol · max(|expected|, floor) elementwise, with floor = the
 * largest |expected| times `floorFraction` (so near-zero entries are compared on the array's scale).
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-5,
  message = '',
  floorFraction = 1,
): void {
  if (actual.length !== expected.length) throw new Error(`${message}: length ${actual.length} != ${expected.length}`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const floor = scale * floorFraction;
  for (let i = 0; i < expected.length; i++) {
    const tol = rtol * Math.max(Math.abs(expected[i]), floor, 1e-12);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`${message} [${i}]: ${actual[i]} vs expected ${expected[i]} (tolerance ${tol.toExponential(2)})`);
    }
  }
}

/** Runs fn and checks that exactly `kept` tensors survive it (the results it returns). */
export async function expectTensorDelta<T>(kept: number, fn: () => Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  if (after !== before + kept) throw new Error(`numTensors went from ${before} to ${after}, expected +${kept}`);
  return result;
}

/** Reads a result tensor into a plain array and disposes it. */
export async function take(t: tf.Tensor): Promise<number[]> {
  const data = Array.from(await t.data());
  t.dispose();
  return data;
}
