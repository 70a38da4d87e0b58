import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  defaultEpsilons,
  findBoundaries,
  findBoundary,
  validRange,
  type BoundarySearchOptions,
} from '../../src/engine/adversarial/boundary-search';
import type { MethodOptions } from '../../src/engine/attribution/method';
import { attribute } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import { loadInput } from '../../src/engine/data/input';
import { CancelledError, InputError } from '../../src/engine/errors';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { REPO, TEST_BACKENDS } from './helpers/fixtures';
import { assertClose, expectTensorDelta, inputData, inputTensor, linearModel, type LinearToy, take } from './helpers/toy-models';

/**
 * The decision-boundary search (src/engine/adversarial/boundary-search.ts) and the boundary
 * methods boundary_ig and boundary_normal (PAPERS.md §5), checked against closed forms on linear
 * models: for f = Wx + b with two classes, the boundary is the hyperplane v·x + β = 0
 * (v = w_c − w_k, β = b_c − b_k), the closest L2 point is x − m v/‖v‖² at distance m/‖v‖₂, and the
 * closest L∞ point is x − (m/‖v‖₁) sign(v) at distance m/‖v‖₁ (m = v·x + β > 0, the margin).
 */

const EPSILONS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12];

/** Logits of a linear toy in float64 JS. */
function linearLogits(m: LinearToy, x: ArrayLike<number>): number[] {
  return m.W.map((w, k) => w.reduce((s, wi, i) => s + wi * x[i], m.b[k]));
}

const argmax = (v: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
};

interface ClosedForm {
  c: number;
  k: number;
  v: number[];
  margin: number;
  l2: { distance: number; point: number[] };
  linf: { distance: number; point: number[] };
}

/** The closest boundary point of a two-class linear model, in closed form. */
function closedForm(m: LinearToy, x: number[]): ClosedForm {
  const z = linearLogits(m, x);
  const c = argmax(z);
  const k = 1 - c;
  const v = m.W[c].map((w, i) => w - m.W[k][i]);
  const margin = z[c] - z[k];
  const sq = v.reduce((s, a) => s + a * a, 0);
  const l1 = v.reduce((s, a) => s + Math.abs(a), 0);
  return {
    c,
    k,
    v,
    margin,
    l2: { distance: margin / Math.sqrt(sq), point: x.map((xi, i) => xi - (margin / sq) * v[i]) },
    linf: { distance: margin / l1, point: x.map((xi, i) => xi - (margin / l1) * Math.sign(v[i])) },
  };
}

async function topClassAt(model: Model, point: tf.Tensor): Promise<number> {
  const logits = tf.tidy(() => model.logits(point));
  const values = await logits.data();
  logits.dispose();
  return argmax(values);
}

