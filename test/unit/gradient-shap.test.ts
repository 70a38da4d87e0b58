import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defaultBlurSigma, gaussianBlur } from '../../src/engine/attribution/baselines';
import type { MethodOptions } from '../../src/engine/attribution/method';
import { attribute, getMethod } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import { CancelledError, InputError } from '../../src/engine/errors';
import { TEST_BACKENDS } from './helpers/fixtures';
import {
  assertClose,
  expectTensorDelta,
  inputData,
  inputTensor,
  linearModel,
  type LinearToy,
  take,
  tanhModel,
  type TanhToy,
} from './helpers/toy-models';

/**
 * GradientSHAP (Captum's GradientShap): the mean over draws of (x̃ − b) ⊙ ∇F(b + α(x̃ − b)) with b
 * drawn from a baseline distribution, α ~ U(0, 1) and x̃ = x + noise. On a linear model every draw
 * gives (x̃ − b) ⊙ w, whatever α: exactly (x − b) ⊙ w for one baseline without noise, and
 * (x − E[b]) ⊙ w in expectation otherwise.
 */

const target = 1;

/** Per element, |actual − expected| ≤ k · sd[i] / √n (a k-sigma statistical bound). */
function assertWithinSigma(actual: number[], expected: number[], sd: number[], n: number, k: number, message: string): void {
  actual.forEach((a, i) => {
    const bound = (k * sd[i]) / Math.sqrt(n) + 1e-6;
    if (!(Math.abs(a - expected[i]) <= bound)) {
      throw new Error(`${message} [${i}]: ${a} vs expected ${expected[i]} (bound ${bound.toExponential(2)})`);
    }
  });
}

async function rejectsInput(promise: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

for (const backend of TEST_BACKENDS) {
  describe(`gradient_shap on a linear model (${backend})`, () => {
    let lin: LinearToy;
    let x: number[];
    let input: tf.Tensor;
    let w: number[];
    before(async () => {
      await initBackend(backend);
      lin = linearModel();
      x = inputData(lin);
      input = inputTensor(lin, x);
      w = lin.W[target];
    });
    after(() => {
      input.dispose();
      lin.dispose();
    });

    test('one baseline, no noise: exactly (x − b)·w for any α; delta 0', async () => {
      const base = inputData(lin, 5, 0.3);
      for (const [name, baseline] of [
        ['[1, ...shape]', tf.tensor(base, [1, 2, 5, 6])],
        ['[...shape]', tf.tensor(base, [2, 5, 6])],
      ] as const) {
        const result = await expectTensorDelta(1, () =>
          attribute('gradient_shap', { model: lin, input, target }, { baseline, samples: 7, seed: 3 }),
        );
        assertClose(await take(result.attribution), x.map((v, i) => (v - base[i]) * w[i]), 1e-5, name);
        const difference = x.reduce((s, v, i) => s + (v - base[i]) * w[i], 0);
        assert.ok(Math.abs((result.outputDifference as number) - difference) < 1e-5 * Math.abs(difference) + 1e-6);
        assert.ok(Math.abs(result.delta as number) < 1e-4, `delta ${result.delta}`);
        baseline.dispose();
      }
      // the default baseline is zero: x·w
      const zero = await attribute('gradient_shap', { model: lin, input, target }, { samples: 3 });
      assertClose(await take(zero.attribution), x.map((v, i) => v * w[i]), 1e-5, 'zero');
    });

    test('a set of K baselines: (x − E[b])·w within 4σ/√samples; delta 0 (the linear model is exact per draw)', async () => {
      const K = 4;
      const sets = Array.from({ length: K }, (_, k) => inputData(lin, 10 + k, 0.8));
      const baseline = tf.tensor(sets.flat(), [K, 2, 5, 6]);
      const samples = 4000;
      const result = await attribute('gradient_shap', { model: lin, input, target }, { baseline, samples, seed: 1 });
      const mean = x.map((_, i) => sets.reduce((s, b) => s + b[i], 0) / K);
      const sd = x.map((_, i) => Math.sqrt(sets.reduce((s, b) => s + (b[i] - mean[i]) ** 2, 0) / K) * Math.abs(w[i]));
      const attr = await take(result.attribution);
      assertWithinSigma(attr, x.map((v, i) => (v - mean[i]) * w[i]), sd, samples, 4, 'set of 4');
      assert.ok(Math.abs(result.delta as number) < 1e-3, `delta ${result.delta}`);
      // F(x) − mean over the draws of F(b): close to F(x) − mean F(b_k)
      const f = (z: number[]): number => z.reduce((s, v, i) => s + v * w[i], lin.b[target]);
      const expected = f(x) - sets.reduce((s, b) => s + f(b), 0) / K;
      const spread = Math.sqrt(sets.reduce((s, b) => s + (f(b) - (f(x) - expected)) ** 2, 0) / K);
      assert.ok(Math.abs((result.outputDifference as number) - expected) < (4 * spread) / Math.sqrt(samples) + 1e-6);
      // the same seed draws the same; another seed draws differently
      const again = await attribute('gradient_shap', { model: lin, input, target }, { baseline, samples, seed: 1 });
      assertClose(await take(again.attribution), attr, 0, 'same seed');
      const other = await attribute('gradient_shap', { model: lin, input, target }, { baseline, samples: 20, seed: 2 });
      const otherSeed = await attribute('gradient_shap', { model: lin, input, target }, { baseline, samples: 20, seed: 3 });
      const a = await take(other.attribution);
      const b = await take(otherSeed.attribution);
      assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-4), 'another seed, other draws');
      baseline.dispose();
    });

    test('Gaussian noise (stdev a fraction of the input range): (x − b)·w within 4σ/√samples', async () => {
      const samples = 3000;
      const stdev = 0.2;
      const sigma = stdev * (Math.max(...x) - Math.min(...x));
      const result = await attribute('gradient_shap', { model: lin, input, target }, { stdev, samples, seed: 4 });
      const attr = await take(result.attribution);
      assertWithinSigma(attr, x.map((v, i) => v * w[i]), w.map((wi) => sigma * Math.abs(wi)), samples, 4, 'noise');
      // the noise does move it: not exactly x·w
      assert.ok(attr.some((v, i) => Math.abs(v - x[i] * w[i]) > 1e-4));
      assert.ok(Math.abs(result.delta as number) < 1e-3, `delta ${result.delta}`);
    });

    test("'uniform': a fresh noise image in [min x, max x] per draw, (x − (min + max)/2)·w in expectation; 'blur': (x − blur(x))·w", async () => {
      const samples = 3000;
      const lo = Math.min(...x);
      const hi = Math.max(...x);
      const result = await attribute('gradient_shap', { model: lin, input, target }, { baseline: 'uniform', samples, seed: 6 });
      const sd = w.map((wi) => ((hi - lo) / Math.sqrt(12)) * Math.abs(wi));
      assertWithinSigma(await take(result.attribution), x.map((v, i) => (v - (lo + hi) / 2) * w[i]), sd, samples, 4, 'uniform');
      assert.ok(Math.abs(result.delta as number) < 1e-3, `delta ${result.delta}`);

      const blurred = gaussianBlur(Float32Array.from(x), [2, 5, 6], { c: 0, h: 1, w: 2 }, defaultBlurSigma(5, 6));
      const blur = await attribute('gradient_shap', { model: lin, input, target }, { baseline: 'blur', samples: 5 });
      assertClose(await take(blur.attribution), x.map((v, i) => (v - blurred[i]) * w[i]), 1e-5, 'blur');
    });
  });
}

