import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { FIXTURES, npyTensor, REPO } from './helpers/fixtures';

/** Parameter re-initialisation for the sanity checks (Adebayo et al.), PyTorch's reset_parameters. */
const DIGIT_CNN = path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx');

function logits(model: Model, x: tf.Tensor): number[] {
  return tf.tidy(() => Array.from(model.logits(x).dataSync()));
}

describe('withRandomized', () => {
  let model: Model;
  let x: tf.Tensor;
  before(async () => {
    await initBackend('cpu');
    model = await loadModel(DIGIT_CNN);
    x = npyTensor(path.join(FIXTURES, 'reference', 'digit_cnn', 'input.npy'));
  });

  it('lists the parameterised layers in graph order', () => {
    assert.deepEqual(model.randomizableLayers, ['/conv1/Conv', '/conv2/Conv', '/fc1/Gemm', '/fc2/Gemm']);
  });

  it('re-initialises weights as U(−1/√fan_in, 1/√fan_in), leaves the other layers, and is seeded per layer', () => {
    const before = tf.memory().numTensors;
    const original = logits(model, x);
    const same = model.withRandomized([], 1);
    assert.deepEqual(logits(same, x), original);
    same.dispose();

    // Only the last layer randomized: the logits are those of a fresh Linear(64 → 10) on the same features.
    const a = model.withRandomized(['/fc2/Gemm'], 7);
    const b = model.withRandomized(['/fc2/Gemm'], 7);
    const c = model.withRandomized(['/fc2/Gemm', '/fc1/Gemm'], 7);
    assert.deepEqual(logits(a, x), logits(b, x), 'same seed, same weights');
    assert.notDeepEqual(logits(a, x), original);
    // The fc2 layer draws the same weights whether or not fc1 is randomized too.
    const fc2 = (m: Model) =>
      tf.tidy(() => Array.from(m.split(x, '/relu3/Relu').head(tf.concat([tf.zeros([1, 64]), tf.eye(64)], 0)).dataSync()));
    assert.deepEqual(fc2(c), fc2(a));
    assert.notDeepEqual(logits(c, x), logits(a, x));
    a.dispose();
    b.dispose();
    c.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('weights are uniform within the Kaiming bound: |w| ≤ 1/√fan_in, variance ≈ bound²/3', () => {
    // fc2 is Linear(64 → 10) on the output of /relu3/Relu: head(e_j) − head(0) is its column j.
    const randomized = model.withRandomized(['/fc2/Gemm'], 3);
    const probe = tf.tidy(() => {
      const { head } = randomized.split(x, '/relu3/Relu');
      const basis = tf.concat([tf.zeros([1, 64]), tf.eye(64)], 0);
      return Array.from(head(basis).dataSync());
    });
    randomized.dispose();
    const bias = probe.slice(0, 10);
    const weights = probe.slice(10).map((v, i) => v - bias[i % 10]);
    const bound = 1 / Math.sqrt(64);
    for (const v of [...weights, ...bias]) assert.ok(Math.abs(v) <= bound + 1e-6, `${v} beyond ±${bound}`);
    const mean = weights.reduce((a, b) => a + b, 0) / weights.length;
    const variance = weights.reduce((a, b) => a + (b - mean) ** 2, 0) / weights.length;
    // 640 draws of U(−b, b): variance b²/3 within a few standard errors (~6%).
    assert.ok(Math.abs(variance / ((bound * bound) / 3) - 1) < 0.2, `variance ${variance}`);
    assert.ok(Math.abs(mean) < 0.1 * bound, `mean ${mean}`);
  });

  it('rejects a layer without parameters, naming the valid ones', () => {
    assert.throws(() => model.withRandomized(['/relu1/Relu'], 1), /'\/relu1\/Relu' is not a layer with parameters; layers: \/conv1\/Conv, \/conv2\/Conv, \/fc1\/Gemm, \/fc2\/Gemm/);
  });
});
