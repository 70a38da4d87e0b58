import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { CancelledError, InputError } from '../../src/engine/errors';
import { defaultBlurSigma, gaussianBlur, gaussianKernel } from '../../src/engine/attribution/baselines';
import { BACKWARD_FACTOR, batchSizeFor, MAX_BATCH, memoryBudget } from '../../src/engine/attribution/batching';
import type { MethodOptions } from '../../src/engine/attribution/method';
import { QUADRATURE_RULES } from '../../src/engine/attribution/quadrature';
import { attribute, getMethod, METHODS, methodIds, validateOptions } from '../../src/engine/attribution/registry';
import { TEST_BACKENDS } from './helpers/fixtures';
import {
  assertClose,
  convModel,
  expectTensorDelta,
  inputData,
  inputTensor,
  linearModel,
  type LinearToy,
  take,
  tanhModel,
  type TanhToy,
} from './helpers/toy-models';

const BACKENDS = TEST_BACKENDS;

async function rejectsInput(promise: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

/** IG of the tanh model by composite Simpson (2000 intervals) in float64 JS. */
function tanhIG(m: TanhToy, x: number[], base: number[], target: number): number[] {
  const d = x.length;
  const grad = (z: number[]): number[] => {
    const g = new Array<number>(d).fill(0);
    m.W.forEach((row, j) => {
      const t = Math.tanh(row.reduce((s, w, i) => s + w * z[i], 0));
      const coef = m.V[target][j] * (1 - t * t);
      for (let i = 0; i < d; i++) g[i] += coef * row[i];
    });
    return g;
  };
  const intervals = 2000;
  const total = new Array<number>(d).fill(0);
  for (let k = 0; k <= intervals; k++) {
    const a = k / intervals;
    const w = (k === 0 || k === intervals ? 1 : k % 2 === 1 ? 4 : 2) / (3 * intervals);
    const g = grad(x.map((xi, i) => base[i] + a * (xi - base[i])));
    for (let i = 0; i < d; i++) total[i] += w * g[i];
  }
  return total.map((t, i) => (x[i] - base[i]) * t);
}

for (const backend of BACKENDS) {
  describe(`gradient methods on ${backend}`, () => {
    let lin: LinearToy;
    let tanh: TanhToy;
    let x: number[];
    const target = 1;
    before(async () => {
      await initBackend(backend);
      lin = linearModel();
      tanh = tanhModel();
      x = inputData(lin);
    });
    after(() => {
      lin.dispose();
      tanh.dispose();
    });

    test('saliency of a linear model is |W[target]| (abs by default) and W[target] with abs: false', async () => {
      const input = inputTensor(lin, x);
      const w = lin.W[target];
      const absMap = await take((await attribute('saliency', { model: lin, input, target })).attribution);
      assertClose(absMap, w.map(Math.abs), 1e-6, 'abs');
      const signed = await take((await attribute('saliency', { model: lin, input, target }, { abs: false })).attribution);
      assertClose(signed, w, 1e-6, 'signed');
      input.dispose();
    });

    test('input_x_gradient of a linear model is x ⊙ W[target]', async () => {
      const input = inputTensor(lin, x);
      const result = await attribute('input_x_gradient', { model: lin, input, target });
      assert.deepEqual(result.attribution.shape, [1, 2, 5, 6]);
      assertClose(await take(result.attribution), x.map((v, i) => v * lin.W[target][i]), 1e-6);
      input.dispose();
    });

    test('IG on a linear model is (x - x′)·w for every rule (Captum trapezoid: × (n-1)/n)', async () => {
      const input = inputTensor(lin, x);
      const w = lin.W[target];
      const baseValues = inputData(lin, 5, 0.3);
      const userBaseline = tf.tensor(baseValues, [1, 2, 5, 6]);
      for (const rule of QUADRATURE_RULES) {
        for (const steps of [2, 7, 50]) {
          for (const [name, baseline, base] of [
            ['zero', 'zero', x.map(() => 0)],
            ['user tensor', userBaseline, baseValues],
          ] as const) {
            const result = await attribute('integrated_gradients', { model: lin, input, target }, { rule, steps, baseline });
            const scale = rule === 'riemann_trapezoid' ? (steps - 1) / steps : 1;
            const expected = x.map((v, i) => (v - base[i]) * w[i] * scale);
            assertClose(await take(result.attribution), expected, 1e-5, `${rule} ${steps} ${name}`);
            const difference = x.reduce((s, v, i) => s + (v - base[i]) * w[i], 0);
            assert.ok(Math.abs((result.outputDifference as number) - difference) < 1e-5 * Math.abs(difference) + 1e-6);
            const expectedDelta = (scale - 1) * difference;
            assert.ok(Math.abs((result.delta as number) - expectedDelta) < 1e-4, `${rule} delta ${result.delta}`);
          }
        }
      }
      userBaseline.dispose();
      input.dispose();
    });

    test('IG with a blurred baseline on a linear model is (x - blur(x))·w; uniform stays in [min x, max x]', async () => {
      const input = inputTensor(lin, x);
      const w = lin.W[target];
      const blurred = gaussianBlur(Float32Array.from(x), [2, 5, 6], { c: 0, h: 1, w: 2 }, defaultBlurSigma(5, 6));
      const blur = await attribute('integrated_gradients', { model: lin, input, target }, { baseline: 'blur', steps: 4 });
      assertClose(await take(blur.attribution), x.map((v, i) => (v - blurred[i]) * w[i]), 1e-5, 'blur');

      const lo = Math.min(...x);
      const hi = Math.max(...x);
      const runUniform = async (seed: number): Promise<number[]> => {
        const r = await attribute('integrated_gradients', { model: lin, input, target }, { baseline: 'uniform', seed, steps: 4 });
        assert.ok(Math.abs(r.delta as number) < 1e-4);
        const attr = await take(r.attribution);
        return attr.map((a, i) => x[i] - a / w[i]); // recovered baseline
      };
      const b1 = await runUniform(3);
      const b2 = await runUniform(3);
      const b3 = await runUniform(4);
      assert.ok(b1.every((v) => v >= lo - 1e-4 && v <= hi + 1e-4), 'uniform baseline within the input range');
      assertClose(b1, b2, 1e-6, 'same seed, same baseline');
      assert.ok(b1.some((v, i) => Math.abs(v - b3[i]) > 1e-3), 'another seed, another baseline');
      input.dispose();
    });

    test('IG completeness on V·tanh(W·x): gausslegendre, 64 steps, |delta| < 1e-3·|F(x) - F(0)|', async () => {
      const xt = inputData(tanh, 42, 2);
      const input = inputTensor(tanh, xt);
      for (const t of [0, 1, 2]) {
        const result = await attribute('integrated_gradients', { model: tanh, input, target: t }, { steps: 64 });
        const difference = tanh.f(xt)[t] - tanh.f(xt.map(() => 0))[t];
        assert.ok(Math.abs((result.outputDifference as number) - difference) < 1e-5 * Math.abs(difference) + 1e-6);
        assert.ok(Math.abs(result.delta as number) < 1e-3 * Math.abs(difference), `delta ${result.delta} vs ${difference}`);
        const expected = tanhIG(tanh, xt, xt.map(() => 0), t);
        assertClose(await take(result.attribution), expected, 1e-4, `IG target ${t}`);
      }
      input.dispose();
    });
  });
}

describe('cpu and wasm agree to 1e-5', () => {
  test('saliency, input_x_gradient, IG (every rule), on the nonlinear model', async () => {
    const tanh = tanhModel();
    const xt = inputData(tanh, 42, 2);
    const runs: Record<string, number[][]> = { cpu: [], wasm: [] };
    const cases: [string, MethodOptions][] = [
      ['saliency', {}],
      ['saliency', { abs: false }],
      ['input_x_gradient', {}],
      ...QUADRATURE_RULES.map((rule): [string, MethodOptions] => ['integrated_gradients', { rule, steps: 20 }]),
      ['integrated_gradients', { baseline: 'blur' }],
      ['integrated_gradients', { baseline: 'uniform', seed: 9 }],
    ];
    for (const backend of BACKENDS) {
      await initBackend(backend);
      const input = inputTensor(tanh, xt);
      for (const [id, options] of cases) {
        const result = await attribute(id, { model: tanh, input, target: 2 }, options);
        runs[backend].push(await take(result.attribution));
      }
      input.dispose();
    }
    cases.forEach(([id, options], i) => assertClose(runs.wasm[i], runs.cpu[i], 1e-5, `${id} ${JSON.stringify(options)}`));
    tanh.dispose();
  });
});

describe('registry and option validation', () => {
  let lin: LinearToy;
  let x: number[];
  before(async () => {
    await initBackend('cpu');
    lin = linearModel();
    x = inputData(lin);
  });
  after(() => lin.dispose());

  test('lists the methods by id', () => {
    // The method ids of the CLI contract (shared/DESIGN.md), each registered once.
    const contract = ['saliency', 'input_x_gradient', 'integrated_gradients', 'lrp_epsilon', 'deeplift', 'guided_backprop', 'deconvnet',
      'guided_gradcam', 'occlusion', 'gradcam', 'gradient_shap', 'boundary_ig', 'boundary_normal', 'manifold_projected'];
    assert.deepEqual([...methodIds()].sort(), [...contract].sort());
    assert.equal(getMethod('integrated_gradients').hasDelta, true);
    assert.equal(getMethod('input_x_gradient').multipliesByInput, true);
    assert.ok(METHODS.every((m) => m.attributeBatch !== undefined));
  });

  test('every bad option is an InputError with one clear line, and leaks nothing', async () => {
    const input = inputTensor(lin, x);
    const request = { model: lin, input, target: 0 };
    const cases: [string, MethodOptions, string][] = [
      ['integrated_gradients', { steps: 0 }, 'steps must be a positive integer, got 0'],
      ['integrated_gradients', { steps: -5 }, 'steps must be a positive integer, got -5'],
      ['integrated_gradients', { steps: 1.5 }, 'steps must be a positive integer, got 1.5'],
      ['integrated_gradients', { rule: 'simpson' }, `unknown rule 'simpson': expected one of ${QUADRATURE_RULES.join(', ')}`],
      ['integrated_gradients', { rule: 'riemann_left', steps: 1 }, 'rule riemann_left needs at least 2 steps, got 1'],
      [
        'integrated_gradients',
        { baseline: 'gray' },
        "unknown baseline 'gray': expected zero, blur, uniform, blur:<sigma>, a .npy file",
      ],
      ['integrated_gradients', { baseline: 'blur:-1' }, "baseline 'blur:-1': the blur sigma must be a positive number of pixels"],
      ['integrated_gradients', { seed: 0.5 }, 'seed must be an integer, got 0.5'],
      [
        'saliency',
        { steps: 10 },
        "method 'saliency' does not take option 'steps': it takes abs, batchSize, noise, samples, stdev, seed",
      ],
      [
        'saliency',
        { bogus: 1 } as unknown as MethodOptions,
        "method 'saliency' does not take option 'bogus': it takes abs, batchSize, noise, samples, stdev, seed",
      ],
      [
        'input_x_gradient',
        { abs: true },
        "method 'input_x_gradient' does not take option 'abs': it takes batchSize, noise, samples, stdev, seed",
      ],
      ['saliency', { samples: 10 }, "option 'samples' only applies with a noise tunnel (noise: smoothgrad, smoothgrad_sq or vargrad)"],
      ['saliency', { abs: 'yes' as unknown as boolean }, 'abs must be true or false, got yes'],
      ['saliency', { batchSize: 0 }, 'batchSize must be a positive integer, got 0'],
    ];
    for (const [id, options, message] of cases) {
      await expectTensorDelta(0, () => rejectsInput(attribute(id, request, options), message));
    }
    await rejectsInput(
      attribute('lrp_magic', request),
      `unknown method 'lrp_magic': expected one of ${methodIds().join(', ')}`,
    );
    // undefined options count as absent
    validateOptions(getMethod('saliency'), { steps: undefined, abs: undefined });
    input.dispose();
  });

  test('bad requests: target out of range, wrong input shape, wrong baseline shape', async () => {
    const input = inputTensor(lin, x);
    await rejectsInput(attribute('saliency', { model: lin, input, target: 3 }), 'target 3 is not a class index: expected an integer in 0..2');
    const wrong = tf.zeros([1, 2, 6, 5]);
    await rejectsInput(
      attribute('saliency', { model: lin, input: wrong, target: 0 }),
      'input has shape [1, 2, 6, 5], the model expects [1, 2, 5, 6]',
    );
    const two = tf.zeros([2, 2, 5, 6]);
    await rejectsInput(attribute('saliency', { model: lin, input: two, target: 0 }), 'input has shape [2, 2, 5, 6], the model expects [1, 2, 5, 6]');
    const badBaseline = tf.zeros([1, 60]);
    await expectTensorDelta(0, () =>
      rejectsInput(
        attribute('integrated_gradients', { model: lin, input, target: 0 }, { baseline: badBaseline }),
        'baseline has shape [1, 60], expected the input\'s shape [1, 2, 5, 6] or [2, 5, 6]',
      ),
    );
    // a baseline without the batch dimension is fine
    const noBatch = tf.zeros([2, 5, 6]);
    tf.dispose((await attribute('integrated_gradients', { model: lin, input, target: 0 }, { baseline: noBatch })).attribution);
    tf.dispose([wrong, two, badBaseline, noBatch, input]);
  });
});

describe('tensor hygiene: numTensors unchanged except the result', () => {
  for (const backend of BACKENDS) {
    test(`every method and option family on ${backend}`, async () => {
      await initBackend(backend);
      const conv = convModel();
      const input = inputTensor(conv, inputData(conv, 3));
      const userBaseline = tf.onesLike(input);
      const cases: [string, MethodOptions][] = [
        ['saliency', {}],
        ['input_x_gradient', {}],
        ['integrated_gradients', { steps: 8, batchSize: 3 }],
        ['integrated_gradients', { steps: 8, baseline: 'blur' }],
        ['integrated_gradients', { steps: 8, baseline: 'uniform' }],
        ['integrated_gradients', { steps: 8, baseline: userBaseline }],
        ['occlusion', { window: [2, 2], batchSize: 4 }],
        ['occlusion', { window: [3, 3], stride: [2, 2], baseline: 'blur' }],
        ['gradcam', { layer: 'pool1' }],
        ['gradcam', { layer: 'relu1', upsample: true }],
        ['saliency', { noise: 'smoothgrad', samples: 5 }],
        ['integrated_gradients', { noise: 'vargrad', samples: 3, steps: 4, baseline: 'blur' }],
        ['gradcam', { layer: 'conv1', noise: 'smoothgrad_sq', samples: 3 }],
        ['occlusion', { noise: 'smoothgrad', samples: 2, window: [3, 3] }],
      ];
      for (const [id, options] of cases) {
        const result = await expectTensorDelta(1, () => attribute(id, { model: conv, input, target: 2 }, options));
        result.attribution.dispose();
      }
      // failures leak nothing either (this one fails inside the tidy, after split ran)
      await expectTensorDelta(0, () =>
        assert.rejects(attribute('gradcam', { model: conv, input, target: 2 }, { layer: 'fc' }), InputError),
      );
      tf.dispose([input, userBaseline]);
      conv.dispose();
    });
  }
});

describe('cancellation and progress', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('aborting mid-IG rejects with CancelledError and leaks nothing', async () => {
    const tanh = tanhModel();
    const input = inputTensor(tanh, inputData(tanh, 1));
    const controller = new AbortController();
    const reports: number[] = [];
    await expectTensorDelta(0, () =>
      assert.rejects(
        attribute(
          'integrated_gradients',
          {
            model: tanh,
            input,
            target: 0,
            signal: controller.signal,
            onProgress: (done) => {
              reports.push(done);
              if (done >= 8) controller.abort();
            },
          },
          { steps: 50, batchSize: 4 },
        ),
        CancelledError,
      ),
    );
    assert.deepEqual(reports, [0, 4, 8]);
    // 2 forward passes (F(x), F(x')) and 2 backward batches ran, not all 13
    assert.deepEqual(tanh.calls, [1, 1, 4, 4]);
    input.dispose();
    tanh.dispose();
  });

  test('an already-aborted signal cancels every method before any pass', async () => {
    const conv = convModel();
    const input = inputTensor(conv, inputData(conv, 3));
    const signal = AbortSignal.abort();
    for (const id of methodIds()) {
      const options: MethodOptions = id === 'gradcam' || id === 'guided_gradcam' ? { layer: 'pool1' } : {};
      await expectTensorDelta(0, () => assert.rejects(attribute(id, { model: conv, input, target: 0, signal }, options), CancelledError));
    }
    await assert.rejects(
      attribute('saliency', { model: conv, input, target: 0, signal }, { noise: 'smoothgrad' }),
      CancelledError,
    );
    assert.deepEqual(conv.calls, []);
    input.dispose();
    conv.dispose();
  });

  test('progress counts units of work up to the total', async () => {
    const tanh = tanhModel();
    const input = inputTensor(tanh, inputData(tanh, 1));
    const reports: [number, number][] = [];
    const r = await attribute(
      'integrated_gradients',
      { model: tanh, input, target: 0, onProgress: (d, t) => reports.push([d, t]) },
      { steps: 10, batchSize: 4 },
    );
    r.attribution.dispose();
    assert.deepEqual(reports, [
      [0, 10],
      [4, 10],
      [8, 10],
      [10, 10],
    ]);
    input.dispose();
    tanh.dispose();
  });
});

