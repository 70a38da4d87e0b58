/**
 * Live re-explanation: a FileSystemWatcher on model files. When one is written (re-exported by a
 * training script), the engine forgets it, the Models view refreshes, and — if the workspace is
 * trusted — the open Explain panel showing it is explained again, and the pinned samples are
 * explained again with it (and optionally sanity-checked), the status bar item saying how it went.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineHost } from '../engine/engine-host';
import { errorMessage, isCancellation } from '../engine/engine-host';
import type { ExplainCache } from '../engine/explain-cache';
import type { ModelState } from '../models/model-state';
import { MODEL_GLOB } from '../models/model-files';
import type { ExplainRunner } from '../panels/explain-runner';
import { Panel } from '../panels/panel';
import { methodSettings, type Settings } from '../settings';
import { sanityStatusText, summarizeSanity } from './sanity-summary';

/** Exporters write a file in several chunks; wait for quiet before reacting. */
const DEBOUNCE_MS = 400;

export class ModelWatcher implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private running: AbortController | undefined;
  /** The active model the status item last showed (a re-run's result stays until it changes). */
  private shownActive: string | undefined;
  readonly status: vscode.StatusBarItem;
  /** Resolves when the current re-run finishes (tests and the benchmark wait on it). */
  idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: EngineHost,
    private readonly explanations: ExplainCache,
    private readonly state: ModelState,
    private readonly settings: () => Settings,
    private readonly onModelsChanged: () => void,
    private readonly log: vscode.LogOutputChannel,
    private readonly explainer: ExplainRunner,
  ) {
    this.status = vscode.window.createStatusBarItem('attributionLens.status', vscode.StatusBarAlignment.Left, 10);
    this.status.name = vscode.l10n.t('Attribution Lens');
    this.status.command = 'attributionLens.showLog';
    const watcher = vscode.workspace.createFileSystemWatcher(MODEL_GLOB);
    this.showActiveModel();
    this.disposables.push(
      this.status,
      watcher,
      state.onDidChange(() => this.showActiveModel()),
      watcher.onDidChange((uri) => this.schedule(uri.fsPath)),
      watcher.onDidCreate((uri) => this.schedule(uri.fsPath)),
      watcher.onDidDelete((uri) => {
        this.explanations.evictPath(uri.fsPath);
        void this.host.evict(uri.fsPath).catch(() => undefined);
        if (this.state.activeModel === uri.fsPath) void this.state.setActiveModel(undefined);
        this.onModelsChanged();
      }),
    );
  }

  /** The status item names the active model from activation on; hidden when there is none. */
  private showActiveModel(): void {
    const active = this.state.activeModel;
    if (active === this.shownActive && (active === undefined || this.status.text !== '')) return;
    this.shownActive = active;
    if (active === undefined) {
      this.status.text = '';
      this.status.tooltip = undefined;
      this.status.hide();
      return;
    }
    this.status.text = `$(beaker) ${path.basename(active)}`;
    this.status.tooltip = vscode.l10n.t('Attribution Lens: active model');
    this.status.show();
  }

  private schedule(file: string): void {
    clearTimeout(this.timers.get(file));
    this.timers.set(
      file,
      setTimeout(() => {
        this.timers.delete(file);
        this.idle = this.modelChanged(file);
      }, DEBOUNCE_MS),
    );
  }

  /** Reacts to a written model file (public for tests: the watcher's debounce is the only other caller). */
  async modelChanged(file: string): Promise<void> {
    this.onModelsChanged();
    this.explanations.evictPath(file);
    const name = path.basename(file);
    this.log.info(`${name} changed on disk`);
    await this.host.evict(file).catch((err: unknown) => this.log.warn(`evict ${name}: ${errorMessage(err)}`));
    this.refreshPanel(file);
    const settings = this.settings();
    const pinned = this.state.pinned;
    const relevant = this.state.activeModel === undefined || this.state.activeModel === file;
    if (!vscode.workspace.isTrusted || !settings.liveReexplain || pinned.length === 0 || !relevant) return;

    this.running?.abort(); // a newer export supersedes a re-run in progress
    const controller = new AbortController();
    this.running = controller;
    this.status.text = `$(sync~spin) ${vscode.l10n.t('{0}: explaining {1} samples…', name, pinned.length)}`;
    this.status.show();
    let explained = 0;
    const failures: string[] = [];
    try {
      for (const input of pinned) {
        try {
          await this.explanations.explain(
            { model: file, input, methods: methodSettings(settings.methods), topK: settings.topK, opacity: settings.overlayOpacity },
            { signal: controller.signal },
          );
          explained++;
        } catch (err) {
          if (isCancellation(err)) throw err;
          failures.push(`${path.basename(input)}: ${errorMessage(err)}`);
        }
      }
      let text = vscode.l10n.t('{0}: explained {1} samples', name, explained);
      if (settings.liveSanity && explained > 0) {
        const sanity = summarizeSanity(
          await this.host.request('sanity', { model: file, input: pinned[0], ...(settings.sanityMethods.length ? { methods: settings.sanityMethods } : {}) }, { signal: controller.signal }),
        );
        if (sanity) text = sanityStatusText(name, sanity);
      }
      this.status.text = `${failures.length ? '$(warning)' : '$(pass)'} ${text}`;
      this.status.tooltip = failures.length ? failures.join('\n') : undefined;
      this.log.info(text + (failures.length ? ` (${failures.length} failed)` : ''));
    } catch (err) {
      if (isCancellation(err)) return;
      this.status.text = `$(error) ${name}`;
      this.status.tooltip = errorMessage(err);
      this.log.error(`re-explaining with ${name}: ${errorMessage(err)}`);
    } finally {
      if (this.running === controller) this.running = undefined;
    }
  }

  /** The Explain panel showing `file`'s explanation is explained again, with the same methods and class. */
  private refreshPanel(file: string): void {
    const view = Panel.get('explain')?.view;
    if (!vscode.workspace.isTrusted || view?.kind !== 'explain' || view.model !== file) return;
    this.log.info(`refreshing the Explain panel of ${path.basename(file)}`);
    void this.explainer.run(file, view.input, view.methods.map((m) => m.settings), view.target);
  }

  dispose(): void {
    this.running?.abort();
    for (const t of this.timers.values()) clearTimeout(t);
    for (const d of this.disposables) d.dispose();
  }
}
