/**
 * What the panels ask of the extension (already validated by Panel): explain again with another
 * target or methods, cancel the panel's run, export what it shows.
 */
import * as vscode from 'vscode';
import { decodeBytes } from '../../protocol/codecs';
import type { PanelToHost } from '../../protocol/panels';
import { showError } from '../engine/engine-host';
import type { ExplainRunner } from './explain-runner';
import type { Panel } from './panel';
import { exportName, saveExport, type PanelRuns } from './panel-runs';

export class PanelRequests {
  constructor(
    private readonly runs: PanelRuns,
    private readonly explain: ExplainRunner,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Panel's message handler; errors are shown, never thrown back into the webview's event. */
  handle = (panel: Panel, message: Exclude<PanelToHost, { type: 'ready' }>): void => {
    this.dispatch(panel, message).catch(showError);
  };

  private async dispatch(panel: Panel, message: Exclude<PanelToHost, { type: 'ready' }>): Promise<void> {
    const view = panel.view;
    switch (message.type) {
      case 'cancel':
        this.runs.cancel(panel.kind);
        return;
      case 'explain':
        if (view?.kind !== 'explain' || !vscode.workspace.isTrusted) return;
        if (message.target >= view.numClasses) return;
        await this.explain.run(view.model, view.input, message.methods, message.target);
        return;
      case 'export': {
        if (!view) return;
        const saved =
          message.format === 'json'
            ? await saveExport(view, exportName(view, `${view.kind}.json`), new TextEncoder().encode(`${JSON.stringify(view, null, 2)}\n`), { JSON: ['json'] })
            : await saveExport(view, message.name, decodeBytes(message.dataUri.slice(message.dataUri.indexOf(',') + 1)), { PNG: ['png'] });
        if (saved) this.log.info(`exported ${saved.fsPath}`);
        return;
      }
    }
  }
}
