/**
 * The engine work shown in each panel: at most one run per panel at a time (a new one supersedes
 * it), the panel's Cancel button stops it, and the panel shows it busy meanwhile.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineHost } from '../engine/engine-host';
import type { RequestOptions } from '../../worker/engine-client';
import type { PanelKind, PanelView } from '../../protocol/panels';
import { Panel } from './panel';

export class PanelRuns {
  private readonly running = new Map<PanelKind, AbortController>();

  constructor(private readonly host: Pick<EngineHost, 'underProgress'>) {}

  /**
   * Runs `work` for the `kind` panel under a cancellable progress notification, the panel
   * revealed and busy meanwhile. Resolves undefined when cancelled or failed (the error shown).
   */
  async run<T>(kind: PanelKind, title: string, label: string, work: (panel: Panel, options: RequestOptions) => Promise<T>): Promise<T | undefined> {
    this.running.get(kind)?.abort();
    const controller = new AbortController();
    this.running.set(kind, controller);
    const panel = Panel.reveal(kind);
    panel.post({ type: 'busy', busy: true, label });
    try {
      return await this.host.underProgress(title, (options) => work(panel, options), controller.signal);
    } finally {
      if (this.running.get(kind) === controller) {
        this.running.delete(kind);
        panel.post({ type: 'busy', busy: false });
      }
    }
  }

  /** A run whose result is one view. */
  async show(kind: PanelKind, title: string, label: string, work: (options: RequestOptions) => Promise<PanelView>): Promise<PanelView | undefined> {
    return this.run(kind, title, label, async (panel, options) => {
      const view = await work(options);
      Panel.show(view);
      return view;
    });
  }

  cancel(kind: PanelKind): void {
    this.running.get(kind)?.abort();
  }

  dispose(): void {
    for (const c of this.running.values()) c.abort();
    this.running.clear();
  }
}

/** A file name from a view's input, e.g. "digit_7-explain.json". */
export function exportName(view: PanelView, suffix: string): string {
  return `${path.basename(view.input, path.extname(view.input)) || 'input'}-${suffix}`;
}

/** Saves a panel's export where the user says (next to the input by default). */
export async function saveExport(view: PanelView, name: string, bytes: Uint8Array, filters: Record<string, string[]>): Promise<vscode.Uri | undefined> {
  const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(path.dirname(view.input), name)), filters });
  if (!target) return undefined;
  await vscode.workspace.fs.writeFile(target, bytes);
  return target;
}
