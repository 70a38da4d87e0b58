/**
 * Explains one input into the Explain panel method by method, so each heatmap appears as soon as
 * its method finishes; every method goes through the result cache, as hovers do.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExplainCache } from '../engine/explain-cache';
import type { MethodSettings } from '../../protocol/engine';
import type { ExplainView } from '../../protocol/panels';
import { explainView, methodView, runLabel } from '../../protocol/views/explain';
import type { PanelRuns } from './panel-runs';

export class ExplainRunner {
  constructor(
    private readonly runs: PanelRuns,
    private readonly explanations: Pick<ExplainCache, 'explain'>,
    private readonly topK: () => number,
  ) {}

  /** Resolves the finished view, or undefined when cancelled or failed (the error shown). */
  async run(model: string, input: string, methods: MethodSettings[], target?: number): Promise<ExplainView | undefined> {
    const title = `${path.basename(model)} · ${path.basename(input)}`;
    const progressTitle = vscode.l10n.t('Explaining {0} with {1}', path.basename(input), path.basename(model));
    return this.runs.run('explain', progressTitle, title, async (panel, options) => {
      let view: ExplainView | undefined;
      for (const [i, settings] of methods.entries()) {
        const result = await this.explanations.explain(
          { model, input, methods: [settings], topK: this.topK(), target: view?.target ?? target, output: 'map' },
          {
            signal: options.signal,
            onProgress: (p) => options.onProgress?.({ ...p, fraction: (i + p.fraction) / methods.length, label: view ? runLabel(settings, view.catalog) : p.label }),
          },
        );
        if (!view) {
          view = explainView(result, methods, title);
          panel.post({ type: 'show', view });
        } else {
          const method = methodView(settings, result.methods[0], view.catalog);
          view = { ...view, methods: view.methods.map((m, k) => (k === i ? method : m)) };
          panel.post({ type: 'method', method });
        }
      }
      return view;
    });
  }
}
