/**
 * The HTML of a webview panel: a strict CSP (nothing by default; the bundle's script only with
 * the per-load nonce; styles and images only from the bundle's origin, images also as data:),
 * the panel's CSS and script from dist/webview. Pure (no `vscode` import): the headless-Chromium
 * tests load exactly this page.
 */
import type { PanelKind } from '../../protocol/panels';
import { escapeHtml } from '../../engine/render/html';

export interface PanelPage {
  kind: PanelKind;
  title: string;
  nonce: string;
  /** The webview's `cspSource` (its resource origin). */
  cspSource: string;
  /** URI of dist/webview as the webview sees it (asWebviewUri), without a trailing slash. */
  bundleUri: string;
}

export function makeNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 32; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}

export function panelHtml(page: PanelPage): string {
  const { kind, nonce, cspSource, bundleUri } = page;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${cspSource} data:; style-src ${cspSource}; font-src ${cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(page.title)}</title>
<link rel="stylesheet" href="${bundleUri}/${kind}.css">
</head>
<body>
<script nonce="${nonce}" src="${bundleUri}/${kind}.js"></script>
</body>
</html>`;
}
