import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { attribute } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import { loadInput } from '../../src/engine/data/input';
import { CancelledError, InputError } from '../../src/engine/errors';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { modelRef, registerModelSource } from '../../src/engine/parallel/model-source';
import { EnginePool } from '../../src/engine/parallel/pool';
import { EngineService, type RequestContext } from '../../src/worker/engine-service';
import { EngineClient } from '../../src/worker/engine-client';
import { createRequire } from 'node:module';
import { REPO } from './helpers/fixtures';

const MODEL = path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx');
const SAMPLE = path.join(REPO, 'examples', 'mnist', 'samples', 'digit_7.png');

/** max |a − b| / max |b|. */
function relativeMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / (scale || 1);
}

async function attributionValues(
  id: string,
  model: Model,
  input: tf.Tensor,
  options: Parameters<typeof attribute>[2],
  pool: EnginePool | null,
  signal?: AbortSignal,
) {
  const result = await attribute(id, { model, input, target: 7, pool, signal }, options);
  try {
    return { values: Float32Array.from(await result.attribution.data()), delta: result.delta };
  } finally {
    result.attribution.dispose();
  }
}

const pools: EnginePool[] = [];
after(async () => {
  for (const p of pools) await p.dispose();
});

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`engine pool on ${backend}`, () => {
    let model: Model;
    let input: tf.Tensor;
    let pool: EnginePool;

    test('setup: two workers start', async () => {
      await initBackend(backend);
      model = registerModelSource(await loadModel(MODEL), MODEL);
      input = await loadInput(SAMPLE, model);
      pool = new EnginePool({ size: 2 });
      pools.push(pool);
      assert.equal(await pool.start(), true);
    });

    test('IG-50: the pool gives the serial result, both workers used, no leak', async () => {
      const before = tf.memory().numTensors;
      const serial = await attributionValues('integrated_gradients', model, input, { steps: 50 }, null);
      const chunks = [...pool.chunksPerWorker];
      const parallel = await attributionValues('integrated_gradients', model, input, { steps: 50 }, pool);
      assert.ok(relativeMax(parallel.values, serial.values) <= 1e-6, `relative difference ${relativeMax(parallel.values, serial.values)}`);
      assert.ok(Math.abs(parallel.delta! - serial.delta!) <= 1e-6 * Math.max(1, Math.abs(serial.delta!)));
      assert.ok(pool.chunksPerWorker.every((c, i) => c > chunks[i]), `chunks per worker ${pool.chunksPerWorker}`);
      assert.equal(tf.memory().numTensors, before);
      const first = await pool.memory();
      await attributionValues('integrated_gradients', model, input, { steps: 50 }, pool);
      assert.deepEqual(await pool.memory(), first, 'worker tensors are the same after another run');
    });

    test('SmoothGrad-25 (saliency), SmoothGrad over IG, occlusion, GradientSHAP: pool = serial', async () => {
      const before = tf.memory().numTensors;
      for (const [id, options] of [
        ['saliency', { noise: 'smoothgrad', samples: 25, stdev: 0.15, seed: 3 }],
        ['integrated_gradients', { noise: 'smoothgrad', samples: 6, steps: 16, seed: 1 }],
        ['occlusion', { window: [4, 4], stride: [2, 2] }],
        ['gradient_shap', { samples: 40, stdev: 0.1, seed: 2, baseline: 'uniform' }],
        // cpu is slow: SmoothGrad only there (the passes are the same code on both).
      ].slice(0, backend === 'cpu' ? 1 : undefined) as [string, object][]) {
        const serial = await attributionValues(id, model, input, options as never, null);
        const parallel = await attributionValues(id, model, input, options as never, pool);
        assert.ok(relativeMax(parallel.values, serial.values) <= 1e-6, `${id}: relative difference ${relativeMax(parallel.values, serial.values)}`);
      }
      assert.equal(tf.memory().numTensors, before);
    });

    test('randomized copies are rebuilt in the workers with the same weights', async () => {
      const layers = model.randomizableLayers.slice(-2);
      const randomized = model.withRandomized(layers, 5);
      try {
        assert.deepEqual(modelRef(randomized)?.randomized, [{ layers: [...layers], seed: 5 }]);
        const serial = await attributionValues('integrated_gradients', randomized, input, { steps: 20 }, null);
        const parallel = await attributionValues('integrated_gradients', randomized, input, { steps: 20 }, pool);
        assert.ok(relativeMax(parallel.values, serial.values) <= 1e-6);
      } finally {
        randomized.dispose();
      }
    });

    test('cancellation mid-run rejects at once and stops handing out chunks', async () => {
      const controller = new AbortController();
      const chunks = pool.chunksPerWorker.reduce((a, b) => a + b, 0);
      const started = performance.now();
      const running = attributionValues(
        'integrated_gradients',
        model,
        input,
        { steps: 4000, rule: 'riemann_trapezoid', batchSize: 16 },
        pool,
        controller.signal,
      );
      // After the first chunks are done.
      while (pool.chunksPerWorker.reduce((a, b) => a + b, 0) < chunks + 4) await new Promise((r) => setTimeout(r, 5));
      controller.abort();
      await assert.rejects(running, CancelledError);
      const after = pool.chunksPerWorker.reduce((a, b) => a + b, 0);
      await new Promise((r) => setTimeout(r, 200));
      // At most the chunks in flight when the signal fired complete afterwards.
      assert.ok(pool.chunksPerWorker.reduce((a, b) => a + b, 0) - after <= pool.size);
      assert.ok(performance.now() - started < 20000);
      // The pool still works afterwards.
      const serial = await attributionValues('saliency', model, input, { noise: 'smoothgrad', samples: 4, seed: 1 }, null);
      const parallel = await attributionValues('saliency', model, input, { noise: 'smoothgrad', samples: 4, seed: 1 }, pool);
      assert.ok(relativeMax(parallel.values, serial.values) <= 1e-6);
    });

    test('a changed model file is loaded again; a file changed under a request is an error', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-pool-'));
      const file = path.join(dir, 'digit_cnn.onnx');
      fs.copyFileSync(MODEL, file);
      fs.copyFileSync(`${MODEL}.lens.json`, `${file}.lens.json`);
      fs.mkdirSync(path.join(dir, 'samples'));
      const copy = registerModelSource(await loadModel(file), file);
      try {
        const first = await attributionValues('integrated_gradients', copy, input, { steps: 10 }, pool);
        // The file changes (a newer mtime). Workers that hold the caller's version keep using it;
        // one that has to load the file cannot get that version any more: an InputError.
        const later = new Date(Date.now() + 5000);
        fs.utimesSync(file, later, later);
        pool.evict(file);
        await assert.rejects(attributionValues('integrated_gradients', copy, input, { steps: 10 }, pool), InputError);
        const reloaded = registerModelSource(await loadModel(file), file);
        try {
          const again = await attributionValues('integrated_gradients', reloaded, input, { steps: 10 }, pool);
          assert.ok(relativeMax(again.values, first.values) <= 1e-6);
        } finally {
          reloaded.dispose();
        }
      } finally {
        copy.dispose();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('an unregistered model or a rule-based method stays on this thread', async () => {
      const chunks = pool.chunksPerWorker.reduce((a, b) => a + b, 0);
      // A model of no file (in memory, trained): here a view of the model that was never registered.
      const plain = Object.create(model) as Model;
      assert.equal(modelRef(plain), undefined);
      await attributionValues('integrated_gradients', plain, input, { steps: 20 }, pool);
      await attributionValues('guided_backprop', model, input, { noise: 'smoothgrad', samples: 4 }, pool);
      assert.equal(pool.chunksPerWorker.reduce((a, b) => a + b, 0), chunks);
    });

    test('teardown', async () => {
      input.dispose();
      model.dispose();
      await pool.dispose();
    });
  });
}

