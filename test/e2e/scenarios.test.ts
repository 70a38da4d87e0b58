/**
 * The extension in a real VS Code (code-server), installed from its .vsix without network, each
 * scenario asserted on what the user sees and saved as a screenshot in test-output/e2e/.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { notifications, openPalette, pick, prepare, ROOT, runCommand, shot, startWorkbench, VSCODE_KIND, webviewFrame, type Workbench } from './workbench';

const EXPECTED_COMMANDS = [
  'Explain Image with Active Model',
  'Explain Latest Model',
  'Pick Active Model…',
  'Run Sanity Checks',
  'Run Sensitivity-n',
  'Run Data Randomization Test',
  'Measure Manifold Alignment',
  'Sanity-Check Latest Model',
  'Refresh Models',
  'Show Log',
  'Install GPU Backend…',
];

/** The Explain panel's frame once it shows `n` heatmaps for `input`. */
async function explainPanel(page: Page, input: string, n: number): Promise<Frame> {
  const frame = await webviewFrame(page, 'figure.card canvas');
  await frame.waitForFunction(
    ([name, count]) => (document.querySelector('h1')?.textContent ?? '').includes(name as string) && document.querySelectorAll('figure.card canvas').length === count,
    [input, n] as const,
    { timeout: 60000 },
  );
  return frame;
}

/** Clicks a sample's inline "Explain Sample" action in the Models view. */
async function explainSampleFromTree(page: Page, sample: string): Promise<void> {
  // The view's focus command (clicking its activity bar icon would hide it when it is showing).
  await runCommand(page, 'Focus on Models View');
  const row = page.locator('.monaco-list-row', { hasText: sample }).first();
  await row.hover();
  await row.locator('.action-label[aria-label^="Explain Sample"]').click();
}

async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.monaco-editor .view-lines').first().waitFor();
}

