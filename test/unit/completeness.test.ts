import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MethodOptions } from '../../src/engine/attribution/method';
import { QUADRATURE_RULES } from '../../src/engine/attribution/quadrature';
import { attribute } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import { CancelledError, InputError } from '../../src/engine/errors';
import { completeness, completenessOf, pathMethodIds } from '../../src/engine/evaluation/completeness';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { FIXTURES, npyTensor, relativeL2, TEST_BACKENDS } from './helpers/fixtures';

const REFERENCE = path.join(FIXTURES, 'reference');
const CASES = fs.readdirSync(REFERENCE).filter((d) => fs.existsSync(path.join(REFERENCE, d, 'meta.json')));

interface Meta {
  model: string;
  target: number;
  steps: number;
  ig: Record<string, { delta: number; f_input: number; f_baseline: number; sum_attributions: number }>;
}

function meta(name: string): Meta {
  return JSON.parse(fs.readFileSync(path.join(REFERENCE, name, 'meta.json'), 'utf8')) as Meta;
}

async function fixture(name: string): Promise<{ model: Model; input: tf.Tensor; meta: Meta }> {
  const m = meta(name);
  const model = await loadModel(path.resolve(REFERENCE, name, m.model));
  return { model, input: npyTensor(path.join(REFERENCE, name, 'input.npy')), meta: m };
}

async function igOf(model: Model, input: tf.Tensor, target: number, options: MethodOptions) {
  const result = await attribute('integrated_gradients', { model, input, target }, options);
  const data = (await result.attribution.data()) as Float32Array;
  result.attribution.dispose();
  return { ...result, data };
}

async function rejectsInput(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  });
}