describe('gradient_shap on V·tanh(W·x)', () => {
  let tanh: TanhToy;
  before(async () => {
    await initBackend('cpu');
    tanh = tanhModel();
  });
  after(() => tanh.dispose());

  test('one baseline, no noise: a Monte-Carlo IG (random α), so its mean is IG within the sampling error', async () => {
    const x = inputData(tanh, 42, 2);
    const input = inputTensor(tanh, x);
    const t = 2;
    // IG from 0 by Simpson's rule (float64), and the per-α integrand for the sampling error.
    const d = x.length;
    const integrand = (a: number): number[] => {
      const z = x.map((v) => a * v);
      const g = new Array<number>(d).fill(0);
      tanh.W.forEach((row, j) => {
        const h = Math.tanh(row.reduce((s, wi, i) => s + wi * z[i], 0));
        const coef = tanh.V[t][j] * (1 - h * h);
        for (let i = 0; i < d; i++) g[i] += coef * row[i];
      });
      return g.map((gi, i) => gi * x[i]);
    };
    const grid = 2000;
    const ig = new Array<number>(d).fill(0);
    const second = new Array<number>(d).fill(0);
    for (let k = 0; k <= grid; k++) {
      const wk = (k === 0 || k === grid ? 1 : k % 2 === 1 ? 4 : 2) / (3 * grid);
      const v = integrand(k / grid);
      for (let i = 0; i < d; i++) {
        ig[i] += wk * v[i];
        second[i] += wk * v[i] * v[i];
      }
    }
    const sd = ig.map((m, i) => Math.sqrt(Math.max(0, second[i] - m * m)));
    const samples = 4000;
    const result = await attribute('gradient_shap', { model: tanh, input, target: t }, { samples, seed: 11 });
    assertWithinSigma(await take(result.attribution), ig, sd, samples, 4.5, 'E[GradientSHAP] = IG');
    // Captum's delta: Σ attribution − (F(x) − F(0)), small relative to the output difference
    const difference = tanh.f(x)[t] - tanh.f(x.map(() => 0))[t];
    assert.ok(Math.abs((result.outputDifference as number) - difference) < 1e-5 * Math.abs(difference) + 1e-6);
    assert.ok(Math.abs(result.delta as number) < 0.05 * Math.abs(difference), `delta ${result.delta} vs ${difference}`);
    input.dispose();
  });
});

