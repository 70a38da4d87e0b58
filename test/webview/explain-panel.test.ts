/**
 * The Explain panel in headless Chromium: what it draws (canvas pixels against the published end
 * colours of Moreland's cool–warm map and of viridis, blended over the input as documented), what
 * its controls send back, and that its state survives being hidden.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { encodeBytes, encodeFloat32 } from '../../src/protocol/codecs';
import type { ExplainView, PanelToHost } from '../../src/protocol/panels';
import * as path from 'node:path';
import { initBackend } from '../../src/engine/backend';
import { decodeBytes, decodeFloat32 } from '../../src/protocol/codecs';
import { isPanelView } from '../../src/protocol/panels';
import { explainView } from '../../src/protocol/views/explain';
import { EngineService } from '../../src/worker/engine-service';
import { heatmapPixel, launch, openPanel, post, postTimed, ROOT, screenshot, sent, violations } from './harness';

// Published end colours: Moreland (2009) cool–warm and matplotlib's viridis.
const WARM = [180, 4, 38];
const COOL = [59, 76, 192];
const VIRIDIS_TOP = [253, 231, 37];

/** A 4×2 input: gray levels 0, 100, 200, 255 on the first row, 50s on the second. */
function syntheticView(): ExplainView {
  const grays = [0, 100, 200, 255, 50, 50, 50, 50];
  const rgba = new Uint8Array(grays.flatMap((g) => [g, g, g, 255]));
  // One pixel at +1, one at −1, the rest small or zero: the 2% outlier scale is 1 here.
  const signed = [1, -1, 0, 0.5, 0, 0, 0, 0];
  return {
    kind: 'explain',
    title: 'synthetic',
    model: '/models/m.onnx',
    input: '/samples/x.png',
    backend: 'wasm',
    image: { width: 4, height: 2, rgba: encodeBytes(rgba) },
    topK: [
      { class: 3, label: 'three', probability: 0.9 },
      { class: 1, label: 'one', probability: 0.06 },
    ],
    target: 3,
    numClasses: 5,
    labels: ['zero', 'one', 'two', 'three', 'four'],
    methods: [
      { name: 'saliency', label: 'Saliency', settings: { method: 'saliency' }, status: 'done', map: { height: 2, width: 4, signed: encodeFloat32(signed), absolute: encodeFloat32(signed.map(Math.abs)) }, ms: 12 },
      { name: 'integrated_gradients', label: 'Integrated Gradients', settings: { method: 'integrated_gradients', steps: 16 }, status: 'pending' },
    ],
    catalog: [
      { method: 'saliency', label: 'Saliency', options: ['abs'] },
      { method: 'integrated_gradients', label: 'Integrated Gradients', options: ['steps', 'baseline', 'rule'] },
    ],
  };
}

const blend = (gray: number, color: number[], w: number): number[] => [...color.map((c) => Math.round((1 - w) * 0.5 * gray + w * c)), 255];
const CANVAS = (name: string): string => `figure[data-method="${name}"] canvas`;

