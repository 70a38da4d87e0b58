/**
 * The static report: one self-contained HTML file — the panels' bundle and CSS inlined, the views
 * inlined as JSON — that opens from disk with no network (its CSP allows nothing else).
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { InputError } from '../engine/errors';
import type { PanelView } from '../protocol/panels';
import { escapeHtml } from '../engine/render/html';

export interface ReportData {
  title: string;
  /** ISO time of generation. */
  generated: string;
  backend: string;
  model: string;
  sections: PanelView[];
}

export interface ReportBundle {
  js: string;
  css: string;
  theme: string;
}

/** The report bundle built next to the CLI (dist/webview). */
export async function readReportBundle(dir = path.join(__dirname, 'webview')): Promise<ReportBundle> {
  try {
    const [js, css, theme] = await Promise.all(['report.js', 'report.css', 'report-theme.css'].map((f) => readFile(path.join(dir, f), 'utf8')));
    return { js, css, theme };
  } catch (err) {
    throw new InputError(`the report's bundle is missing from ${dir} (run 'npm run build'): ${(err as Error).message}`);
  }
}

/** JSON safe inside a <script> element: no '</script>' or '<!--' can end or confuse it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Inlined code must not close its own element early. */
function inlineSafe(code: string, tag: 'script' | 'style'): string {
  return code.replace(new RegExp(`</${tag}`, 'gi'), `<\\/${tag}`);
}

export function reportHtml(data: ReportData, bundle: ReportBundle): string {
  const nonce = randomBytes(16).toString('base64');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: blob:; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(data.title)}</title>
<style nonce="${nonce}">${inlineSafe(bundle.theme, 'style')}</style>
<style nonce="${nonce}">${inlineSafe(bundle.css, 'style')}</style>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
</head>
<body>
<noscript>This report draws its heatmaps and charts with JavaScript; enable it to see them.</noscript>
<script nonce="${nonce}">${inlineSafe(bundle.js, 'script')}</script>
</body>
</html>
`;
}
