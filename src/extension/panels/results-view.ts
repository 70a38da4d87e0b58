/**
 * STEPPING STONE (issue 6 §8): the data and HTML of the minimal results panel, to be replaced by
 * the Svelte panels of issue 7. Pure: no `vscode` import, so the CSP and the message validation are
 * unit-tested. Images travel as data: URIs; the page's script builds the DOM without innerHTML.
 */
import type { ExplainResult } from '../../protocol/engine';
import type { SanitySummary } from '../live/sanity-summary';

export interface ResultsViewMethod {
  method: string;
  /** data:image/png;base64,… or undefined when the method failed. */
  image?: string;
  ms: number;
  delta?: number;
  error?: string;
}

/** What the panel shows; also its persisted webview state (getState/setState). */
export interface ResultsView {
  title: string;
  model: string;
  input: string;
  backend?: string;
  prediction?: string;
  methods: ResultsViewMethod[];
  sanity?: SanitySummary;
  /** Any other JSON result (Sensitivity-n until its panel exists), shown pre-formatted. */
  raw?: string;
}

export function pngDataUri(png: ArrayBuffer | Uint8Array): string {
  const bytes = png instanceof Uint8Array ? png : new Uint8Array(png);
  return `data:image/png;base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`;
}

export function explainView(result: ExplainResult, modelName: string, inputName: string): ResultsView {
  const top = result.topK[0];
  return {
    title: `${modelName} · ${inputName}`,
    model: result.model,
    input: result.input,
    backend: result.backend,
    prediction: result.topK.map((p) => `${p.label} ${(p.probability * 100).toFixed(1)}%`).join(' · ') || (top ? top.label : undefined),
    methods: result.methods.map((m) => ({
      method: m.method,
      image: m.error || !m.png || m.png.byteLength === 0 ? undefined : pngDataUri(m.png),
      ms: m.ms,
      delta: m.delta,
      error: m.error,
    })),
  };
}

/** Type guard for a view restored from the webview's saved state (after a reload). */
export function isResultsView(value: unknown): value is ResultsView {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const optString = (x: unknown): boolean => x === undefined || typeof x === 'string';
  return (
    typeof v.title === 'string' &&
    typeof v.model === 'string' &&
    typeof v.input === 'string' &&
    optString(v.backend) &&
    optString(v.prediction) &&
    optString(v.raw) &&
    (v.sanity === undefined || (typeof v.sanity === 'object' && v.sanity !== null)) &&
    Array.isArray(v.methods) &&
    v.methods.every(
      (m: unknown) =>
        typeof m === 'object' &&
        m !== null &&
        typeof (m as ResultsViewMethod).method === 'string' &&
        typeof (m as ResultsViewMethod).ms === 'number' &&
        optString((m as ResultsViewMethod).image) &&
        optString((m as ResultsViewMethod).error),
    )
  );
}

/** Type guard for the messages the page may send (everything from a webview is validated). */
export type PanelMessage = { type: 'ready' };
export function isPanelMessage(value: unknown): value is PanelMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'ready';
}

export function makeNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 32; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}

/** The page: CSP default-src 'none'; images only as data:; script and style only with the nonce. */
export function resultsHtml(nonce: string, cspSource: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src ${cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 12px; }
  .meta { color: var(--vscode-descriptionForeground); margin-bottom: 12px; }
  .grid { display: flex; flex-wrap: wrap; gap: 16px; }
  figure { margin: 0; text-align: center; }
  figure img { width: 196px; height: 196px; image-rendering: pixelated; border: 1px solid var(--vscode-panel-border); }
  figcaption { font-size: 12px; }
  .err { color: var(--vscode-errorForeground); max-width: 196px; }
  .pass { color: var(--vscode-testing-iconPassed); } .fail { color: var(--vscode-testing-iconFailed); }
  pre { white-space: pre-wrap; font-family: var(--vscode-editor-font-family); }
</style>
</head>
<body>
<div id="root"><p>…</p></div>
<script nonce="${nonce}">
(function () {
  const vscode = acquireVsCodeApi();
  const root = document.getElementById('root');
  function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function render(v) {
    root.replaceChildren();
    root.append(el('h2', v.title));
    root.append(el('div', [v.prediction ? 'prediction: ' + v.prediction : '', v.backend ? 'backend: ' + v.backend : ''].filter(Boolean).join(' — '), 'meta'));
    const grid = el('div', undefined, 'grid');
    for (const m of v.methods || []) {
      const f = el('figure');
      if (typeof m.image === 'string' && m.image.startsWith('data:image/png;base64,')) { const img = el('img'); img.src = m.image; img.alt = m.method; f.append(img); }
      const cap = m.method + ' · ' + Math.round(m.ms) + ' ms' + (typeof m.delta === 'number' ? ' · δ ' + m.delta.toExponential(2) : '');
      f.append(el('figcaption', cap));
      if (m.error) f.append(el('div', m.error, 'err'));
      grid.append(f);
    }
    root.append(grid);
    if (v.sanity) {
      root.append(el('h3', 'Sanity checks: ' + v.sanity.passed + '/' + v.sanity.total + ' pass'));
      const ul = el('ul');
      for (const s of v.sanity.verdicts) ul.append(el('li', s.method + ': ' + (s.passed ? 'PASS' : 'FAIL') + (s.meanSpearmanAbs === null ? '' : ' (mean ρ ' + s.meanSpearmanAbs.toFixed(3) + ')'), s.passed ? 'pass' : 'fail'));
      root.append(ul);
    }
    if (typeof v.raw === 'string') root.append(el('pre', v.raw));
  }
  const saved = vscode.getState();
  if (saved) render(saved);
  window.addEventListener('message', (e) => {
    const msg = e.data;
    if (!msg || msg.type !== 'show' || typeof msg.view !== 'object' || msg.view === null) return;
    vscode.setState(msg.view);
    render(msg.view);
  });
  vscode.postMessage({ type: 'ready' });
})();
</script>
</body>
</html>`;
}
