/**
 * A pool worker (dist/pool-worker.js): one engine of its own (its own tfjs backend and wasm heap)
 * that evaluates chunks of model passes for an EnginePool. Models are loaded once per worker
 * from their file and kept until the file changes (a chunk naming another stamp) or the pool
 * evicts them; randomized copies are rebuilt from their seeds (the same weights as the
 * caller's) and the last few are kept. Chunks run one at a time in arrival order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parentPort, type TransferListItem } from 'node:worker_threads';
import { targetGradient, targetLogits } from '../attribution/passes';
import { initBackend, type BackendName } from '../backend';
import { InputError } from '../errors';
import { loadModel } from '../model/load';
import type { Model } from '../model/model';
import { modelKey, modelStamp, type ModelRef } from './model-source';
import type { PoolReply, PoolRequest } from './protocol';

/** Randomized copies kept at once (a cascading sanity check uses each copy for several methods). */
const MAX_VARIANTS = 2;

const port = parentPort;
if (!port) throw new Error('pool-worker must run in a worker thread');

function send(message: PoolReply, transfer: TransferListItem[] = []): void {
  port!.postMessage(message, transfer);
}

/** Base models by path: the stamp they were loaded under. */
const bases = new Map<string, { stamp: string; model: Promise<Model> }>();
/** Randomized copies by modelKey, oldest first. */
const variants = new Map<string, Model>();

function disposeVariants(file?: string): void {
  for (const [key, model] of variants) {
    if (file === undefined || (JSON.parse(key) as string[])[0] === file) {
      model.dispose();
      variants.delete(key);
    }
  }
}

async function evict(file?: string): Promise<void> {
  disposeVariants(file);
  for (const [key, entry] of bases) {
    if (file !== undefined && key !== file) continue;
    bases.delete(key);
    (await entry.model.catch(() => undefined))?.dispose();
  }
}

async function baseModel(ref: ModelRef): Promise<Model> {
  const cached = bases.get(ref.path);
  if (cached && cached.stamp === ref.stamp) return cached.model;
  if (cached) await evict(ref.path);
  if (modelStamp(ref.path) !== ref.stamp) {
    throw new InputError(`${ref.path}: the model file changed while it was being evaluated; run the request again`);
  }
  const model = loadModel(ref.path);
  bases.set(ref.path, { stamp: ref.stamp, model });
  model.catch(() => bases.delete(ref.path));
  return model;
}

async function modelFor(ref: ModelRef): Promise<Model> {
  const base = await baseModel(ref);
  if (ref.randomized.length === 0) return base;
  const key = modelKey(ref);
  const hit = variants.get(key);
  if (hit) return hit;
  let model = base;
  for (const step of ref.randomized) {
    const next = model.withRandomized(step.layers, step.seed);
    if (model !== base) model.dispose();
    model = next;
  }
  variants.set(key, model);
  while (variants.size > MAX_VARIANTS) {
    const [oldest, old] = variants.entries().next().value as [string, Model];
    old.dispose();
    variants.delete(oldest);
  }
  return model;
}

async function runChunk(request: Extract<PoolRequest, { type: 'chunk' }>): Promise<void> {
  const started = performance.now();
  try {
    const model = await modelFor(request.model);
    const x = tf.tensor(request.inputs, [request.count, ...model.input.shape], 'float32');
    let values: Float32Array;
    try {
      const y = request.pass === 'gradient' ? targetGradient(model, x, request.target) : targetLogits(model, x, request.target);
      try {
        values = (await y.data()) as Float32Array;
      } finally {
        y.dispose();
      }
    } finally {
      x.dispose();
    }
    send({ type: 'result', id: request.id, values, ms: performance.now() - started }, [values.buffer as ArrayBuffer]);
  } catch (err) {
    send({ type: 'error', id: request.id, message: (err as Error)?.message ?? String(err), input: err instanceof InputError });
  }
}

let ready: Promise<boolean> | undefined;
let queue: Promise<void> = Promise.resolve();

port.on('message', (message: PoolRequest) => {
  switch (message.type) {
    case 'init':
      ready ??= initBackend(message.backend as BackendName).then(
        (backend) => (send({ type: 'ready', backend }), true),
        (err: Error) => (send({ type: 'initError', message: err.message }), false),
      );
      break;
    case 'chunk':
      queue = queue.then(async () => {
        if (await ready) await runChunk(message);
        else send({ type: 'error', id: message.id, message: 'the pool worker has no backend', input: false });
      });
      break;
    case 'evict':
      queue = queue.then(() => evict(message.path));
      break;
    case 'memory':
      queue = queue.then(() => send({ type: 'memory', id: message.id, numTensors: tf.memory().numTensors, models: bases.size + variants.size }));
      break;
  }
});
