/**
 * The webview panels (Explain, Sanity, Sensitivity-n, Manifold): one per kind, created beside the
 * editor or revealed, restored after a window reload from the state the page saved (validated:
 * it comes from the webview), and serving the page of panel-html.ts. The host sends nothing
 * before the page says it is ready; every message from the page is validated before use.
 */
import * as vscode from 'vscode';
import { isPanelToHost, isPanelView, type HostToPanel, type PanelKind, type PanelToHost, type PanelView } from '../../protocol/panels';
import { makeNonce, panelHtml } from './panel-html';

const TITLES: Record<PanelKind, string> = {
  explain: 'Explain',
  sanity: 'Sanity checks',
  sensitivity: 'Sensitivity-n',
  manifold: 'Manifold alignment',
};

/** What the owner of the panels does with the pages' requests (explain again, cancel, export). */
export type PanelMessageHandler = (panel: Panel, message: Exclude<PanelToHost, { type: 'ready' }>) => void;

export class Panel implements vscode.Disposable {
  private static readonly open = new Map<PanelKind, Panel>();
  private static extensionUri: vscode.Uri | undefined;
  private static handler: PanelMessageHandler = () => undefined;

  private ready = false;
  private readonly queue: HostToPanel[] = [];
  private disposed = false;
  private readonly disposables: vscode.Disposable[] = [];
  /** The view last shown (patched by 'method' messages), e.g. for exports and live refresh. */
  view: PanelView | undefined;

  static viewType(kind: PanelKind): string {
    return `attributionLens.${kind}`;
  }

  /** Sets where pages' requests go and registers the reload serializers. */
  static register(extensionUri: vscode.Uri, handler: PanelMessageHandler): vscode.Disposable {
    Panel.extensionUri = extensionUri;
    Panel.handler = handler;
    const serializers = (Object.keys(TITLES) as PanelKind[]).map((kind) =>
      vscode.window.registerWebviewPanelSerializer(Panel.viewType(kind), {
        deserializeWebviewPanel: async (webviewPanel: vscode.WebviewPanel, state: unknown) => {
          const saved = (state as { view?: unknown } | undefined)?.view;
          Panel.adopt(kind, webviewPanel, isPanelView(saved, kind) ? saved : undefined);
        },
      }),
    );
    return vscode.Disposable.from(...serializers, { dispose: () => [...Panel.open.values()].forEach((p) => p.dispose()) });
  }

  static get(kind: PanelKind): Panel | undefined {
    return Panel.open.get(kind);
  }

  /** The `kind` panel, created beside the active editor or revealed without taking focus. */
  static reveal(kind: PanelKind, title?: string): Panel {
    const existing = Panel.open.get(kind);
    if (existing) {
      existing.panel.reveal(undefined, true);
      if (title) existing.panel.title = title;
      return existing;
    }
    const webviewPanel = vscode.window.createWebviewPanel(
      Panel.viewType(kind),
      title ?? vscode.l10n.t(TITLES[kind]),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      Panel.options(),
    );
    return Panel.adopt(kind, webviewPanel, undefined);
  }

  /** Shows `view` in its kind's panel. */
  static show(view: PanelView): Panel {
    const panel = Panel.reveal(view.kind, view.title);
    panel.post({ type: 'show', view });
    return panel;
  }

  private static options(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    const root = Panel.extensionUri;
    if (!root) throw new Error('Panel.register was not called');
    return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(root, 'dist', 'webview')] };
  }

  private static adopt(kind: PanelKind, webviewPanel: vscode.WebviewPanel, view: PanelView | undefined): Panel {
    Panel.open.get(kind)?.dispose();
    webviewPanel.webview.options = Panel.options();
    const panel = new Panel(kind, webviewPanel);
    panel.view = view;
    Panel.open.set(kind, panel);
    return panel;
  }

  private constructor(
    readonly kind: PanelKind,
    private readonly panel: vscode.WebviewPanel,
  ) {
    const webview = panel.webview;
    const bundle = webview.asWebviewUri(vscode.Uri.joinPath(Panel.extensionUri!, 'dist', 'webview'));
    webview.html = panelHtml({ kind, title: panel.title, nonce: makeNonce(), cspSource: webview.cspSource, bundleUri: bundle.toString().replace(/\/$/, '') });
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      webview.onDidReceiveMessage((message: unknown) => {
        if (!isPanelToHost(message)) return;
        if (message.type === 'ready') {
          this.ready = true;
          for (const m of this.queue.splice(0)) void webview.postMessage(m);
          return;
        }
        Panel.handler(this, message);
      }),
    );
  }

  /** Sends `message` now, or once the page is ready. */
  post(message: HostToPanel): void {
    if (this.disposed) return;
    if (message.type === 'show') this.view = message.view;
    if (message.type === 'method' && this.view?.kind === 'explain') {
      const m = message.method;
      const methods = this.view.methods.map((x) => (x.name === m.name ? m : x));
      this.view = { ...this.view, methods: methods.some((x) => x.name === m.name) ? methods : [...methods, m] };
    }
    if (this.ready) {
      void this.panel.webview.postMessage(message);
      return;
    }
    // Until the page is ready only the latest of each kind matters: a view supersedes the earlier
    // view and its method updates, a busy state the earlier one.
    const superseded = (m: HostToPanel): boolean => (message.type === 'show' ? m.type !== 'busy' : message.type === 'busy' && m.type === 'busy');
    const kept = this.queue.filter((m) => !superseded(m));
    this.queue.splice(0, this.queue.length, ...kept, message);
  }

  get visible(): boolean {
    return !this.disposed && this.panel.visible;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (Panel.open.get(this.kind) === this) Panel.open.delete(this.kind);
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
