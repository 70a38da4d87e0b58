/**
 * STEPPING STONE (issue 6 §8) — to be replaced by the Svelte Explain/Sanity/Sensitivity-n panels of
 * issue 7. One panel that creates or reveals itself beside the code and shows the latest result:
 * strict CSP with a nonce, no local resources beyond dist/ and media/, images as data: URIs, its
 * state kept with getState/setState (no retainContextWhenHidden).
 */
import * as vscode from 'vscode';
import { isPanelMessage, isResultsView, makeNonce, resultsHtml, type ResultsView } from './results-view';

const panelOptions = (extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions => ({
  enableScripts: true,
  localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
});

export class ResultsPanel implements vscode.Disposable {
  static readonly viewType = 'attributionLens.results';
  private static current: ResultsPanel | undefined;

  private view: ResultsView | undefined;
  private ready = false;
  private disposed = false;
  private readonly disposables: vscode.Disposable[] = [];

  /** Shows `view` in the panel, creating it beside the active editor if needed. */
  static show(extensionUri: vscode.Uri, view: ResultsView): ResultsPanel {
    if (!ResultsPanel.current) {
      const panel = vscode.window.createWebviewPanel(
        ResultsPanel.viewType,
        view.title,
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        panelOptions(extensionUri),
      );
      ResultsPanel.current = new ResultsPanel(panel);
    } else {
      ResultsPanel.current.panel.reveal(undefined, true);
    }
    ResultsPanel.current.update(view);
    return ResultsPanel.current;
  }

  /**
   * Restores the panel after a window reload: VS Code hands back the webview panel and the state
   * the page saved with setState (the last view it showed). The state comes from the webview, so
   * it is validated; an unusable one leaves an empty panel that the next result fills.
   */
  static registerSerializer(extensionUri: vscode.Uri): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(ResultsPanel.viewType, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => {
        ResultsPanel.revive(panel, state, extensionUri);
      },
    });
  }

  static revive(panel: vscode.WebviewPanel, state: unknown, extensionUri: vscode.Uri): ResultsPanel {
    ResultsPanel.current?.dispose();
    panel.webview.options = panelOptions(extensionUri);
    const revived = new ResultsPanel(panel);
    ResultsPanel.current = revived;
    if (isResultsView(state)) revived.update(state);
    return revived;
  }

  /** The open panel's model file, if any (the watcher refreshes it when that model changes). */
  static get shownModel(): string | undefined {
    return ResultsPanel.current?.view?.model;
  }

  static get shownInput(): string | undefined {
    return ResultsPanel.current?.view?.input;
  }

  /** Replaces the open panel's content; no-op when no panel is open. */
  static refresh(view: ResultsView): void {
    ResultsPanel.current?.update(view);
  }

  static disposeCurrent(): void {
    ResultsPanel.current?.dispose();
  }

  private constructor(private readonly panel: vscode.WebviewPanel) {
    const nonce = makeNonce();
    panel.webview.html = resultsHtml(nonce, panel.webview.cspSource);
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((msg: unknown) => {
        if (!isPanelMessage(msg)) return;
        this.ready = true;
        this.post();
      }),
    );
  }

  private update(view: ResultsView): void {
    this.view = view;
    this.panel.title = view.title;
    this.post();
  }

  private post(): void {
    if (this.ready && this.view) void this.panel.webview.postMessage({ type: 'show', view: this.view });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (ResultsPanel.current === this) ResultsPanel.current = undefined;
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
