import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MethodOptions } from '../../src/engine/attribution/method';
import { attribute } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import { loadInput } from '../../src/engine/data/input';
import { CancelledError, InputError } from '../../src/engine/errors';
import { featureAttributions, featureGroups } from '../../src/engine/evaluation/features';
import { pearson } from '../../src/engine/evaluation/similarity';
import {
  DEFAULT_SUBSETS,
  DEGENERATE_SPREAD,
  drawSubsets,
  sensitivityN,
  sensitivityNGrid,
  type SensitivityNOptions,
} from '../../src/engine/evaluation/sensitivity-n';
import { loadModel } from '../../src/engine/model/load';
import type { InputSpec, Model } from '../../src/engine/model/model';
import { REPO, TEST_BACKENDS } from './helpers/fixtures';
import { encodeModel, floatTensor, node } from './helpers/onnx-builder';
import { inputData, inputTensor, randomArray, tanhModel, type TanhToy } from './helpers/toy-models';

/** Sensitivity-n (Ancona et al. 2018, PAPERS.md §2). */

async function modelFrom(bytes: Uint8Array): Promise<Model> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lens-sens-')), 'm.onnx');
  fs.writeFileSync(file, bytes);
  return loadModel(file);
}

/** logits = W·flatten(x) + b through the ONNX executor, x of shape [3, 6, 6] (3 channels per pixel). */
function linearOnnx(): Uint8Array {
  const d = 3 * 6 * 6;
  return encodeModel(
    [node('flat', 'Flatten', ['X'], ['F']), node('fc', 'Gemm', ['F', 'W', 'B'], ['Y'], [{ name: 'transB', type: 2, i: 1 }])],
    [floatTensor('W', [4, d], randomArray(4 * d, 31)), floatTensor('B', [4], randomArray(4, 32))],
    [0, 3, 6, 6],
  );
}

async function rejectsInput(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  });
}

/** Attributions of several methods, as tensors the caller disposes. */
async function attributions(model: Model, input: tf.Tensor, target: number, methods: [string, MethodOptions][]) {
  const out: Record<string, tf.Tensor> = {};
  for (const [id, options] of methods) out[id] = (await attribute(id, { model, input, target }, options)).attribution;
  return out;
}

/** Textbook Pearson r = (nΣab − ΣaΣb) / sqrt((nΣa² − (Σa)²)(nΣb² − (Σb)²)), for comparison. */
function textbookPearson(a: number[], b: number[]): number {
  const n = a.length;
  const sa = a.reduce((s, v) => s + v, 0);
  const sb = b.reduce((s, v) => s + v, 0);
  const sab = a.reduce((s, v, i) => s + v * b[i], 0);
  const saa = a.reduce((s, v) => s + v * v, 0);
  const sbb = b.reduce((s, v) => s + v * v, 0);
  return (n * sab - sa * sb) / Math.sqrt((n * saa - sa * sa) * (n * sbb - sb * sb));
}