describe('batching', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('batch size from the activation estimate and the backend budget; batchSize overrides', async () => {
    const tanh = tanhModel();
    const MiB = 1024 * 1024;
    const big = Object.assign(Object.create(tanh), { activationBytesPerSample: 100 * MiB }) as typeof tanh;
    assert.equal(memoryBudget('wasm'), 0.6 * 4096 * MiB); // not the active backend: nothing resident counted
    assert.equal(memoryBudget('cpu'), 1024 * MiB);
    const perSample = BACKWARD_FACTOR * 100 * MiB + 2 * 4 * 16;
    assert.equal(batchSizeFor(big, 'backward', {}), Math.floor((1024 * MiB) / perSample)); // 3
    assert.equal(batchSizeFor(big, 'forward', {}), Math.floor((1024 * MiB) / (100 * MiB + 2 * 4 * 16))); // 10
    assert.equal(batchSizeFor(tanh, 'backward', {}), MAX_BATCH);
    assert.equal(batchSizeFor(tanh, 'backward', {}, 7), 7);
    assert.equal(batchSizeFor(big, 'backward', { batchSize: 20 }, 50), 20);
    assert.equal(batchSizeFor(big, 'backward', { batchSize: 80 }, 50), 50);
    const huge = Object.assign(Object.create(tanh), { activationBytesPerSample: 8 * 1024 * MiB }) as typeof tanh;
    assert.equal(batchSizeFor(huge, 'backward', {}), 1);

    // IG with 50 steps on the "big" model: backward passes of 3 inputs; the default model: one pass.
    const input = inputTensor(tanh, inputData(tanh, 1));
    tf.dispose((await attribute('integrated_gradients', { model: big, input, target: 0 }, {})).attribution);
    assert.deepEqual(tanh.calls.slice(2), [...new Array(16).fill(3), 2]);
    tanh.calls.length = 0;
    tf.dispose((await attribute('integrated_gradients', { model: tanh, input, target: 0 }, {})).attribution);
    assert.deepEqual(tanh.calls, [1, 1, 50]);
    input.dispose();
    tanh.dispose();
  });
});

