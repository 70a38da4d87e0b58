import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { CancelledError, InputError } from '../../src/engine/errors';
import type { AttributionMethod, MethodOptions } from '../../src/engine/attribution/method';
import { DEFAULT_SAMPLES, noiseTunnel } from '../../src/engine/attribution/noise-tunnel';
import { Random } from '../../src/engine/random';
import { attribute, getMethod } from '../../src/engine/attribution/registry';
import {
  assertClose,
  expectTensorDelta,
  inputData,
  inputTensor,
  linearModel,
  quadraticModel,
  take,
  tanhModel,
} from './helpers/toy-models';

const range = (x: number[]): number => Math.max(...x) - Math.min(...x);

describe('seeded PRNG', () => {
  test('deterministic, uniform in [0, 1), standard normal', () => {
    const a = new Random(42);
    const b = new Random(42);
    const c = new Random(43);
    const first = Array.from({ length: 5 }, () => a.nextUint32());
    assert.deepEqual(first, Array.from({ length: 5 }, () => b.nextUint32()));
    assert.notDeepEqual(first, Array.from({ length: 5 }, () => c.nextUint32()));
    const r = new Random(1);
    const n = 200000;
    let sum = 0;
    let sumSq = 0;
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      const z = r.normal();
      sum += z;
      sumSq += z * z;
    }
    assert.ok(lo >= 0 && hi < 1 && lo < 1e-3 && hi > 1 - 1e-3);
    assert.ok(Math.abs(sum / n) < 5 / Math.sqrt(n), `normal mean ${sum / n}`);
    assert.ok(Math.abs(sumSq / n - 1) < 5 * Math.sqrt(2 / n), `normal variance ${sumSq / n}`);
  });
});

describe('noise tunnel statistics (cpu)', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('SmoothGrad of f = Σ a_i x_i² is 2 a_i x_i in expectation; VarGrad is 4 a_i² σ²; SmoothGrad² is 4 a_i² (x_i² + σ²)', async () => {
    const quad = quadraticModel();
    const x = inputData(quad, 8, 2);
    const input = inputTensor(quad, x);
    const target = 1;
    const a = quad.a[target];
    const samples = 4000;
    const stdev = 0.2;
    const sigma = stdev * range(x);
    const run = async (noise: MethodOptions['noise']): Promise<number[]> =>
      take((await attribute('saliency', { model: quad, input, target }, { abs: false, noise, samples, stdev, seed: 5 })).attribution);

    const smooth = await run('smoothgrad');
    smooth.forEach((v, i) => {
      const expected = 2 * a[i] * x[i];
      const stderr = (2 * Math.abs(a[i]) * sigma) / Math.sqrt(samples);
      assert.ok(Math.abs(v - expected) < 4 * stderr, `smoothgrad[${i}] ${v} vs ${expected} ± ${stderr}`);
    });
    const variance = await run('vargrad');
    variance.forEach((v, i) => {
      const expected = 4 * a[i] * a[i] * sigma * sigma;
      assert.ok(Math.abs(v - expected) < 5 * Math.sqrt(2 / samples) * expected, `vargrad[${i}] ${v} vs ${expected}`);
    });
    const squares = await run('smoothgrad_sq');
    squares.forEach((v, i) => {
      const expected = 4 * a[i] * a[i] * (x[i] * x[i] + sigma * sigma);
      const sd = 4 * a[i] * a[i] * Math.sqrt(4 * x[i] * x[i] * sigma * sigma + 2 * sigma ** 4);
      assert.ok(Math.abs(v - expected) < (5 * sd) / Math.sqrt(samples), `smoothgrad_sq[${i}] ${v} vs ${expected}`);
    });
    input.dispose();
    quad.dispose();
  });

  test('stdev is a fraction of the input range: σ = stdev · (max(x) - min(x))', async () => {
    const lin = linearModel();
    const x = inputData(lin, 4, 3);
    const input = inputTensor(lin, x);
    const w = lin.W[0];
    const stdev = 0.1;
    const samples = 500;
    // Gradient × Input on a linear model: (x + ε) ⊙ w, so its variance is w² σ².
    const v = await take(
      (await attribute('input_x_gradient', { model: lin, input, target: 0 }, { noise: 'vargrad', samples, stdev })).attribution,
    );
    const estimate = Math.sqrt(v.reduce((s, vi, i) => s + vi / (w[i] * w[i]), 0) / v.length);
    const sigma = stdev * range(x);
    assert.ok(Math.abs(estimate / sigma - 1) < 4 * Math.sqrt(1 / (2 * samples * v.length)) + 0.01, `${estimate} vs ${sigma}`);
    // the gradient of a linear model does not change with noise: no variance
    const g = await take((await attribute('saliency', { model: lin, input, target: 0 }, { noise: 'vargrad', abs: false })).attribution);
    assert.ok(g.every((gi) => Math.abs(gi) < 1e-9));
    input.dispose();
    lin.dispose();
  });

  test('IG under SmoothGrad on a linear model: (mean(x + ε) - x′)·w, with the mean delta', async () => {
    const lin = linearModel();
    const x = inputData(lin, 4);
    const input = inputTensor(lin, x);
    const result = await attribute('integrated_gradients', { model: lin, input, target: 2 }, { noise: 'smoothgrad', samples: 50, stdev: 0.01, steps: 5 });
    assert.ok(Math.abs(result.delta as number) < 1e-4, `delta ${result.delta}`);
    const attr = await take(result.attribution);
    const sum = attr.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum - (result.outputDifference as number)) < 1e-4);
    const sigma = 0.01 * range(x);
    attr.forEach((v, i) => assert.ok(Math.abs(v / lin.W[2][i] - x[i]) < (5 * sigma) / Math.sqrt(50)));
    // no delta for the squared aggregations
    const sq = await attribute('integrated_gradients', { model: lin, input, target: 2 }, { noise: 'vargrad', samples: 3 });
    assert.equal(sq.delta, undefined);
    sq.attribution.dispose();
    input.dispose();
    lin.dispose();
  });
});

