import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attribute } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/load';
import { relativeL2, TEST_BACKENDS } from './helpers/fixtures';
import { randomArray } from './helpers/toy-models';

/**
 * A TF.js GraphModel written by hand with the TensorFlow ops the converter emits beyond those of
 * nsfwjs's MobileNetV2Mid (unfused Conv2D and BiasAdd, Relu6, Pad, DepthwiseConv2dNative,
 * FusedBatchNormV3, LeakyRelu, MaxPool SAME, ConcatV2, Mean, MatMul with transpose_b, Identity),
 * checked against the same computation written directly with tfjs-core ops on the cpu backend
 * (tfjs's own kernels and gradients).
 */

const b64 = (s: string) => Buffer.from(s).toString('base64');
const ints = (...v: number[]) => ({ list: { i: v.map(String) } });

const W = {
  filter: { shape: [3, 3, 2, 4], values: randomArray(72, 1, 0.4) },
  bias: { shape: [4], values: randomArray(4, 2, 0.2) },
  paddings: { shape: [4, 2], values: [0, 0, 1, 1, 0, 1, 0, 0], dtype: 'int32' },
  depthwise: { shape: [3, 3, 4, 1], values: randomArray(36, 3, 0.5) },
  scale: { shape: [4], values: randomArray(4, 4, 0.3).map((v) => 1 + v) },
  offset: { shape: [4], values: randomArray(4, 5, 0.1) },
  mean: { shape: [4], values: randomArray(4, 6, 0.2) },
  variance: { shape: [4], values: randomArray(4, 7, 0.3).map((v) => 1 + Math.abs(v)) },
  axis: { shape: [], values: [3], dtype: 'int32' },
  axes: { shape: [2], values: [1, 2], dtype: 'int32' },
  dense: { shape: [3, 8], values: randomArray(24, 8, 0.8) },
  denseBias: { shape: [3], values: randomArray(3, 9, 0.1) },
} as const;

type Name = keyof typeof W;

function writeModel(dir: string): string {
  const names = Object.keys(W) as Name[];
  const weights = names.map((n) => ({ name: n, shape: W[n].shape, dtype: 'dtype' in W[n] ? 'int32' : 'float32' }));
  const bytes = Buffer.concat(
    names.map((n) => {
      const w = W[n];
      return Buffer.from('dtype' in w ? Int32Array.from(w.values).buffer : Float32Array.from(w.values).buffer);
    }),
  );
  fs.writeFileSync(path.join(dir, 'weights.bin'), bytes);
  const c = (n: Name) => ({ name: n, op: 'Const', attr: { value: { tensor: {} } } });
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '-1' }, { size: '6' }, { size: '6' }, { size: '2' }] } } } },
    ...names.map(c),
    { name: 'conv', op: 'Conv2D', input: ['x', 'filter'], attr: { strides: ints(1, 1, 1, 1), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') } } },
    { name: 'biased', op: 'BiasAdd', input: ['conv', 'bias'], attr: { data_format: { s: b64('NHWC') } } },
    { name: 'relu6', op: 'Relu6', input: ['biased'] },
    { name: 'padded', op: 'Pad', input: ['relu6', 'paddings'] },
    { name: 'dw', op: 'DepthwiseConv2dNative', input: ['padded', 'depthwise'], attr: { strides: ints(1, 2, 2, 1), padding: { s: b64('VALID') } } },
    { name: 'bn', op: 'FusedBatchNormV3', input: ['dw', 'scale', 'offset', 'mean', 'variance'], attr: { epsilon: { f: 0.001 } } },
    { name: 'leaky', op: 'LeakyRelu', input: ['bn'], attr: { alpha: { f: 0.1 } } },
    { name: 'pool', op: 'MaxPool', input: ['leaky'], attr: { ksize: ints(1, 2, 2, 1), strides: ints(1, 2, 2, 1), padding: { s: b64('SAME') } } },
    { name: 'same', op: 'Identity', input: ['pool'] },
    { name: 'cat', op: 'ConcatV2', input: ['pool', 'same:0', 'axis'] },
    { name: 'gap', op: 'Mean', input: ['cat', 'axes'], attr: { keep_dims: { b: false } } },
    { name: 'logits', op: 'MatMul', input: ['gap', 'dense'], attr: { transpose_b: { b: true } } },
    { name: 'out', op: 'BiasAdd', input: ['logits', 'denseBias'] },
    { name: 'Identity', op: 'Identity', input: ['out'] },
  ];
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify({ format: 'graph-model', modelTopology: { node: nodes }, weightsManifest: [{ paths: ['weights.bin'], weights }] }));
  return file;
}