describe('gradient_shap: options, errors, hygiene, backends', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('metadata: a path method multiplying by the input, with a delta', () => {
    const method = getMethod('gradient_shap');
    assert.equal(method.hasDelta, true);
    assert.equal(method.multipliesByInput, true);
    assert.ok(method.attributeBatch);
  });

  test('bad options are InputErrors with one clear line and leak nothing', async () => {
    const lin = linearModel();
    const input = inputTensor(lin, inputData(lin));
    const wrong = tf.zeros([3, 60]);
    const wrongDtype = tf.zeros([2, 5, 6], 'bool');
    const cases: [MethodOptions, string][] = [
      [{ samples: 0 }, 'samples must be a positive integer, got 0'],
      [{ samples: 2.5 }, 'samples must be a positive integer, got 2.5'],
      [{ stdev: -0.1 }, 'stdev must be a non-negative number (a fraction of the input range), got -0.1'],
      [{ seed: 0.5 }, 'seed must be an integer, got 0.5'],
      [{ baseline: 'gray' }, "unknown baseline 'gray': expected zero, blur, uniform, blur:<sigma>, a .npy file"],
      [{ baseline: wrong }, 'baseline has shape [3, 60], expected a set of baselines [K, 2, 5, 6] or one baseline [2, 5, 6]'],
      [{ baseline: wrongDtype }, 'baseline has dtype bool, expected a numeric array'],
      [{ steps: 5 }, "method 'gradient_shap' does not take option 'steps': it takes samples, stdev, baseline, seed, batchSize, noise"],
    ];
    for (const [options, message] of cases) {
      await expectTensorDelta(0, () => rejectsInput(attribute('gradient_shap', { model: lin, input, target: 0 }, options), message));
    }
    tf.dispose([input, wrong, wrongDtype]);
    lin.dispose();
  });

  test('batches the draws (batchSize), reports progress in draws, cancels between batches', async () => {
    const tanh = tanhModel();
    const input = inputTensor(tanh, inputData(tanh, 1));
    const reports: number[] = [];
    const r = await attribute(
      'gradient_shap',
      { model: tanh, input, target: 0, onProgress: (done) => reports.push(done) },
      { samples: 10, batchSize: 4 },
    );
    r.attribution.dispose();
    assert.deepEqual(reports, [0, 4, 8, 10]);
    // 3 backward batches of draws, then F(x) and F(0)
    assert.deepEqual(tanh.calls, [4, 4, 2, 1, 1]);
    const controller = new AbortController();
    await expectTensorDelta(0, () =>
      assert.rejects(
        attribute(
          'gradient_shap',
          { model: tanh, input, target: 0, signal: controller.signal, onProgress: (done) => done >= 4 && controller.abort() },
          { samples: 10, batchSize: 4 },
        ),
        CancelledError,
      ),
    );
    input.dispose();
    tanh.dispose();
  });

  test('no leaked tensors with every baseline kind, noise, and under the noise tunnel', async () => {
    const lin = linearModel();
    const input = inputTensor(lin, inputData(lin));
    const set = tf.randomUniform([3, 2, 5, 6]);
    for (const options of [
      {},
      { baseline: 'uniform', stdev: 0.1 },
      { baseline: 'blur' },
      { baseline: set, stdev: 0.1, batchSize: 7 },
      { noise: 'smoothgrad', samples: 3, baseline: set },
    ] as MethodOptions[]) {
      const result = await expectTensorDelta(1, () => attribute('gradient_shap', { model: lin, input, target: 0 }, options));
      result.attribution.dispose();
    }
    tf.dispose([input, set]);
    lin.dispose();
  });

  test('cpu and wasm agree to 1e-5 (same seeded draws)', async () => {
    const runs: Record<string, number[][]> = { cpu: [], wasm: [] };
    const cases: MethodOptions[] = [{ samples: 20 }, { samples: 20, stdev: 0.1, baseline: 'uniform', seed: 3 }, { baseline: 'blur', samples: 8 }];
    for (const backend of TEST_BACKENDS) {
      await initBackend(backend);
      const tanh = tanhModel();
      const input = inputTensor(tanh, inputData(tanh, 42, 2));
      for (const options of cases) {
        const result = await attribute('gradient_shap', { model: tanh, input, target: 2 }, options);
        runs[backend].push(await take(result.attribution));
      }
      input.dispose();
      tanh.dispose();
    }
    cases.forEach((options, i) => assertClose(runs.wasm[i], runs.cpu[i], 1e-5, JSON.stringify(options)));
  });
});
