import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attribute } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import { defaultGradcamLayer } from '../../src/engine/explain';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { FIXTURES, npyTensor, relativeL2, TEST_BACKENDS } from './helpers/fixtures';

/**
 * Keras (.keras, legacy .h5) and TF.js LayersModel files written by test/fixtures/make_keras_models.py,
 * checked against PyTorch float64 computations on the same weights: logits, input gradients and
 * Guided Backprop (with the Keras rectifiers ReLU, LeakyReLU and capped ReLU). `nested` holds a
 * Sequential block inside a Functional model (its weights are found through the nesting).
 */

const MODELS = ['seq_cnn', 'func_branchy', 'nested'] as const;
const FORMATS = [
  ['keras', 'keras'],
  ['h5', 'keras'],
  ['tfjs', 'tfjs-layers'],
] as const;

interface Reference {
  dir: string;
  meta: { targets: number[]; files: Record<string, string> };
}

function reference(name: string): Reference {
  const dir = path.join(FIXTURES, 'keras', 'reference', name);
  return { dir, meta: JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) };
}

const data = (t: tf.Tensor) => t.dataSync() as Float32Array;

/** d logits[i, target_i] / d x for a batch, through the engine's Model. */
function gradient(model: Model, x: tf.Tensor, targets: number[]): tf.Tensor {
  return tf.tidy(() => {
    const mask = tf.oneHot(tf.tensor1d(targets, 'int32'), model.numClasses);
    return tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(model.logits(xx), mask)))(x);
  });
}

for (const backend of TEST_BACKENDS) {
  describe(`Keras and TF.js Layers models on ${backend}`, () => {
    before(async () => {
      await initBackend(backend);
    });
    after(async () => {
      await initBackend('cpu');
    });

    for (const name of MODELS) {
      for (const [key, format] of FORMATS) {
        it(`${name} (${key}): logits, input gradient and Guided Backprop match PyTorch`, async () => {
          const { dir, meta } = reference(name);
          const model = await loadModel(path.resolve(dir, meta.files[key]));
          assert.equal(model.format, format);
          assert.equal(model.input.layout, 'NHWC');
          const x = npyTensor(path.join(dir, 'input.npy'));
          const expected = npyTensor(path.join(dir, 'logits.npy'));
          const expectedGradient = npyTensor(path.join(dir, 'gradient.npy'));
          const before = tf.memory().numTensors;
          const logits = tf.tidy(() => model.logits(x));
          const logitError = relativeL2(data(logits), data(expected));
          assert.ok(logitError < 1e-5, `logits ${logitError}`);
          const g = gradient(model, x, meta.targets);
          const gradientError = relativeL2(data(g), data(expectedGradient));
          assert.ok(gradientError < 1e-5, `gradient ${gradientError}`);
          tf.dispose([logits, g]);
          assert.equal(tf.memory().numTensors, before);

          const guided = npyTensor(path.join(dir, 'guided_backprop.npy'));
          for (let i = 0; i < meta.targets.length; i++) {
            const xi = tf.slice(x, [i], [1]);
            const result = await attribute('guided_backprop', { model, input: xi, target: meta.targets[i] });
            const want = tf.slice(guided, [i], [1]);
            const error = relativeL2(data(result.attribution), data(want));
            assert.ok(error < 1e-5, `guided backprop sample ${i}: ${error}`);
            tf.dispose([xi, want, result.attribution]);
          }
          tf.dispose([x, expected, expectedGradient, guided]);
          model.dispose();
        });
      }

      it(`${name}: DeepLIFT sums to F(x) − F(baseline), ε-LRP and IG complete; Grad-CAM reads a channels-first layer`, async () => {
        const { dir, meta } = reference(name);
        const model = await loadModel(path.resolve(dir, meta.files.keras));
        const input = tf.slice(npyTensor(path.join(dir, 'input.npy')), [0], [1]);
        const target = meta.targets[0];
        const before = tf.memory().numTensors;
        for (const baseline of ['zero', 'blur']) {
          const result = await attribute('deeplift', { model, input, target }, { baseline });
          const sum = data(result.attribution).reduce((a, b) => a + b, 0);
          result.attribution.dispose();
          const difference = result.outputDifference!;
          assert.ok(Math.abs(sum - difference) < 1e-4 * Math.max(1, Math.abs(difference)), `deeplift (${baseline}): Σ ${sum} vs ${difference}`);
        }
        const ig = await attribute('integrated_gradients', { model, input, target }, { steps: 64 });
        assert.ok(Math.abs(ig.delta!) < 0.02 * Math.abs(ig.outputDifference!), `IG delta ${ig.delta} of ${ig.outputDifference}`);
        ig.attribution.dispose();
        const lrp = await attribute('lrp_epsilon', { model, input, target }, { epsilon: 1e-6 });
        assert.ok(data(lrp.attribution).every(Number.isFinite));
        lrp.attribution.dispose();
        const layer = defaultGradcamLayer(model)!;
        assert.equal(layer, { seq_cnn: 'separable_conv2d', func_branchy: 'conv2d_2', nested: 'conv2d' }[name]);
        const info = model.layers.find((l) => l.name === layer)!;
        const cam = await attribute('gradcam', { model, input, target }, { layer });
        assert.deepEqual(cam.attribution.shape, [1, 1, info.outputShape![1], info.outputShape![2]]);
        cam.attribution.dispose();
        assert.equal(tf.memory().numTensors, before);
        input.dispose();
        model.dispose();
      });
    }

    it('randomized copies re-initialise the chosen layers only, the same way for the same seed', async () => {
      const { dir, meta } = reference('func_branchy');
      const model = await loadModel(path.resolve(dir, meta.files.h5));
      assert.deepEqual(model.randomizableLayers, ['conv2d', 'conv2d_1', 'depthwise_conv2d', 'batch_normalization', 'dense', 'conv2d_2', 'dense_1']);
      const x = npyTensor(path.join(dir, 'input.npy'));
      const before = tf.memory().numTensors;
      const a = model.withRandomized(['dense_1'], 5);
      const b = model.withRandomized(['dense_1'], 5);
      const c = model.withRandomized(['dense_1', 'conv2d'], 5);
      const [y0, ya, yb, yc] = [model, a, b, c].map((m) => tf.tidy(() => m.logits(x)));
      assert.deepEqual(data(ya), data(yb));
      assert.ok(relativeL2(data(ya), data(y0)) > 0.1);
      assert.ok(relativeL2(data(yc), data(ya)) > 1e-3);
      tf.dispose([y0, ya, yb, yc]);
      [a, b, c].forEach((m) => m.dispose());
      assert.equal(tf.memory().numTensors, before);
      assert.throws(() => model.withRandomized(['add'], 1), /'add' is not a layer with parameters/);
      x.dispose();
      model.dispose();
    });
  });
}
