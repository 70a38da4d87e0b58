import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { loadInput } from '../../src/engine/data/input';
import { loadModel } from '../../src/engine/model/load';
import { inspectOnnx } from '../../src/engine/model/onnx/inspect';
import { FIXTURES, REPO, tempDir } from './helpers/fixtures';
import { rejectsWith } from './helpers/errors';

const OPS_DIR = path.join(FIXTURES, 'ops');
const DIGIT_CNN = path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx');



describe('model errors name the file and the problem', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('an unsupported operator names op type, node and opset', async () => {
    await rejectsWith(loadModel(path.join(OPS_DIR, 'bad_unsupported_op.onnx')), /bad_unsupported_op\.onnx/, /'FancyOp'/, /node 'my_fancy_node'/, /opset 13/);
  });

  it('the models listing reports unsupported operators without failing', async () => {
    const summary = await inspectOnnx(path.join(OPS_DIR, 'bad_unsupported_op.onnx'));
    assert.deepEqual(summary.unsupported, ["'FancyOp' (node 'my_fancy_node', opset 13)"]);
  });

  it('a truncated file is not a valid ONNX model', async () => {
    await rejectsWith(loadModel(path.join(OPS_DIR, 'bad_truncated.onnx')), /bad_truncated\.onnx: not a valid ONNX model/);
  });

  it('a text file is not a valid ONNX model', async () => {
    await rejectsWith(loadModel(path.join(OPS_DIR, 'bad_not_onnx.onnx')), /bad_not_onnx\.onnx: not a valid ONNX model/);
  });

  it('a missing file says it cannot be read', async () => {
    await rejectsWith(loadModel('/nonexistent/model.onnx'), /\/nonexistent\/model\.onnx: cannot read the model \(ENOENT\)/);
  });

  it('an unknown model format is named', async () => {
    await rejectsWith(loadModel('weights.pt'), /weights\.pt: unsupported model format '\.pt'/);
  });

  it('a sidecar whose labels do not match the classes is rejected', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'm.onnx');
    fs.copyFileSync(DIGIT_CNN, file);
    fs.writeFileSync(`${file}.lens.json`, JSON.stringify({ labels: ['a', 'b', 'c'] }));
    await rejectsWith(loadModel(file), /m\.onnx: sidecar has 3 labels but the model outputs 10 classes/);
  });

  it('a sidecar with mean values for the wrong channel count is rejected', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'm.onnx');
    fs.copyFileSync(DIGIT_CNN, file);
    fs.writeFileSync(`${file}.lens.json`, JSON.stringify({ input: { mean: [0.1, 0.2, 0.3], std: [1, 1, 1] } }));
    await rejectsWith(loadModel(file), /input\.mean has 3 values for a 1-channel input/);
  });
});

describe('input errors name the file and the problem', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('an image of the wrong size', async () => {
    const model = await loadModel(DIGIT_CNN);
    const dir = tempDir();
    const png = path.join(dir, 'big.png');
    fs.copyFileSync(path.join(FIXTURES, 'images', fs.readdirSync(path.join(FIXTURES, 'images')).find((f) => f.endsWith('.png'))!), png);
    await rejectsWith(loadInput(png, model), /big\.png: image is \d+×\d+ but the model expects 28×28/);
    model.dispose();
  });

  it('an array of the wrong shape', async () => {
    const model = await loadModel(DIGIT_CNN);
    await rejectsWith(loadInput(path.join(FIXTURES, 'reference', 'convnet_bn', 'input.npy'), model), /input\.npy: array of shape \[1,3,16,16\] does not fit the model's input \[1,28,28\]/);
    model.dispose();
  });

  it('a malformed .npy', async () => {
    const model = await loadModel(DIGIT_CNN);
    const file = path.join(tempDir(), 'broken.npy');
    fs.writeFileSync(file, 'not numpy');
    await rejectsWith(loadInput(file, model), /broken\.npy/);
    model.dispose();
  });

  it('a batch of the wrong shape given to the model', async () => {
    const model = await loadModel(DIGIT_CNN);
    const x = tf.zeros([2, 1, 27, 28]);
    assert.throws(() => model.logits(x), /digit_cnn\.onnx: input of shape \[2,1,27,28\] does not match the model's \[N,1,28,28\]/);
    x.dispose();
    model.dispose();
  });

  it('loading and disposing a model leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const model = await loadModel(DIGIT_CNN);
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('native backends', () => {
  it('loads an optional binding installed in a given folder, and names it when it is missing', async () => {
    const dir = tempDir();
    await assert.rejects(initBackend('tensorflow', [dir]), /backend 'tensorflow' is not installed: install @tensorflow\/tfjs-node/);
    // A stand-in binding that registers backend 'tensorflow' the way tfjs-node does (here: a cpu backend).
    const pkg = path.join(dir, 'node_modules', '@tensorflow', 'tfjs-node');
    fs.mkdirSync(pkg, { recursive: true });
    const core = require.resolve('@tensorflow/tfjs-core');
    const cpu = require.resolve('@tensorflow/tfjs-backend-cpu');
    fs.writeFileSync(
      path.join(pkg, 'index.js'),
      `const tf = require(${JSON.stringify(core)}); const { MathBackendCPU } = require(${JSON.stringify(cpu)});\n` +
        `tf.registerBackend('tensorflow', () => new MathBackendCPU(), 3);\n`,
    );
    assert.equal(await initBackend('tensorflow', [dir]), 'tensorflow');
    assert.equal(tf.getBackend(), 'tensorflow');
    await initBackend('cpu');
  });
});
