/**
 * The command palette actions (category "Attribution Lens"; `when` clauses in package.json) and
 * their handlers. Each long request runs under a cancellable progress notification (EngineHost).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineHost } from '../engine/engine-host';
import { showError, UntrustedWorkspaceError } from '../engine/engine-host';
import type { ExplainCache } from '../engine/explain-cache';
import { summarizeSanity } from '../live/sanity-summary';
import type { ModelState } from '../models/model-state';
import { isModelFile, isSampleFile, modelEntries, sampleFiles, sampleFolders, sidecarPath, summarizeSidecar } from '../models/model-files';
import type { ModelsNode } from '../models/models-view';
import { findLatestModel, findModelUris, readJson, workspaceRoots } from '../models/workspace-models';
import type { ExplainRunner } from '../panels/explain-runner';
import type { PanelRuns } from '../panels/panel-runs';
import { sanityView, type DataRandomizationJson, type SanityJson } from '../../protocol/views/sanity';
import { sensitivityView, type SensitivityJson } from '../../protocol/views/sensitivity';
import { manifoldView, type AlignmentResultJson } from '../../protocol/views/manifold';
import { installNativePackage, NATIVE_PACKAGES, type NativePackage } from '../engine/native-backend';
import { methodSettings, type Settings } from '../settings';

export interface CommandDeps {
  extensionUri: vscode.Uri;
  /** The extension's global storage folder: native backends are installed there. */
  globalStorage: string;
  host: EngineHost;
  explanations: ExplainCache;
  state: ModelState;
  settings: () => Settings;
  log: vscode.LogOutputChannel;
  runs: PanelRuns;
  explainer: ExplainRunner;
  refreshModels: () => void;
}

/** A command argument: a Uri (explorer / editor context), a tree node, or nothing (palette). */
type Target = vscode.Uri | ModelsNode | undefined;

export class Commands {
  constructor(private readonly d: CommandDeps) {}

  register(): vscode.Disposable[] {
    const r = (id: string, fn: (...args: never[]) => unknown): vscode.Disposable =>
      vscode.commands.registerCommand(id, async (...args: never[]) => {
        try {
          return await fn(...args);
        } catch (err) {
          showError(err);
          return undefined;
        }
      });
    return [
      r('attributionLens.explainImage', (t: Target, selected?: vscode.Uri[]) => this.explainImage(t, selected)),
      r('attributionLens.explainSample', (t: Target) => this.explainImage(t)),
      r('attributionLens.pickModel', () => this.pickModel()),
      r('attributionLens.setActiveModel', (t: Target) => this.setActiveModel(t)),
      r('attributionLens.sanityCheck', (t: Target) => this.sanity(t)),
      r('attributionLens.sensitivityN', (t: Target) => this.sensitivityN(t)),
      r('attributionLens.pinSample', (t: Target, selected?: vscode.Uri[]) => this.pin(t, selected)),
      r('attributionLens.unpinSample', (t: Target) => this.unpin(t)),
      r('attributionLens.explainLatestModel', () => this.latest('explain')),
      r('attributionLens.sanityCheckLatestModel', () => this.latest('sanity')),
      r('attributionLens.refreshModels', () => this.d.refreshModels()),
      r('attributionLens.showLog', () => this.d.log.show(true)),
      r('attributionLens.installGpuBackend', () => this.installNativeBackend()),
      r('attributionLens.manifoldAlignment', (t: Target) => this.manifoldAlignment(t)),
      r('attributionLens.dataRandomization', (t: Target) => this.dataRandomization(t)),
    ];
  }

  /** Explains an image with the model of the tree node, else the active one (asking if none). */
  async explainImage(target: Target, selected?: vscode.Uri[], model?: string): Promise<void> {
    requireTrust();
    const inputs = selected && selected.length > 1 ? selected.map((u) => u.fsPath).filter(isSampleFile) : undefined;
    const input = inputs?.[0] ?? (await this.inputOf(target, model ?? nodeModel(target) ?? this.d.state.activeModel));
    if (!input) return;
    const m = model ?? nodeModel(target) ?? (await this.modelOrAsk());
    if (!m) return;
    const methods = methodSettings(this.d.settings().methods);
    for (const file of inputs ?? [input]) {
      if (!(await this.d.explainer.run(m, file, methods))) return;
    }
  }

