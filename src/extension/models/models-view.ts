/**
 * The "Models" tree: each model file of the workspace with its input spec and labels (from the
 * sidecar, without loading the model), its samples, and a "Pinned samples" group. Refreshes when
 * model, sidecar or sample files change.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ModelState } from './model-state';
import { describeLabels, modelEntries, sampleFiles, sampleFolders, sidecarPath, summarizeSidecar, type ModelEntry } from './model-files';
import { findModelUris, readJson, workspaceRoots } from './workspace-models';

export type ModelsNode =
  | { kind: 'model'; entry: ModelEntry }
  | { kind: 'info'; label: string; description: string }
  | { kind: 'sample'; file: string; model?: string }
  | { kind: 'pinnedGroup' };

export class ModelsTreeProvider implements vscode.TreeDataProvider<ModelsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ModelsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];

  constructor(
    private readonly state: ModelState,
    private readonly sampleFolderSetting: () => string[],
  ) {
    this.disposables.push(state.onDidChange(() => this.refresh()));
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  async getChildren(node?: ModelsNode): Promise<ModelsNode[]> {
    if (!node) {
      const uris = await findModelUris();
      const models: ModelsNode[] = modelEntries(
        uris.map((u) => u.fsPath),
        workspaceRoots(),
      ).map((entry) => ({ kind: 'model', entry }));
      return this.state.pinned.length > 0 ? [...models, { kind: 'pinnedGroup' }] : models;
    }
    if (node.kind === 'pinnedGroup') return this.state.pinned.map((file) => ({ kind: 'sample', file }));
    if (node.kind !== 'model') return [];
    const model = node.entry.path;
    const sidecar = summarizeSidecar(model, await readJson(sidecarPath(model)));
    const out: ModelsNode[] = [];
    if (sidecar.input) out.push({ kind: 'info', label: vscode.l10n.t('input'), description: sidecar.input });
    const labels = describeLabels(sidecar.labels);
    if (labels) out.push({ kind: 'info', label: vscode.l10n.t('labels'), description: labels });
    for (const dir of sampleFolders(model, sidecar, this.sampleFolderSetting())) {
      let names: string[] = [];
      try {
        names = (await vscode.workspace.fs.readDirectory(vscode.Uri.file(dir)))
          .filter(([, type]) => type === vscode.FileType.File)
          .map(([name]) => name);
      } catch {
        continue; // a configured folder that this model does not have
      }
      for (const file of sampleFiles(dir, names)) out.push({ kind: 'sample', file, model });
    }
    return out;
  }

  getTreeItem(node: ModelsNode): vscode.TreeItem {
    switch (node.kind) {
      case 'model': {
        const item = new vscode.TreeItem(node.entry.label, vscode.TreeItemCollapsibleState.Collapsed);
        const active = this.state.activeModel === node.entry.path;
        item.description = [active ? vscode.l10n.t('active') : '', node.entry.folder].filter(Boolean).join(' · ');
        item.resourceUri = vscode.Uri.file(node.entry.path);
        item.iconPath = new vscode.ThemeIcon(active ? 'pass-filled' : 'symbol-class');
        item.contextValue = active ? 'model.active' : 'model';
        item.tooltip = node.entry.path;
        return item;
      }
      case 'info': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.description = node.description;
        item.contextValue = 'info';
        return item;
      }
      case 'pinnedGroup': {
        const item = new vscode.TreeItem(vscode.l10n.t('Pinned samples'), vscode.TreeItemCollapsibleState.Expanded);
        item.iconPath = new vscode.ThemeIcon('pinned');
        item.contextValue = 'pinnedGroup';
        return item;
      }
      case 'sample': {
        const item = new vscode.TreeItem(path.basename(node.file), vscode.TreeItemCollapsibleState.None);
        const pinned = this.state.isPinned(node.file);
        item.resourceUri = vscode.Uri.file(node.file);
        item.contextValue = pinned ? 'sample.pinned' : 'sample';
        item.iconPath = new vscode.ThemeIcon(pinned ? 'pinned' : 'file-media');
        item.description = node.model === undefined ? path.dirname(node.file).split(path.sep).slice(-2).join('/') : undefined;
        item.command = { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [vscode.Uri.file(node.file)] };
        return item;
      }
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