describe('engine service reuse', () => {
  const context = (): RequestContext => ({ signal: new AbortController().signal, onProgress: () => {} });

  test('a model and a sample forward pass are reused across requests, reloaded when the model file or its sidecar changes', async () => {
    await initBackend('wasm');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-cache-'));
    const file = path.join(dir, 'digit_cnn.onnx');
    fs.copyFileSync(MODEL, file);
    fs.copyFileSync(`${MODEL}.lens.json`, `${file}.lens.json`);
    fs.mkdirSync(path.join(dir, 'samples'));
    const service = new EngineService();
    const before = tf.memory().numTensors;
    try {
      const request = { model: file, input: SAMPLE, methods: [{ method: 'saliency' as const }] };
      const first = await service.handle('explain', request, context());
      await service.handle('explain', request, context());
      await service.handle('explain', { ...request, methods: [{ method: 'integrated_gradients' as const, steps: 8 }] }, context());
      assert.equal(service.loads, 1);
      assert.equal(service.forwardPasses, 1);
      await service.handle('describeModel', { model: file }, context());
      assert.equal(service.loads, 1);
      // The model file changes: loaded again, the sample run again.
      const later = new Date(Date.now() + 5000);
      fs.utimesSync(file, later, later);
      const again = await service.handle('explain', request, context());
      assert.equal(service.loads, 2);
      assert.equal(service.forwardPasses, 2);
      assert.deepEqual(again.topK, first.topK);
      // The sidecar changes (preprocessing, labels): loaded again too.
      const even = new Date(Date.now() + 10000);
      fs.utimesSync(`${file}.lens.json`, even, even);
      await service.handle('explain', request, context());
      assert.equal(service.loads, 3);
      assert.equal(service.memory().models.length, 1);
    } finally {
      service.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('engine worker with a pool', () => {
  test('the engine worker runs its passes on nested pool workers, with the serial result', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-worker-'));
    const bootstrap = path.join(dir, 'engine-worker.cjs');
    const tsx = createRequire(path.join(REPO, 'package.json')).resolve('tsx/cjs');
    fs.writeFileSync(bootstrap, `require(${JSON.stringify(tsx)});\nrequire(${JSON.stringify(path.join(REPO, 'src', 'worker', 'engine-worker.ts'))});\n`);
    const serial = new EngineClient(bootstrap);
    const pooled = new EngineClient(bootstrap, { workers: 2 });
    try {
      await Promise.all([serial.start('wasm'), pooled.start('wasm')]);
      const request = { model: MODEL, input: SAMPLE, output: 'map' as const, methods: [{ method: 'integrated_gradients' as const, steps: 32 }] };
      const a = await serial.request('explain', request);
      const b = await pooled.request('explain', request);
      const mapA = new Float32Array(a.methods[0].map!.signed);
      const mapB = new Float32Array(b.methods[0].map!.signed);
      assert.ok(relativeMax(mapB, mapA) <= 1e-6, `relative difference ${relativeMax(mapB, mapA)}`);
      const memory = await pooled.request('memory', {});
      assert.equal(memory.models.length, 1);
      assert.equal(memory.pool?.workers, 2);
      assert.ok(memory.pool!.chunks.every((c) => c > 0), `chunks per pool worker: ${memory.pool!.chunks}`);
      assert.equal((await serial.request('memory', {})).pool, undefined);
    } finally {
      serial.dispose();
      pooled.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
