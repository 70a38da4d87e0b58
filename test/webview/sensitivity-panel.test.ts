/**
 * The Sensitivity-n panel in headless Chromium. A synthetic view: each method's polyline at the
 * positions the documented geometry gives on a log x axis (x ∝ ln n between the first and last n,
 * y linear in [−1, 1]), a break where a correlation is undefined, hover and keyboard values, the
 * legend, the table. Then a view built by the panel's builder from the engine's Sensitivity-n run
 * in-process on the MNIST example (the worker's service, as the extension gets it).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { getMethod } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import { isPanelView, type SensitivityView } from '../../src/protocol/panels';
import { sensitivityView, type SensitivityJson } from '../../src/protocol/views/sensitivity';
import { EngineService } from '../../src/worker/engine-service';
import { chartGeometry, launch, openPanel, post, postTimed, ROOT, screenshot, sent, violations, type PlotArea } from './harness';

/** Three methods over n = 1 … 1000 (three decades); occlusion is undefined at n = 10. */
function syntheticView(): SensitivityView {
  return {
    kind: 'sensitivity',
    title: 'synthetic sensitivity-n',
    model: '/models/m.onnx',
    input: '/samples/x.png',
    backend: 'cpu',
    targetLabel: 'three',
    ns: [1, 10, 100, 1000],
    features: 1000,
    subsets: 50,
    patch: 1,
    baseline: 'zero',
    curves: [
      { method: 'saliency', label: 'Saliency', values: [0.5, 0.25, -0.5, 1] },
      { method: 'occlusion', label: 'Occlusion', values: [1, null, 0.8, 0.6] },
      { method: 'integrated_gradients', label: 'Integrated Gradients', values: [0.9, 0.8, 0.7, 0.6] },
    ],
  };
}


/** x = left + w·(ln n − ln n₀)/(ln n₁ − ln n₀); y = top + h·(1 − (v + 1)/2). */
const at = (area: PlotArea, ns: number[], n: number, v: number): number[] => [
  area.x + (area.w * (Math.log(n) - Math.log(ns[0]))) / (Math.log(ns[ns.length - 1]) - Math.log(ns[0])),
  area.y + area.h * (1 - (v + 1) / 2),
];

function assertPoints(actual: number[][], expected: number[][]): void {
  assert.equal(actual.length, expected.length, `${actual.length} points, expected ${expected.length}`);
  actual.forEach((p, i) => assert.ok(Math.abs(p[0] - expected[i][0]) <= 0.011 && Math.abs(p[1] - expected[i][1]) <= 0.011, `point ${i}: (${p}) vs (${expected[i]})`));
}

const SVG = '.line-chart .surface > svg';

