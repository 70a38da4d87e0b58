import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { InputError } from '../../src/engine/errors';
import type { MethodOptions } from '../../src/engine/attribution/method';
import { attribute } from '../../src/engine/attribution/registry';
import {
  assertClose,
  convActivations,
  convModel,
  type ConvToy,
  expectTensorDelta,
  inputData,
  inputTensor,
  linearModel,
  take,
} from './helpers/toy-models';

/**
 * Grad-CAM of the conv toy in closed form. The logit is U[t]·flatten(pool1) + c[t], so
 * d logit / d pool1[c][i][j] = U[t][c, i, j], and through the 2×2 average pool
 * d logit / d relu1[c][h][w] = U[t][c, h/2, w/2] / 4.
 */
function closedForm(m: ConvToy, x: number[], layer: 'pool1' | 'relu1', target: number, relu: boolean): number[][] {
  const acts = convActivations(m, x);
  const A = acts[layer];
  const half = m.size / 2;
  const grad = (c: number, h: number, w: number): number =>
    layer === 'pool1' ? m.U[target][(c * half + h) * half + w] : m.U[target][(c * half + (h >> 1)) * half + (w >> 1)] / 4;
  const size = A[0].length;
  const map = Array.from({ length: size }, () => new Array<number>(size).fill(0));
  for (let c = 0; c < m.cout; c++) {
    let alpha = 0;
    for (let h = 0; h < size; h++) for (let w = 0; w < size; w++) alpha += grad(c, h, w);
    alpha /= size * size;
    for (let h = 0; h < size; h++) for (let w = 0; w < size; w++) map[h][w] += alpha * A[c][h][w];
  }
  return relu ? map.map((row) => row.map((v) => Math.max(0, v))) : map;
}

/** Bilinear resize with half-pixel centres (PyTorch F.interpolate, align_corners=False). */
function bilinear(map: number[][], H: number, W: number): number[] {
  const h = map.length;
  const w = map[0].length;
  const out: number[] = [];
  for (let y = 0; y < H; y++) {
    const sy = Math.max(0, (y + 0.5) * (h / H) - 0.5);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, h - 1);
    const ly = sy - y0;
    for (let x = 0; x < W; x++) {
      const sx = Math.max(0, (x + 0.5) * (w / W) - 0.5);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, w - 1);
      const lx = sx - x0;
      out.push(
        (1 - ly) * ((1 - lx) * map[y0][x0] + lx * map[y0][x1]) + ly * ((1 - lx) * map[y1][x0] + lx * map[y1][x1]),
      );
    }
  }
  return out;
}

describe('Grad-CAM', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('closed form on the toy CNN: α_c = mean dlogit/dA_c, map = ReLU(Σ α_c A_c), shape [1, 1, h, w]', async () => {
    const conv = convModel();
    const x = inputData(conv, 3);
    const input = inputTensor(conv, x);
    let nonTrivial = 0;
    for (const layer of ['pool1', 'relu1'] as const) {
      for (const target of [0, 1, 2, 3]) {
        for (const relu of [true, false]) {
          const result = await attribute('gradcam', { model: conv, input, target }, { layer, relu });
          const size = layer === 'pool1' ? 3 : 6;
          assert.deepEqual(result.attribution.shape, [1, 1, size, size]);
          const expected = closedForm(conv, x, layer, target, relu).flat();
          assertClose(await take(result.attribution), expected, 1e-5, `${layer} target ${target} relu ${relu}`);
          if (!relu && expected.some((v) => v < 0) && expected.some((v) => v > 0)) nonTrivial++;
        }
      }
    }
    assert.ok(nonTrivial > 0, 'the test input should give maps with both signs');
    input.dispose();
    conv.dispose();
  });

  test('upsample: bilinear (half-pixel centres) to the input H×W, shape [1, 1, H, W]', async () => {
    const conv = convModel(2, 3, 8);
    const x = inputData(conv, 4);
    const input = inputTensor(conv, x);
    for (const relu of [true, false]) {
      const result = await attribute('gradcam', { model: conv, input, target: 1 }, { layer: 'pool1', upsample: true, relu });
      assert.deepEqual(result.attribution.shape, [1, 1, 8, 8]);
      const expected = bilinear(closedForm(conv, x, 'pool1', 1, relu), 8, 8);
      assertClose(await take(result.attribution), expected, 1e-5, `upsampled relu=${relu}`);
    }
    input.dispose();
    conv.dispose();
  });

  test('the layer option: required, known, 4-D — errors list the layers', async () => {
    const conv = convModel();
    const input = inputTensor(conv, inputData(conv, 3));
    const cases: [MethodOptions, string][] = [
      [{}, "gradcam needs option 'layer': one of conv1, relu1, pool1, fc"],
      [{ layer: 'conv9' }, "unknown layer 'conv9': expected one of conv1, relu1, pool1, fc"],
      [{ layer: 'fc' }, "layer 'fc' has activation shape [1, 4]; Grad-CAM needs a 4-D [N, C, h, w] (convolutional) layer"],
      [{ layer: 'pool1', relu: 1 as unknown as boolean }, 'relu must be true or false, got 1'],
      [{ layer: 'pool1', steps: 2 }, "method 'gradcam' does not take option 'steps': it takes layer, relu, upsample, batchSize, noise, samples, stdev, seed"],
    ];
    for (const [options, message] of cases) {
      await expectTensorDelta(0, () =>
        assert.rejects(attribute('gradcam', { model: conv, input, target: 0 }, options), (e: unknown) => {
          assert.ok(e instanceof InputError);
          assert.equal(e.message, message);
          return true;
        }),
      );
    }
    // by output name too
    const byOutput = await attribute('gradcam', { model: conv, input, target: 0 }, { layer: 'pool1_out' });
    byOutput.attribution.dispose();
    const lin = linearModel();
    const linInput = inputTensor(lin, inputData(lin));
    await assert.rejects(
      attribute('gradcam', { model: lin, input: linInput, target: 0 }, { layer: 'x' }),
      (e: unknown) => e instanceof InputError && e.message === "unknown layer 'x': expected one of (the model exposes no layers)",
    );
    linInput.dispose();
    lin.dispose();
    input.dispose();
    conv.dispose();
  });

  test('cpu and wasm agree to 1e-5 (plain, upsampled, smoothgrad)', async () => {
    const cases: MethodOptions[] = [
      { layer: 'relu1' },
      { layer: 'pool1', upsample: true, relu: false },
      { layer: 'conv1', noise: 'smoothgrad', samples: 6 },
    ];
    const runs: number[][][] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      const conv = convModel(2, 3, 8);
      const input = inputTensor(conv, inputData(conv, 4));
      const out: number[][] = [];
      for (const options of cases) {
        const r = await expectTensorDelta(1, () => attribute('gradcam', { model: conv, input, target: 2 }, options));
        out.push(await take(r.attribution));
      }
      conv.calls.length = 0;
      const batched = await attribute('gradcam', { model: conv, input, target: 2 }, { layer: 'pool1', noise: 'smoothgrad' });
      batched.attribution.dispose();
      assert.deepEqual(conv.calls, [25], 'noisy samples go through split() in one batch');
      runs.push(out);
      input.dispose();
      conv.dispose();
    }
    cases.forEach((options, i) => assertClose(runs[1][i], runs[0][i], 1e-5, JSON.stringify(options)));
    await initBackend('cpu');
  });
});