async function rejectsInput(promise: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

for (const backend of TEST_BACKENDS) {
  describe(`boundary search on a two-class linear model (${backend})`, () => {
    let lin: LinearToy;
    let x: number[];
    let input: tf.Tensor;
    let exact: ClosedForm;
    before(async () => {
      await initBackend(backend);
      lin = linearModel([2, 5, 6], 2, 3);
      x = inputData(lin);
      input = inputTensor(lin, x);
      exact = closedForm(lin, x);
    });
    after(() => {
      input.dispose();
      lin.dispose();
    });

    for (const norm of ['l2', 'linf'] as const) {
      test(`${norm}: the closest point and its distance in closed form; the top class changes there`, async () => {
        const result = await expectTensorDelta(1, () => findBoundary(lin, input, { norm, epsilons: EPSILONS }));
        assert.equal(result.found, true);
        assert.equal(result.norm, norm);
        assert.equal(result.originalClass, exact.c);
        assert.equal(result.crossedTo, exact.k);
        const { distance, point } = exact[norm];
        assert.ok(
          result.distance[norm] >= distance * (1 - 1e-6) && result.distance[norm] <= distance * (1 + 1e-3),
          `distance ${result.distance[norm]} vs closed form ${distance}`,
        );
        // The ε that first crossed is the first schedule entry ≥ the distance.
        assert.equal(result.epsilon, EPSILONS.find((e) => e >= distance));
        assert.equal(await topClassAt(lin, result.point), exact.k, 'top class at the returned point');
        const found = await take(result.point);
        assert.notEqual(argmax(linearLogits(lin, found)), exact.c, 'float64 logits agree');
        assertClose(found, point, 2e-3, `${norm} point`);
        // Both distances are reported, measured on the returned point.
        const x32 = Float32Array.from(x); // the input as the model sees it
        const diff = found.map((p, i) => p - x32[i]);
        assertClose([result.distance.l2, result.distance.linf], [Math.hypot(...diff), Math.max(...diff.map(Math.abs))], 1e-9);
      });
    }

    test('default ε schedule and several restarts: still the closed-form L2 distance', async () => {
      const result = await findBoundary(lin, input, { restarts: 3, seed: 5 });
      result.point.dispose();
      assert.equal(result.found, true);
      assert.ok(Math.abs(result.distance.l2 / exact.l2.distance - 1) < 1e-3, `${result.distance.l2} vs ${exact.l2.distance}`);
    });

    test('no crossing within the schedule: found = false, the point is the input', async () => {
      const small = [exact.l2.distance / 8, exact.l2.distance / 4];
      const result = await expectTensorDelta(1, () => findBoundary(lin, input, { epsilons: small }));
      assert.equal(result.found, false);
      assert.deepEqual(result.distance, { l2: Infinity, linf: Infinity });
      assert.equal(result.epsilon, small[1]);
      assert.equal(result.crossedTo, result.originalClass);
      assertClose(await take(result.point), Float32Array.from(x), 0);
    });
  });
}

describe('boundary search: more cases', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('three classes: the point crosses and is no closer than the nearest of the two hyperplanes', async () => {
    const lin = linearModel([1, 4, 4], 3, 8);
    for (const seed of [1, 2, 3, 4]) {
      const x = inputData(lin, seed);
      const z = linearLogits(lin, x);
      const c = argmax(z);
      const lower = Math.min(
        ...[0, 1, 2]
          .filter((k) => k !== c)
          .map((k) => (z[c] - z[k]) / Math.hypot(...lin.W[c].map((w, i) => w - lin.W[k][i]))),
      );
      const input = inputTensor(lin, x);
      const result = await findBoundary(lin, input, { epsilons: EPSILONS, restarts: 4 });
      assert.equal(result.found, true);
      assert.notEqual(await topClassAt(lin, result.point), c);
      assert.ok(result.distance.l2 >= lower * (1 - 1e-6), `${result.distance.l2} < ${lower}`);
      tf.dispose([input, result.point]);
    }
    lin.dispose();
  });

  test('a batch of inputs is searched together with the same results as one by one', async () => {
    const lin = linearModel([2, 5, 6], 2, 3);
    const xs = [1, 2, 3].map((s) => inputData(lin, s));
    const batch = tf.tensor(xs.flat(), [3, 2, 5, 6]);
    const together = await findBoundaries(lin, batch, { epsilons: EPSILONS });
    for (let i = 0; i < 3; i++) {
      const one = inputTensor(lin, xs[i]);
      const alone = await findBoundary(lin, one, { epsilons: EPSILONS });
      assert.equal(together[i].found, true);
      assert.ok(Math.abs(together[i].distance.l2 - closedForm(lin, xs[i]).l2.distance) < 1e-3 * closedForm(lin, xs[i]).l2.distance);
      assertClose(await take(together[i].point), await take(alone.point), 1e-6, `input ${i}`);
      one.dispose();
    }
    batch.dispose();
    lin.dispose();
  });

  test('valid input range and default schedules follow the preprocessing', () => {
    const spec = {
      name: 'x',
      shape: [3, 2, 2],
      layout: 'NCHW' as const,
      channels: 3,
      height: 2,
      width: 2,
      preprocessing: { scale: 1 / 255, mean: [0.5, 0.4, 0.3], std: [0.25, 0.5, 0.2] },
    };
    const { lo, hi } = validRange(spec);
    assertClose(lo, [-2, -0.8, -1.5], 1e-12);
    assertClose(hi, [2, 1.2, 3.5], 1e-12);
    const linf = defaultEpsilons(spec, 'linf');
    assert.equal(linf.length, 9);
    assertClose([linf[0], linf[8]], [5 / 256, 5], 1e-12); // widest channel: 5
    const l2 = defaultEpsilons(spec, 'l2');
    assert.ok(l2[l2.length - 1] >= 5 * Math.sqrt(12) && l2[l2.length - 2] < 5 * Math.sqrt(12));
    assertClose([l2[0]], [5 / 64], 1e-12);
  });

  test('bad options are InputErrors with one clear line, and leak nothing', async () => {
    const lin = linearModel([2, 5, 6], 2, 3);
    const input = inputTensor(lin, inputData(lin));
    const cases: [BoundarySearchOptions, string][] = [
      [{ norm: 'l3' as 'l2' }, "norm must be 'l2' or 'linf', got l3"],
      [{ epsilons: [] }, 'epsilons must be a non-empty list of increasing positive numbers, got []'],
      [{ epsilons: [0.3, 0.1] }, 'epsilons must be a non-empty list of increasing positive numbers, got [0.3, 0.1]'],
      [{ epsilons: [-1, 1] }, 'epsilons must be a non-empty list of increasing positive numbers, got [-1, 1]'],
      [{ epsilons: 0.5 as unknown as number[] }, 'epsilons must be a non-empty list of increasing positive numbers, got 0.5'],
      [{ pgdSteps: 0 }, 'pgdSteps must be a positive integer, got 0'],
      [{ restarts: 1.5 }, 'restarts must be a positive integer, got 1.5'],
      [{ clamp: 'yes' as unknown as boolean }, 'clamp must be true or false, got yes'],
      [{ seed: 0.5 }, 'seed must be an integer, got 0.5'],
      [
        { clamp: true },
        "clamp: the input lies outside the model's valid input range [0, 255] (pixels 0..255 through its preprocessing); set clamp to false",
      ],
    ];
    for (const [options, message] of cases) {
      await expectTensorDelta(0, () => rejectsInput(findBoundary(lin, input, options), message));
    }
    const wrong = tf.zeros([1, 60]);
    await rejectsInput(findBoundary(lin, wrong), 'input has shape [1, 60], the model expects [1, 2, 5, 6]');
    // The methods validate the same options (through the registry) and their own.
    const methodCases: [string, MethodOptions, string][] = [
      ['boundary_normal', { norm: 'l1' as 'l2' }, "norm must be 'l2' or 'linf', got l1"],
      ['boundary_ig', { steps: 0 }, 'steps must be a positive integer, got 0'],
      ['boundary_ig', { rule: 'simpson' }, "unknown rule 'simpson': expected one of gausslegendre, riemann_left, riemann_right, riemann_middle, riemann_trapezoid"],
      [
        'boundary_normal',
        { steps: 5 },
        "method 'boundary_normal' does not take option 'steps': it takes norm, epsilons, pgdSteps, restarts, clamp, seed, batchSize, noise, samples, stdev",
      ],
      [
        'boundary_ig',
        { epsilons: [1e-4] },
        'no decision-boundary point found: PGD (l2) up to ε = 0.0001 kept the top class ' + closedForm(lin, inputData(lin)).c + '; give larger epsilons',
      ],
    ];
    for (const [id, options, message] of methodCases) {
      await expectTensorDelta(0, () => rejectsInput(attribute(id, { model: lin, input, target: 0 }, options), message));
    }
    tf.dispose([input, wrong]);
    lin.dispose();
  });

  test('an aborted signal cancels the search and the methods before any model pass', async () => {
    const lin = linearModel([2, 5, 6], 2, 3);
    const input = inputTensor(lin, inputData(lin));
    const signal = AbortSignal.abort();
    await expectTensorDelta(0, () => assert.rejects(findBoundary(lin, input, { signal }), CancelledError));
    for (const id of ['boundary_ig', 'boundary_normal']) {
      await expectTensorDelta(0, () => assert.rejects(attribute(id, { model: lin, input, target: 0, signal }), CancelledError));
    }
    assert.deepEqual(lin.calls, []);
    // Aborting mid-search.
    const controller = new AbortController();
    await expectTensorDelta(0, () =>
      assert.rejects(
        findBoundary(lin, input, {
          epsilons: EPSILONS,
          signal: controller.signal,
          onProgress: (done) => {
            if (done >= 3) controller.abort();
          },
        }),
        CancelledError,
      ),
    );
    input.dispose();
    lin.dispose();
  });

  test('progress counts PGD steps and ends at its total', async () => {
    const lin = linearModel([2, 5, 6], 2, 3);
    const input = inputTensor(lin, inputData(lin));
    const reports: [number, number][] = [];
    const result = await findBoundary(lin, input, { epsilons: EPSILONS, pgdSteps: 5, onProgress: (d, t) => reports.push([d, t]) });
    result.point.dispose();
    assert.deepEqual(reports[0], [0, EPSILONS.length * 5 + 1]);
    assert.deepEqual(reports[reports.length - 1], [EPSILONS.length * 5 + 1, EPSILONS.length * 5 + 1]);
    assert.ok(reports.every(([d], i) => i === 0 || d >= reports[i - 1][0]), 'monotone');
    input.dispose();
    lin.dispose();
  });
});