describe('Sensitivity-n panel (headless Chromium)', () => {
  let browser: Browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  it('draws one line per method on a log x axis, broken where a correlation is undefined', async () => {
    const { page, log } = await openPanel(browser, 'sensitivity');
    const view = syntheticView();
    await post(page, { type: 'show', view });
    await page.waitForSelector('polyline[data-series="saliency"]');
    assert.equal(await page.locator('g.series').count(), 3);
    const saliency = await chartGeometry(page, 'saliency');
    // Three decades: the decades sit at 0, 1/3, 2/3 and 1 of the width.
    assertPoints(saliency.lines[0], [
      [saliency.area.x, saliency.area.y + 0.25 * saliency.area.h],
      [saliency.area.x + saliency.area.w / 3, saliency.area.y + 0.375 * saliency.area.h],
      [saliency.area.x + (2 * saliency.area.w) / 3, saliency.area.y + 0.75 * saliency.area.h],
      [saliency.area.x + saliency.area.w, saliency.area.y],
    ]);
    const occlusion = await chartGeometry(page, 'occlusion');
    assert.equal(occlusion.lines.length, 2, 'the undefined value at n = 10 splits the line');
    assertPoints(occlusion.lines[0], [at(occlusion.area, view.ns, 1, 1)]);
    assertPoints(occlusion.lines[1], [at(occlusion.area, view.ns, 100, 0.8), at(occlusion.area, view.ns, 1000, 0.6)]);
    assert.equal(await page.locator('g.series[data-series="occlusion"] path.marker').count(), 3);
    // Decade ticks, labelled.
    assert.deepEqual(await page.locator(`${SVG} text.tick[text-anchor="middle"]`).evaluateAll((ts) => ts.map((t) => t.childNodes[0].textContent)), ['1', '10', '100', '1000']);
    assert.deepEqual(await violations(page), []);
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('shows every method’s value at the nearest n on hover, and with the arrow keys', async () => {
    const { page } = await openPanel(browser, 'sensitivity');
    const view = syntheticView();
    await post(page, { type: 'show', view });
    await page.waitForSelector('polyline[data-series="saliency"]');
    const { area } = await chartGeometry(page, 'saliency');
    const box = (await page.locator(SVG).boundingBox())!;
    const [x, y] = at(area, view.ns, 100, -0.5);
    await page.mouse.move(box.x + x + 3, box.y + y);
    const tip = page.locator('.tooltip');
    await tip.waitFor();
    const text = await tip.innerText();
    assert.match(text, /n = 100 \(10\.0% of the features\)/);
    assert.match(text, /Saliency\s+-0\.50/);
    assert.match(text, /Occlusion\s+0\.80/);
    assert.match(text, /Integrated Gradients\s+0\.70/);
    // The hovered points grow.
    assert.ok((await page.locator('g.series[data-series="saliency"] path.marker[data-index="2"]').getAttribute('d'))!.includes('a5,5'));

    await page.mouse.move(box.x + at(area, view.ns, 10, 0)[0], box.y + y);
    await page.waitForFunction(() => document.querySelector('.tooltip')?.textContent?.includes('n = 10 '));
    assert.match(await tip.innerText(), /Occlusion\s+—/, 'undefined is said, not drawn');
    await page.mouse.move(0, 0);
    await tip.waitFor({ state: 'detached' });

    const slider = page.getByRole('slider');
    await slider.focus();
    assert.equal(await slider.getAttribute('aria-valuetext'), 'n = 1 (0.1% of the features): Saliency 0.50, Occlusion 1.00, Integrated Gradients 0.90');
    await page.keyboard.press('End');
    assert.equal(await slider.getAttribute('aria-valuenow'), '3');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await slider.getAttribute('aria-valuetext'), 'n = 100 (10.0% of the features): Saliency -0.50, Occlusion 0.80, Integrated Gradients 0.70');
    assert.match(await tip.innerText(), /n = 100/);
    await page.keyboard.press('Escape');
    await tip.waitFor({ state: 'detached' });
    await page.context().close();
  });

  it('has a legend that hides and shows lines, and a table of every value', async () => {
    const { page } = await openPanel(browser, 'sensitivity');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector('polyline[data-series="saliency"]');
    const legend = await page.locator('button.legend-item').allInnerTexts();
    assert.deepEqual(legend.map((t) => t.trim()), ['Saliency', 'Occlusion', 'Integrated Gradients']);
    // Colour, dash and marker differ between series.
    const looks = await page.locator('g.series').evaluateAll((gs) =>
      gs.map((g) => {
        const line = g.querySelector('polyline')!;
        return [getComputedStyle(line).stroke, line.getAttribute('stroke-dasharray') ?? '', g.querySelector('path.marker')!.getAttribute('d')!.replace(/[\d.-]+/g, '')].join('|');
      }),
    );
    assert.equal(new Set(looks.map((l) => l.split('|')[0])).size, 3, 'three colours');
    assert.equal(new Set(looks.map((l) => l.split('|')[1])).size, 3, 'three dash patterns');
    assert.equal(new Set(looks.map((l) => l.split('|')[2])).size, 3, 'three marker shapes');

    await page.getByRole('button', { name: 'Occlusion' }).click();
    assert.equal(await page.locator('polyline[data-series="occlusion"]').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Occlusion' }).getAttribute('aria-pressed'), 'false');
    await page.getByRole('button', { name: 'Occlusion' }).click();
    assert.equal(await page.locator('polyline[data-series="occlusion"]').count(), 2);

    await page.locator('summary', { hasText: 'Table of values' }).click();
    const rows = await page.locator('details.values tbody tr').allInnerTexts();
    assert.equal(rows.length, 4);
    assert.deepEqual(rows[1].split('\t').map((c) => c.trim()), ['n = 10 (1.0% of the features)', '0.25', '—', '0.80']);
    assert.match(await page.locator('table.overview tr[data-method="occlusion"]').innerText(), /Occlusion\s+1\.00\s+0\.80/);
    await page.context().close();
  });

  it('sends cancel while the host is busy, and export; keeps its view when hidden', async () => {
    const first = await openPanel(browser, 'sensitivity');
    await post(first.page, { type: 'show', view: syntheticView() });
    await first.page.waitForSelector('polyline[data-series="saliency"]');
    await post(first.page, { type: 'busy', busy: true, label: 'sensitivity-n' });
    await first.page.getByRole('button', { name: 'Cancel' }).click();
    await first.page.getByRole('button', { name: 'Export JSON' }).click();
    assert.deepEqual(
      (await sent(first.page)).filter((m) => m.type !== 'ready'),
      [{ type: 'cancel' }, { type: 'export', format: 'json' }],
    );
    const state = await first.page.evaluate(() => (window as unknown as { __state: unknown }).__state);
    await first.page.context().close();

    const { page, log } = await openPanel(browser, 'sensitivity', 'light', state);
    await page.waitForSelector('polyline[data-series="saliency"]');
    assert.equal(await page.locator('h1').innerText(), 'synthetic sensitivity-n');
    // A curve shorter than ns is not a view.
    const bad = syntheticView();
    bad.title = 'tampered';
    bad.curves[0].values.pop();
    await page.evaluate((m) => window.postMessage(m, '*'), { type: 'show', view: bad });
    await page.waitForTimeout(100);
    assert.equal(await page.locator('h1').innerText(), 'synthetic sensitivity-n');
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('looks right in light and dark themes (synthetic screenshots)', async () => {
    for (const theme of ['light', 'dark'] as const) {
      const { page } = await openPanel(browser, 'sensitivity', theme);
      await post(page, { type: 'show', view: syntheticView() });
      await page.waitForSelector('polyline[data-series="saliency"]');
      await screenshot(page, `sensitivity-synthetic-${theme}`);
      await page.context().close();
    }
  });

  describe('on the MNIST example (real engine results)', () => {
    const MODEL = path.join(ROOT, 'examples', 'mnist', 'digit_cnn.onnx');
    const INPUT = path.join(ROOT, 'examples', 'mnist', 'samples', 'digit_7.png');
    let json: SensitivityJson;
    let view: SensitivityView;

    before(async () => {
      await initBackend('wasm');
      const service = new EngineService();
      json = (await service.handle('sensitivityN', { model: MODEL, input: INPUT }, { signal: new AbortController().signal, onProgress: () => {} })) as SensitivityJson;
      service.evict();
      const methodLabels = Object.fromEntries(json.methods!.map((id) => [id, getMethod(id).label]));
      view = sensitivityView(json, { methodLabels, targetLabel: String(json.target) });
    });

    it('draws the engine’s curves: one per method, every defined value at its place on the log axis', async () => {
      assert.ok(isPanelView(view, 'sensitivity'), 'the builder makes a valid view');
      const { page, log } = await openPanel(browser, 'sensitivity');
      const paint = await postTimed(page, { type: 'show', view });
      console.log(`# sensitivity-n panel first paint (MNIST, ${view.curves.length} methods × ${view.ns.length} sizes): ${paint.sincePost.toFixed(0)} ms after the view was posted`);

      assert.equal(await page.locator('g.series').count(), json.methods!.length);
      const ns = json.result.ns;
      for (const id of json.methods!) {
        const values = json.result.curves[id];
        const { area, lines } = await chartGeometry(page, id);
        const expected = ns.flatMap((n, k) => (values[k] === null ? [] : [at(area, ns, n, values[k]!)]));
        assertPoints(lines.flat(), expected);
        assert.equal(await page.locator(`g.series[data-series="${id}"] path.marker`).count(), expected.length);
      }
      assert.deepEqual(
        (await page.locator('button.legend-item').allInnerTexts()).map((t) => t.trim()),
        json.methods!.map((id) => getMethod(id).label),
      );
      assert.match(await page.locator('p.summary').innerText(), /100 random subsets S of n of the 784 features \(pixels\)/);
      assert.deepEqual(await violations(page), []);
      assert.deepEqual(log.errors, []);
      await page.context().close();
    });

    it('looks right in light and dark themes (MNIST screenshots, with a hover)', async () => {
      for (const theme of ['light', 'dark'] as const) {
        const { page, log } = await openPanel(browser, 'sensitivity', theme);
        await post(page, { type: 'show', view });
        await page.waitForSelector('g.series');
        await screenshot(page, `sensitivity-mnist-${theme}`);
        const box = (await page.locator(SVG).boundingBox())!;
        await page.mouse.move(box.x + box.width * 0.45, box.y + 80);
        await page.locator('.tooltip').waitFor();
        await screenshot(page, `sensitivity-mnist-hover-${theme}`);
        assert.deepEqual(log.errors, []);
        await page.context().close();
      }
    });
  });
});