/** The same network with tfjs-core ops. */
function reference(x: tf.Tensor4D): tf.Tensor2D {
  const t = (n: Name) => tf.tensor([...W[n].values], [...W[n].shape]);
  const conv = tf.conv2d(x, t('filter') as tf.Tensor4D, 1, 'same');
  const relu6 = tf.clipByValue(tf.add(conv, t('bias')), 0, 6);
  const padded = tf.pad(relu6, [[0, 0], [1, 1], [0, 1], [0, 0]]);
  const dw = tf.depthwiseConv2d(padded as tf.Tensor4D, t('depthwise') as tf.Tensor4D, 2, 'valid');
  const bn = tf.batchNorm(dw, t('mean'), t('variance'), t('offset'), t('scale'), 0.001);
  const leaky = tf.leakyRelu(bn, 0.1);
  const pool = tf.maxPool(leaky as tf.Tensor4D, 2, 2, 'same');
  const gap = tf.mean(tf.concat([pool, pool], 3), [1, 2]);
  return tf.add(tf.matMul(gap as tf.Tensor2D, t('dense') as tf.Tensor2D, false, true), t('denseBias')) as tf.Tensor2D;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-graph-'));
const file = writeModel(work);
const input = randomArray(2 * 6 * 6 * 2, 10, 1);
let expectedLogits: Float32Array;
let expectedGradient: Float32Array;

before(async () => {
  await initBackend('cpu');
  [expectedLogits, expectedGradient] = tf.tidy(() => {
    const x = tf.tensor4d(input, [2, 6, 6, 2]);
    const f = (xx: tf.Tensor) => tf.sum(tf.slice(reference(xx as tf.Tensor4D), [0, 1], [-1, 1]));
    return [reference(x).dataSync() as Float32Array, tf.grad(f)(x).dataSync() as Float32Array];
  });
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

for (const backend of TEST_BACKENDS) {
  describe(`TF.js GraphModel ops on ${backend}`, () => {
    before(async () => {
      await initBackend(backend);
    });
    after(async () => {
      await initBackend('cpu');
    });

    it('logits and input gradients match the same network in tfjs-core ops; DeepLIFT is complete', async () => {
      const model = await loadModel(file);
      assert.equal(model.format, 'tfjs-graph');
      assert.deepEqual(model.input.shape, [6, 6, 2]);
      assert.deepEqual(model.randomizableLayers, ['conv', 'biased', 'dw', 'bn', 'logits', 'out']);
      const x = tf.tensor4d(input, [2, 6, 6, 2]);
      const before = tf.memory().numTensors;
      const logits = tf.tidy(() => model.logits(x).dataSync() as Float32Array);
      assert.ok(relativeL2(logits, expectedLogits) < 1e-5, `logits ${relativeL2(logits, expectedLogits)}`);
      const gradient = tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.slice(model.logits(xx), [0, 1], [-1, 1])))(x).dataSync() as Float32Array);
      assert.ok(relativeL2(gradient, expectedGradient) < 1e-5, `gradient ${relativeL2(gradient, expectedGradient)}`);
      const one = tf.slice(x, [0], [1]);
      const dl = await attribute('deeplift', { model, input: one, target: 1 }, { baseline: 'zero' });
      const sum = (dl.attribution.dataSync() as Float32Array).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - dl.outputDifference!) < 1e-4 * Math.max(1, Math.abs(dl.outputDifference!)), `Σ ${sum} vs ${dl.outputDifference}`);
      tf.dispose([dl.attribution, one]);
      // Randomized copies: Glorot-uniform filters, the same for the same seed.
      const [a, b] = [model.withRandomized(['conv', 'dw'], 3), model.withRandomized(['conv', 'dw'], 3)];
      const [ya, yb] = [a, b].map((m) => tf.tidy(() => m.logits(x).dataSync() as Float32Array));
      assert.deepEqual(ya, yb);
      assert.ok(relativeL2(ya, logits) > 0.05);
      a.dispose();
      b.dispose();
      assert.equal(tf.memory().numTensors, before);
      x.dispose();
      model.dispose();
    });
  });
}
