import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attribute } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { FIXTURES, npyTensor, relativeL2, TEST_BACKENDS } from './helpers/fixtures';
import { encodeModel, floatTensor, ints, node } from './helpers/onnx-builder';
import { randomArray } from './helpers/toy-models';

/** The equivalences of Ancona et al. (PAPERS.md §2), checked through the real ONNX executor. */

async function modelFrom(bytes: Uint8Array): Promise<Model> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lens-rules-')), 'm.onnx');
  fs.writeFileSync(file, bytes);
  return loadModel(file);
}

async function values(promise: Promise<{ attribution: tf.Tensor }>): Promise<Float32Array> {
  const { attribution } = await promise;
  const data = (await attribution.data()) as Float32Array;
  attribution.dispose();
  return data;
}

/** logits = W·flatten(x) + b, x of shape [1, 2, 2]. */
function linearModel(): Uint8Array {
  return encodeModel(
    [node('flat', 'Flatten', ['X'], ['F']), node('fc', 'Gemm', ['F', 'W', 'B'], ['Y'], [{ name: 'transB', type: 2, i: 1 }])],
    [floatTensor('W', [3, 4], randomArray(12, 1)), floatTensor('B', [3], randomArray(3, 2))],
    [0, 1, 2, 2],
  );
}

/** A bias-free ReLU network with max pooling: conv → relu → maxpool → dense → relu → dense. */
function biasFreeReluModel(): Uint8Array {
  return encodeModel(
    [
      node('conv', 'Conv', ['X', 'W1'], ['C'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      node('relu1', 'Relu', ['C'], ['R1']),
      node('pool', 'MaxPool', ['R1'], ['P'], [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]),
      node('flat', 'Flatten', ['P'], ['F']),
      node('fc1', 'Gemm', ['F', 'W2'], ['H'], [{ name: 'transB', type: 2, i: 1 }]),
      node('relu2', 'Relu', ['H'], ['R2']),
      node('fc2', 'Gemm', ['R2', 'W3'], ['Y'], [{ name: 'transB', type: 2, i: 1 }]),
    ],
    [floatTensor('W1', [2, 1, 3, 3], randomArray(18, 3)), floatTensor('W2', [5, 8], randomArray(40, 4)), floatTensor('W3', [3, 5], randomArray(15, 5))],
    [0, 1, 4, 4],
  );
}

for (const backend of TEST_BACKENDS) {
  describe(`modified-gradient rules on ${backend}`, () => {
    before(async () => {
      await initBackend(backend);
    });

    it('on a linear model every method coincides: x ⊙ w for the input-multiplying ones, w for the others', async () => {
      const model = await modelFrom(linearModel());
      const x = randomArray(4, 7, 2);
      const input = tf.tensor(x, [1, 1, 2, 2]);
      const w = randomArray(12, 1).slice(4, 8); // row of class 1
      const target = 1;
      const request = { model, input, target };
      const before = tf.memory().numTensors;
      for (const method of ['input_x_gradient', 'integrated_gradients', 'deeplift', 'lrp_epsilon']) {
        const a = await values(attribute(method, request, {}));
        assert.ok(relativeL2(a, x.map((v, i) => v * w[i])) < 1e-5, method);
      }
      for (const method of ['guided_backprop', 'deconvnet']) {
        const a = await values(attribute(method, request, {}));
        assert.ok(relativeL2(a, w) < 1e-5, method);
        // Through the noise tunnel: the gradient of a linear model is the same at every noisy sample.
        const smooth = await values(attribute(method, request, { noise: 'smoothgrad', samples: 4, seed: 1 }));
        assert.ok(relativeL2(smooth, w) < 1e-5, `${method} smoothgrad`);
        const variance = await values(attribute(method, request, { noise: 'vargrad', samples: 4, seed: 1 }));
        assert.ok(Math.max(...variance.map(Math.abs)) < 1e-6, `${method} vargrad`);
      }
      assert.equal(tf.memory().numTensors, before);
      input.dispose();
      model.dispose();
    });

    it('on a bias-free ReLU network ε-LRP (small ε) and DeepLIFT (zero baseline) equal Gradient × Input', async () => {
      const model = await modelFrom(biasFreeReluModel());
      const input = tf.tensor(randomArray(16, 9, 2), [1, 1, 4, 4]);
      const target = 0;
      const before = tf.memory().numTensors;
      const ixg = await values(attribute('input_x_gradient', { model, input, target }));
      const lrp = await values(attribute('lrp_epsilon', { model, input, target }, { epsilon: 1e-9 }));
      const dl = await values(attribute('deeplift', { model, input, target }, { baseline: 'zero' }));
      assert.ok(relativeL2(lrp, ixg) < 1e-5, `lrp ${relativeL2(lrp, ixg)}`);
      assert.ok(relativeL2(dl, ixg) < 1e-5, `deeplift ${relativeL2(dl, ixg)}`);
      assert.equal(tf.memory().numTensors, before);
      input.dispose();
      model.dispose();
    });

    it('DeepLIFT sums to F(x) − F(baseline) on every fixture model', async () => {
      for (const name of ['digit_cnn', 'convnet_bn', 'branchy', 'mlp']) {
        const dir = path.join(FIXTURES, 'reference', name);
        const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
        const model = await loadModel(path.resolve(dir, meta.model));
        const input = npyTensor(path.join(dir, 'input.npy'));
        for (const baseline of ['zero', 'blur']) {
          const before = tf.memory().numTensors;
          const result = await attribute('deeplift', { model, input, target: meta.target }, { baseline });
          const sum = (result.attribution.dataSync() as Float32Array).reduce((a, b) => a + b, 0);
          result.attribution.dispose();
          assert.equal(tf.memory().numTensors, before);
          const difference = result.outputDifference!;
          assert.ok(Math.abs(sum - difference) < 1e-4 * Math.max(1, Math.abs(difference)), `${name} (${baseline}): Σ ${sum} vs ${difference}`);
        }
        input.dispose();
        model.dispose();
      }
    });
  });
}

describe('rule methods match PyTorch references (test/fixtures/make_rule_references.py)', () => {
  const cases = ['digit_cnn', 'convnet_bn', 'branchy', 'mlp'];
  let restore: string | undefined;
  after(async () => {
    if (restore) await initBackend('cpu');
  });
  for (const backend of TEST_BACKENDS) {
    for (const name of cases) {
      it(`${name} on ${backend}`, async () => {
        await initBackend(backend);
        restore = backend;
        const dir = path.join(FIXTURES, 'reference', name);
        const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
        const model = await loadModel(path.resolve(dir, meta.model));
        const input = npyTensor(path.join(dir, 'input.npy'));
        const request = { model, input, target: meta.target };
        const checks: [string, string, object][] = [
          ['lrp_eps1e-2.npy', 'lrp_epsilon', { epsilon: 1e-2 }],
          ['deeplift_zero.npy', 'deeplift', { baseline: 'zero' }],
          ['guided_backprop.npy', 'guided_backprop', {}],
          ['deconvnet.npy', 'deconvnet', {}],
        ];
        if (name === 'digit_cnn') checks.push(['lrp_eps1e-9.npy', 'lrp_epsilon', { epsilon: 1e-9 }]);
        if (meta.gradcam_layer) checks.push(['guided_gradcam.npy', 'guided_gradcam', { layer: meta.gradcam_layer }]);
        for (const [file, method, options] of checks) {
          const expected = npyTensor(path.join(dir, 'rules', file));
          const actual = await values(attribute(method, request, options));
          const err = relativeL2(actual, expected.dataSync());
          expected.dispose();
          assert.ok(err < 1e-4, `${method} (${file}): relative L2 ${err}`);
        }
        input.dispose();
        model.dispose();
      });
    }
  }
});
