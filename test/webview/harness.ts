/**
 * Runs the built panels (dist/webview) in headless Chromium — Debian's /usr/bin/chromium driven by
 * playwright-core — on the page the extension serves (panel-html.ts, its CSP included), from a
 * fake origin, with a stubbed acquireVsCodeApi that records what the page sends. The theme comes
 * from report-theme.css (VS Code's default light and dark colours) under the page's colour scheme.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { panelHtml } from '../../src/extension/panels/panel-html';
import type { HostToPanel, PanelKind, PanelToHost } from '../../src/protocol/panels';

export const ROOT = path.resolve(__dirname, '..', '..');
const ORIGIN = 'https://panel.test';
export const ARTIFACTS = path.join(ROOT, 'test-output', 'webview');

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (.ci/run does) or set CHROMIUM_PATH`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

export type Theme = 'light' | 'dark' | 'high-contrast';

/**
 * Functions handed to the page (evaluate, init scripts) are compiled by tsx, which wraps named
 * functions in esbuild's `__name` helper; the page needs it defined.
 */
export const TSX_NAME_SHIM = { content: 'globalThis.__name = (f) => f;' };

/** What a page did that a test may assert on. */
export interface PageLog {
  errors: string[];
  violations: string[];
  requests: string[];
}

const THEME_CSS = fs.readFileSync(path.join(ROOT, 'src', 'webview', 'lib', 'report-theme.css'), 'utf8');

/** VS Code's Dark High Contrast colours for the variables the panels use (over the dark theme). */
const HIGH_CONTRAST_CSS = `:root {
  --vscode-foreground: #ffffff; --vscode-descriptionForeground: #ffffff; --vscode-editor-background: #000000;
  --vscode-panel-border: #6fc3df; --vscode-contrastBorder: #6fc3df; --vscode-focusBorder: #f38518;
  --vscode-button-background: #000000; --vscode-button-foreground: #ffffff; --vscode-button-border: #6fc3df;
  --vscode-button-secondaryBackground: #000000; --vscode-button-secondaryForeground: #ffffff;
  --vscode-dropdown-background: #000000; --vscode-dropdown-foreground: #ffffff; --vscode-dropdown-border: #6fc3df;
  --vscode-input-background: #000000; --vscode-input-foreground: #ffffff;
  --vscode-badge-background: #000000; --vscode-badge-foreground: #ffffff; --vscode-progressBar-background: #6fc3df;
  --vscode-textLink-foreground: #21a6ff; --vscode-errorForeground: #f48771;
}`;

function serve(file: string): { status: number; contentType: string; body: Buffer } {
  const full = path.join(ROOT, 'dist', 'webview', path.basename(file));
  if (!fs.existsSync(full)) return { status: 404, contentType: 'text/plain', body: Buffer.from('not found') };
  const contentType = full.endsWith('.js') ? 'text/javascript' : full.endsWith('.css') ? 'text/css' : 'application/octet-stream';
  return { status: 200, contentType, body: fs.readFileSync(full) };
}

/** Records console errors, page errors and CSP violations of `page` into `log`. */
export function watch(page: Page, log: PageLog): void {
  page.on('console', (m) => {
    if (m.type() === 'error') log.errors.push(m.text());
  });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('request', (r) => log.requests.push(r.url()));
}

/** Opens panel `kind` as VS Code would show it; `state` plays the part of a saved webview state. */
export async function openPanel(browser: Browser, kind: PanelKind, theme: Theme = 'light', state?: unknown): Promise<{ page: Page; log: PageLog }> {
  const context = await browser.newContext({ colorScheme: theme === 'light' ? 'light' : 'dark', viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const log: PageLog = { errors: [], violations: [], requests: [] };
  watch(page, log);
  await page.addInitScript(TSX_NAME_SHIM);
  await page.addInitScript(
    ({ css, saved }) => {
      const w = window as unknown as Record<string, unknown>;
      w.__sent = [];
      w.__violations = [];
      let current = saved;
      w.acquireVsCodeApi = () => ({
        postMessage: (m: unknown) => (w.__sent as unknown[]).push(m),
        getState: () => current,
        setState: (s: unknown) => {
          current = s;
          w.__state = s;
        },
      });
      document.addEventListener('securitypolicyviolation', (e) => (w.__violations as string[]).push(`${e.violatedDirective} ${e.blockedURI}`));
      // VS Code puts the theme's variables on <html>; here they come from the report's theme.
      document.addEventListener('DOMContentLoaded', () => {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(css);
        if (css.includes('--vscode-contrastBorder: #6fc3df')) document.body.classList.add('vscode-high-contrast');
        document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
      });
    },
    { css: theme === 'high-contrast' ? `${THEME_CSS}\n${HIGH_CONTRAST_CSS}` : THEME_CSS, saved: state },
  );
  await page.route(`${ORIGIN}/**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/index.html') {
      const html = panelHtml({ kind, title: kind, nonce: 'n0nce', cspSource: ORIGIN, bundleUri: `${ORIGIN}/webview` });
      return route.fulfill({ status: 200, contentType: 'text/html', body: html });
    }
    return route.fulfill(serve(url.pathname));
  });
  await page.goto(`${ORIGIN}/index.html`);
  await page.waitForFunction(() => ((window as unknown as { __sent: { type: string }[] }).__sent ?? []).some((m) => m.type === 'ready'));
  return { page, log };
}

export async function post(page: Page, message: HostToPanel): Promise<void> {
  await page.evaluate((m) => window.postMessage(m, '*'), message);
}

export async function sent(page: Page): Promise<PanelToHost[]> {
  return page.evaluate(() => (window as unknown as { __sent: PanelToHost[] }).__sent);
}

export async function violations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);
}

/** RGBA of pixel (x, y) of the canvas in the card of `method` (the heatmap at its own resolution). */
export async function heatmapPixel(page: Page, selector: string, x: number, y: number): Promise<number[]> {
  return page.$eval(
    selector,
    (canvas, [px, py]) => Array.from((canvas as HTMLCanvasElement).getContext('2d')!.getImageData(px, py, 1, 1).data),
    [x, y] as const,
  );
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export interface PlotArea {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A line chart's plot area and the points of each polyline of a series, in SVG user units (= CSS pixels). */
export async function chartGeometry(page: Page, series: string): Promise<{ area: PlotArea; lines: number[][][] }> {
  return page.evaluate((id) => {
    const rect = document.querySelector('rect.plot-area')!;
    const n = (a: string) => Number(rect.getAttribute(a));
    const lines = Array.from(document.querySelectorAll(`polyline[data-series="${id}"]`)).map((p) =>
      p
        .getAttribute('points')!
        .trim()
        .split(/\s+/)
        .map((xy) => xy.split(',').map(Number)),
    );
    return { area: { x: n('x'), y: n('y'), w: n('width'), h: n('height') }, lines };
  }, series);
}

/** Posts `message` and waits for the first heatmap drawn from data: ms from the post, and from navigation. */
export async function postTimed(page: Page, message: HostToPanel): Promise<{ sincePost: number; sinceNavigation: number }> {
  const t0 = await page.evaluate((m) => {
    const t = performance.now();
    window.postMessage(m, '*');
    return t;
  }, message);
  await page.waitForFunction(() => performance.getEntriesByName('attribution-lens:first-heatmap').length > 0);
  const painted = await page.evaluate(() => performance.getEntriesByName('attribution-lens:first-heatmap')[0].startTime);
  return { sincePost: painted - t0, sinceNavigation: painted };
}