describe(`Attribution Lens in a real VS Code (${VSCODE_KIND})`, { timeout: 15 * 60 * 1000 }, () => {
  let wb: Workbench;
  let page: Page;

  before(async () => {
    prepare();
    wb = await startWorkbench({
      'attributionLens.backend': 'wasm',
      'attributionLens.methods': ['saliency', 'gradcam'],
      'attributionLens.sanityMethods': ['saliency', 'integrated_gradients', 'occlusion', 'boundary_ig', 'guided_backprop', 'gradcam'],
    });
    page = wb.page;
  });

  after(async () => {
    await wb?.stop();
  });

  it('lists the commands in the palette', async () => {
    await openPalette(page, 'Attribution Lens:');
    await page.locator('.quick-input-list .monaco-list-row').first().waitFor();
    await shot(page, '1-palette');
    // The list renders only the rows in view: ask for each command by its title.
    const input = page.locator('.quick-input-widget input');
    for (const title of EXPECTED_COMMANDS) {
      await input.fill(`>Attribution Lens: ${title}`);
      const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title });
      await row.first().waitFor({ timeout: 5000 }).catch(() => assert.fail(`'${title}' is not in the palette`));
    }
    await page.keyboard.press('Escape');
  });

  it('shows the example model and its samples in the Models view', async () => {
    await page.locator('.activitybar a[aria-label^="Attribution Lens"]').click();
    const model = page.locator('.monaco-list-row', { hasText: 'digit_cnn.onnx' }).first();
    await model.waitFor();
    if ((await model.getAttribute('aria-expanded')) !== 'true') await model.click();
    const sample = page.locator('.monaco-list-row', { hasText: 'digit_7.png' }).first();
    await sample.waitFor();
    assert.ok(await page.locator('.monaco-list-row', { hasText: '1×28×28 NCHW' }).count(), 'the input spec');
    await shot(page, '2-models-view');
  });

  it('explains a sample: the panel opens beside the editor and its heatmaps appear', async () => {
    await openFile(page, 'train.py');
    await explainSampleFromTree(page, 'digit_7.png');
    const frame = await explainPanel(page, 'digit_7.png', 2);
    assert.equal((await frame.locator('table.topk th').first().innerText()).trim(), '7');
    // Beside the editor: two editor groups, train.py in one and the panel in the other.
    assert.equal(await page.locator('.editor-group-container').count(), 2);
    assert.ok(await page.locator('.tab', { hasText: 'train.py' }).count());
    await shot(page, '3-explain-panel');
  });

  it('shows the image and its overlay when hovering an image path in a Python file', async () => {
    await openFile(page, 'train.py');
    // The string token itself (the innermost span), not the line around it.
    const target = page.locator('.view-line span', { hasText: 'digit_7.png' }).last();
    await target.waitFor();
    const box = (await target.boundingBox()) ?? assert.fail('the path is not on screen');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const hover = page.locator('.monaco-hover img');
    await hover.first().waitFor({ timeout: 30000 });
    assert.equal(await hover.count(), 2, 'the input and the overlay');
    assert.match(await page.locator('.monaco-hover:has(img)').first().innerText(), /7\s*\d+\.\d%/);
    await shot(page, '4-hover');
    await page.mouse.move(5, 5);
  });

  it('runs the CodeLens above torch.onnx.export(', async () => {
    await openFile(page, 'train.py');
    const lens = page.locator('.codelens-decoration a', { hasText: /Explain/ }).first();
    await lens.waitFor({ timeout: 30000 });
    await shot(page, '5a-codelens');
    await lens.click();
    await pick(page, 'digit_3.png');
    const frame = await explainPanel(page, 'digit_3.png', 2);
    assert.equal((await frame.locator('table.topk th').first().innerText()).trim(), '3');
    await shot(page, '5b-codelens-explained');
  });

  it('refreshes the panel when the model file is re-exported', async () => {
    // Show digit_7 again, then overwrite the model with the permuted-label twin: its top class for this 7 is not 7.
    await explainSampleFromTree(page, 'digit_7.png');
    const frame = await explainPanel(page, 'digit_7.png', 2);
    assert.equal((await frame.locator('table.topk th').first().innerText()).trim(), '7');
    fs.copyFileSync(path.join(ROOT, 'examples', 'mnist', 'controls', 'digit_cnn_random_labels.onnx'), path.join(wb.workspace, 'mnist', 'digit_cnn.onnx'));
    await frame.waitForFunction(() => (document.querySelector('table.topk th')?.textContent ?? '').trim() !== '7', undefined, { timeout: 60000 });
    await frame.waitForSelector('figure.card canvas');
    await shot(page, '6-reexported');
  });

  it('shows a clear error for a corrupt model file, and keeps working', async () => {
    fs.writeFileSync(path.join(wb.workspace, 'mnist', 'broken.onnx'), 'this is not a model');
    await runCommand(page, 'Refresh Models');
    await runCommand(page, 'Pick Active Model…');
    await pick(page, 'broken.onnx');
    await runCommand(page, 'Explain Image with Active Model');
    await pick(page, 'digit_1.png');
    await page.waitForFunction(() => Array.from(document.querySelectorAll('.notification-toast')).some((n) => /not a valid ONNX/.test(n.textContent ?? '')), undefined, { timeout: 30000 });
    const message = (await notifications(page)).find((t) => t.includes('not a valid ONNX')) ?? '';
    assert.match(message, /broken\.onnx.*not a valid ONNX model/);
    await page.waitForTimeout(500); // the toast slides in
    await shot(page, '7-corrupt-model');
    // Nothing crashed: the good model still explains.
    await runCommand(page, 'Pick Active Model…');
    await pick(page, 'digit_cnn.onnx');
    await runCommand(page, 'Explain Image with Active Model');
    await pick(page, 'digit_0.png');
    await explainPanel(page, 'digit_0.png', 2);
  });

  it('stops a long sanity check when it is cancelled', async () => {
    await runCommand(page, 'Run Sanity Checks');
    await pick(page, 'digit_2.png');
    // Its progress notification, with the Cancel button every long run has.
    const toast = page.locator('.notification-toast', { hasText: 'Sanity checks of digit_cnn.onnx' });
    await toast.waitFor({ timeout: 30000 });
    await shot(page, '8a-sanity-running');
    const cancelledAt = Date.now();
    await toast.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForFunction(() => Array.from(document.querySelectorAll('.notification-toast')).some((n) => /Sanity checks of digit_cnn\.onnx: cancelled/.test(n.textContent ?? '')), undefined, {
      timeout: 10000,
    });
    assert.ok(Date.now() - cancelledAt < 5000, 'stopped within seconds');
    // The panel shows no result: the run was stopped, not finished.
    const frame = await webviewFrame(page, 'p.muted', 'Waiting for a sanity check', 20000);
    assert.equal(await frame.locator('table.grid').count(), 0);
    await page.waitForTimeout(500);
    await shot(page, '8b-sanity-cancelled');
  });
});
