/**
 * The extension's handle on the engine worker: started lazily on the first request, never in an
 * untrusted workspace, restarted with the new backend when the setting changes. Long requests run
 * under `window.withProgress` with the notification's cancel button wired to an AbortSignal.
 */
import * as vscode from 'vscode';
import { EngineClient, EngineError, type EngineProgress, type RequestOptions } from '../../worker/engine-client';
import type { BackendChoice, EngineRequests, RequestKind } from '../../protocol/engine';

/** The part of EngineClient the extension uses (a seam for the benchmark, not for mocking tests). */
export interface EngineApi {
  start(backend: BackendChoice): Promise<string>;
  request<K extends RequestKind>(kind: K, params: EngineRequests[K]['params'], options?: RequestOptions): Promise<EngineRequests[K]['result']>;
  dispose(): void;
}

/** Thrown when the workspace is not trusted; commands show its message. */
export class UntrustedWorkspaceError extends Error {
  constructor() {
    super(
      vscode.l10n.t(
        'Attribution Lens runs its engine only in trusted workspaces (it loads the model files of this folder). Trust the workspace to explain models.',
      ),
    );
    this.name = 'UntrustedWorkspaceError';
  }
}

export class EngineHost implements vscode.Disposable {
  private client: EngineApi | undefined;
  private started: Promise<string> | undefined;
  private backend: BackendChoice;

  constructor(
    private readonly workerScript: string,
    private readonly log: vscode.LogOutputChannel,
    backend: BackendChoice,
    /** Where the GPU/native backend installer puts its node_modules (the extension's global storage). */
    private readonly nativeModulePaths: string[] = [],
    /** Engine pool workers for batched passes (attributionLens.engineWorkers); 0: none. */
    workers = 0,
    /** ONNX Runtime for ONNX models' plain passes when installed (attributionLens.nativeRuntime). */
    private nativeRuntime = true,
    private readonly createClient: (script: string, log: (line: string) => void, nativeRuntime: boolean) => EngineApi = (script, logLine, native) =>
      new EngineClient(script, { log: logLine, maxQueue: 8, nativeModulePaths, nativeRuntime: native, ...(workers > 0 ? { workers } : {}) }),
  ) {
    this.backend = backend;
  }

  /** Whether the worker has been started (the watcher only re-runs work when it is). */
  get isRunning(): boolean {
    return this.client !== undefined;
  }

  /** Sets the backend; a running worker restarts with it on the next request. */
  setBackend(backend: BackendChoice): void {
    if (backend === this.backend) return;
    this.backend = backend;
    this.started = undefined;
  }

  /** Turns ONNX Runtime on or off; a running engine is stopped and the next request starts one with it. */
  setNativeRuntime(on: boolean): void {
    if (on === this.nativeRuntime) return;
    this.nativeRuntime = on;
    this.restart();
  }

  /** Stops the engine (its requests reject); the next request starts a new one, which sees newly installed packages. */
  restart(): void {
    this.dispose();
  }

  /** The started client (starting it on first use). */
  async engine(): Promise<EngineApi> {
    if (!vscode.workspace.isTrusted) throw new UntrustedWorkspaceError();
    if (!this.client) this.client = this.createClient(this.workerScript, (line) => this.log.info(`[worker] ${line}`), this.nativeRuntime);
    if (!this.started) {
      const t0 = performance.now();
      const backend = this.backend;
      this.started = this.client.start(backend).then(
        (name) => {
          this.log.info(`engine started on ${name} (asked: ${backend}) in ${Math.round(performance.now() - t0)} ms`);
          return name;
        },
        (err: unknown) => {
          this.started = undefined;
          throw err;
        },
      );
    }
    await this.started;
    return this.client;
  }

