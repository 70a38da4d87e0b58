import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { attribute } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import type { Dataset } from '../../src/engine/data/dataset';
import { CancelledError } from '../../src/engine/errors';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { trainableArchitecture } from '../../src/engine/model/onnx/onnx-model';
import type { HostTensor } from '../../src/engine/model/onnx/tensor-proto';
import { trainArchitecture, type TrainingProgress } from '../../src/engine/training/train';
import { TEST_BACKENDS } from './helpers/fixtures';
import { encodeModel, floatTensor, ints, node } from './helpers/onnx-builder';
import { lcg, randomArray } from './helpers/toy-models';

async function modelFrom(bytes: Uint8Array): Promise<Model> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lens-train-')), 'm.onnx');
  fs.writeFileSync(file, bytes);
  return loadModel(file);
}

const epsilon = { name: 'epsilon', type: 1, f: 1e-5 };
const transB = { name: 'transB', type: 2, i: 1 };

/** conv 3×3 (2 filters) → batch norm → relu → flatten → dense (2 classes), input [1, 4, 4]. */
function tinyCnn(): Uint8Array {
  return encodeModel(
    [
      node('conv', 'Conv', ['X', 'W1', 'B1'], ['C'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      node('bn', 'BatchNormalization', ['C', 'S', 'T', 'M', 'V'], ['N'], [epsilon]),
      node('relu', 'Relu', ['N'], ['R']),
      node('flat', 'Flatten', ['R'], ['F']),
      node('fc', 'Gemm', ['F', 'W2', 'B2'], ['Y'], [transB]),
    ],
    [
      floatTensor('W1', [2, 1, 3, 3], randomArray(18, 1)),
      floatTensor('B1', [2], [0.1, -0.1]),
      floatTensor('S', [2], [1.5, 0.5]),
      floatTensor('T', [2], [0.2, 0.1]),
      floatTensor('M', [2], [0.3, -0.2]),
      floatTensor('V', [2], [2, 0.5]),
      floatTensor('W2', [2, 32], randomArray(64, 2)),
      floatTensor('B2', [2], [0, 0]),
    ],
    [0, 1, 4, 4],
  );
}

/**
 * Every op with a training mode in one graph: grouped, strided, dilated conv → batch norm →
 * transposed conv → relu → flatten → dense. Input [2, 6, 6].
 */
function everyTrainableOp(): Uint8Array {
  return encodeModel(
    [
      node('conv', 'Conv', ['X', 'W1', 'B1'], ['C'], [
        ints('kernel_shape', [2, 2]),
        ints('pads', [1, 1, 1, 0]),
        ints('strides', [2, 2]),
        ints('dilations', [2, 2]),
        { name: 'group', type: 2, i: 2 },
      ]),
      node('bn', 'BatchNormalization', ['C', 'S', 'T', 'M', 'V'], ['N'], [epsilon]),
      node('up', 'ConvTranspose', ['N', 'W2', 'B2'], ['U'], [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])]),
      node('relu', 'Relu', ['U'], ['R']),
      node('flat', 'Flatten', ['R'], ['F']),
      node('fc', 'Gemm', ['F', 'W3'], ['Y'], [transB]),
    ],
    [
      floatTensor('W1', [4, 1, 2, 2], randomArray(16, 3)),
      floatTensor('B1', [4], randomArray(4, 4)),
      floatTensor('S', [4], [1, 1, 1, 1]),
      floatTensor('T', [4], [0, 0, 0, 0]),
      floatTensor('M', [4], [0, 0, 0, 0]),
      floatTensor('V', [4], [1, 1, 1, 1]),
      floatTensor('W2', [4, 2, 3, 3], randomArray(72, 5)),
      floatTensor('B2', [2], randomArray(2, 6)),
      floatTensor('W3', [3, 50], randomArray(150, 7)),
    ],
    [0, 2, 6, 6],
  );
}

/**
 * Two linearly separable classes of 4×4 images: class 0 brighter on the left half, class 1 on the
 * right, plus uniform noise smaller than the gap. Since a dense layer on the flattened relu'd conv
 * output can weigh the halves, 100% training accuracy is reachable.
 */
function separableDataset(count: number, seed: number): Dataset {
  const next = lcg(seed);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 2);
  const images = Array.from(labels, (label) =>
    Float32Array.from({ length: 16 }, (_, p) => ((p % 4 < 2) === (label === 0) ? 1 : -1) + 0.6 * (next() - 0.5)),
  );
  return {
    source: 'synthetic',
    count,
    labels,
    numClasses: 2,
    batch: (indices) => {
      const out = new Float32Array(indices.length * 16);
      for (let k = 0; k < indices.length; k++) out.set(images[indices[k]], 16 * k);
      return tf.tensor(out, [indices.length, 1, 4, 4]);
    },
  };
}

function accuracy(model: Model, data: Dataset, labels: Int32Array = data.labels): number {
  const predicted = predictions(model, data);
  return predicted.filter((p, i) => p === labels[i]).length / data.count;
}

function predictions(model: Model, data: Dataset): number[] {
  return tf.tidy(() => Array.from(tf.argMax(model.logits(data.batch(Array.from({ length: data.count }, (_, i) => i))), 1).dataSync()));
}

const OPTIONS = { epochs: 40, batchSize: 16, learningRate: 0.02, seed: 3 };

const accuracies = new Map<string, number>();