for (const backend of TEST_BACKENDS) {
  describe(`completeness on ${backend}`, () => {
    before(async () => {
      await initBackend(backend);
    });

    // Every rule on wasm; the cpu backend is ~20× slower, and reference-models.test.ts already
    // checks each rule's delta there: Gauss–Legendre only.
    const rules = backend === 'wasm' ? QUADRATURE_RULES : (['gausslegendre'] as const);
    for (const name of CASES) {
      it(`IG on ${name}: the delta of ${backend === 'wasm' ? 'every quadrature rule' : 'Gauss–Legendre'} is the PyTorch reference's`, async () => {
        const { model, input, meta: m } = await fixture(name);
        try {
          const before = tf.memory().numTensors;
          const entries = await completeness(
            { model, input, target: m.target },
            rules.map((rule) => ({ id: 'integrated_gradients', options: { steps: m.steps, rule, baseline: 'zero' } })),
          );
          assert.equal(tf.memory().numTensors, before);
          rules.forEach((rule, k) => {
            const e = entries[k];
            const ref = m.ig[rule];
            const difference = ref.f_input - ref.f_baseline;
            const scale = Math.max(1, Math.abs(difference));
            assert.equal(e.method, 'integrated_gradients');
            assert.ok(Math.abs(e.outputDifference - difference) < 1e-4 * scale, `${rule}: F(x) − F(x') ${e.outputDifference} vs ${difference}`);
            assert.ok(Math.abs(e.delta - ref.delta) < 1e-3 * scale, `${rule}: delta ${e.delta} vs ${ref.delta}`);
            assert.ok(Math.abs(e.sum - ref.sum_attributions) < 1e-3 * scale, `${rule}: sum ${e.sum} vs ${ref.sum_attributions}`);
            assert.ok(Math.abs(e.sum - e.outputDifference - e.delta) < 1e-4 * scale);
            assert.equal(e.absoluteDelta, Math.abs(e.delta));
            assert.equal(e.relativeDelta, Math.abs(e.delta) / Math.abs(e.outputDifference));
            assert.equal(e.stepsUsed, m.steps);
            assert.equal(e.targetMet, undefined);
          });
        } finally {
          input.dispose();
          model.dispose();
        }
      });
    }

    // The adaptive loop is plain JS around the gradient passes: on wasm here, on cpu through the
    // agreement test below.
    describe('adaptive integrated gradients', { skip: backend !== 'wasm' && 'run on wasm (cpu: see the agreement test)' }, () => {
      let model: Model;
      let input: tf.Tensor;
      let target: number;
      before(async () => {
        const f = await fixture('branchy');
        ({ model, input } = f);
        target = f.meta.target;
      });
      after(() => {
        input.dispose();
        model.dispose();
      });

      it('doubles the steps until the relative delta meets the target, and reports the steps', async () => {
        // At 32 Gauss–Legendre steps the relative delta is 1.8% (meta.json): 0.2% needs more.
        const fixed = await igOf(model, input, target, { steps: 8 });
        assert.ok(Math.abs(fixed.delta!) / Math.abs(fixed.outputDifference!) > 0.002);
        const before = tf.memory().numTensors;
        const progress: [number, number][] = [];
        const result = await attribute(
          'integrated_gradients',
          { model, input, target, onProgress: (d, t) => progress.push([d, t]) },
          { steps: 8, targetDelta: 0.002 },
        );
        const data = (await result.attribution.data()) as Float32Array;
        result.attribution.dispose();
        assert.equal(tf.memory().numTensors, before);
        assert.equal(result.targetMet, true);
        assert.ok(result.stepsUsed! > 8 && [16, 32, 64, 128, 256, 512, 1024].includes(result.stepsUsed!), `steps ${result.stepsUsed}`);
        assert.ok(Math.abs(result.delta!) <= 0.002 * Math.abs(result.outputDifference!));
        // The result is plain IG at the steps reached.
        const direct = await igOf(model, input, target, { steps: result.stepsUsed! });
        assert.ok(relativeL2(data, direct.data) < 1e-6);
        assert.ok(Math.abs(result.delta! - direct.delta!) < 1e-5);
        // Progress only moves forward; it ends at the evaluations of every round (8 + 16 + … steps).
        for (let k = 1; k < progress.length; k++) assert.ok(progress[k][0] >= progress[k - 1][0]);
        const last = progress[progress.length - 1];
        assert.equal(last[0], last[1]);
        assert.equal(last[0], 2 * result.stepsUsed! - 8);
      });

      for (const rule of ['riemann_left', 'riemann_right', 'riemann_trapezoid']) {
        it(`${rule}: refinements reuse the gradients already evaluated and equal a direct run`, async () => {
          let evaluated = 0;
          const result = await attribute(
            'integrated_gradients',
            { model, input, target, onProgress: (d) => (evaluated = d) },
            { steps: 4, rule, targetDelta: 0.05, maxSteps: 512 },
          );
          const data = (await result.attribution.data()) as Float32Array;
          result.attribution.dispose();
          assert.ok(result.stepsUsed! > 4, `steps ${result.stepsUsed}`);
          assert.equal(evaluated, result.stepsUsed, 'one gradient per point of the final rule');
          const direct = await igOf(model, input, target, { steps: result.stepsUsed!, rule });
          assert.ok(relativeL2(data, direct.data) < 1e-6);
          assert.ok(Math.abs(result.delta! - direct.delta!) < 1e-4);
          assert.equal(result.targetMet, Math.abs(direct.delta!) <= 0.05 * Math.abs(direct.outputDifference!));
        });
      }

      it('stops at maxSteps and says the target was not met', async () => {
        const result = await igOf(model, input, target, { steps: 5, targetDelta: 1e-9, maxSteps: 40 });
        assert.equal(result.stepsUsed, 40);
        assert.equal(result.targetMet, false);
        // The largest doubling within maxSteps: 5 → 10 → 20 → 40, never 80.
        const capped = await igOf(model, input, target, { steps: 5, targetDelta: 1e-9, maxSteps: 79 });
        assert.equal(capped.stepsUsed, 40);
      });

      it('maxSteps alone turns adaptive steps on with the default target 0.01', async () => {
        const result = await igOf(model, input, target, { steps: 2, maxSteps: 256 });
        assert.equal(result.targetMet, true);
        assert.ok(Math.abs(result.delta!) <= 0.01 * Math.abs(result.outputDifference!));
        const plain = await igOf(model, input, target, { steps: 2 });
        assert.equal(plain.stepsUsed, 2);
        assert.equal(plain.targetMet, undefined);
      });

      it('is cancelled between rounds', async () => {
        const controller = new AbortController();
        const before = tf.memory().numTensors;
        await assert.rejects(
          attribute(
            'integrated_gradients',
            { model, input, target, signal: controller.signal, onProgress: (d) => d > 0 && controller.abort() },
            { steps: 4, targetDelta: 1e-9 },
          ),
          CancelledError,
        );
        assert.equal(tf.memory().numTensors, before);
      });
    });
  });
}

