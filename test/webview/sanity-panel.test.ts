/**
 * The Sanity panel in headless Chromium. A synthetic view with closed-form expectations: cell
 * pixels against the published end colours of viridis and of Moreland's cool–warm map (the grid's
 * maps are drawn opaque, each on its own scale), the curves' polylines at the positions the
 * chart's documented geometry gives, verdicts in words, keyboard moves, messages sent back. Then
 * the real thing: the engine's sanity check and data-randomization test on the MNIST example, run
 * in-process through the worker's service, turned into a view by the panel's builder.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { initBackend } from '../../src/engine/backend';
import { loadInput } from '../../src/engine/data/input';
import { inputToDisplay } from '../../src/engine/data/preprocess';
import { loadModel } from '../../src/engine/model/load';
import { encodeBytes, encodeFloat32 } from '../../src/protocol/codecs';
import { isPanelView, type EncodedImage, type EncodedMap, type SanityView } from '../../src/protocol/panels';
import { sanityView, type DataRandomizationJson, type SanityJson } from '../../src/protocol/views/sanity';
import { EngineService } from '../../src/worker/engine-service';
import { chartGeometry, heatmapPixel, launch, openPanel, post, postTimed, ROOT, screenshot, sent, violations, type PlotArea } from './harness';

// Published colours: matplotlib's viridis ends, Moreland (2009) cool–warm ends.
const VIRIDIS_TOP = [253, 231, 37, 255];
const VIRIDIS_BOTTOM = [68, 1, 84, 255];
const WARM = [180, 4, 38, 255];
const COOL = [59, 76, 192, 255];

/** A 4×2 map; its absolute map as the engine writes it (|v| / max |v|). */
function map(signed: number[]): EncodedMap {
  const max = Math.max(...signed.map(Math.abs));
  return { height: 2, width: 4, signed: encodeFloat32(signed), absolute: encodeFloat32(signed.map((v) => Math.abs(v) / max)) };
}

const sim = (spearmanAbs: number | null, spearmanSigned: number | null, ssim: number | null, hog: number | null) => ({ spearmanAbs, spearmanSigned, ssim, hog });

/**
 * Two methods, two cascading steps. Every map has one value +1 and one −1 among small ones, so
 * each map's own scale (the 2% outlier rule) is exactly 1: ±1 saturate the colormaps' ends.
 */
function syntheticView(): SanityView {
  const grays = [0, 100, 200, 255, 50, 50, 50, 50];
  return {
    kind: 'sanity',
    title: 'synthetic sanity',
    model: '/models/m.onnx',
    input: '/samples/x.png',
    backend: 'wasm',
    mode: 'cascading',
    targetLabel: 'three',
    image: { width: 4, height: 2, rgba: encodeBytes(new Uint8Array(grays.flatMap((g) => [g, g, g, 255]))) },
    steps: [
      { layer: 'fc2', randomized: ['fc2'] },
      { layer: 'conv1', randomized: ['fc2', 'conv1'] },
    ],
    threshold: 0.5,
    methods: [
      {
        method: 'saliency',
        label: 'Saliency',
        multipliesByInput: false,
        original: map([1, -1, 0, 0, 0, 0, 0, 0]),
        steps: [
          { ...sim(0.4, 0.2, 0.5, 0.6), map: map([0, 0, 1, -1, 0, 0, 0, 0]) },
          { ...sim(0.1, -0.3, 0.2, 0.3), map: map([0, 0, 0, 0, -1, 1, 0, 0]) },
        ],
        passed: true,
        meanSpearmanAbs: 0.25,
        lastSpearmanAbs: 0.1,
      },
      {
        method: 'guided_backprop',
        label: 'Guided Backprop',
        multipliesByInput: false,
        original: map([-1, 1, 0, 0, 0, 0, 0, 0]),
        steps: [
          { ...sim(0.9, 0.8, null, 0.7), map: map([-1, 1, 0, 0, 0, 0, 0, 0]) },
          { ...sim(0.7, 0.6, 0.5, 0.4), map: map([0, 1, -1, 0, 0, 0, 0, 0]) },
        ],
        passed: false,
        meanSpearmanAbs: 0.8,
        lastSpearmanAbs: 0.7,
      },
    ],
    data: {
      compareModel: '/models/m_random_labels.onnx',
      threshold: 0.5,
      methods: [
        { method: 'saliency', label: 'Saliency', ...sim(0.3, 0.1, 0.2, 0.25), original: map([1, -1, 0, 0, 0, 0, 0, 0]), randomized: map([0, 0, 0, 0, 0, 0, 1, -1]), passed: true },
        { method: 'guided_backprop', label: 'Guided Backprop', ...sim(0.85, 0.8, 0.7, 0.9), original: map([1, -1, 0, 0, 0, 0, 0, 0]), passed: false },
      ],
    },
  };
}

