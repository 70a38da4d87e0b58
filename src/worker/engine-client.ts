/**
 * The host side of the engine RPC (src/protocol/engine.ts): starts the engine worker, queues
 * requests, relays progress and cancellation, and replaces a worker that died. No vscode here,
 * so it runs in plain node (tests) as well as in the extension host.
 *
 * Queueing: one request runs in the worker at a time; the others wait in a FIFO and start in
 * the order they were made. With `maxQueue`, a request finding that many already waiting is
 * rejected at once (EngineError 'busy': "engine busy: N requests queued").
 *
 * Cancellation: aborting the signal of a waiting request removes it from the queue (it never
 * runs); aborting the running one sends 'cancel' and rejects once the worker confirms. A worker
 * that does not confirm within `cancelTimeoutMs` is terminated; the next request starts a new one.
 *
 * Crashes: if the worker exits or throws unexpectedly, the running request rejects with
 * "engine worker stopped: <reason>" (EngineError 'crashed') and the next request starts a
 * fresh worker.
 *
 * The worker is a child process (see engine-worker.ts for why not a thread), forked with an IPC
 * channel using structured-clone serialization so ArrayBuffers arrive as ArrayBuffers.
 */
import { fork, type ChildProcess } from 'node:child_process';
import {
  isWorkerMessage,
  type BackendChoice,
  type EngineRequests,
  type HostMessage,
  type RequestKind,
  type WorkerMessage,
} from '../protocol/engine';

export type EngineErrorKind =
  /** The user's input (a file, an option): show the message as it is. */
  | 'input'
  /** The request was cancelled. */
  | 'cancelled'
  /** A bug in the engine: the message, plus the worker's log. */
  | 'internal'
  /** The worker died while running the request (or while starting). */
  | 'crashed'
  /** The queue is full. */
  | 'busy'
  /** The client was disposed. */
  | 'disposed';