  async pickModel(): Promise<string | undefined> {
    const uris = await findModelUris();
    const entries = modelEntries(
      uris.map((u) => u.fsPath),
      workspaceRoots(),
    );
    if (entries.length === 0) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No model files (.onnx, .keras, .h5, model.json) found in this workspace.'));
      return undefined;
    }
    const active = this.d.state.activeModel;
    const pick = await vscode.window.showQuickPick(
      entries.map((e) => ({ label: e.label, description: e.folder, detail: e.path === active ? vscode.l10n.t('active') : undefined, path: e.path })),
      { title: vscode.l10n.t('Active model'), placeHolder: vscode.l10n.t('Pick the model that explains images'), matchOnDescription: true },
    );
    if (!pick) return undefined;
    await this.d.state.setActiveModel(pick.path);
    return pick.path;
  }

  async setActiveModel(target: Target): Promise<void> {
    const model = nodeModel(target) ?? (target instanceof vscode.Uri && isModelFile(target.fsPath) ? target.fsPath : undefined);
    if (model) await this.d.state.setActiveModel(model);
    else await this.pickModel();
  }

  async sanity(target: Target, model?: string): Promise<void> {
    requireTrust();
    const m = model ?? nodeModel(target) ?? (await this.modelOrAsk());
    if (!m) return;
    const input = await this.inputOf(isSampleTarget(target) ? target : undefined, m);
    if (!input) return;
    const methods = this.d.settings().sanityMethods;
    let summary: ReturnType<typeof summarizeSanity>;
    const view = await this.d.runs.show('sanity', vscode.l10n.t('Sanity checks of {0}', path.basename(m)), vscode.l10n.t('Randomizing layers…'), async (options) => {
      const result = await this.d.host.request('sanity', { model: m, input, maps: true, ...(methods.length ? { methods } : {}) }, options);
      summary = summarizeSanity(result);
      return sanityView(result as SanityJson, { title: vscode.l10n.t('Sanity · {0} · {1}', path.basename(m), path.basename(input)) });
    });
    if (view && summary) {
      const msg = vscode.l10n.t('{0}: {1}/{2} sanity checks pass', path.basename(m), summary.passed, summary.total);
      this.d.log.info(msg);
      void vscode.window.showInformationMessage(msg);
    }
  }

  /**
   * The data randomization test (Adebayo et al.): the maps of the model against those of the same
   * architecture trained on permuted labels (asked for once, then remembered), shown under the
   * model randomization grid.
   */
  async dataRandomization(target: Target): Promise<void> {
    requireTrust();
    const m = nodeModel(target) ?? (await this.modelOrAsk());
    if (!m) return;
    const input = await this.inputOf(isSampleTarget(target) ? target : undefined, m);
    if (!input) return;
    const compareModel = await this.rememberedPath('compareModel', {
      canSelectFiles: true,
      canSelectFolders: false,
      filters: { [vscode.l10n.t('Models')]: ['onnx'] },
      openLabel: vscode.l10n.t('Compare with this model'),
      title: vscode.l10n.t('{0} trained on permuted labels (same architecture)', path.basename(m)),
    });
    if (!compareModel) return;
    const methods = this.d.settings().sanityMethods;
    const m2 = methods.length ? { methods } : {};
    await this.d.runs.show('sanity', vscode.l10n.t('Data randomization of {0}', path.basename(m)), vscode.l10n.t('Comparing with {0}…', path.basename(compareModel)), async (options) => {
      const sanity = (await this.d.host.request('sanity', { model: m, input, maps: true, ...m2 }, options)) as SanityJson;
      const data = await this.d.host.request('dataRandomization', { model: m, input, compareModel, ...m2 }, options);
      return sanityView(sanity, {
        data: data as DataRandomizationJson,
        compareModel,
        title: vscode.l10n.t('Sanity · {0} · {1}', path.basename(m), path.basename(input)),
      });
    });
  }

  /** A path setting of this workspace, asked for with a dialog the first time. */
  private async rememberedPath(setting: 'manifoldDataset' | 'compareModel', dialog: vscode.OpenDialogOptions): Promise<string | undefined> {
    const config = vscode.workspace.getConfiguration('attributionLens');
    const known = config.get<string>(setting) || undefined;
    if (known) return known;
    const picked = (await vscode.window.showOpenDialog({ ...dialog, canSelectMany: false }))?.[0]?.fsPath;
    if (picked) await config.update(setting, picked, vscode.ConfigurationTarget.Workspace);
    return picked;
  }

  /** Manifold alignment against a VAE trained on the model's training images (asked for once, then remembered). */
  async manifoldAlignment(target: Target): Promise<void> {
    requireTrust();
    const m = nodeModel(target) ?? (await this.modelOrAsk());
    if (!m) return;
    const input = await this.inputOf(isSampleTarget(target) ? target : undefined, m);
    if (!input) return;
    const dataset = await this.rememberedPath('manifoldDataset', {
      canSelectFiles: true,
      canSelectFolders: true,
      openLabel: vscode.l10n.t('Use as training images'),
      title: vscode.l10n.t('Training images of {0} (an IDX file or a folder of images)', path.basename(m)),
    });
    if (!dataset) return;
    await this.d.runs.show('manifold', vscode.l10n.t('Manifold alignment of {0}', path.basename(m)), vscode.l10n.t('Training or loading the VAE…'), async (options) => {
      const json = (await this.d.host.request('alignment', { model: m, input, dataset }, options)) as AlignmentResultJson;
      return manifoldView(json, { title: vscode.l10n.t('Manifold · {0} · {1}', path.basename(m), path.basename(input)) });
    });
  }

  async sensitivityN(target: Target): Promise<void> {
    requireTrust();
    const m = nodeModel(target) ?? (await this.modelOrAsk());
    if (!m) return;
    const input = await this.inputOf(isSampleTarget(target) ? target : undefined, m);
    if (!input) return;
    await this.d.runs.show('sensitivity', vscode.l10n.t('Sensitivity-n of {0}', path.basename(m)), vscode.l10n.t('Removing pixel subsets…'), async (options) => {
      const json = (await this.d.host.request('sensitivityN', { model: m, input }, options)) as SensitivityJson;
      return sensitivityView(json, { title: vscode.l10n.t('Sensitivity-n · {0} · {1}', path.basename(m), path.basename(input)) });
    });
  }

  async pin(target: Target, selected?: vscode.Uri[]): Promise<void> {
    const files = selected && selected.length > 1 ? selected.map((u) => u.fsPath) : [await this.inputOf(target)];
    const samples = files.filter((f): f is string => f !== undefined && isSampleFile(f));
    if (samples.length) await this.d.state.pin(samples);
  }

  async unpin(target: Target): Promise<void> {
    const file = target instanceof vscode.Uri ? target.fsPath : target?.kind === 'sample' ? target.file : undefined;
    if (file) await this.d.state.unpin(file);
  }

  async latest(what: 'explain' | 'sanity'): Promise<void> {
    requireTrust();
    const model = await findLatestModel();
    if (!model) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No model files (.onnx, .keras, .h5, model.json) found in this workspace.'));
      return;
    }
    if (what === 'explain') await this.explainImage(undefined, undefined, model);
    else await this.sanity(undefined, model);
  }

  private async modelOrAsk(): Promise<string | undefined> {
    return this.d.state.activeModel ?? (await this.pickModel());
  }

  /**
   * The input of a command: the Uri or sample node it was invoked on, the image in the active
   * editor, or one the user picks (pinned samples and the model's samples first, then a file dialog).
   */
  private async inputOf(target: Target, model?: string): Promise<string | undefined> {
    if (target instanceof vscode.Uri) return target.fsPath;
    if (target?.kind === 'sample') return target.file;
    const active = activeEditorFile();
    if (active && isSampleFile(active)) return active;
    const candidates = [...this.d.state.pinned];
    if (model) {
      const sidecar = summarizeSidecar(model, await readJson(sidecarPath(model)));
      for (const dir of sampleFolders(model, sidecar, this.d.settings().sampleFolders)) {
        try {
          const names = (await vscode.workspace.fs.readDirectory(vscode.Uri.file(dir))).map(([n]) => n);
          for (const f of sampleFiles(dir, names)) if (!candidates.includes(f)) candidates.push(f);
        } catch {
          // no such folder
        }
      }
    }
    const browse = vscode.l10n.t('Browse…');
    if (candidates.length > 0) {
      const pick = await vscode.window.showQuickPick(
        [
          ...candidates.map((f) => ({ label: path.basename(f), description: vscode.workspace.asRelativePath(path.dirname(f)), file: f as string | undefined })),
          { label: `$(folder-opened) ${browse}`, description: '', file: undefined },
        ],
        { title: vscode.l10n.t('Sample to explain') },
      );
      if (!pick) return undefined;
      if (pick.file) return pick.file;
    }
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: vscode.l10n.t('Explain'),
      filters: { [vscode.l10n.t('Images and arrays')]: ['png', 'jpg', 'jpeg', 'npy'] },
    });
    return picked?.[0]?.fsPath;
  }

  /**
   * Installs a native package with npm into the global storage (the .vsix cannot ship it): a
   * TensorFlow backend, then selected (its install downloads libtensorflow), or ONNX Runtime, then
   * used for ONNX models' plain passes; the engine restarts with it.
   */
  async installNativeBackend(): Promise<void> {
    requireTrust();
    const choice = await vscode.window.showQuickPick(
      NATIVE_CHOICES.map((c) => ({ label: c.label, detail: c.detail, which: c.which })),
      { title: vscode.l10n.t('Install a faster backend for Attribution Lens') },
    );
    if (!choice) return;
    await fs.mkdir(this.d.globalStorage, { recursive: true });
    const installed = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Installing {0}', NATIVE_PACKAGES[choice.which]), cancellable: true },
      async (progress, token) => {
        const controller = new AbortController();
        const sub = token.onCancellationRequested(() => controller.abort());
        try {
          await installNativePackage(this.d.globalStorage, choice.which, {
            signal: controller.signal,
            log: (line) => {
              this.d.log.info(`[npm] ${line}`);
              progress.report({ message: line.slice(0, 80) });
            },
          });
          return true;
        } catch (err) {
          this.d.log.error(String((err as Error).message));
          void vscode.window.showErrorMessage((err as Error).message, vscode.l10n.t('Show Log')).then((a) => a && this.d.log.show(true));
          return false;
        } finally {
          sub.dispose();
        }
      },
    );
    if (!installed) return;
    const config = vscode.workspace.getConfiguration('attributionLens');
    if (choice.which === 'onnxruntime') {
      if (!config.get<boolean>('nativeRuntime', true)) await config.update('nativeRuntime', true, vscode.ConfigurationTarget.Global);
      this.d.host.restart();
      void vscode.window.showInformationMessage(vscode.l10n.t('{0} installed: ONNX models now run their gradients and forward passes on it.', NATIVE_PACKAGES[choice.which]));
      return;
    }
    await config.update('backend', choice.which, vscode.ConfigurationTarget.Global);
    void vscode.window.showInformationMessage(vscode.l10n.t('{0} installed: the engine now runs on it.', NATIVE_PACKAGES[choice.which]));
  }
}