describe('sensitivity-n building blocks', () => {
  it('pearson: known values, sign, and NaN for constant samples', () => {
    assert.ok(Math.abs(pearson([1, 2, 3, 4], [2, 4, 6, 8]) - 1) < 1e-15);
    assert.ok(Math.abs(pearson([1, 2, 3, 4], [8, 6, 4, 2]) + 1) < 1e-15);
    // r of (1,2,3,4,5) and (2,1,4,3,5) = 0.8 exactly.
    assert.ok(Math.abs(pearson([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) - 0.8) < 1e-15);
    const a = randomArray(50, 3);
    const b = a.map((v, i) => v + randomArray(50, 4)[i]);
    assert.ok(Math.abs(pearson(a, b) - textbookPearson(a, b)) < 1e-12);
    assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
    assert.ok(Number.isNaN(pearson([1, 2, 3], [5, 5, 5])));
    assert.ok(Number.isNaN(pearson([0, 0, 0], [0, 0, 0])));
    assert.ok(Number.isNaN(pearson([1e6, 1e6 + 1e-7, 1e6], [1, 2, 3], DEGENERATE_SPREAD)), 'variation below float32 precision counts as constant');
    assert.ok(Number.isNaN(pearson([1], [2])));
  });

  it('the default grid: 20 distinct log-spaced sizes from 1 to 80% of the features', () => {
    const ns = sensitivityNGrid(784);
    assert.equal(ns.length, 20);
    assert.equal(ns[0], 1);
    assert.equal(ns[19], Math.round(0.8 * 784));
    for (let k = 1; k < ns.length; k++) assert.ok(ns[k] > ns[k - 1]);
    // Log-spaced at the top (ratios near 627^(1/19) ≈ 1.40), consecutive at the bottom.
    assert.deepEqual(ns.slice(0, 4), [1, 2, 3, 4]);
    assert.ok(Math.abs(ns[19] / ns[18] - 627 ** (1 / 19)) < 0.05);
    assert.deepEqual(sensitivityNGrid(10), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(sensitivityNGrid(100, 5, 1), [1, 3, 10, 32, 100]);
    assert.deepEqual(sensitivityNGrid(3, 20, 0.1), [1]);
  });

  it('subsets: n distinct features each, seeded, uniform', () => {
    const ns = [1, 3, 7];
    const sets = drawSubsets(10, ns, 500, 5);
    const counts = new Array<number>(10).fill(0);
    ns.forEach((n, k) => {
      assert.equal(sets[k].length, 500 * n);
      for (let s = 0; s < 500; s++) {
        const subset = [...sets[k].subarray(s * n, (s + 1) * n)];
        assert.equal(new Set(subset).size, n);
        for (const f of subset) {
          assert.ok(f >= 0 && f < 10);
          counts[f]++;
        }
      }
    });
    // Each feature is drawn about 500·(1 + 3 + 7)/10 = 550 times.
    for (const c of counts) assert.ok(Math.abs(c - 550) < 100, `count ${c}`);
    assert.deepEqual(drawSubsets(10, ns, 20, 5), drawSubsets(10, ns, 20, 5));
    assert.notDeepEqual(drawSubsets(10, ns, 20, 5), drawSubsets(10, ns, 20, 6));
  });

  it('features: pixels with all their channels, patches cut at the borders, either layout', () => {
    const spec = (shape: number[], layout: 'NCHW' | 'NHWC'): InputSpec => {
      const [channels, height, width] = layout === 'NCHW' ? shape : [shape[2], shape[0], shape[1]];
      return { name: 'x', shape, layout, channels, height, width, preprocessing: { scale: 1, mean: [0], std: [1] } };
    };
    const nchw = featureGroups(spec([2, 5, 5], 'NCHW'), 2);
    assert.equal(nchw.count, 9); // ceil(5/2)²
    // Patch 0 covers rows 0-1, cols 0-1 of both channels; the last is the single pixel (4, 4).
    assert.deepEqual([...nchw.elements.subarray(nchw.offsets[0], nchw.offsets[1])], [0, 25, 1, 26, 5, 30, 6, 31]);
    assert.deepEqual([...nchw.elements.subarray(nchw.offsets[8], nchw.offsets[9])], [24, 49]);
    assert.equal(nchw.offsets[9], 50);
    const nhwc = featureGroups(spec([3, 3, 2], 'NHWC'), 1);
    assert.equal(nhwc.count, 9);
    assert.deepEqual([...nhwc.elements.subarray(nhwc.offsets[4], nhwc.offsets[5])], [8, 9]);
    // A per-pixel map ([1, 1, H, W]) and the same map spread over the channels agree.
    const perPixel = randomArray(25, 8);
    const spread = new Float32Array(50);
    perPixel.forEach((v, p) => {
      spread[p] = v / 2;
      spread[25 + p] = v / 2;
    });
    const a = featureAttributions(nchw, perPixel, 'm');
    const b = featureAttributions(nchw, spread, 'm');
    a.forEach((v, f) => assert.ok(Math.abs(v - b[f]) < 1e-6));
    assert.throws(() => featureAttributions(nchw, new Float32Array(7), 'gradcam'), {
      name: 'InputError',
      message: "attribution 'gradcam' has 7 values, expected 50 (one per input value) or 25 (one per pixel)",
    });
    assert.throws(() => featureGroups(spec([2, 5, 5], 'NCHW'), 6), { message: 'patch 6 is larger than the 5x5 input' });
    const flat: InputSpec = { ...spec([1, 4, 4], 'NCHW'), shape: [16] };
    assert.equal(featureGroups(flat).count, 16);
    assert.throws(() => featureGroups(flat, 2), { message: 'patch 2 needs an image input [C, H, W]; the model\'s input is [16]' });
  });
});

for (const backend of TEST_BACKENDS) {
  describe(`sensitivity-n on ${backend}`, () => {
    let linear: Model;
    let tanh: TanhToy;
    before(async () => {
      await initBackend(backend);
      linear = await modelFrom(linearOnnx());
      tanh = tanhModel();
    });
    after(() => {
      linear.dispose();
      tanh.dispose();
    });

    for (const patch of [1, 2, 4]) {
      it(`on a linear model every input-multiplying method has correlation 1 at every n (patch ${patch})`, async () => {
        const input = tf.tensor(randomArray(108, 33, 2), [1, 3, 6, 6]);
        const target = 2;
        const maps = await attributions(linear, input, target, [
          ['input_x_gradient', {}],
          ['integrated_gradients', { steps: 4 }],
          ['deeplift', {}],
          ['occlusion', { window: [1, 1], stride: [1, 1] }],
          ['gradient_shap', { samples: 5 }],
          ['saliency', {}],
        ]);
        const before = tf.memory().numTensors;
        const result = await sensitivityN({ model: linear, input, target, attributions: maps }, { patch, subsets: 30 });
        assert.equal(tf.memory().numTensors, before);
        assert.equal(result.features, Math.ceil(6 / patch) ** 2);
        assert.equal(result.patch, patch);
        for (const method of ['input_x_gradient', 'integrated_gradients', 'deeplift', 'occlusion', 'gradient_shap']) {
          for (const r of result.curves[method]) assert.ok(Math.abs(r - 1) < 1e-5, `${method}: r = ${r}`);
        }
        // The magnitude of the gradient ignores the input: far from 1.
        const saliency = result.curves.saliency;
        assert.ok(saliency.reduce((s, r) => s + r, 0) / saliency.length < 0.9, `saliency ${saliency}`);
        tf.dispose([input, ...Object.values(maps)]);
      });
    }

    it('on a linear model with a uniform baseline, the methods given that baseline still have correlation 1', async () => {
      const input = tf.tensor(randomArray(108, 34, 2), [1, 3, 6, 6]);
      const baseline = 'uniform';
      const maps = await attributions(linear, input, 0, [
        ['integrated_gradients', { steps: 2, baseline, seed: 3 }],
        ['deeplift', { baseline, seed: 3 }],
        ['occlusion', { window: [1, 1], stride: [1, 1], baseline, seed: 3 }],
      ]);
      const result = await sensitivityN({ model: linear, input, target: 0, attributions: maps }, { baseline, seed: 3, count: 6, subsets: 20 });
      assert.equal(result.baseline, 'uniform');
      for (const [method, curve] of Object.entries(result.curves)) {
        for (const r of curve) assert.ok(Math.abs(r - 1) < 1e-5, `${method}: r = ${r}`);
      }
      tf.dispose([input, ...Object.values(maps)]);
    });

    it('matches a direct float64 computation of the drops, the sums and Pearson on a tiny model', async () => {
      const x = inputData(tanh, 5, 2);
      const input = inputTensor(tanh, x);
      const target = 1;
      const map = Float32Array.from(randomArray(16, 6));
      const ig = await attribute('integrated_gradients', { model: tanh, input, target }, { steps: 32 });
      const options: SensitivityNOptions = { ns: [1, 2, 5, 9, 16], subsets: 40, seed: 12, batchSize: 7 };
      const result = await sensitivityN({ model: tanh, input, target, attributions: { random: map, ig: ig.attribution } }, options);
      const igMap = Array.from(await ig.attribution.data());
      ig.attribution.dispose();

      // The same subsets, drops from the model's float64 JS twin.
      const sets = drawSubsets(16, options.ns!, 40, 12);
      const fx = tanh.f(x)[target];
      options.ns!.forEach((n, k) => {
        const drops: number[] = [];
        const sums: Record<string, number[]> = { random: [], ig: [] };
        for (let s = 0; s < 40; s++) {
          const subset = [...sets[k].subarray(s * n, (s + 1) * n)];
          const removed = x.map((v, i) => (subset.includes(i) ? 0 : v));
          drops.push(fx - tanh.f(removed)[target]);
          sums.random.push(subset.reduce((t, i) => t + map[i], 0));
          sums.ig.push(subset.reduce((t, i) => t + igMap[i], 0));
        }
        const dropMean = drops.reduce((a, b) => a + b, 0) / 40;
        assert.ok(Math.abs(result.outputDrops[k].mean - dropMean) < 1e-5);
        if (n === 16) {
          // Every subset is the whole input: nothing varies, the correlation is undefined.
          assert.ok(Number.isNaN(result.curves.random[k]) && Number.isNaN(result.curves.ig[k]));
          assert.ok(result.outputDrops[k].std < 1e-5);
          return;
        }
        for (const method of ['random', 'ig']) {
          const expected = textbookPearson(sums[method], drops);
          assert.ok(Math.abs(result.curves[method][k] - expected) < 1e-4, `${method} n=${n}: ${result.curves[method][k]} vs ${expected}`);
        }
      });
      // IG tracks the drops far better than a random map (at n = 9 of 16: r ≈ 0.84 vs 0.14).
      assert.ok(result.curves.ig[3] > result.curves.random[3] + 0.3);
      assert.deepEqual(result.fractions, [1 / 16, 2 / 16, 5 / 16, 9 / 16, 1]);
      assert.equal(result.outputAtInput.toFixed(4), fx.toFixed(4));
      assert.equal(JSON.parse(JSON.stringify(result)).curves.ig[4], null);
      input.dispose();
    });

    it('evaluates each perturbed input once, whatever the number of methods, in batches', async () => {
      const input = inputTensor(tanh, inputData(tanh, 7));
      const maps = { a: Float32Array.from(randomArray(16, 1)), b: Float32Array.from(randomArray(16, 2)), c: Float32Array.from(randomArray(16, 3)) };
      for (const methods of [{ a: maps.a }, maps]) {
        tanh.calls.length = 0;
        const progress: [number, number][] = [];
        await sensitivityN(
          { model: tanh, input, target: 0, attributions: methods, onProgress: (d, t) => progress.push([d, t]) },
          { count: 5, subsets: 10, batchSize: 8 },
        );
        // F(x), F(x') and 5 × 10 perturbed inputs, at most 8 per pass.
        assert.equal(tanh.calls.reduce((a, b) => a + b, 0), 2 + 50);
        assert.ok(Math.max(...tanh.calls) <= 8);
        assert.deepEqual(progress.at(-1), [50, 50]);
      }
      input.dispose();
    });

    it('is cancelled between batches without leaking', async () => {
      const input = inputTensor(tanh, inputData(tanh, 8));
      const controller = new AbortController();
      const before = tf.memory().numTensors;
      await assert.rejects(
        sensitivityN(
          { model: tanh, input, target: 0, attributions: { a: new Float32Array(16).fill(1) }, signal: controller.signal, onProgress: (d) => d > 0 && controller.abort() },
          { subsets: 10, batchSize: 4 },
        ),
        CancelledError,
      );
      assert.equal(tf.memory().numTensors, before);
      input.dispose();
    });

    it('bad options and maps are InputErrors', async () => {
      const input = inputTensor(tanh, inputData(tanh, 9));
      const request = { model: tanh, input, target: 0, attributions: { a: new Float32Array(16) } };
      await rejectsInput(sensitivityN(request, { subsets: 0 }), /^subsets must be a positive integer, got 0$/);
      await rejectsInput(sensitivityN(request, { subsets: 1 }), /^subsets must be at least 2 for a correlation, got 1$/);
      await rejectsInput(sensitivityN(request, { patch: 1.5 }), /^patch must be a positive integer, got 1.5$/);
      await rejectsInput(sensitivityN(request, { patch: 5 }), /^patch 5 is larger than the 4x4 input$/);
      await rejectsInput(sensitivityN(request, { ns: [0, 3] }), /^ns: subset size 0 is not an integer in 1..16 \(the number of features\)$/);
      await rejectsInput(sensitivityN(request, { ns: [17] }), /^ns: subset size 17 is not an integer/);
      await rejectsInput(sensitivityN(request, { ns: [] }), /^ns must be a non-empty list of subset sizes$/);
      await rejectsInput(sensitivityN(request, { ns: [2], count: 3 }), /^give either ns or count\/maxFraction, not both$/);
      await rejectsInput(sensitivityN(request, { count: 0 }), /^count must be a positive integer, got 0$/);
      await rejectsInput(sensitivityN(request, { maxFraction: 1.5 }), /^maxFraction must be a number in \(0, 1\], got 1.5$/);
      await rejectsInput(sensitivityN(request, { baseline: 'grey' }), /^unknown baseline 'grey'/);
      await rejectsInput(sensitivityN({ ...request, attributions: {} }), /^sensitivity-n needs at least one attribution map$/);
      await rejectsInput(
        sensitivityN({ ...request, attributions: { gradcam: new Float32Array(4) } }),
        /^attribution 'gradcam' has 4 values, expected 16 \(one per input value\) or 16 \(one per pixel\)$/,
      );
      await rejectsInput(sensitivityN({ ...request, attributions: { a: new Float32Array(16).fill(NaN) } }), /^attribution 'a' holds a non-finite value$/);
      await rejectsInput(sensitivityN({ ...request, target: 7 }), /^target 7 is not a class index/);
      input.dispose();
    });
  });
}

describe('sensitivity-n on the MNIST example', () => {
  let model: Model;
  let input: tf.Tensor;
  const target = 7;
  before(async () => {
    await initBackend('wasm');
    model = await loadModel(path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx'));
    input = await loadInput(path.join(REPO, 'examples', 'mnist', 'samples', 'digit_7.npy'), model);
  });
  after(() => {
    input.dispose();
    model.dispose();
  });

  it('occlusion-1 has the best correlation at n = 1, above saliency (Ancona et al.)', async () => {
    const maps = await attributions(model, input, target, [
      ['saliency', {}],
      ['occlusion', { window: [1, 1], stride: [1, 1] }],
      ['input_x_gradient', {}],
    ]);
    for (const seed of [0, 1, 2]) {
      const result = await sensitivityN({ model, input, target, attributions: maps }, { ns: [1], seed });
      const { saliency, occlusion } = result.curves;
      // Occlusion-1 of a pixel is exactly the drop when that pixel alone is removed.
      assert.ok(occlusion[0] > 0.9999, `occlusion ${occlusion[0]}`);
      assert.ok(occlusion[0] > saliency[0] + 0.05, `seed ${seed}: occlusion ${occlusion[0]} vs saliency ${saliency[0]}`);
      assert.ok(occlusion[0] >= result.curves.input_x_gradient[0]);
    }
    tf.dispose(Object.values(maps));
  });

  it('default settings: 20 sizes × 100 subsets, curves in [-1, 1], cpu and wasm agree', async () => {
    const maps = await attributions(model, input, target, [
      ['input_x_gradient', {}],
      ['occlusion', { window: [2, 2], stride: [2, 2] }],
    ]);
    const wasm = await sensitivityN({ model, input, target, attributions: maps }, { patch: 2 });
    assert.equal(wasm.features, 196);
    assert.equal(wasm.ns.length, 20);
    assert.equal(wasm.subsets, DEFAULT_SUBSETS);
    for (const curve of Object.values(wasm.curves)) for (const r of curve) assert.ok(r >= -1 && r <= 1);
    // Occlusion with the patch as its window is exact at n = 1.
    assert.ok(wasm.curves.occlusion[0] > 0.9999);
    await initBackend('cpu');
    try {
      const cpu = await sensitivityN({ model, input, target, attributions: maps }, { patch: 2, ns: wasm.ns.slice(0, 6), subsets: 30 });
      const wasmSmall = await (async () => {
        await initBackend('wasm');
        return sensitivityN({ model, input, target, attributions: maps }, { patch: 2, ns: wasm.ns.slice(0, 6), subsets: 30 });
      })();
      for (const method of Object.keys(maps)) {
        cpu.curves[method].forEach((r, k) => assert.ok(Math.abs(r - wasmSmall.curves[method][k]) < 1e-4, `${method} n=${cpu.ns[k]}`));
      }
    } finally {
      await initBackend('wasm');
      tf.dispose(Object.values(maps));
    }
  });
});