describe('completeness: cpu and wasm agree', () => {
  it('on the adaptive steps and the delta', async () => {
    const out: { steps: number; delta: number; data: Float32Array }[] = [];
    for (const backend of TEST_BACKENDS) {
      await initBackend(backend);
      const { model, input, meta: m } = await fixture('digit_cnn');
      const r = await igOf(model, input, m.target, { steps: 4, rule: 'riemann_middle', targetDelta: 0.005 });
      out.push({ steps: r.stepsUsed!, delta: r.delta!, data: r.data });
      input.dispose();
      model.dispose();
    }
    assert.equal(out[0].steps, out[1].steps);
    assert.ok(Math.abs(out[0].delta - out[1].delta) < 1e-4);
    assert.ok(relativeL2(out[0].data, out[1].data) < 1e-5);
  });
});

describe('completeness: every path method, and errors', () => {
  let model: Model;
  let input: tf.Tensor;
  let target: number;
  before(async () => {
    await initBackend('cpu');
    const f = await fixture('mlp');
    ({ model, input } = f);
    target = f.meta.target;
  });
  after(() => {
    input.dispose();
    model.dispose();
  });

  it('the path methods are those with a delta', () => {
    assert.deepEqual(pathMethodIds(), ['integrated_gradients', 'deeplift', 'gradient_shap', 'boundary_ig']);
  });

  it('reports every path method by default, without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const entries = await completeness({ model, input, target, onProgress: (d) => progress.push(d) });
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(entries.map((e) => e.method), pathMethodIds());
    assert.deepEqual(progress, [0, 1, 2, 3, 4]);
    for (const e of entries) {
      assert.ok(Number.isFinite(e.delta) && Number.isFinite(e.relativeDelta), e.method);
      assert.ok(Math.abs(e.sum - e.outputDifference - e.delta) < 1e-4 * Math.max(1, Math.abs(e.outputDifference)), e.method);
    }
    // DeepLIFT's summation-to-delta is exact up to float rounding.
    const deeplift = entries.find((e) => e.method === 'deeplift')!;
    assert.ok(deeplift.relativeDelta < 1e-4, `deeplift relative delta ${deeplift.relativeDelta}`);
  });

  it('a method without a delta, or bad adaptive options, is an InputError', async () => {
    await rejectsInput(
      completeness({ model, input, target }, [{ id: 'saliency' }]),
      /^method 'saliency' has no completeness delta: completeness applies to integrated_gradients, deeplift, gradient_shap, boundary_ig$/,
    );
    const result = await attribute('saliency', { model, input, target });
    await rejectsInput(completenessOf('saliency', result), /has no completeness delta/);
    result.attribution.dispose();
    const request = { model, input, target };
    await rejectsInput(attribute('integrated_gradients', request, { targetDelta: 0 }), /^targetDelta must be a positive number, got 0$/);
    await rejectsInput(attribute('integrated_gradients', request, { targetDelta: Number.NaN }), /^targetDelta must be a positive number, got NaN$/);
    await rejectsInput(attribute('integrated_gradients', request, { maxSteps: 2.5 }), /^maxSteps must be a positive integer, got 2.5$/);
    await rejectsInput(attribute('integrated_gradients', request, { steps: 64, maxSteps: 32 }), /^maxSteps \(32\) must be at least steps \(64\)$/);
    await rejectsInput(attribute('deeplift', request, { targetDelta: 0.01 }), /^method 'deeplift' does not take option 'targetDelta'/);
  });

  it('relative delta is NaN when F(x) = F(baseline)', async () => {
    const result = await attribute('integrated_gradients', { model, input, target }, { baseline: input, steps: 4 });
    const entry = await completenessOf('integrated_gradients', result);
    result.attribution.dispose();
    assert.equal(entry.outputDifference, 0);
    assert.ok(Number.isNaN(entry.relativeDelta));
    assert.equal(JSON.parse(JSON.stringify(entry)).relativeDelta, null);
  });
});