describe('Explain panel (headless Chromium)', () => {
  let browser: Browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  it('draws the signed map on the diverging colormap over the dimmed input, opacity as set', async () => {
    const { page, log } = await openPanel(browser, 'explain');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector(CANVAS('saliency'));
    // Default opacity 0.75: w = 0.75·|v|/scale.
    assert.deepEqual(await heatmapPixel(page, CANVAS('saliency'), 0, 0), blend(0, WARM, 0.75));
    assert.deepEqual(await heatmapPixel(page, CANVAS('saliency'), 1, 0), blend(100, COOL, 0.75));
    // No attribution: the input, dimmed to half.
    assert.deepEqual(await heatmapPixel(page, CANVAS('saliency'), 2, 0), [100, 100, 100, 255]);
    assert.deepEqual(await heatmapPixel(page, CANVAS('saliency'), 0, 1), [25, 25, 25, 255]);

    // Opacity slider to 1: the saturated pixels show the pure end colours.
    await page.locator('input[type=range]').fill('1');
    await page.waitForFunction(() => document.querySelector<HTMLInputElement>('input[type=range]')?.value === '1');
    assert.deepEqual(await heatmapPixel(page, CANVAS('saliency'), 0, 0), [...WARM, 255]);
    assert.deepEqual(await heatmapPixel(page, CANVAS('saliency'), 1, 0), [...COOL, 255]);

    // Absolute colormap: |−1| saturates viridis' top.
    await page.getByLabel('Colormap').selectOption('absolute');
    assert.deepEqual(await heatmapPixel(page, CANVAS('saliency'), 1, 0), [...VIRIDIS_TOP, 255]);

    assert.equal(await page.locator('figure[data-method="integrated_gradients"] [role=status]').count(), 1, 'the pending method shows a spinner');
    assert.match(await page.locator('figure[data-method="saliency"] figcaption').innerText(), /Saliency[\s\S]*12 ms/);
    assert.deepEqual(await violations(page), []);
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('fills a pending method when its result arrives, and keeps the other', async () => {
    const { page, log } = await openPanel(browser, 'explain');
    const view = syntheticView();
    await post(page, { type: 'show', view });
    await page.waitForSelector(CANVAS('saliency'));
    const ig = { ...view.methods[1], status: 'done' as const, ms: 2500, delta: 0.00123, map: view.methods[0].map };
    await post(page, { type: 'method', method: ig });
    await page.waitForSelector(CANVAS('integrated_gradients'));
    const caption = await page.locator('figure[data-method="integrated_gradients"] figcaption').innerText();
    assert.match(caption, /δ 1\.2e-3/);
    assert.match(caption, /2\.5 s/);
    assert.equal(await page.locator('figure.card').count(), 2);
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('sends a new target class, chosen methods and options, cancel and exports to the host', async () => {
    const { page } = await openPanel(browser, 'explain');
    await post(page, { type: 'show', view: syntheticView() });
    await page.waitForSelector(CANVAS('saliency'));

    await page.getByLabel('Explain class').selectOption('1');
    await page.locator('summary', { hasText: 'Methods and options' }).click();
    await page.getByLabel('steps').fill('64');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('button', { name: 'export Saliency heatmap as PNG' }).click();
    await page.getByRole('button', { name: 'Export JSON' }).click();
    await post(page, { type: 'busy', busy: true, label: 'Integrated Gradients' });
    await page.getByRole('button', { name: 'Cancel' }).click();

    const messages = (await sent(page)).filter((m) => m.type !== 'ready');
    const explains = messages.filter((m): m is Extract<PanelToHost, { type: 'explain' }> => m.type === 'explain');
    assert.deepEqual(explains[0], { type: 'explain', target: 1, methods: [{ method: 'saliency' }, { method: 'integrated_gradients', steps: 16 }] });
    assert.deepEqual(explains[1], { type: 'explain', target: 3, methods: [{ method: 'saliency' }, { method: 'integrated_gradients', steps: 64 }] });
    const png = messages.find((m) => m.type === 'export' && m.format === 'png') as Extract<PanelToHost, { format: 'png' }>;
    assert.equal(png.name, 'x-saliency.png');
    assert.match(png.dataUri, /^data:image\/png;base64,/);
    assert.ok(messages.some((m) => m.type === 'export' && m.format === 'json'));
    assert.equal(messages.at(-1)?.type, 'cancel');
    await page.context().close();
  });

  it('restores its view and display choices from the saved state, and ignores malformed messages', async () => {
    const first = await openPanel(browser, 'explain');
    await post(first.page, { type: 'show', view: syntheticView() });
    await first.page.waitForSelector(CANVAS('saliency'));
    await first.page.getByLabel('Colormap').selectOption('absolute');
    const state = await first.page.evaluate(() => (window as unknown as { __state: unknown }).__state);
    await first.page.context().close();

    const { page, log } = await openPanel(browser, 'explain', 'light', state);
    await page.waitForSelector(CANVAS('saliency'));
    assert.equal(await page.getByLabel('Colormap').inputValue(), 'absolute');
    // A map whose data does not match its size is not drawn.
    const bad = syntheticView();
    bad.title = 'tampered';
    bad.methods[0].map = { height: 2, width: 4, signed: 'AAAA', absolute: 'AAAA' };
    await page.evaluate((m) => window.postMessage(m, '*'), { type: 'show', view: bad });
    await page.waitForTimeout(100);
    assert.equal(await page.locator('h1').innerText(), 'synthetic');
    assert.deepEqual(log.errors, []);
    await page.context().close();
  });

  it('looks right in light and dark themes (screenshots)', async () => {
    for (const theme of ['light', 'dark'] as const) {
      const { page } = await openPanel(browser, 'explain', theme);
      await post(page, { type: 'show', view: syntheticView() });
      await page.waitForSelector(CANVAS('saliency'));
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(background, theme === 'light' ? 'rgb(255, 255, 255)' : 'rgb(31, 31, 31)');
      await screenshot(page, `explain-synthetic-${theme}`);
      await page.context().close();
    }
  });

  it('draws a real explanation of the example model: saturated colours at each map\'s extreme, first paint measured', async () => {
    await initBackend('wasm');
    const service = new EngineService();
    const methods = [{ method: 'input_x_gradient' }, { method: 'integrated_gradients' }, { method: 'gradcam' }];
    const model = path.join(ROOT, 'examples', 'mnist', 'digit_cnn.onnx');
    const input = path.join(ROOT, 'examples', 'mnist', 'samples', 'digit_7.png');
    const result = await service.handle('explain', { model, input, methods, output: 'map', topK: 3 }, { signal: new AbortController().signal, onProgress: () => {} });
    service.dispose();
    const view = explainView(result, methods, 'digit_cnn.onnx · digit_7.png');
    assert.ok(isPanelView(view, 'explain'));

    const { page, log } = await openPanel(browser, 'explain');
    const paint = await postTimed(page, { type: 'show', view });
    console.log(`# explain panel first paint (MNIST, ${methods.length} methods): ${paint.sincePost.toFixed(0)} ms after the view was posted, ${paint.sinceNavigation.toFixed(0)} ms after navigation`);

    assert.equal(await page.locator('table.topk th').first().innerText(), '7');
    const gray = decodeBytes(view.image.rgba);
    for (const m of view.methods) {
      const values = decodeFloat32(m.map!.signed);
      // The largest |value| is beyond the 2% outlier scale: the end colour at weight 0.75 over the dimmed input.
      let at = 0;
      for (let i = 1; i < values.length; i++) if (Math.abs(values[i]) > Math.abs(values[at])) at = i;
      const expected = blend(gray[4 * at], values[at] > 0 ? WARM : COOL, 0.75);
      assert.deepEqual(await heatmapPixel(page, CANVAS(m.name), at % 28, Math.floor(at / 28)), expected, m.name);
      if (m.delta !== undefined) assert.match(await page.locator(`figure[data-method="${m.name}"] figcaption`).innerText(), /δ/);
    }
    assert.deepEqual(await violations(page), []);
    assert.deepEqual(log.errors, []);
    for (const theme of ['light', 'dark', 'high-contrast'] as const) {
      const shot = await openPanel(browser, 'explain', theme);
      await post(shot.page, { type: 'show', view });
      await shot.page.waitForSelector(CANVAS('gradcam'));
      await screenshot(shot.page, `explain-mnist-${theme}`);
      await shot.page.context().close();
    }
    await page.context().close();
  });
});
