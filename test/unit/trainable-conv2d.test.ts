import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { trainableConv2d } from '../../src/engine/kernels/trainable-conv2d';
import { relativeL2, TEST_BACKENDS } from './helpers/fixtures';
import { randomArray } from './helpers/toy-models';

/** Input and filter gradients of trainableConv2d against the cpu backend's own Conv2D gradient kernels. */
const CASES: { x: [number, number, number, number]; w: [number, number, number, number]; strides: [number, number]; pads: [[number, number], [number, number]] }[] = [
  { x: [2, 7, 7, 3], w: [3, 3, 3, 4], strides: [1, 1], pads: [[1, 1], [1, 1]] },
  { x: [1, 8, 9, 2], w: [3, 2, 2, 5], strides: [2, 2], pads: [[1, 1], [0, 1]] },
  { x: [2, 6, 6, 1], w: [4, 4, 1, 2], strides: [2, 1], pads: [[0, 0], [0, 0]] },
];

async function gradients(c: (typeof CASES)[number], ours: boolean) {
  const x = tf.tensor(randomArray(c.x.reduce((a, b) => a * b), 11), c.x) as tf.Tensor4D;
  const w = tf.tensor(randomArray(c.w.reduce((a, b) => a * b), 12), c.w) as tf.Tensor4D;
  const f = (a: tf.Tensor, b: tf.Tensor) => {
    const y = ours
      ? trainableConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pads)
      : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, [[0, 0], c.pads[0], c.pads[1], [0, 0]]);
    return tf.sum(tf.mul(y, tf.sin(tf.reshape(tf.range(0, y.size), y.shape))));
  };
  const [gx, gw] = tf.grads(f)([x, w]);
  const out = [Array.from(gx.dataSync()), Array.from(gw.dataSync())];
  tf.dispose([x, w, gx, gw]);
  return out;
}

describe('trainable convolution', () => {
  for (const backend of TEST_BACKENDS) {
    it(`input and filter gradients equal tfjs-backend-cpu's own (${backend})`, async () => {
      for (const c of CASES) {
        await initBackend('cpu');
        const [rx, rw] = await gradients(c, false);
        await initBackend(backend);
        const before = tf.memory().numTensors;
        const [gx, gw] = await gradients(c, true);
        assert.equal(tf.memory().numTensors, before);
        assert.ok(relativeL2(gx, rx) < 1e-5, `dx ${relativeL2(gx, rx)}`);
        assert.ok(relativeL2(gw, rw) < 1e-5, `dW ${relativeL2(gw, rw)}`);
      }
    });
  }
});
