import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { activeBackend } from '../backend';
import { CancelledError, InputError } from '../errors';
import type { Model } from '../model/model';
import { modelRef, type ModelRef } from './model-source';
import type { PassKind, PoolReply, PoolRequest } from './protocol';

export type { PassKind } from './protocol';

/** One batched computation that passes.ts offers to a pool. */
export interface PoolPass {
  kind: PassKind;
  model: Model;
  target: number;
  signal?: AbortSignal;
  /** Advanced by the inputs of each chunk as it is consumed. */
  progress?: { advance(units: number): void };
}

/**
 * What the attribution code sees of a pool (passes.ts): it either takes the whole computation —
 * `count` inputs produced by `make(start, end)` in chunks of at most `batchSize`, each chunk's
 * results handed to `consume(start, end, values)` in increasing `start`, as the serial loop does —
 * and resolves true, or declines at once (resolving false, having called nothing) and the
 * caller runs it itself.
 */
export interface PassPool {
  run(
    pass: PoolPass,
    count: number,
    batchSize: number,
    make: (start: number, end: number) => Float32Array,
    consume: (start: number, end: number, values: Float32Array) => void,
  ): Promise<boolean>;
}

export interface EnginePoolOptions {
  /** Workers (default: one per core, os.availableParallelism()). */
  size?: number;
  /** Backend of the workers (default: the calling thread's active backend when the pool starts). */
  backend?: string;
  /** The worker script (default: pool-worker.js beside the bundle; from sources, a tsx shim). */
  script?: string;
}

/** Backends whose one instance uses one core: the pool only pays for these (the native ones are multi-threaded). */
const SINGLE_CORE_BACKENDS = new Set(['wasm', 'cpu']);

const localRequire = createRequire(__filename);

/** dist/pool-worker.js beside the bundle, or (running from sources under tsx) a shim loading pool-worker.ts. */
export function defaultPoolScript(): string {
  const built = path.join(__dirname, 'pool-worker.js');
  if (fs.existsSync(built)) return built;
  const source = path.join(__dirname, 'pool-worker.ts');
  if (!fs.existsSync(source)) throw new Error(`no pool worker next to ${__filename}`);
  // Node 20's worker_threads cannot load a .ts entry even under --import tsx: register tsx's require hook first.
  const shim = path.join(os.tmpdir(), `lens-pool-worker-${process.pid}.cjs`);
  fs.writeFileSync(shim, `require(${JSON.stringify(localRequire.resolve('tsx/cjs'))});\nrequire(${JSON.stringify(source)});\n`);
  return shim;
}

interface Chunk {
  run: Run;
  start: number;
  end: number;
}

/** One pass being computed: hands out chunks in order and consumes their results in order. */
interface Run {
  ref: ModelRef;
  pass: PoolPass;
  count: number;
  chunk: number;
  next: number;
  consumed: number;
  results: Map<number, { end: number; values: Float32Array }>;
  make: (start: number, end: number) => Float32Array;
  consume: (start: number, end: number, values: Float32Array) => void;
  done: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

interface Slot {
  worker: Worker;
  ready: Promise<boolean>;
  busy: Chunk | undefined;
  dead: boolean;
}

/**
 * A persistent pool of engine workers (pool-worker.ts), one per core, each with its own backend.
 * A model is loaded once per worker, from its file (the OS page cache shares the bytes; each
 * worker's backend holds its own copy of the weights: a single-threaded wasm heap cannot be
 * shared), and kept until the file changes. Chunks of a pass go to whichever worker is idle;
 * results are consumed in chunk order, so sums accumulate in the serial order.
 * Cancellation: a fired signal rejects the run at once with CancelledError and no further chunk
 * of it starts (a worker finishes the chunk it is computing, whose result is dropped).
 */
export class EnginePool implements PassPool {
  readonly size: number;
  private readonly script: string;
  private backend: string | undefined;
  private slots: Slot[] = [];
  private readonly runs: Run[] = [];
  private nextId = 1;
  private disposed = false;
  /** Chunks computed per worker index (tests, measurements). */
  readonly chunksPerWorker: number[];
  /** Milliseconds each worker spent computing chunks (measurements). */
  readonly busyMsPerWorker: number[];

