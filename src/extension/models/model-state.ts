/**
 * The active model and the pinned samples, kept in the workspace's state so they survive reloads.
 * The `attributionLens.hasActiveModel` context key drives the commands' `when` clauses.
 */
import * as vscode from 'vscode';

const ACTIVE_KEY = 'attributionLens.activeModel';
const PINNED_KEY = 'attributionLens.pinnedSamples';

export class ModelState implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly memento: vscode.Memento) {
    void this.updateContext();
  }

  get activeModel(): string | undefined {
    return this.memento.get<string>(ACTIVE_KEY);
  }

  async setActiveModel(model: string | undefined): Promise<void> {
    await this.memento.update(ACTIVE_KEY, model);
    await this.updateContext();
    this.changed.fire();
  }

  get pinned(): string[] {
    return this.memento.get<string[]>(PINNED_KEY, []);
  }

  isPinned(file: string): boolean {
    return this.pinned.includes(file);
  }

  async pin(files: readonly string[]): Promise<void> {
    const next = [...this.pinned];
    for (const f of files) if (!next.includes(f)) next.push(f);
    await this.memento.update(PINNED_KEY, next);
    await this.updateContext();
    this.changed.fire();
  }

  async unpin(file: string): Promise<void> {
    await this.memento.update(
      PINNED_KEY,
      this.pinned.filter((f) => f !== file),
    );
    await this.updateContext();
    this.changed.fire();
  }

  private async updateContext(): Promise<void> {
    await vscode.commands.executeCommand('setContext', 'attributionLens.hasActiveModel', this.activeModel !== undefined);
    await vscode.commands.executeCommand('setContext', 'attributionLens.hasPinnedSamples', this.pinned.length > 0);
  }

  dispose(): void {
    this.changed.dispose();
  }
}