for (const backend of TEST_BACKENDS) {
  describe(`boundary methods on a linear model (${backend})`, () => {
    let lin: LinearToy;
    let x: number[];
    let input: tf.Tensor;
    let exact: ClosedForm;
    before(async () => {
      await initBackend(backend);
      lin = linearModel([2, 5, 6], 2, 3);
      x = inputData(lin);
      input = inputTensor(lin, x);
      exact = closedForm(lin, x);
    });
    after(() => {
      input.dispose();
      lin.dispose();
    });

    for (const norm of ['l2', 'linf'] as const) {
      test(`boundary_ig (${norm}) is (x − x_b)·w_t with x_b the search's point; completeness with F(x_b)`, async () => {
        const options = { norm, epsilons: EPSILONS };
        const search = await findBoundary(lin, input, options);
        const xb = await take(search.point);
        for (const target of [exact.c, exact.k]) {
          const result = await expectTensorDelta(1, () => attribute('boundary_ig', { model: lin, input, target }, { ...options, steps: 16 }));
          const w = lin.W[target];
          assertClose(await take(result.attribution), x.map((xi, i) => (xi - xb[i]) * w[i]), 1e-5, `target ${target}`);
          const difference = linearLogits(lin, x)[target] - linearLogits(lin, xb)[target];
          assert.ok(Math.abs((result.outputDifference as number) - difference) < 1e-5 * Math.abs(difference) + 1e-6);
          assert.ok(Math.abs(result.delta as number) < 1e-4, `delta ${result.delta}`);
          assert.deepEqual(result.boundary, {
            found: true,
            distance: search.distance[norm],
            norm,
            epsilon: search.epsilon,
            originalClass: exact.c,
            crossedTo: exact.k,
          });
        }
        // At x_b the two logits (nearly) tie: BIG explains the whole margin z_c − z_k at x.
        const zb = linearLogits(lin, xb);
        assert.ok(Math.abs(zb[exact.c] - zb[exact.k]) < 1e-3 * exact.margin);
        assert.ok(Math.abs(exact[norm].distance / search.distance[norm] - 1) < 1e-3);
      });
    }

    test('boundary_normal is w_c − w_k for the predicted class and w_k − w_c for the other', async () => {
      for (const norm of ['l2', 'linf'] as const) {
        const result = await expectTensorDelta(1, () =>
          attribute('boundary_normal', { model: lin, input, target: exact.c }, { norm, epsilons: EPSILONS }),
        );
        assertClose(await take(result.attribution), exact.v, 1e-5, `${norm} normal`);
        assert.equal(result.boundary?.crossedTo, exact.k);
        assert.equal(result.delta, undefined);
        const other = await attribute('boundary_normal', { model: lin, input, target: exact.k }, { norm, epsilons: EPSILONS });
        assertClose(await take(other.attribution), exact.v.map((v) => -v), 1e-5, `${norm} other target`);
      }
    });

    test('the noise tunnel wraps the boundary methods; nothing leaks', async () => {
      for (const id of ['boundary_ig', 'boundary_normal']) {
        const result = await expectTensorDelta(1, () =>
          attribute(id, { model: lin, input, target: exact.c }, { noise: 'smoothgrad', samples: 3, stdev: 0.01, epsilons: EPSILONS, ...(id === 'boundary_ig' ? { steps: 4 } : {}) }),
        );
        assert.deepEqual(result.attribution.shape, [1, 2, 5, 6]);
        result.attribution.dispose();
      }
    });
  });
}