  constructor(options: EnginePoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? os.availableParallelism()));
    this.script = options.script ?? defaultPoolScript();
    this.backend = options.backend;
    this.chunksPerWorker = new Array<number>(this.size).fill(0);
    this.busyMsPerWorker = new Array<number>(this.size).fill(0);
  }

  /** Starts the workers (their backend and tfjs load) now rather than at the first pass. Resolves whether they run. */
  async start(): Promise<boolean> {
    if (this.disposed) return false;
    this.backend ??= activeBackend();
    if (!this.backend || !SINGLE_CORE_BACKENDS.has(this.backend)) return false;
    for (let i = 0; i < this.size; i++) if (!this.slots[i] || this.slots[i].dead) this.slots[i] = this.spawn(i);
    const ok = await Promise.all(this.slots.map((s) => s.ready));
    return ok.every(Boolean);
  }

  private spawn(index: number): Slot {
    const worker = new Worker(this.script);
    worker.unref();
    let readyResolve!: (ok: boolean) => void;
    const slot: Slot = { worker, ready: new Promise((r) => (readyResolve = r)), busy: undefined, dead: false };
    worker.on('message', (message: PoolReply) => {
      switch (message.type) {
        case 'ready':
          readyResolve(true);
          break;
        case 'initError':
          readyResolve(false);
          break;
        case 'result':
        case 'error': {
          const chunk = slot.busy;
          slot.busy = undefined;
          worker.unref();
          if (chunk) {
            this.chunksPerWorker[index]++;
            if (message.type === 'result') {
              this.busyMsPerWorker[index] += message.ms;
              this.deliver(chunk, message.values);
            }
            else this.fail(chunk.run, message.input ? new InputError(message.message) : new Error(`pool worker: ${message.message}`));
          }
          this.pump();
          break;
        }
        case 'memory':
          this.memoryWaiters.get(message.id)?.(message);
          this.memoryWaiters.delete(message.id);
          break;
      }
    });
    const died = (err: Error) => {
      if (slot.dead) return;
      slot.dead = true;
      readyResolve(false);
      worker.unref();
      if (slot.busy) this.fail(slot.busy.run, err);
      slot.busy = undefined;
      this.pump();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`pool worker exited (code ${code})`)));
    this.post(slot, { type: 'init', backend: this.backend! });
    return slot;
  }

  private post(slot: Slot, message: PoolRequest, transfer: ArrayBuffer[] = []): void {
    slot.worker.postMessage(message, transfer);
  }

  async run(
    pass: PoolPass,
    count: number,
    batchSize: number,
    make: (start: number, end: number) => Float32Array,
    consume: (start: number, end: number, values: Float32Array) => void,
  ): Promise<boolean> {
    const ref = modelRef(pass.model);
    if (!ref || this.disposed || count < 2) return false;
    const chunk = Math.max(1, Math.min(batchSize, Math.ceil(count / this.size)));
    if (chunk >= count) return false;
    if (!(await this.start())) return false;
    if (pass.signal?.aborted) throw new CancelledError();
    await new Promise<void>((resolve, reject) => {
      const run: Run = {
        ref, pass, count, chunk, next: 0, consumed: 0, results: new Map(), make, consume, done: false,
        resolve: () => {
          pass.signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err) => {
          pass.signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = () => this.fail(run, new CancelledError());
      pass.signal?.addEventListener('abort', onAbort, { once: true });
      this.runs.push(run);
      this.pump();
    });
    return true;
  }

  /** Gives every idle worker the next chunk of the oldest run that has one. */
  private pump(): void {
    for (const slot of this.slots) {
      if (slot.dead || slot.busy) continue;
      const run = this.runs.find((r) => !r.done && r.next < r.count);
      if (!run) {
        // A run whose every worker died cannot finish.
        if (this.slots.every((s) => s.dead)) for (const r of [...this.runs]) this.fail(r, new Error('every pool worker died'));
        return;
      }
      const start = run.next;
      const end = Math.min(run.count, start + run.chunk);
      run.next = end;
      let inputs: Float32Array;
      try {
        inputs = run.make(start, end);
      } catch (err) {
        this.fail(run, err);
        continue;
      }
      // Transfer a buffer of its own; make() may return a view of the caller's data.
      if (inputs.byteOffset !== 0 || inputs.byteLength !== inputs.buffer.byteLength || !(inputs.buffer instanceof ArrayBuffer)) {
        inputs = inputs.slice();
      }
      slot.busy = { run, start, end };
      slot.worker.ref();
      this.post(
        slot,
        { type: 'chunk', id: this.nextId++, model: run.ref, pass: run.pass.kind, target: run.pass.target, count: end - start, inputs },
        [inputs.buffer as ArrayBuffer],
      );
    }
    if (this.slots.every((s) => s.dead)) for (const r of [...this.runs]) this.fail(r, new Error('every pool worker died'));
  }

  private deliver(chunk: Chunk, values: Float32Array): void {
    const run = chunk.run;
    if (run.done) return;
    run.results.set(chunk.start, { end: chunk.end, values });
    try {
      for (let r = run.results.get(run.consumed); r; r = run.results.get(run.consumed)) {
        run.results.delete(run.consumed);
        run.consume(run.consumed, r.end, r.values);
        run.pass.progress?.advance(r.end - run.consumed);
        run.consumed = r.end;
      }
    } catch (err) {
      this.fail(run, err);
      return;
    }
    if (run.consumed === run.count) this.finish(run, undefined);
  }

  private fail(run: Run, err: unknown): void {
    this.finish(run, err ?? new Error('pool run failed'));
  }

  private finish(run: Run, err: unknown): void {
    if (run.done) return;
    run.done = true;
    run.results.clear();
    const at = this.runs.indexOf(run);
    if (at >= 0) this.runs.splice(at, 1);
    if (err === undefined) run.resolve();
    else run.reject(err);
  }

  /** Drops the workers' cached models of `file` (or all). */
  evict(file?: string): void {
    for (const slot of this.slots) if (!slot.dead) this.post(slot, { type: 'evict', ...(file !== undefined ? { path: path.resolve(file) } : {}) });
  }

  private readonly memoryWaiters = new Map<number, (m: Extract<PoolReply, { type: 'memory' }>) => void>();

  /** Each live worker's tensor count and cached models (after the chunks queued before). */
  async memory(): Promise<{ numTensors: number; models: number }[]> {
    const live = this.slots.filter((s) => !s.dead);
    return Promise.all(
      live.map(
        (slot) =>
          new Promise<{ numTensors: number; models: number }>((resolve) => {
            const id = this.nextId++;
            slot.worker.ref();
            this.memoryWaiters.set(id, (m) => {
              if (!slot.busy) slot.worker.unref();
              resolve({ numTensors: m.numTensors, models: m.models });
            });
            this.post(slot, { type: 'memory', id });
          }),
      ),
    );
  }

  /** Terminates the workers; runs in progress reject. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const r of [...this.runs]) this.fail(r, new CancelledError());
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => ((s.dead = true), s.worker.terminate())));
  }
}

/**
 * The pool asked for by the environment: LENS_WORKERS=N (N > 1 workers) or 'auto' (one per core,
 * when there are several); none otherwise (LENS_WORKERS unset, 0 or 1).
 */
export function poolFromEnvironment(env: NodeJS.ProcessEnv = process.env): EnginePool | undefined {
  const value = env.LENS_WORKERS?.trim();
  if (!value) return undefined;
  const size = value === 'auto' ? os.availableParallelism() : Number(value);
  if (!Number.isInteger(size) || size < 0) throw new InputError(`LENS_WORKERS must be a number of workers or 'auto', got '${value}'`);
  return size > 1 ? new EnginePool({ size }) : undefined;
}

let ambient: PassPool | undefined;

/**
 * The pool used by passes whose request names none (the CLI and the engine worker set it once
 * at startup); undefined (the default) keeps every pass on the calling thread.
 */
export function setDefaultPool(pool: PassPool | undefined): void {
  ambient = pool;
}

export function defaultPool(): PassPool | undefined {
  return ambient;
}
