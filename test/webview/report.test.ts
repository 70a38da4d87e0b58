/**
 * The static report, as the CLI writes it for the example model, opened from disk in headless
 * Chromium: it draws every section with no console error, no CSP violation and no request but
 * the file itself; and its inlined data cannot break out of its <script> element.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { reportHtml } from '../../src/cli/report-html';
import { ARTIFACTS, launch, ROOT, TSX_NAME_SHIM, watch, type PageLog } from './harness';

const run = promisify(execFile);
const SAMPLES = path.join(ROOT, 'examples', 'mnist', 'samples');
const MODEL = path.join(ROOT, 'examples', 'mnist', 'digit_cnn.onnx');

describe('static HTML report (headless Chromium)', () => {
  let browser: Browser;
  let dir: string;
  before(async () => {
    browser = await launch();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-report-'));
  });
  after(async () => {
    await browser?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('opens from disk with every section drawn, no errors and no network', async () => {
    const out = path.join(dir, 'report.html');
    const inputs = ['digit_0.png', 'digit_7.png'].map((f) => path.join(SAMPLES, f));
    await run(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'report', '--model', MODEL, '--input', ...inputs, '--methods', 'saliency,integrated_gradients,gradcam', '--out', out, '--backend', 'wasm']);
    for (const theme of ['light', 'dark'] as const) {
      const context = await browser.newContext({ colorScheme: theme, viewport: { width: 1100, height: 900 } });
      const page = await context.newPage();
      const log: PageLog = { errors: [], violations: [], requests: [] };
      watch(page, log);
      await page.addInitScript(TSX_NAME_SHIM);
      await page.goto(`file://${out}`);
      await page.waitForSelector('section.report-section figure canvas');
      // Two inputs × three methods, each drawn.
      assert.equal(await page.locator('section.report-section figure canvas').count(), 6);
      assert.equal(await page.locator('nav a').count(), 2);
      assert.match(await page.locator('section.report-section').first().locator('h1').innerText(), /digit_cnn\.onnx · digit_0\.png/);
      assert.deepEqual(log.errors, []);
      assert.deepEqual(log.requests, [`file://${out}`]);
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, `report-${theme}.png`), fullPage: true });
      await context.close();
    }
  });

  it('keeps inlined data inside its script element', () => {
    const html = reportHtml(
      { title: '</script><script>alert(1)</script>', generated: '2026-01-01T00:00:00Z', backend: 'wasm', model: '</script>', sections: [] },
      { js: 'console.log("</script>")', css: 'a{}', theme: '' },
    );
    // Exactly the bundle's and the data's script elements close.
    assert.equal(html.match(/<\/script>/g)?.length, 2);
    assert.ok(!html.includes('<script>alert'));
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  });
});