describe('cpu and wasm agree on the search', () => {
  test('linear model, both norms: same distance, same point', async () => {
    const runs: Record<string, { distance: number[]; point: number[] }[]> = { cpu: [], wasm: [] };
    for (const backend of TEST_BACKENDS) {
      await initBackend(backend);
      const lin = linearModel([2, 5, 6], 2, 3);
      const input = inputTensor(lin, inputData(lin));
      for (const norm of ['l2', 'linf'] as const) {
        const result = await findBoundary(lin, input, { norm, restarts: 2 });
        runs[backend].push({ distance: [result.distance.l2, result.distance.linf], point: await take(result.point) });
      }
      input.dispose();
      lin.dispose();
    }
    runs.cpu.forEach((cpu, i) => {
      assertClose(runs.wasm[i].distance, cpu.distance, 1e-5, `distance ${i}`);
      assertClose(runs.wasm[i].point, cpu.point, 1e-5, `point ${i}`);
    });
  });
});

describe('the MNIST example model (wasm)', () => {
  let model: Model;
  let input: tf.Tensor;
  before(async () => {
    await initBackend('wasm');
    model = await loadModel(path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx'));
    input = await loadInput(path.join(REPO, 'examples', 'mnist', 'samples', 'digit_7.png'), model);
  });
  after(() => {
    input.dispose();
    model.dispose();
  });

  for (const norm of ['l2', 'linf'] as const) {
    test(`${norm}: the top class changes at the returned point, which stays a valid image`, async () => {
      const original = await topClassAt(model, input);
      const result = await expectTensorDelta(1, () => findBoundary(model, input, { norm }));
      assert.equal(result.found, true);
      assert.equal(result.originalClass, original);
      const crossed = await topClassAt(model, result.point);
      assert.notEqual(crossed, original);
      assert.equal(crossed, result.crossedTo);
      const point = await take(result.point);
      const x = Array.from(await input.data());
      const diff = point.map((p, i) => p - x[i]);
      assertClose([result.distance.l2, result.distance.linf], [Math.hypot(...diff), Math.max(...diff.map(Math.abs))], 1e-9);
      assert.ok(result.distance[norm] <= result.epsilon * (1 + 1e-6));
      const { lo, hi } = validRange(model.input);
      assert.ok(point.every((p) => p >= lo[0] - 1e-5 && p <= hi[0] + 1e-5), 'clamped to the pixel range');
    });
  }

  test('boundary_ig on the example: completeness from x_b within 5% (gausslegendre, 32 steps)', async () => {
    const target = await topClassAt(model, input);
    const result = await expectTensorDelta(1, () => attribute('boundary_ig', { model, input, target }, { steps: 32 }));
    result.attribution.dispose();
    assert.ok(Math.abs(result.delta as number) < 0.05 * Math.abs(result.outputDifference as number), `delta ${result.delta}`);
    assert.equal(result.boundary?.originalClass, target);
  });
});