export class EngineError extends Error {
  constructor(
    readonly kind: EngineErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export function isCancelled(err: unknown): boolean {
  return err instanceof EngineError && err.kind === 'cancelled';
}

export interface EngineProgress {
  done: number;
  total: number;
  /** done / total in [0, 1]. */
  fraction: number;
  label?: string;
}

export interface RequestOptions {
  onProgress?: (progress: EngineProgress) => void;
  signal?: AbortSignal;
}

export interface EngineClientOptions {
  /** Requests allowed to wait behind the running one (default: no limit). */
  maxQueue?: number;
  /** How long a cancelled request may take to stop before the worker is restarted (default 2000 ms). */
  cancelTimeoutMs?: number;
  /** Receives the worker's stdout and stderr lines (default: they go to this process's). */
  log?: (line: string) => void;
  /** Folders where optional native backends were installed (their node_modules), e.g. the extension's global storage. */
  nativeModulePaths?: string[];
  /**
   * Engine pool workers the engine process starts (worker threads, on first use) to run
   * the chunks of batched passes in parallel: a number (0 or 1: none, the default) or 'auto'
   * (one per core). Pays only on a single-core backend (wasm, cpu) with several free cores.
   */
  workers?: number | 'auto';
  /** ONNX Runtime for ONNX models' plain gradients and forward passes, when installed (default off). */
  nativeRuntime?: boolean;
}

interface Pending {
  id: number;
  kind: RequestKind;
  params: unknown;
  options: RequestOptions;
  resolve(result: unknown): void;
  reject(err: Error): void;
  /** Posted to the worker (else still waiting or waiting for the worker to start). */
  posted: boolean;
  settled: boolean;
  onAbort?: () => void;
  cancelTimer?: NodeJS.Timeout;
}

interface WorkerHandle {
  worker: ChildProcess;
  backendChoice: BackendChoice;
  ready: Promise<string>;
  /** Terminated on purpose: its exit is no crash. */
  stopping: boolean;
  /** The uncaught error it reported, the reason given when it exits. */
  lastError?: Error;
}

const DEFAULT_CANCEL_TIMEOUT_MS = 2000;

export class EngineClient {
  private handle: WorkerHandle | undefined;
  private backendChoice: BackendChoice = 'auto';
  private readonly queue: Pending[] = [];
  private running: Pending | undefined;
  private nextId = 1;
  private disposed = false;
  private workersStarted = 0;

  /**
   * @param workerScript the worker bundle (dist/engine-worker.js), or any script that loads
   *   src/worker/engine-worker.ts
   */
  constructor(
    private readonly workerScript: string,
    private readonly options: EngineClientOptions = {},
  ) {}

  /** Number of workers started so far (a crash or a stuck cancellation starts another). */
  get workerCount(): number {
    return this.workersStarted;
  }

  /** Requests waiting behind the running one. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Starts the worker with `backend` (restarting it if it runs another) and resolves with the
   * backend it picked. Optional: a request starts the worker with the last backend asked for
   * ('auto' at first). Rejects with an EngineError 'input' when the backend is not installed.
   */
  async start(backend: BackendChoice = this.backendChoice): Promise<string> {
    if (this.disposed) throw new EngineError('disposed', 'the engine client was disposed');
    this.backendChoice = backend;
    if (this.handle && this.handle.backendChoice !== backend) {
      // The running request, if any, fails as the worker goes; queued ones run on the new one.
      const old = this.handle;
      this.stop(old);
      if (this.running) this.finish(this.running, new EngineError('cancelled', 'cancelled: the engine restarted with another backend'));
    }
    return this.worker().ready;
  }

  /** Queues a request; resolves with its result or rejects with an EngineError. */
  request<K extends RequestKind>(kind: K, params: EngineRequests[K]['params'], options: RequestOptions = {}): Promise<EngineRequests[K]['result']> {
    if (this.disposed) return Promise.reject(new EngineError('disposed', 'the engine client was disposed'));
    if (options.signal?.aborted) return Promise.reject(new EngineError('cancelled', 'cancelled'));
    const max = this.options.maxQueue;
    if (max !== undefined && this.running && this.queue.length >= max) {
      return Promise.reject(new EngineError('busy', `engine busy: ${this.queue.length} requests queued`));
    }
    return new Promise<EngineRequests[K]['result']>((resolve, reject) => {
      const pending: Pending = {
        id: this.nextId++,
        kind,
        params,
        options,
        resolve: resolve as (result: unknown) => void,
        reject,
        posted: false,
        settled: false,
      };
      if (options.signal) {
        pending.onAbort = () => this.cancel(pending);
        options.signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.queue.push(pending);
      void this.pump();
    });
  }

  /** Rejects every request and terminates the worker. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const all = [...(this.running ? [this.running] : []), ...this.queue];
    this.queue.length = 0;
    for (const p of all) this.finish(p, new EngineError('disposed', 'the engine client was disposed'));
    if (this.handle) this.stop(this.handle);
  }

  /** Test hook: makes the worker throw an uncaught error, as a crash would. */
  crashWorkerForTests(reason: string): void {
    this.handle?.worker.send({ type: 'crash', reason } satisfies HostMessage);
  }

  // -------------------------------------------------------------------------------------------

  private async pump(): Promise<void> {
    if (this.running || this.disposed) return;
    const next = this.queue.shift();
    if (!next) return;
    this.running = next;
    try {
      const handle = this.worker();
      await handle.ready;
      if (next.settled || handle !== this.handle) {
        // Cancelled while the worker started, or the worker died meanwhile (finish ran then).
        if (!next.settled) this.finish(next, new EngineError('crashed', 'engine worker stopped while starting'));
        return;
      }
      next.posted = true;
      handle.worker.send({ type: 'request', id: next.id, kind: next.kind, params: next.params } as HostMessage);
    } catch (err) {
      this.finish(next, err instanceof EngineError ? err : new EngineError('internal', (err as Error).message));
    }
  }

  /** Settles a request, frees the worker for the next one and starts it. */
  private finish(p: Pending, outcome: { result: unknown } | Error): void {
    if (p.settled) return;
    p.settled = true;
    if (p.onAbort) p.options.signal?.removeEventListener('abort', p.onAbort);
    clearTimeout(p.cancelTimer);
    const at = this.queue.indexOf(p);
    if (at >= 0) this.queue.splice(at, 1);
    if (this.running === p) this.running = undefined;
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome.result);
    void this.pump();
  }

  private cancel(p: Pending): void {
    if (p.settled) return;
    if (!p.posted || this.running !== p || !this.handle) {
      this.finish(p, new EngineError('cancelled', 'cancelled'));
      return;
    }
    const handle = this.handle;
    handle.worker.send({ type: 'cancel', id: p.id } satisfies HostMessage);
    const timeout = this.options.cancelTimeoutMs ?? DEFAULT_CANCEL_TIMEOUT_MS;
    p.cancelTimer = setTimeout(() => {
      if (p.settled) return;
      this.stop(handle);
      this.finish(p, new EngineError('cancelled', `cancelled (the engine did not stop within ${timeout} ms and was restarted)`));
    }, timeout);
  }

  /** The current worker, started (with the init handshake under way) if there is none. */
  private worker(): WorkerHandle {
    if (this.handle) return this.handle;
    const log = this.options.log;
    const worker = fork(this.workerScript, [], {
      stdio: log !== undefined ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
      // Not the host's flags (an inspector port, tsx hooks): the script stands alone.
      execArgv: [],
      // In VS Code the host's executable is Electron: run it as plain Node.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    this.workersStarted++;
    if (log) {
      for (const stream of [worker.stdout!, worker.stderr!]) {
        let buffered = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          const lines = (buffered + chunk).split('\n');
          buffered = lines.pop()!;
          for (const line of lines) log(line);
        });
      }
    }
    let readyCallbacks!: { resolve(backend: string): void; reject(err: Error): void };
    const ready = new Promise<string>((resolve, reject) => (readyCallbacks = { resolve, reject }));
    // A failed start is reported through the requests that wait for it.
    ready.catch(() => {});
    const handle: WorkerHandle = { worker, backendChoice: this.backendChoice, ready, stopping: false };
    this.handle = handle;

    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) {
        log?.(`engine worker: ignored an invalid message ${JSON.stringify(message)?.slice(0, 200)}`);
        return;
      }
      if (message.type === 'ready') readyCallbacks.resolve(message.backend);
      else if (message.type === 'fatal') handle.lastError = new Error(message.message);
      else if (message.type === 'initError') {
        readyCallbacks.reject(new EngineError(message.kind, message.message));
        this.stop(handle);
      } else this.onMessage(message);
    });
    worker.on('error', (err) => {
      handle.lastError ??= err;
    });
    worker.on('exit', (code, signal) => {
      const reason = handle.lastError?.message ?? (signal ? `signal ${signal}` : `exit code ${code}`);
      readyCallbacks.reject(new EngineError('crashed', `engine worker stopped: ${reason}`));
      if (this.handle === handle) this.handle = undefined;
      if (handle.stopping) return;
      log?.(`engine worker stopped: ${reason}`);
      const running = this.running;
      if (running?.posted) this.finish(running, new EngineError('crashed', `engine worker stopped: ${reason}`));
    });
    worker.send({
      type: 'init',
      backend: this.backendChoice,
      nativeModulePaths: this.options.nativeModulePaths,
      ...(this.options.workers !== undefined ? { workers: this.options.workers } : {}),
      ...(this.options.nativeRuntime ? { nativeRuntime: true } : {}),
    } satisfies HostMessage);
    return handle;
  }

  private stop(handle: WorkerHandle): void {
    handle.stopping = true;
    if (this.handle === handle) this.handle = undefined;
    handle.worker.kill('SIGKILL');
  }

  private onMessage(message: Exclude<WorkerMessage, { type: 'ready' | 'initError' | 'fatal' }>): void {
    const p = this.running;
    if (!p || p.id !== message.id) {
      // A waiting request cancelled in the worker, or an answer after the request was settled.
      return;
    }
    switch (message.type) {
      case 'progress': {
        const { done, total, label } = message;
        p.options.onProgress?.({ done, total, fraction: total > 0 ? Math.min(1, done / total) : 1, ...(label !== undefined ? { label } : {}) });
        break;
      }
      case 'result':
        this.finish(p, { result: message.result });
        break;
      case 'error':
        this.finish(p, new EngineError(message.kind ?? 'internal', message.message));
        break;
    }
  }
}
