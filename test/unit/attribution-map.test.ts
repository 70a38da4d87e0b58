import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { renderAttribution } from '../../src/engine/render/attribution-image';
import { attributionMap } from '../../src/engine/render/attribution-map';
import { colormap } from '../../src/engine/render/colormap';
import { TEST_BACKENDS } from './helpers/fixtures';
import { linearModel } from './helpers/toy-models';

function close(actual: ArrayLike<number>, expected: number[], what: string, tolerance = 1e-6): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

for (const backend of TEST_BACKENDS) {
  describe(`attributionMap (${backend})`, () => {
    before(async () => {
      await initBackend(backend);
    });

    it('sums channels (signed) and their magnitudes (absolute) in the model layout, NCHW and NHWC', () => {
      // A 3-channel 2×2 input. Per pixel (row-major) the channels are
      //   p0: [1, -1, 0.5]   p1: [2, 2, -2]   p2: [0, 0, 0]   p3: [-3, 1, 1]
      // so Σ a = [0.5, 2, 0, -1] and Σ |a| = [2.5, 6, 0, 5].
      const perPixel = [[1, -1, 0.5], [2, 2, -2], [0, 0, 0], [-3, 1, 1]];
      const nhwc = perPixel.flat();
      const nchw = [0, 1, 2].flatMap((c) => perPixel.map((px) => px[c]));
      for (const [layout, shape, values] of [['NCHW', [3, 2, 2], nchw], ['NHWC', [2, 2, 3], nhwc]] as const) {
        const model = linearModel([...shape], 2, 1, layout);
        const input = tf.zeros([1, ...shape]);
        const attribution = tf.tensor(values, [1, ...shape]);
        const before = tf.memory().numTensors;
        const map = attributionMap(model, input, attribution);
        assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
        assert.equal(map.height, 2);
        assert.equal(map.width, 2);
        assert.ok(map.signed instanceof Float32Array && map.absolute instanceof Float32Array);
        close(map.signed, [0.5, 2, 0, -1], `${layout} signed`);
        close(map.absolute, [2.5, 6, 0, 5], `${layout} absolute`);
        tf.dispose([input, attribution]);
        model.dispose();
      }
    });

    it('resizes a coarser single-channel map (Grad-CAM) bilinearly with aligned corners to the input size', () => {
      const model = linearModel([1, 3, 5], 2);
      const input = tf.zeros([1, 1, 3, 5]);
      // 2×2 map [[-2, 2], [0, 4]]. Aligned corners: output row i samples source row i·(2−1)/(3−1) = i/2,
      // column j samples j/4, so the corners are kept and the rest is linear in between:
      //   row 0: −2 … 2 in quarters, row 2: 0 … 4, row 1 their mean.
      const gradcam = tf.tensor([-2, 2, 0, 4], [1, 1, 2, 2]);
      const before = tf.memory().numTensors;
      const map = attributionMap(model, input, gradcam);
      assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
      assert.equal(map.height, 3);
      assert.equal(map.width, 5);
      const signed = [-2, -1, 0, 1, 2, -1, 0, 1, 2, 3, 0, 1, 2, 3, 4];
      close(map.signed, signed, 'signed');
      // The magnitude is taken after resizing: |−1| where the interpolation passes −1, 0 at the zero crossing.
      close(map.absolute, signed.map(Math.abs), 'absolute');
      // A map already at the input's size is taken as it is.
      const same = tf.tensor([1, -2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, -15], [1, 1, 3, 5]);
      close(attributionMap(model, input, same).signed, [1, -2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, -15], 'same size');
      tf.dispose([input, gradcam, same]);
      model.dispose();
    });

    it('renderAttribution colours the channel sums: diverging when a channel is negative, sequential otherwise', () => {
      // Two pixels of 3 channels (NHWC): [1, -1, 0.5] and [2, 2, -2]. Signed sums [0.5, 2]; Captum's
      // threshold at 98% of the cumulative sum of |[0.5, 2]| is 2, so normalised [0.25, 1] → t = (v + 1) / 2.
      const model = linearModel([1, 2, 3], 2, 1, 'NHWC');
      const input = tf.zeros([1, 1, 2, 3]);
      const signedAttr = tf.tensor([1, -1, 0.5, 2, 2, -2], [1, 1, 2, 3]);
      // Opacity 1 over a black background (input 0 → pixel 0): exactly the colormap at the normalised magnitude.
      const img = renderAttribution(model, input, signedAttr, 1);
      const px = (i: number, up: number) => Array.from(img.data.subarray(4 * i * up, 4 * i * up + 3));
      const up = img.width / 2;
      const blend = (c: number[], a: number) => c.map((v) => Math.round(a * v));
      assert.deepEqual(px(0, up), blend(colormap('diverging', 0.625), 0.25));
      assert.deepEqual(px(1, up), colormap('diverging', 1));
      // No negative channel: magnitudes [1.5, 6] on the sequential map, normalised [0.25, 1].
      const positive = tf.tensor([1, 0, 0.5, 2, 2, 2], [1, 1, 2, 3]);
      const img2 = renderAttribution(model, input, positive, 1);
      assert.deepEqual(Array.from(img2.data.subarray(0, 3)), blend(colormap('sequential', 0.25), 0.25));
      assert.deepEqual(Array.from(img2.data.subarray(4 * up, 4 * up + 3)), colormap('sequential', 1));
      tf.dispose([input, signedAttr, positive]);
      model.dispose();
    });
  });
}