for (const backend of TEST_BACKENDS) {
  describe(`training on ${backend}`, () => {
    before(async () => {
      await initBackend(backend);
    });

    it('training-mode ops compute what the model computes, and their parameter gradients match finite differences', async () => {
      const model = await modelFrom(everyTrainableOp());
      const arch = trainableArchitecture(model, 0);
      const before = tf.memory().numTensors;
      // Non-trivial values for every parameter (batch norm scale and shift included).
      const values = new Map<string, HostTensor>();
      let seed = 40;
      for (const [name, host] of arch.parameters) {
        values.set(name, { dtype: 'float32', shape: host.shape, values: Float32Array.from(randomArray(host.values.length, seed++)) });
      }
      assert.deepEqual([...arch.parameters.keys()].sort(), ['B1', 'B2', 'S', 'T', 'W1', 'W2', 'W3']);
      const built = arch.build(values);
      const x = tf.tensor(randomArray(2 * 72, 9), [2, 2, 6, 6]);
      const params = new Map([...values].map(([n, h]) => [n, tf.tensor(h.values as Float32Array, h.shape)]));
      const expected = tf.tidy(() => built.logits(x).arraySync());
      const actual = tf.tidy(() => arch.logits(x, params).arraySync());
      for (let i = 0; i < 2; i++) for (let k = 0; k < 3; k++) assert.ok(Math.abs(actual[i][k] - expected[i][k]) < 1e-4, `${actual[i][k]} vs ${expected[i][k]}`);

      // Directional derivative along a random direction d in parameter space: <∇f, d> ≈ (f(p + hd) − f(p − hd)) / 2h.
      const names = [...params.keys()];
      const f = (...ps: tf.Tensor[]) => tf.sum(tf.sin(arch.logits(x, new Map(names.map((n, i) => [n, ps[i]])))));
      const directions = names.map((n, i) => tf.tensor(randomArray(params.get(n)!.size, 80 + i), params.get(n)!.shape));
      const grads = tf.grads(f)(names.map((n) => params.get(n)!));
      const analytic = tf.tidy(() => grads.reduce((s, g, i) => s + tf.sum(tf.mul(g, directions[i])).dataSync()[0], 0));
      const h = 1e-3;
      const at = (sign: number) => tf.tidy(() => f(...names.map((n, i) => tf.add(params.get(n)!, tf.mul(directions[i], sign * h)))).dataSync()[0]);
      const numeric = (at(1) - at(-1)) / (2 * h);
      assert.ok(Math.abs(analytic - numeric) < 1e-2 * Math.max(1, Math.abs(numeric)), `${analytic} vs ${numeric}`);
      tf.dispose([x, ...params.values(), ...directions, ...grads]);
      built.dispose();
      assert.equal(tf.memory().numTensors, before);
      arch.dispose();
      model.dispose();
    });

    it('a separable dataset is learnt to 100% training accuracy; the model works with every part of the engine; nothing leaks', async () => {
      const original = await modelFrom(tinyCnn());
      const data = separableDataset(64, 5);
      const before = tf.memory().numTensors;
      const progress: TrainingProgress[] = [];
      const { model, report } = await trainArchitecture(original, data, { ...OPTIONS, onProgress: (p) => progress.push(p) });
      assert.equal(report.trainAccuracy, 1);
      assert.equal(report.trueLabelAccuracy, 1);
      assert.equal(report.epochLoss.length, OPTIONS.epochs);
      assert.ok(report.finalLoss < report.epochLoss[0]);
      assert.equal(progress.length, OPTIONS.epochs * 4);
      assert.deepEqual(progress.at(-1)!.epoch, OPTIONS.epochs);
      // The returned engine Model holds the trained weights.
      assert.equal(accuracy(model, data), 1);
      accuracies.set(backend, report.trainAccuracy);
      const input = data.batch([1]);
      const { attribution } = await attribute('saliency', { model, input, target: 1 }, {});
      assert.deepEqual(attribution.shape, [1, 1, 4, 4]);
      assert.ok(tf.tidy(() => tf.sum(tf.abs(attribution)).dataSync()[0]) > 0);
      tf.dispose([attribution, input]);
      model.dispose();
      assert.equal(tf.memory().numTensors, before);
      // The original model is untouched.
      assert.ok(original.layers.length > 0 && tf.tidy(() => original.logits(tf.zeros([1, 1, 4, 4])).shape[1]) === 2);
      original.dispose();
    });

    it('with permuted labels the trained model predicts differently', async () => {
      const original = await modelFrom(tinyCnn());
      const data = separableDataset(64, 5);
      const before = tf.memory().numTensors;
      const trueRun = await trainArchitecture(original, data, OPTIONS);
      const permuted = await trainArchitecture(original, data, { ...OPTIONS, permuteLabels: true });
      // Permuted labels of a balanced 2-class set agree with the true ones on about half the samples,
      // so the model fitting them cannot be right about the true classes.
      assert.ok(permuted.report.trueLabelAccuracy < 0.8, `true-label accuracy ${permuted.report.trueLabelAccuracy}`);
      const a = predictions(trueRun.model, data);
      const b = predictions(permuted.model, data);
      assert.ok(a.filter((p, i) => p !== b[i]).length >= 13, 'predictions differ on at least a fifth of the samples');
      trueRun.model.dispose();
      permuted.model.dispose();
      assert.equal(tf.memory().numTensors, before);
      original.dispose();
    });

    it('cancellation rejects with CancelledError and frees everything', async () => {
      const original = await modelFrom(tinyCnn());
      const data = separableDataset(64, 5);
      const before = tf.memory().numTensors;
      const controller = new AbortController();
      await assert.rejects(
        trainArchitecture(original, data, { ...OPTIONS, signal: controller.signal, onProgress: (p) => p.batch === 2 && controller.abort() }),
        CancelledError,
      );
      assert.equal(tf.memory().numTensors, before);
      original.dispose();
    });
  });
}

describe('training across backends', () => {
  it('cpu and wasm train the tiny model to the same accuracy', () => {
    assert.equal(accuracies.size, TEST_BACKENDS.length);
    assert.equal(new Set(accuracies.values()).size, 1);
  });
});