/** A select by its label (its accessible name also holds the chosen option). */
const combo = (page: Page, label: string) => page.getByRole('combobox', { name: new RegExp(`^${label}\\b`) });

const CELL = (method: string, col: number): string => `tr[data-method="${method}"] td[data-col="${col}"] canvas`;

/** Where the chart puts step k (1-based) of S with value v: x over [0.5, S + 0.5], y over [−1, 1]. */
const expectedPoint = (area: PlotArea, k: number, steps: number, v: number): number[] => [
  area.x + ((k - 0.5) / steps) * area.w,
  area.y + (1 - (v + 1) / 2) * area.h,
];

function assertPoints(actual: number[][], expected: number[][]): void {
  assert.equal(actual.length, expected.length, `${actual.length} points, expected ${expected.length}`);
  actual.forEach((p, i) => {
    assert.ok(Math.abs(p[0] - expected[i][0]) <= 0.011 && Math.abs(p[1] - expected[i][1]) <= 0.011, `point ${i}: (${p}) vs (${expected[i]})`);
  });
}

describe('Sanity panel (headless Chromium)', () => {
  let browser: Browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  it('draws the grid: methods × (original + steps), absolute maps on viridis by default, signed on cool–warm', async () => {
    const { page, log } = await openPanel(browser, 'sanity');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector(CELL('saliency', 0));
    assert.equal(await page.locator('table.grid tbody canvas.heatmap').count(), 2 * 3);
    const headers = await page.locator('table.grid thead th.col-head').allInnerTexts();
    assert.deepEqual(
      headers.map((h) => h.replace(/\s+/g, ' ').trim()),
      ['original trained model', 'fc2 top 1 randomized', 'conv1 top 2 randomized'],
    );
    // The input heads the grid (it has the maps' size).
    assert.equal(await page.locator('table.grid thead canvas.input-image').count(), 1);

    // Absolute: |±1| = the scale → viridis' top; 0 → its bottom. No input underneath: opaque colours.
    assert.deepEqual(await heatmapPixel(page, CELL('saliency', 0), 0, 0), VIRIDIS_TOP);
    assert.deepEqual(await heatmapPixel(page, CELL('saliency', 0), 1, 0), VIRIDIS_TOP);
    assert.deepEqual(await heatmapPixel(page, CELL('saliency', 0), 2, 0), VIRIDIS_BOTTOM);
    assert.deepEqual(await heatmapPixel(page, CELL('saliency', 2), 1, 1), VIRIDIS_TOP, 'step 2: the map moved to (4, 5)');

    await combo(page, 'Maps').selectOption('signed');
    assert.deepEqual(await heatmapPixel(page, CELL('saliency', 0), 0, 0), WARM);
    assert.deepEqual(await heatmapPixel(page, CELL('saliency', 0), 1, 0), COOL);
    assert.deepEqual(await heatmapPixel(page, CELL('guided_backprop', 0), 0, 0), COOL);
    assert.deepEqual(await heatmapPixel(page, CELL('saliency', 1), 3, 0), COOL);
    assert.deepEqual(await heatmapPixel(page, CELL('saliency', 2), 0, 1), COOL);

    // Under each step the chosen similarity (ρ abs by default).
    assert.equal((await page.locator('tr[data-method="saliency"] td[data-col="1"] .value').innerText()).trim(), 'ρ abs 0.40');
    assert.equal((await page.locator('tr[data-method="guided_backprop"] td[data-col="2"] .value').innerText()).trim(), 'ρ abs 0.70');
    assert.deepEqual(await violations(page), []);
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('gives each method its verdict in words and an icon, in the grid and in the verdict table', async () => {
    const { page } = await openPanel(browser, 'sanity');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector(CELL('saliency', 0));
    for (const where of ['table.grid', 'table.verdicts']) {
      assert.equal((await page.locator(`${where} tr[data-method="saliency"] [data-verdict]`).innerText()).trim(), 'PASS');
      assert.equal((await page.locator(`${where} tr[data-method="guided_backprop"] [data-verdict]`).innerText()).trim(), 'FAIL');
      assert.equal(await page.locator(`${where} tr[data-method="saliency"] [data-verdict] svg path`).count(), 1, 'an icon');
    }
    assert.match(await page.locator('table.verdicts tr[data-method="guided_backprop"]').innerText(), /0\.80\s+0\.70\s+FAIL/);
    assert.match(await page.locator('p.summary').first().innerText(), /1 of 2 methods pass/);
    await page.context().close();
  });

  it('draws one curve per method at the chart geometry, the threshold for ρ abs only, another metric on demand', async () => {
    const { page, log } = await openPanel(browser, 'sanity');
    const view = syntheticView();
    await post(page, { type: 'show', view });
    await page.waitForSelector('polyline[data-series="saliency"]');
    assert.equal(await page.locator('.line-chart g.series').count(), 2);
    const saliency = await chartGeometry(page, 'saliency');
    assert.equal(saliency.lines.length, 1);
    assertPoints(saliency.lines[0], [expectedPoint(saliency.area, 1, 2, 0.4), expectedPoint(saliency.area, 2, 2, 0.1)]);
    // The threshold line at y(0.5).
    const threshold = await page.locator('line.threshold').getAttribute('y1');
    assert.ok(Math.abs(Number(threshold) - expectedPoint(saliency.area, 1, 2, 0.5)[1]) <= 0.011);

    // SSIM: Guided Backprop's first step is undefined, so its line is only the second point's marker.
    await combo(page, 'Similarity').selectOption('ssim');
    await page.waitForFunction(() => document.querySelector('line.threshold') === null);
    const gbp = await chartGeometry(page, 'guided_backprop');
    assert.deepEqual(gbp.lines.length, 1);
    assertPoints(gbp.lines[0], [expectedPoint(gbp.area, 2, 2, 0.5)]);
    assert.equal(await page.locator('g.series[data-series="guided_backprop"] path.marker').count(), 1);
    assertPoints((await chartGeometry(page, 'saliency')).lines[0], [expectedPoint(gbp.area, 1, 2, 0.5), expectedPoint(gbp.area, 2, 2, 0.2)]);
    assert.equal((await page.locator('tr[data-method="guided_backprop"] td[data-col="1"] .value').innerText()).trim(), 'SSIM —');
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('shows the values at a step on hover and with the arrow keys on the focused chart', async () => {
    const { page } = await openPanel(browser, 'sanity');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector('polyline[data-series="saliency"]');
    const { area } = await chartGeometry(page, 'saliency');
    const box = (await page.locator('.line-chart .surface > svg').boundingBox())!;
    const [x2, y2] = expectedPoint(area, 2, 2, 0);
    await page.mouse.move(box.x + x2, box.y + y2);
    const tip = page.locator('.tooltip');
    await tip.waitFor();
    assert.match(await tip.innerText(), /conv1[\s\S]*Saliency\s+0\.10[\s\S]*Guided Backprop\s+0\.70/);
    await page.mouse.move(0, 0);
    await tip.waitFor({ state: 'detached' });

    const slider = page.getByRole('slider');
    await slider.focus();
    assert.match((await slider.getAttribute('aria-valuetext'))!, /^fc2 \(top 1 randomized\): Saliency 0\.40, Guided Backprop 0\.90$/);
    await page.keyboard.press('ArrowRight');
    assert.match((await slider.getAttribute('aria-valuetext'))!, /^conv1 \(top 2 randomized\): Saliency 0\.10, Guided Backprop 0\.70$/);
    assert.match(await tip.innerText(), /conv1/);
    // The legend hides a series (and its values).
    await page.locator('button.legend-item[data-series="guided_backprop"]').click();
    assert.equal(await page.locator('polyline[data-series="guided_backprop"]').count(), 0);
    assert.equal(await page.locator('button.legend-item[data-series="guided_backprop"]').getAttribute('aria-pressed'), 'false');
    await page.context().close();
  });

  it('is a keyboard grid: one tab stop, arrow keys move between cells, focus visible', async () => {
    const { page } = await openPanel(browser, 'sanity');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector(CELL('saliency', 0));
    assert.equal(await page.locator('td[role="gridcell"][tabindex="0"]').count(), 1);
    await page.locator('td[data-row="0"][data-col="0"]').focus();
    const at = () => page.evaluate(() => [document.activeElement?.getAttribute('data-row'), document.activeElement?.getAttribute('data-col')].join(','));
    await page.keyboard.press('ArrowRight');
    assert.equal(await at(), '0,1');
    await page.keyboard.press('ArrowDown');
    assert.equal(await at(), '1,1');
    await page.keyboard.press('End');
    assert.equal(await at(), '1,2');
    await page.keyboard.press('ArrowRight');
    assert.equal(await at(), '1,2', 'stays at the edge');
    await page.keyboard.press('Control+Home');
    assert.equal(await at(), '0,0');
    const label = await page.locator('td[data-row="1"][data-col="2"]').getAttribute('aria-label');
    assert.equal(label, 'Guided Backprop, conv1, top 2 randomized: Spearman ρ abs 0.70, signed 0.60, SSIM 0.50, HOG 0.40');
    assert.equal(await page.locator('td[role="gridcell"][tabindex="0"]').count(), 1);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    assert.equal(outline, 'solid');
    await page.context().close();
  });

  it('compares the maps of the permuted-label model side by side with ρ and the verdict', async () => {
    const { page, log } = await openPanel(browser, 'sanity');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector('figure.data-card canvas');
    assert.equal(await page.locator('figure.data-card').count(), 2);
    const saliency = page.locator('figure.data-card[data-method="saliency"]');
    assert.equal(await saliency.locator('canvas').count(), 2);
    assert.deepEqual(await heatmapPixel(page, 'figure.data-card[data-method="saliency"] [data-side="permuted labels"] canvas', 3, 1), VIRIDIS_TOP);
    assert.match(await saliency.locator('figcaption').innerText(), /Saliency\s+PASS\s+ρ abs 0\.30 · ρ signed 0\.10 · SSIM 0\.20 · HOG 0\.25/);
    const gbp = page.locator('figure.data-card[data-method="guided_backprop"]');
    assert.equal((await gbp.locator('[data-verdict]').innerText()).trim(), 'FAIL');
    assert.equal(await gbp.locator('.no-map').count(), 1, 'a missing map is said, not drawn');
    assert.match(await page.locator('#data-title + p').innerText(), /m_random_labels\.onnx/);
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('sends cancel while the host is busy and export; restores its view and choices; ignores malformed views', async () => {
    const first = await openPanel(browser, 'sanity');
    await post(first.page, { type: 'show', view: syntheticView() });
    await first.page.waitForSelector(CELL('saliency', 0));
    assert.equal(await first.page.getByRole('button', { name: 'Cancel' }).count(), 0);
    await post(first.page, { type: 'busy', busy: true, label: 'sanity (cascading)' });
    assert.match(await first.page.getByRole('status').innerText(), /sanity \(cascading\)/);
    await first.page.getByRole('button', { name: 'Cancel' }).click();
    await first.page.getByRole('button', { name: 'Export JSON' }).click();
    const messages = (await sent(first.page)).filter((m) => m.type !== 'ready');
    assert.deepEqual(messages, [{ type: 'cancel' }, { type: 'export', format: 'json' }]);
    await post(first.page, { type: 'busy', busy: false });
    await first.page.getByRole('button', { name: 'Cancel' }).waitFor({ state: 'detached' });

    await combo(first.page, 'Maps').selectOption('signed');
    await combo(first.page, 'Similarity').selectOption('hog');
    const state = await first.page.evaluate(() => (window as unknown as { __state: unknown }).__state);
    await first.page.context().close();

    const { page, log } = await openPanel(browser, 'sanity', 'light', state);
    await page.waitForSelector(CELL('saliency', 0));
    assert.equal(await combo(page, 'Maps').inputValue(), 'signed');
    assert.equal(await combo(page, 'Similarity').inputValue(), 'hog');
    assert.deepEqual(await heatmapPixel(page, CELL('saliency', 0), 0, 0), WARM);
    // A method with fewer steps than the view is not a view.
    const bad = syntheticView();
    bad.title = 'tampered';
    bad.methods[1].steps.pop();
    await page.evaluate((m) => window.postMessage(m, '*'), { type: 'show', view: bad });
    await page.waitForTimeout(100);
    assert.equal(await page.locator('h1').innerText(), 'synthetic sanity');
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('independent mode heads each column with the one layer; a result without maps says so in every cell', async () => {
    const { page, log } = await openPanel(browser, 'sanity');
    const view = syntheticView();
    view.mode = 'independent';
    view.steps = [
      { layer: 'fc2', randomized: ['fc2'] },
      { layer: 'conv1', randomized: ['conv1'] },
    ];
    for (const m of view.methods) {
      delete m.original;
      for (const s of m.steps) delete s.map;
    }
    delete view.data;
    await post(page, { type: 'show', view });
    await page.waitForSelector('td .no-map');
    const headers = await page.locator('table.grid thead th.col-head').allInnerTexts();
    assert.deepEqual(
      headers.map((h) => h.replace(/\s+/g, ' ').trim()),
      ['original trained model', 'fc2 only this layer randomized', 'conv1 only this layer randomized'],
    );
    assert.equal(await page.locator('table.grid tbody .no-map').count(), 2 * 3);
    assert.equal(await page.locator('table.grid canvas').count(), 0, 'no maps, and no input beside them');
    assert.equal(await page.locator('#data-title').count(), 0);
    assert.match(await page.locator('p.summary').first().innerText(), /^Independent/);
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('looks right in light and dark themes (synthetic screenshots)', async () => {
    for (const theme of ['light', 'dark'] as const) {
      const { page } = await openPanel(browser, 'sanity', theme);
      await post(page, { type: 'show', view: syntheticView() });
      await page.waitForSelector(CELL('saliency', 0));
      await screenshot(page, `sanity-synthetic-${theme}`);
      await page.context().close();
    }
  });

  describe('on the MNIST example (real engine results)', () => {
    const MODEL = path.join(ROOT, 'examples', 'mnist', 'digit_cnn.onnx');
    const COMPARE = path.join(ROOT, 'examples', 'mnist', 'controls', 'digit_cnn_random_labels.onnx');
    const INPUT = path.join(ROOT, 'examples', 'mnist', 'samples', 'digit_7.png');
    let result: SanityJson;
    let data: DataRandomizationJson;
    let view: SanityView;

    before(async () => {
      await initBackend('wasm');
      const service = new EngineService();
      const ctx = () => ({ signal: new AbortController().signal, onProgress: () => {} });
      result = (await service.handle('sanity', { model: MODEL, input: INPUT }, ctx())) as SanityJson;
      data = (await service.handle('dataRandomization', { model: MODEL, input: INPUT, compareModel: COMPARE }, ctx())) as DataRandomizationJson;
      service.evict();
      // The input as the model sees it, at the maps' size (28×28).
      const model = await loadModel(MODEL);
      const input = await loadInput(INPUT, model);
      const display = inputToDisplay(input.dataSync() as Float32Array, model.input);
      input.dispose();
      model.dispose();
      const image: EncodedImage = { width: display.width, height: display.height, rgba: encodeBytes(display.data) };
      view = sanityView(result, { image, data, compareModel: COMPARE });
    });

    it('draws every map, the verdicts the engine gave, one curve per method, with no error or CSP violation', async () => {
      assert.ok(isPanelView(view, 'sanity'), 'the builder makes a valid view');
      const { page, log } = await openPanel(browser, 'sanity');
      const paint = await postTimed(page, { type: 'show', view });
      console.log(`# sanity panel first paint (MNIST, ${view.methods.length} methods × ${view.steps.length + 1} maps + data test): ${paint.sincePost.toFixed(0)} ms after the view was posted`);

      const methods = result.methods.length;
      const steps = result.steps.length;
      assert.equal(await page.locator('table.grid tbody canvas.heatmap').count(), methods * (steps + 1));
      assert.equal(await page.locator('table.grid thead th.col-head').count(), steps + 1);
      for (const m of result.methods) {
        const verdict = (await page.locator(`table.grid tr[data-method="${m.method}"] [data-verdict]`).innerText()).trim();
        assert.equal(verdict, m.verdict.passed ? 'PASS' : 'FAIL', m.method);
        assert.equal((await page.locator(`table.verdicts tr[data-method="${m.method}"] [data-verdict]`).innerText()).trim(), verdict);
      }
      assert.equal(await page.locator('.line-chart g.series').count(), methods);
      // No undefined similarity on this model: one polyline of `steps` points per method.
      for (const m of result.methods) {
        const { area, lines } = await chartGeometry(page, m.method);
        assertPoints(lines.flat(), m.similarities.map((s, k) => expectedPoint(area, k + 1, steps, s.spearmanAbs!)));
      }
      // Each map's largest |value| saturates its scale: viridis' top at the argmax of the original.
      for (const m of result.methods) {
        const abs = m.original!.absolute as number[];
        const at = abs.indexOf(Math.max(...abs));
        assert.deepEqual(await heatmapPixel(page, CELL(m.method, 0), at % 28, Math.floor(at / 28)), VIRIDIS_TOP, m.method);
      }
      // The data randomization test: two maps per method, its verdicts.
      assert.equal(await page.locator('figure.data-card canvas').count(), data.methods.length * 2);
      for (const m of data.methods) {
        assert.equal((await page.locator(`figure.data-card[data-method="${m.method}"] [data-verdict]`).innerText()).trim(), m.passed ? 'PASS' : 'FAIL');
      }
      assert.deepEqual(await violations(page), []);
      assert.deepEqual(log.errors, []);
      await page.context().close();
    });

    it('looks right in light and dark themes (MNIST screenshots)', async () => {
      for (const theme of ['light', 'dark'] as const) {
        const { page, log } = await openPanel(browser, 'sanity', theme);
        await post(page, { type: 'show', view });
        await page.waitForSelector('figure.data-card canvas');
        const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        assert.equal(background, theme === 'light' ? 'rgb(255, 255, 255)' : 'rgb(31, 31, 31)');
        await screenshot(page, `sanity-mnist-${theme}`);
        // And the values on hover, for the record.
        await page.locator('.line-chart .surface > svg').scrollIntoViewIfNeeded();
        const box = (await page.locator('.line-chart .surface > svg').boundingBox())!;
        await page.mouse.move(box.x + box.width / 2, box.y + 60);
        await page.locator('.tooltip').waitFor();
        await page.locator('.line-chart').screenshot({ path: path.join(ROOT, 'test-output', 'webview', `sanity-mnist-curves-${theme}.png`) });
        assert.deepEqual(log.errors, []);
        await page.context().close();
      }
    });
  });
});