describe('blur baseline', () => {
  test('scipy.ndimage.gaussian_filter semantics: normalized kernel, reflect borders, mass preserved', () => {
    const sigma = 1.3;
    const kernel = gaussianKernel(sigma);
    assert.equal(kernel.length, 2 * Math.floor(4 * sigma + 0.5) + 1);
    assert.ok(Math.abs(kernel.reduce((a, b) => a + b, 0) - 1) < 1e-15);
    // an impulse in the middle of a large image becomes the outer product of the kernel
    const n = 21;
    const impulse = new Float32Array(n * n);
    impulse[10 * n + 10] = 1;
    const out = gaussianBlur(impulse, [1, n, n], { c: 0, h: 1, w: 2 }, sigma);
    const r = (kernel.length - 1) / 2;
    for (const [dy, dx] of [[0, 0], [1, 2], [-3, 0], [5, 5]]) {
      // k(dy)·k(dx) = k(0)² · exp(-(dy² + dx²) / 2σ²)
      const expected = kernel[r] * kernel[r] * Math.exp(-(dy * dy + dx * dx) / (2 * sigma * sigma));
      assert.ok(Math.abs(out[(10 + dy) * n + 10 + dx] - expected) < 1e-7, `${dy},${dx}`);
    }
    // reflect borders keep the total and a constant image constant; channels are independent
    const x = Float32Array.from(inputData(linearModel(), 2));
    const blurred = gaussianBlur(x, [2, 5, 6], { c: 0, h: 1, w: 2 }, 2.5);
    for (const c of [0, 1]) {
      const sum = (a: Float32Array): number => a.subarray(c * 30, (c + 1) * 30).reduce((s, v) => s + v, 0);
      assert.ok(Math.abs(sum(blurred) - sum(x)) < 1e-5, 'mass preserved per channel');
    }
    const flat = gaussianBlur(new Float32Array(30).fill(0.7), [1, 5, 6], { c: 0, h: 1, w: 2 }, 3);
    assert.ok(flat.every((v) => Math.abs(v - 0.7) < 1e-6));
    // a 1-pixel-wide reflect: mirror of [a, b] is ... b a | a b | b a ...
    const two = gaussianBlur(Float32Array.from([1, 0]), [1, 1, 2], { c: 0, h: 1, w: 2 }, 0.5);
    const k = gaussianKernel(0.5); // radius 2: taps at -2..2 map to indices 1,0,0,1,1 for position 0
    assert.ok(Math.abs(two[0] - (k[1] + k[2])) < 1e-7);
    // default sigma: Sturmfels et al.'s 20 px at 299 px, scaled
    assert.ok(Math.abs(defaultBlurSigma(299, 299) - 20) < 1e-12);
    assert.ok(Math.abs(defaultBlurSigma(224, 224) - (20 * 224) / 299) < 1e-12);
  });
});
