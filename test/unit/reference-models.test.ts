import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { attribute } from '../../src/engine/attribution/registry';
import { QUADRATURE_RULES } from '../../src/engine/attribution/quadrature';
import { initBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { setNativeRuntime } from '../../src/engine/native/runtime';
import { FIXTURES, npyTensor, relativeL2, TEST_BACKENDS } from './helpers/fixtures';

/**
 * Models exported by torch.onnx.export and attributions computed with plain PyTorch autograd in
 * float64 (test/fixtures/make_models.py): the engine must reproduce them to 1e-4 relative L2.
 */
const TOLERANCE = 1e-4;
const REFERENCE = path.join(FIXTURES, 'reference');

interface Meta {
  model: string;
  target: number;
  steps: number;
  ig: Record<string, { delta: number; f_input: number; f_baseline: number }>;
  gradcam_layer?: string;
  gradcam_output?: string;
}

const cases = fs.readdirSync(REFERENCE).filter((d) => fs.existsSync(path.join(REFERENCE, d, 'meta.json')));

/** Every backend, and wasm with ONNX Runtime running the plain gradients and forward passes (src/engine/native). */
const CONFIGS = [...TEST_BACKENDS.map((backend) => ({ backend, native: false, label: backend })), { backend: 'wasm' as const, native: true, label: 'wasm + onnxruntime' }];


async function data(t: tf.Tensor): Promise<Float32Array> {
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

for (const { backend, native, label } of CONFIGS) {
  for (const name of cases) {
    describe(`${name} on ${label}`, () => {
      const dir = path.join(REFERENCE, name);
      const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Meta;
      const ref = (file: string) => npyTensor(path.join(dir, file));
      let model: Model;
      let input: tf.Tensor;

      before(async () => {
        await initBackend(backend);
        setNativeRuntime(native);
        model = await loadModel(path.resolve(dir, meta.model));
        input = ref('input.npy');
      });

      if (native) {
        it('runs its gradients on ONNX Runtime (every operator has an adjoint)', async () => {
          const passes = model.native?.();
          assert.ok(passes, 'ONNX Runtime is installed (optional dependency onnxruntime-node)');
          assert.ok(await passes.gradientReady(), passes.gradientUnsupported);
        });
      }

      it('computes the logits of one input and of a batch', async () => {
        const before = tf.memory().numTensors;
        const logits = await data(tf.tidy(() => model.logits(input)));
        const batch = ref('batch_input.npy');
        const batchLogits = await data(tf.tidy(() => model.logits(batch)));
        batch.dispose();
        assert.equal(tf.memory().numTensors, before);
        assert.ok(relativeL2(logits, await data(ref('logits.npy'))) < TOLERANCE);
        assert.ok(relativeL2(batchLogits, await data(ref('batch_logits.npy'))) < TOLERANCE);
      });

      for (const [method, file, options] of [
        ['saliency', 'saliency.npy', {}],
        ['saliency', 'gradient.npy', { abs: false }],
        ['input_x_gradient', 'input_x_gradient.npy', {}],
      ] as const) {
        it(`${method}${'abs' in options ? ' (signed)' : ''} matches PyTorch autograd`, async () => {
          const before = tf.memory().numTensors;
          const result = await attribute(method, { model, input, target: meta.target }, options);
          const actual = await data(result.attribution);
          assert.equal(tf.memory().numTensors, before);
          const err = relativeL2(actual, await data(ref(file)));
          assert.ok(err < TOLERANCE, `relative L2 error ${err}`);
        });
      }

      for (const rule of QUADRATURE_RULES) {
        it(`integrated gradients (${rule}, ${meta.steps} steps) matches PyTorch and its delta`, async () => {
          const before = tf.memory().numTensors;
          const result = await attribute('integrated_gradients', { model, input, target: meta.target }, { steps: meta.steps, rule, baseline: 'zero' });
          const actual = await data(result.attribution);
          assert.equal(tf.memory().numTensors, before);
          const err = relativeL2(actual, await data(ref(`ig_${rule}.npy`)));
          assert.ok(err < TOLERANCE, `relative L2 error ${err}`);
          const expected = meta.ig[rule];
          const difference = expected.f_input - expected.f_baseline;
          assert.ok(Math.abs(result.outputDifference! - difference) < 1e-4 * Math.max(1, Math.abs(difference)));
          // Completeness: the engine's delta is the reference's (same quadrature), to float32 precision.
          assert.ok(Math.abs(result.delta! - expected.delta) < 1e-3 * Math.max(1, Math.abs(difference)), `delta ${result.delta} vs ${expected.delta}`);
          if (rule === 'gausslegendre') {
            // The completeness axiom itself (Sundararajan et al.: within 5%; the paper's check at 32 steps).
            assert.ok(Math.abs(result.delta!) < 0.05 * Math.abs(difference), `|delta| ${result.delta} vs F(x) - F(x') ${difference}`);
          }
        });
      }

      if (fs.existsSync(path.join(dir, 'gradcam.npy'))) {
        it('Grad-CAM on the last conv block matches PyTorch hooks, with and without ReLU', async () => {
          for (const [file, relu, layer] of [
            ['gradcam.npy', true, meta.gradcam_layer!],
            ['gradcam_norelu.npy', false, meta.gradcam_output!],
          ] as const) {
            const result = await attribute('gradcam', { model, input, target: meta.target }, { layer, relu });
            const expected = ref(file);
            assert.deepEqual(result.attribution.shape, expected.shape);
            const err = relativeL2(await data(result.attribution), await data(expected));
            assert.ok(err < TOLERANCE, `${file}: relative L2 error ${err}`);
          }
        });
      }

      for (const [file, window, stride] of [
        ['occlusion_w4_s2.npy', [4, 4], [2, 2]],
        ['occlusion_w3_s3.npy', [3, 3], [3, 3]],
      ] as const) {
        if (!fs.existsSync(path.join(dir, file))) continue;
        it(`occlusion ${window.join('x')} stride ${stride.join('x')} matches the reference loop`, async () => {
          const result = await attribute('occlusion', { model, input, target: meta.target }, { window: [...window], stride: [...stride], baseline: 'zero' });
          const err = relativeL2(await data(result.attribution), await data(ref(file)));
          assert.ok(err < TOLERANCE, `relative L2 error ${err}`);
        });
      }
    });
  }
}

describe('backends agree', () => {
  before(() => {
    setNativeRuntime(false);
  });

  it('cpu and wasm give the same integrated gradients on every reference model', async () => {
    for (const name of cases) {
      const dir = path.join(REFERENCE, name);
      const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Meta;
      const maps: Float32Array[] = [];
      for (const backend of TEST_BACKENDS) {
        await initBackend(backend);
        const model = await loadModel(path.resolve(dir, meta.model));
        const input = npyTensor(path.join(dir, 'input.npy'));
        const result = await attribute('integrated_gradients', { model, input, target: meta.target }, { steps: 16 });
        maps.push(await data(result.attribution));
        input.dispose();
        model.dispose();
      }
      const err = relativeL2(maps[1], maps[0]);
      assert.ok(err < 1e-5, `${name}: wasm vs cpu relative L2 ${err}`);
    }
  });
});