describe('noise tunnel batching and determinism', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('SmoothGrad-25 of saliency is one backward pass of 25 inputs; IG steps are batched across samples', async () => {
    const tanh = tanhModel();
    const input = inputTensor(tanh, inputData(tanh, 1));
    const r = await attribute('saliency', { model: tanh, input, target: 0 }, { noise: 'smoothgrad' });
    r.attribution.dispose();
    assert.deepEqual(tanh.calls, [DEFAULT_SAMPLES]);
    tanh.calls.length = 0;
    const ig = await attribute('integrated_gradients', { model: tanh, input, target: 0 }, { noise: 'smoothgrad', steps: 10 });
    ig.attribution.dispose();
    // F(x_i) for the 25 samples, F(baseline), then 250 gradient evaluations in one pass
    assert.deepEqual(tanh.calls, [25, 1, 250]);
    tanh.calls.length = 0;
    const small = await attribute('saliency', { model: tanh, input, target: 0 }, { noise: 'smoothgrad', batchSize: 10 });
    small.attribution.dispose();
    assert.deepEqual(tanh.calls, [10, 10, 5]);
    input.dispose();
    tanh.dispose();
  });

  test('a method without attributeBatch is called once per sample and gives the same result', async () => {
    const tanh = tanhModel();
    const input = inputTensor(tanh, inputData(tanh, 1));
    const saliency = getMethod('saliency');
    const unbatched: AttributionMethod = { ...saliency, attributeBatch: undefined };
    const options: MethodOptions = { noise: 'smoothgrad_sq', samples: 7, seed: 3 };
    const batched = await take((await noiseTunnel(saliency, { model: tanh, input, target: 1 }, options)).attribution);
    tanh.calls.length = 0;
    const reports: [number, number][] = [];
    const single = await take(
      (await noiseTunnel(unbatched, { model: tanh, input, target: 1, onProgress: (d, t) => reports.push([d, t]) }, options))
        .attribution,
    );
    assert.deepEqual(tanh.calls, new Array(7).fill(1));
    assertClose(single, batched, 1e-6);
    assert.deepEqual(reports.at(-1), [7, 7]);
    input.dispose();
    tanh.dispose();
  });

  test('same seed, same result; another seed, another result; progress reaches the total', async () => {
    const tanh = tanhModel();
    const input = inputTensor(tanh, inputData(tanh, 1));
    const reports: [number, number][] = [];
    const run = async (seed: number): Promise<number[]> =>
      take(
        (
          await attribute(
            'integrated_gradients',
            { model: tanh, input, target: 0, onProgress: (d, t) => reports.push([d, t]) },
            { noise: 'smoothgrad', samples: 4, steps: 6, seed, batchSize: 5 },
          )
        ).attribution,
      );
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    assert.deepEqual(a, b);
    assert.ok(a.some((v, i) => v !== c[i]));
    assert.deepEqual(reports.at(-1), [24, 24]);
    input.dispose();
    tanh.dispose();
  });

  test('bad noise options, cancellation, tensor hygiene', async () => {
    const tanh = tanhModel();
    const input = inputTensor(tanh, inputData(tanh, 1));
    const request = { model: tanh, input, target: 0 };
    const cases: [MethodOptions, string][] = [
      [{ noise: 'bogus' as MethodOptions['noise'] }, "unknown noise 'bogus': expected one of smoothgrad, smoothgrad_sq, vargrad"],
      [{ noise: 'smoothgrad', samples: 0 }, 'samples must be a positive integer, got 0'],
      [{ noise: 'smoothgrad', stdev: -0.1 }, 'stdev must be a non-negative number (a fraction of the input range), got -0.1'],
      [{ stdev: 0.2 }, "option 'stdev' only applies with a noise tunnel (noise: smoothgrad, smoothgrad_sq or vargrad)"],
    ];
    for (const [options, message] of cases) {
      await expectTensorDelta(0, () =>
        assert.rejects(attribute('saliency', request, options), (e: unknown) => e instanceof InputError && e.message === message),
      );
    }
    const controller = new AbortController();
    await expectTensorDelta(0, () =>
      assert.rejects(
        attribute(
          'integrated_gradients',
          { ...request, signal: controller.signal, onProgress: (done) => done >= 30 && controller.abort() },
          { noise: 'vargrad', samples: 10, steps: 20, batchSize: 10, baseline: 'blur' },
        ),
        CancelledError,
      ),
    );
    input.dispose();
    tanh.dispose();
  });
});

describe('noise tunnel: cpu and wasm agree to 1e-5', () => {
  test('smoothgrad, smoothgrad_sq, vargrad of saliency and IG', async () => {
    const cases: [string, MethodOptions][] = [
      ['saliency', { noise: 'smoothgrad' }],
      ['saliency', { noise: 'smoothgrad_sq', abs: false }],
      ['input_x_gradient', { noise: 'vargrad', samples: 10 }],
      ['integrated_gradients', { noise: 'smoothgrad', samples: 5, steps: 16 }],
      ['integrated_gradients', { noise: 'vargrad', samples: 5, steps: 16, baseline: 'uniform' }],
    ];
    const runs: Record<string, number[][]> = { cpu: [], wasm: [] };
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      const tanh = tanhModel();
      const input = inputTensor(tanh, inputData(tanh, 12, 2));
      for (const [id, options] of cases) {
        const r = await expectTensorDelta(1, () => attribute(id, { model: tanh, input, target: 1 }, options));
        runs[backend].push(await take(r.attribution));
      }
      tf.dispose(input);
      tanh.dispose();
    }
    cases.forEach(([id, options], i) => assertClose(runs.wasm[i], runs.cpu[i], 1e-5, `${id} ${JSON.stringify(options)}`));
  });
});
