import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { InputError } from '../../src/engine/errors';
import type { MethodOptions } from '../../src/engine/attribution/method';
import { defaultStride, defaultWindow, windowStarts } from '../../src/engine/attribution/occlusion';
import { attribute } from '../../src/engine/attribution/registry';
import {
  assertClose,
  convModel,
  expectTensorDelta,
  inputData,
  inputTensor,
  linearModel,
  take,
  tanhModel,
} from './helpers/toy-models';

/**
 * Occlusion written directly from its definition: windows start at 0 and step by `stride`
 * until one reaches the end of the dimension (the last may be cut off); each window sets the
 * covered values of every channel to the baseline; a value's attribution is the mean of
 * F(x) - F(occluded) over the windows covering it.
 */
function directOcclusion(
  f: (x: number[]) => number,
  x: number[],
  [C, H, W]: number[],
  layout: 'NCHW' | 'NHWC',
  window: [number, number],
  stride: [number, number],
  baseline: (i: number) => number,
): number[] {
  const starts = (size: number, win: number, step: number): number[] => {
    const out = [0];
    while (out[out.length - 1] + win < size) out.push(out[out.length - 1] + step);
    return out;
  };
  const idx = (c: number, h: number, w: number): number => (layout === 'NCHW' ? (c * H + h) * W + w : (h * W + w) * C + c);
  const fx = f(x);
  const sums = new Array<number>(H * W).fill(0);
  const counts = new Array<number>(H * W).fill(0);
  for (const top of starts(H, window[0], stride[0])) {
    for (const left of starts(W, window[1], stride[1])) {
      const occluded = x.slice();
      const covered: number[] = [];
      for (let h = top; h < Math.min(H, top + window[0]); h++) {
        for (let w = left; w < Math.min(W, left + window[1]); w++) {
          covered.push(h * W + w);
          for (let c = 0; c < C; c++) occluded[idx(c, h, w)] = baseline(idx(c, h, w));
        }
      }
      const diff = fx - f(occluded);
      for (const p of covered) {
        sums[p] += diff;
        counts[p] += 1;
      }
    }
  }
  const out = new Array<number>(x.length);
  for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) out[idx(c, h, w)] = sums[h * W + w] / counts[h * W + w];
  return out;
}

