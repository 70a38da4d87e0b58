import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { loadInput } from '../../src/engine/data/input';
import { InputError } from '../../src/engine/errors';
import { averagePool, mapPreview, poolFactor } from '../../src/engine/evaluation/map-preview';
import { sanityCheck } from '../../src/engine/evaluation/sanity';
import { prepareMap } from '../../src/engine/evaluation/similarity';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { REPO, TEST_BACKENDS } from './helpers/fixtures';

describe('map previews', () => {
  it('pool by the smallest whole factor that brings both sides to at most maxSide', () => {
    assert.equal(poolFactor(28, 28, 64), 1);
    assert.equal(poolFactor(64, 64, 64), 1);
    assert.equal(poolFactor(65, 10, 64), 2); // ⌈65/2⌉ = 33
    assert.equal(poolFactor(224, 100, 64), 4); // ⌈224/3⌉ = 75 > 64, ⌈224/4⌉ = 56
    assert.equal(poolFactor(5, 5, 3), 2);
  });

  it('average 2×2 blocks of a 5×5 map; the blocks cut by the edge average what they have', () => {
    // Values 1..25 row-major. Full blocks: (1+2+6+7)/4 = 4, (3+4+8+9)/4 = 6, (11+12+16+17)/4 = 14,
    // (13+14+18+19)/4 = 16. Right column: (5+10)/2, (15+20)/2. Bottom row: (21+22)/2, (23+24)/2, 25.
    const plane = { height: 5, width: 5, data: Float64Array.from({ length: 25 }, (_, i) => i + 1) };
    const pooled = averagePool(plane, 2);
    assert.equal(pooled.height, 3);
    assert.equal(pooled.width, 3);
    assert.deepEqual(Array.from(pooled.data), [4, 6, 7.5, 14, 16, 17.5, 21.5, 23.5, 25]);

    // As a preview: the signed map pooled, the absolute one pooled then scaled by its maximum (25).
    const values = Array.from({ length: 25 }, (_, i) => (i % 2 === 0 ? i + 1 : -(i + 1)));
    const preview = mapPreview(prepareMap(values, [1, 1, 5, 5], 'NCHW'), 3);
    assert.equal(preview.height, 3);
    assert.equal(preview.width, 3);
    // Value v = i + 1 of index i is negated for odd i. Signed: (1 − 2 − 6 + 7)/4 = 0, (3 − 4 − 8 + 9)/4 = 0,
    // (5 − 10)/2 = −2.5, (11 − 12 − 16 + 17)/4 = 0, (13 − 14 − 18 + 19)/4 = 0, (15 − 20)/2 = −2.5,
    // (21 − 22)/2 = −0.5, (23 − 24)/2 = −0.5, 25.
    assert.deepEqual(preview.signed, [0, 0, -2.5, 0, 0, -2.5, -0.5, -0.5, 25]);
    assert.deepEqual(preview.absolute, [4, 6, 7.5, 14, 16, 17.5, 21.5, 23.5, 25].map((v) => Number((v / 25).toPrecision(6))));
    // Small enough: unchanged, the absolute map scaled by its maximum.
    const small = mapPreview(prepareMap([1, -2, 3, -4], [1, 1, 2, 2], 'NCHW'));
    assert.deepEqual(small.signed, [1, -2, 3, -4]);
    assert.deepEqual(small.absolute, [0.25, 0.5, 0.75, 1]);
  });
});

const MODEL = path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx');
const INPUT = path.join(REPO, 'examples', 'mnist', 'samples', 'digit_7.npy');

for (const backend of TEST_BACKENDS) {
  describe(`sanity maps with maxMapSide (${backend})`, () => {
    let model: Model;
    let input: tf.Tensor;
    before(async () => {
      await initBackend(backend);
      model = await loadModel(MODEL);
      input = await loadInput(INPUT, model);
    });

    it('pools the 28×28 maps to 10×10 (factor 3, a one-pixel edge block) when maxMapSide is 10', async () => {
      const before = tf.memory().numTensors;
      const full = await sanityCheck(model, input, { methods: ['saliency'], mode: 'independent', includeMaps: true });
      const pooled = await sanityCheck(model, input, { methods: ['saliency'], mode: 'independent', includeMaps: true, maxMapSide: 10 });
      assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
      const [f, p] = [full.methods[0], pooled.methods[0]];
      assert.equal(f.original!.height, 28);
      assert.equal(p.original!.height, 10);
      assert.equal(p.original!.width, 10);
      // Pool the full-size signed map by hand: rows/columns 3i..3i+2, the last block only row/column 27.
      const expected: number[] = [];
      for (let i = 0; i < 10; i++)
        for (let j = 0; j < 10; j++) {
          let sum = 0;
          let n = 0;
          for (let y = 3 * i; y < Math.min(3 * i + 3, 28); y++)
            for (let x = 3 * j; x < Math.min(3 * j + 3, 28); x++) {
              sum += f.original!.signed[y * 28 + x];
              n++;
            }
          expected.push(sum / n);
        }
      const scale = Math.max(...expected.map(Math.abs));
      p.original!.signed.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1e-5 * scale, `${i}: ${v} vs ${expected[i]}`));
      for (const [k, s] of p.similarities.entries()) {
        assert.equal(s.map!.height, 10, `step ${k}`);
        // The similarities are computed at full resolution: the same as without pooling.
        assert.equal(s.spearmanAbs, f.similarities[k].spearmanAbs);
      }
      await assert.rejects(sanityCheck(model, input, { methods: ['saliency'], mode: 'independent', maxMapSide: 0 }), InputError);
    });
  });
}