/** The native packages the installer offers. */
const NATIVE_CHOICES: { which: NativePackage; label: string; detail: string }[] = [
  { which: 'onnxruntime', label: 'ONNX Runtime (CPU)', detail: 'onnxruntime-node: gradients and forward passes of ONNX models on all cores; from npm alone' },
  { which: 'tensorflow-gpu', label: 'TensorFlow GPU (CUDA)', detail: '@tensorflow/tfjs-node-gpu: needs an NVIDIA GPU with CUDA' },
  { which: 'tensorflow', label: 'TensorFlow CPU', detail: '@tensorflow/tfjs-node: native, multi-threaded' },
];

/** Engine commands say why they do nothing in an untrusted workspace before asking the user anything. */
function requireTrust(): void {
  if (!vscode.workspace.isTrusted) throw new UntrustedWorkspaceError();
}

function nodeModel(target: Target): string | undefined {
  if (target === undefined || target instanceof vscode.Uri) return undefined;
  if (target.kind === 'model') return target.entry.path;
  if (target.kind === 'sample') return target.model;
  return undefined;
}

function isSampleTarget(target: Target): boolean {
  return target instanceof vscode.Uri ? isSampleFile(target.fsPath) : target?.kind === 'sample';
}

/** The file shown in the active editor: a text editor, or an image preview (a custom editor tab). */
function activeEditorFile(): string | undefined {
  const doc = vscode.window.activeTextEditor?.document;
  if (doc && doc.uri.scheme === 'file') return doc.uri.fsPath;
  const input = vscode.window.tabGroups?.activeTabGroup?.activeTab?.input;
  if (input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText) return input.uri.scheme === 'file' ? input.uri.fsPath : undefined;
  return undefined;
}
