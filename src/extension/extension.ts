/**
 * Attribution Lens in VS Code: activation wires the features together; nothing heavy happens here.
 * The engine worker starts on the first request that needs it, and never in an untrusted workspace.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CODELENS_LANGUAGES, TrainingCodeLensProvider } from './codelens/training-codelens';
import { Commands } from './commands/commands';
import { EngineHost } from './engine/engine-host';
import { ExplainCache } from './engine/explain-cache';
import { HOVER_LANGUAGES, ImageHoverProvider } from './hover/image-hover';
import { ModelWatcher } from './live/model-watcher';
import { ModelState } from './models/model-state';
import { ModelsTreeProvider } from './models/models-view';
import { ExplainRunner } from './panels/explain-runner';
import { Panel } from './panels/panel';
import { PanelRequests } from './panels/panel-requests';
import { PanelRuns } from './panels/panel-runs';
import { readSettings, SECTION, type Settings } from './settings';

/** What activate() returns: the running pieces (used by tests and the benchmark). */
export interface ExtensionApi {
  host: EngineHost;
  explanations: ExplainCache;
  state: ModelState;
  hover: ImageHoverProvider;
  codeLens: TrainingCodeLensProvider;
  models: ModelsTreeProvider;
  watcher: ModelWatcher;
  commands: Commands;
  explainer: ExplainRunner;
  log: vscode.LogOutputChannel;
}

export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const t0 = performance.now();
  const log = vscode.window.createOutputChannel('Attribution Lens', { log: true });
  context.subscriptions.push(log);

  let settings: Settings = readSettings();
  const current = (): Settings => settings;

  const host = new EngineHost(context.asAbsolutePath('dist/engine-worker.js'), log, settings.backend, [context.globalStorageUri.fsPath], settings.engineWorkers, settings.nativeRuntime);
  const explanations = new ExplainCache(host, settings.cacheSize, {
    storageDir: path.join(context.globalStorageUri.fsPath, 'results'),
    log: (message) => log.warn(message),
  });
  const state = new ModelState(context.workspaceState);
  const models = new ModelsTreeProvider(state, () => current().sampleFolders);
  const refreshModels = (): void => models.refresh();
  const runs = new PanelRuns(host);
  const explainer = new ExplainRunner(runs, explanations, () => current().topK);
  const watcher = new ModelWatcher(host, explanations, state, current, refreshModels, log, explainer);
  const hover = new ImageHoverProvider(explanations, state, current, log);
  const codeLens = new TrainingCodeLensProvider();
  const commands = new Commands({
    extensionUri: context.extensionUri,
    globalStorage: context.globalStorageUri.fsPath,
    host,
    explanations,
    state,
    settings: current,
    log,
    refreshModels,
    runs,
    explainer,
  });

  // Files on disk and Jupyter notebook cells (training code often lives in notebooks).
  const fileSelector = (langs: string[]): vscode.DocumentSelector =>
    langs.flatMap((language) => [
      { language, scheme: 'file' },
      { language, scheme: 'vscode-notebook-cell' },
    ]);
  const sidecarWatcher = vscode.workspace.createFileSystemWatcher('**/*.lens.json');

  context.subscriptions.push(
    host,
    state,
    models,
    watcher,
    sidecarWatcher,
    sidecarWatcher.onDidChange(refreshModels),
    sidecarWatcher.onDidCreate(refreshModels),
    sidecarWatcher.onDidDelete(refreshModels),
    vscode.window.createTreeView('attributionLens.models', { treeDataProvider: models, showCollapseAll: true, canSelectMany: false }),
    vscode.languages.registerHoverProvider(fileSelector(HOVER_LANGUAGES), hover),
    vscode.languages.registerCodeLensProvider(fileSelector(CODELENS_LANGUAGES), codeLens),
    ...commands.register(),
    Panel.register(context.extensionUri, new PanelRequests(runs, explainer, log).handle),
    runs,
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      settings = readSettings();
      host.setBackend(settings.backend);
      host.setNativeRuntime(settings.nativeRuntime);
      explanations.setCapacity(settings.cacheSize);
      if (e.affectsConfiguration(`${SECTION}.sampleFolders`)) refreshModels();
      log.info('settings changed');
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      log.info('workspace trusted: the engine will start on the first request');
      refreshModels();
    }),
  );

  log.info(`activated in ${(performance.now() - t0).toFixed(1)} ms (workspace ${vscode.workspace.isTrusted ? 'trusted' : 'not trusted'})`);
  return { host, explanations, state, hover, codeLens, models, watcher, commands, explainer, log };
}

export function deactivate(): void {
  // Everything is in context.subscriptions, disposed by VS Code.
}
