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
import type { PanelView, SanityView } from '../../src/protocol/panels';
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
    const twin = path.join(ROOT, 'examples', 'mnist', 'controls', 'digit_cnn_random_labels.onnx');
    await run(process.execPath, [
      path.join(ROOT, 'dist', 'cli.js'), 'report', '--model', MODEL, '--input', ...inputs,
      '--methods', 'saliency,integrated_gradients,gradcam', '--compare-model', twin, '--out', out, '--backend', 'wasm',
    ]);
    const html = fs.readFileSync(out, 'utf8');
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)?.[1] ?? 'null') as { sections: PanelView[] };
    const sanity = data.sections.filter((sec): sec is SanityView => sec.kind === 'sanity');
    for (const theme of ['light', 'dark'] as const) {
      const context = await browser.newContext({ colorScheme: theme, viewport: { width: 1100, height: 900 } });
      const page = await context.newPage();
      const log: PageLog = { errors: [], violations: [], requests: [] };
      watch(page, log);
      await page.addInitScript(TSX_NAME_SHIM);
      await page.goto(`file://${out}`);
      await page.waitForSelector('polyline[data-series="saliency"]');
      assert.deepEqual(
        await page.locator('nav a').allInnerTexts(),
        ['digit_0.png', 'digit_7.png'].flatMap((f) => [`Explanation — ${f}`, `Sanity checks — ${f}`, `Sensitivity-n — ${f}`]),
      );
      // Explanations: two inputs × three methods.
      assert.equal(await page.locator('figure.card canvas').count(), 6);
      // Randomization grids: per input, methods × (original + steps), as the data says.
      const cells = sanity.reduce((n, v) => n + v.methods.length * (v.steps.length + 1), 0);
      assert.equal(await page.locator('table.grid tbody canvas.heatmap').count(), cells);
      // Verdicts as computed; the data randomization's cards (two maps per method).
      const verdicts = await page.locator('table.verdicts tbody [data-verdict]').allInnerTexts();
      assert.deepEqual(verdicts.map((v) => v.trim()), sanity.flatMap((v) => v.methods.map((m) => (m.passed ? 'PASS' : 'FAIL'))));
      assert.ok(sanity.every((v) => v.data && v.data.methods.length > 0));
      // Sensitivity-n: a line per method per input.
      assert.equal(await page.locator('.line-chart g.series').count(), sanity.reduce((n, v) => n + v.methods.length, 0) + 2 * 6);
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
