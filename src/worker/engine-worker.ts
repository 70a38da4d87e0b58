/**
 * The engine worker (dist/engine-worker.js): a child process forked by EngineClient — a process,
 * not a worker thread, so that killing it (a stuck cancellation, a restart) can never take the
 * extension host down with a native library (ONNX Runtime aborts the process that hosts a thread
 * terminated mid-run). It answers 'init' with 'ready' once the backend runs, then handles requests one at a time,
 * each with its own AbortController ('cancel' aborts it; the engine checks the signal between
 * batches). Progress is throttled to at most 10 messages a second per request. No vscode here:
 * the engine stays editor-free.
 */
import { initBackend } from '../engine/backend';
import { CancelledError, InputError } from '../engine/errors';
import { nativeRuntimeName, setNativeRuntime } from '../engine/native/runtime';
import { poolFromEnvironment, setDefaultPool } from '../engine/parallel/pool';
import type { HostMessage, WorkerMessage } from '../protocol/engine';
import { EngineService } from './engine-service';

/** Least time between two progress messages of a request. */
const PROGRESS_INTERVAL_MS = 100;

type RequestMessage = Extract<HostMessage, { type: 'request' }>;

if (!process.send) throw new Error('engine-worker must run as a child process with an IPC channel');

const service = new EngineService();
let initialised: Promise<boolean> | undefined;
const waiting: RequestMessage[] = [];
let running: { id: number; controller: AbortController } | undefined;

function send(message: WorkerMessage, then?: () => void): void {
  process.send!(message, undefined, undefined, then);
}

// An uncaught error is reported (the host gives it as the reason the engine stopped), then ends the process.
process.on('uncaughtException', (err) => send({ type: 'fatal', message: err.message }, () => process.exit(1)));
// The host is gone: nothing to answer to.
process.on('disconnect', () => process.exit(0));

function errorKind(err: unknown, signal: AbortSignal): 'input' | 'cancelled' | 'internal' {
  if (err instanceof CancelledError || (signal.aborted && (err as Error)?.name === 'AbortError')) return 'cancelled';
  if (err instanceof InputError) return 'input';
  return 'internal';
}

async function init({ backend, nativeModulePaths, workers, nativeRuntime }: Extract<HostMessage, { type: 'init' }>): Promise<boolean> {
  try {
    const active = await initBackend(backend, nativeModulePaths);
    setNativeRuntime(nativeRuntime === true, nativeModulePaths);
    const native = nativeRuntimeName();
    // The pool's workers are worker threads of this process (ended with it); they start
    // at the first pass worth splitting, and load each model once.
    const pool = workers === undefined ? undefined : poolFromEnvironment({ LENS_WORKERS: String(workers) });
    setDefaultPool(pool);
    service.pool = pool;
    send({ type: 'ready', backend: native ? `${active} + ${native}` : active });
    return true;
  } catch (err) {
    send({ type: 'initError', message: (err as Error).message, kind: err instanceof InputError ? 'input' : 'internal' });
    return false;
  }
}

async function run(request: RequestMessage): Promise<void> {
  const controller = new AbortController();
  running = { id: request.id, controller };
  let last = 0;
  const onProgress = (done: number, total: number, label?: string) => {
    const now = Date.now();
    if (now - last < PROGRESS_INTERVAL_MS && done < total) return;
    last = now;
    send({ type: 'progress', id: request.id, done, total, ...(label !== undefined ? { label } : {}) });
  };
  try {
    const result = await service.handle(request.kind, request.params, { signal: controller.signal, onProgress });
    send({ type: 'result', id: request.id, result });
  } catch (err) {
    const kind = errorKind(err, controller.signal);
    if (kind === 'internal') console.error(`engine worker: ${request.kind} failed:`, err);
    send({ type: 'error', id: request.id, message: kind === 'cancelled' ? 'cancelled' : (err as Error)?.message ?? String(err), kind });
  } finally {
    running = undefined;
  }
}

/** Runs the waiting requests in arrival order, one at a time, once the backend is up. */
async function drain(): Promise<void> {
  if (running || !initialised) return;
  const ok = await initialised;
  while (!running && waiting.length > 0) {
    const next = waiting.shift()!;
    if (!ok) {
      send({ type: 'error', id: next.id, message: 'the engine has no backend (init failed)', kind: 'internal' });
      continue;
    }
    await run(next);
  }
}

process.on('message', (message: HostMessage) => {
  switch (message.type) {
    case 'init':
      initialised ??= init(message);
      void drain();
      break;
    case 'request':
      waiting.push(message);
      void drain();
      break;
    case 'cancel': {
      if (running?.id === message.id) {
        running.controller.abort();
        break;
      }
      const at = waiting.findIndex((r) => r.id === message.id);
      if (at >= 0) {
        waiting.splice(at, 1);
        send({ type: 'error', id: message.id, message: 'cancelled', kind: 'cancelled' });
      }
      break;
    }
    case 'crash':
      setImmediate(() => {
        throw new Error(message.reason);
      });
      break;
  }
});