  /** One request, timed in the log. */
  async request<K extends RequestKind>(kind: K, params: EngineRequests[K]['params'], options: RequestOptions = {}): Promise<EngineRequests[K]['result']> {
    const engine = await this.engine();
    const t0 = performance.now();
    try {
      const result = await engine.request(kind, params, options);
      this.log.info(`${kind} ${describeParams(params)} in ${Math.round(performance.now() - t0)} ms`);
      return result;
    } catch (err) {
      if (isCancellation(err)) this.log.info(`${kind} cancelled after ${Math.round(performance.now() - t0)} ms`);
      else this.log.error(`${kind} ${describeParams(params)} failed: ${errorMessage(err)}`);
      throw err;
    }
  }

  /**
   * A request under a cancellable progress notification. Resolves undefined when the user
   * cancelled; shows the error and resolves undefined when it failed.
   */
  async withProgress<K extends RequestKind>(
    title: string,
    kind: K,
    params: EngineRequests[K]['params'],
    cancel?: AbortSignal,
  ): Promise<EngineRequests[K]['result'] | undefined> {
    return this.underProgress(title, (options) => this.request(kind, params, options), cancel);
  }

  /**
   * Any engine work (a request, or one answered from the result cache) under a cancellable
   * progress notification. Resolves undefined when cancelled or failed (the error is shown).
   */
  async underProgress<T>(title: string, work: (options: RequestOptions) => Promise<T>, cancel?: AbortSignal): Promise<T | undefined> {
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title, cancellable: true },
        async (progress, token) => {
          const controller = new AbortController();
          const sub = token.onCancellationRequested(() => controller.abort());
          if (token.isCancellationRequested || cancel?.aborted) controller.abort();
          // A panel's Cancel button stops the work as the notification's does.
          cancel?.addEventListener('abort', () => controller.abort(), { once: true });
          let reported = 0;
          const onProgress = (p: EngineProgress): void => {
            const pct = Math.max(0, Math.min(100, p.fraction * 100));
            progress.report({ increment: pct - reported, message: p.label ?? `${p.done}/${p.total}` });
            reported = pct;
          };
          try {
            return await work({ signal: controller.signal, onProgress });
          } finally {
            sub.dispose();
          }
        },
      );
    } catch (err) {
      if (isCancellation(err)) {
        void vscode.window.showInformationMessage(vscode.l10n.t('{0}: cancelled', title));
      } else {
        showError(err);
      }
      return undefined;
    }
  }

  /** Forgets a model in the worker, if it runs (nothing to evict otherwise). */
  async evict(model?: string): Promise<void> {
    if (!this.client || !vscode.workspace.isTrusted) return;
    await this.request('evict', model === undefined ? {} : { model });
  }

  dispose(): void {
    this.client?.dispose();
    this.client = undefined;
    this.started = undefined;
  }
}

export function isCancellation(err: unknown): boolean {
  return err instanceof EngineError ? err.kind === 'cancelled' : err instanceof Error && err.name === 'AbortError';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Shows an error the user can act on; engine bugs point at the log. */
export function showError(err: unknown): void {
  if (err instanceof UntrustedWorkspaceError) {
    void vscode.window.showWarningMessage(err.message, vscode.l10n.t('Manage Workspace Trust')).then((choice) => {
      if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
    });
    return;
  }
  const kind = err instanceof EngineError ? err.kind : 'internal';
  if (kind === 'input' || kind === 'busy') {
    void vscode.window.showErrorMessage(errorMessage(err));
  } else {
    void vscode.window.showErrorMessage(vscode.l10n.t('Attribution Lens: {0}', errorMessage(err)), vscode.l10n.t('Show Log')).then((choice) => {
      if (choice) void vscode.commands.executeCommand('attributionLens.showLog');
    });
  }
}

function describeParams(params: unknown): string {
  if (typeof params !== 'object' || params === null) return '';
  const p = params as { model?: unknown; input?: unknown; methods?: unknown };
  const parts: string[] = [];
  if (typeof p.model === 'string') parts.push(p.model.split(/[\\/]/).pop() ?? '');
  if (typeof p.input === 'string') parts.push(p.input.split(/[\\/]/).pop() ?? '');
  if (Array.isArray(p.methods)) parts.push(p.methods.map((m) => (typeof m === 'string' ? m : (m as { method?: string }).method)).join(','));
  return parts.join(' ');
}