describe('occlusion (Captum semantics)', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('window positions: ceil((size - window) / stride) + 1, the last one cut off at the border', () => {
    assert.deepEqual(windowStarts(5, 2, 2), [0, 2, 4]);
    assert.deepEqual(windowStarts(6, 4, 3), [0, 3]);
    assert.deepEqual(windowStarts(28, 4, 4), [0, 4, 8, 12, 16, 20, 24]);
    assert.deepEqual(windowStarts(7, 7, 3), [0]);
    assert.deepEqual(windowStarts(10, 3, 1).length, 8);
    assert.deepEqual(defaultWindow(28, 28), [4, 4]);
    assert.deepEqual(defaultWindow(224, 200), [28, 25]);
    assert.deepEqual(defaultStride([28, 25]), [14, 13]);
  });

  test('on a linear model equals the direct loop, for partial and overlapping windows, NCHW and NHWC', async () => {
    for (const layout of ['NCHW', 'NHWC'] as const) {
      const shape = layout === 'NCHW' ? [2, 5, 6] : [5, 6, 2];
      const lin = linearModel(shape, 3, 1, layout);
      const x = inputData(lin, 17);
      const input = inputTensor(lin, x);
      const f = (v: number[]): number => v.reduce((s, vi, i) => s + vi * lin.W[2][i], lin.b[2]);
      const configs: [[number, number], [number, number]][] = [
        [[2, 4], [2, 3]], // partial windows in both directions
        [[3, 3], [1, 1]], // heavy overlap
        [[1, 1], [1, 1]], // one pixel at a time
        [[5, 6], [1, 1]], // the whole image
        [[2, 2], [2, 2]], // a grid with a cut-off last row
      ];
      for (const [window, stride] of configs) {
        const result = await attribute('occlusion', { model: lin, input, target: 2 }, { window, stride, batchSize: 4 });
        assert.deepEqual(result.attribution.shape, [1, ...shape]);
        const expected = directOcclusion(f, x, [2, 5, 6], layout, window, stride, () => 0);
        assertClose(await take(result.attribution), expected, 1e-5, `${layout} ${window} ${stride}`);
      }
      input.dispose();
      lin.dispose();
    }
  });

  test('baselines: a value, a tensor, blur; nonlinear model; default window and stride', async () => {
    const tanh = tanhModel([1, 8, 8]);
    const x = inputData(tanh, 5, 2);
    const input = inputTensor(tanh, x);
    const f = (v: number[]): number => tanh.f(v)[1];
    const window: [number, number] = [3, 2];
    const stride: [number, number] = [2, 2];
    const value = await take((await attribute('occlusion', { model: tanh, input, target: 1 }, { window, stride, baseline: '0.5' })).attribution);
    assertClose(value, directOcclusion(f, x, [1, 8, 8], 'NCHW', window, stride, () => 0.5), 1e-4, 'value baseline');

    const base = inputData(tanh, 6);
    const baseTensor = tf.tensor(base, [1, 1, 8, 8]);
    const tensor = await take((await attribute('occlusion', { model: tanh, input, target: 1 }, { window, stride, baseline: baseTensor })).attribution);
    assertClose(tensor, directOcclusion(f, x, [1, 8, 8], 'NCHW', window, stride, (i) => base[i]), 1e-4, 'tensor baseline');

    const defaults = await take((await attribute('occlusion', { model: tanh, input, target: 1 })).attribution);
    assertClose(defaults, directOcclusion(f, x, [1, 8, 8], 'NCHW', [1, 1], [1, 1], () => 0), 1e-4, 'default 1x1 on 8x8');
    tanh.calls.length = 0;
    const blur = await attribute('occlusion', { model: tanh, input, target: 1 }, { window: [4, 4], stride: [2, 2], baseline: 'blur' });
    blur.attribution.dispose();
    assert.deepEqual(tanh.calls, [1, 9]); // F(x), then the 3×3 positions in one forward pass
    baseTensor.dispose();
    input.dispose();
    tanh.dispose();
  });

  test('bad windows and strides are InputErrors', async () => {
    const lin = linearModel();
    const input = inputTensor(lin, inputData(lin));
    const cases: [MethodOptions, string][] = [
      [{ window: [0, 2] }, 'window must be two positive integers [height, width], got [0,2]'],
      [{ window: [2] as unknown as [number, number] }, 'window must be two positive integers [height, width], got [2]'],
      [{ window: [2.5, 2] }, 'window must be two positive integers [height, width], got [2.5,2]'],
      [{ window: [6, 2] }, 'window 6x2 does not fit in the 5x6 input'],
      [{ window: [2, 2], stride: [3, 1] }, 'stride 3x1 is larger than the window 2x2: some pixels would never be occluded'],
      [{ window: [2, 2], stride: [1, -1] }, 'stride must be two positive integers [height, width], got [1,-1]'],
      [{ baseline: 'half' }, "unknown baseline 'half': expected zero, blur, uniform, blur:<sigma>, a number, a .npy file"],
      [{ steps: 3 }, "method 'occlusion' does not take option 'steps': it takes window, stride, baseline, seed, batchSize, noise, samples, stdev"],
    ];
    for (const [options, message] of cases) {
      await expectTensorDelta(0, () =>
        assert.rejects(attribute('occlusion', { model: lin, input, target: 0 }, options), (e: unknown) => {
          assert.ok(e instanceof InputError);
          assert.equal(e.message, message);
          return true;
        }),
      );
    }
    // a stride larger than the window is fine along a dimension the window covers entirely
    const whole = await attribute('occlusion', { model: lin, input, target: 0 }, { window: [5, 2], stride: [9, 2] });
    whole.attribution.dispose();
    input.dispose();
    lin.dispose();
  });

  test('cpu and wasm agree to 1e-5', async () => {
    const runs: number[][] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      const conv = convModel();
      const input = inputTensor(conv, inputData(conv, 3));
      const r = await expectTensorDelta(1, () =>
        attribute('occlusion', { model: conv, input, target: 3 }, { window: [3, 2], stride: [2, 1], baseline: 'blur' }),
      );
      runs.push(await take(r.attribution));
      input.dispose();
      conv.dispose();
    }
    assertClose(runs[1], runs[0], 1e-5);
    await initBackend('cpu');
  });
});
