// The extension's handlers with `vscode` faked at the edge only: activate() on a copy of the MNIST
// example, the REAL engine client and worker (dist/engine-worker.js, built in `before`), real files.
import './helpers/install-fake-vscode';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fake, fakeContext, fakeDocument, Position, CancellationTokenSource, setConfig, Uri, type FakePanel } from './helpers/fake-vscode';
import { activate, type ExtensionApi } from '../../src/extension/extension';
import { MODEL_GLOB } from '../../src/extension/models/model-files';
import { Panel } from '../../src/extension/panels/panel';
import { decodeFloat32 } from '../../src/protocol/codecs';
import type { ExplainView, HostToPanel } from '../../src/protocol/panels';
import type { ModelsNode } from '../../src/extension/models/models-view';

const REPO = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string; category: string }[] };
};

let ws: string;
let model: string;
let sample: string;
let ext: ExtensionApi;
let context: ReturnType<typeof fakeContext>;

// The fakes are structurally what the handlers use; these casts (typed without importing 'vscode',
// which only src/extension may) are the only place the test bridges the two.
type HoverArgs = Parameters<ExtensionApi['hover']['provideHover']>;
const asDoc = (d: ReturnType<typeof fakeDocument>) => d as unknown as HoverArgs[0];
const at = (line: number, character: number) => new Position(line, character) as unknown as HoverArgs[1];
const token = () => new CancellationTokenSource().token as unknown as HoverArgs[2];
const cmd = (id: string, ...args: unknown[]) => {
  const fn = fake.commands.get(id);
  assert.ok(fn, `command ${id} registered`);
  return fn(...args) as Promise<unknown>;
};
const lastPanel = (): FakePanel => fake.panels[fake.panels.length - 1];
async function waitFor(condition: () => boolean, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(() => {
  execFileSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, stdio: 'inherit' });
  ws = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-ext-'));
  // Without the permuted-label twin (digit_cnn_random_labels.onnx): these tests are about a workspace with one model.
  fs.cpSync(path.join(REPO, 'examples', 'mnist'), path.join(ws, 'mnist'), { recursive: true, filter: (f) => !f.includes('random_labels') });
  fs.mkdirSync(path.join(ws, 'node_modules', 'pkg'), { recursive: true });
  fs.copyFileSync(path.join(ws, 'mnist', 'digit_cnn.onnx'), path.join(ws, 'node_modules', 'pkg', 'ignored.onnx'));
  model = path.join(ws, 'mnist', 'digit_cnn.onnx');
  sample = path.join(ws, 'mnist', 'samples', 'digit_7.png');
  fake.reset();
  fake.workspaceFolders = [ws];
  fake.config = { 'attributionLens.backend': 'cpu', 'attributionLens.methods': ['saliency', 'gradcam'], 'attributionLens.sanityMethods': ['saliency', 'gradcam'] };
  context = fakeContext(REPO);
  ext = activate(context as unknown as Parameters<typeof activate>[0]);
});

after(() => {
  for (const d of context.subscriptions) d.dispose();
  fs.rmSync(ws, { recursive: true, force: true });
});

describe('extension handlers (real engine worker)', () => {
  it('registers every contributed command, under one category', () => {
    for (const c of pkg.contributes.commands) {
      assert.ok(fake.commands.has(c.command), c.command);
      assert.equal(c.category, 'Attribution Lens');
    }
    assert.equal(ext.host.isRunning, false, 'activation does not start the engine');
  });

  it('in an untrusted workspace, explains why instead of starting the engine', async () => {
    fake.trusted = false;
    try {
      await cmd('attributionLens.explainImage', Uri.file(sample));
      const warning = fake.messages.find((m) => m.level === 'warning');
      assert.match(warning?.text ?? '', /trusted workspaces/);
      assert.equal(ext.host.isRunning, false);
      const hover = await ext.hover.provideHover(asDoc(fakeDocument(path.join(ws, 't.py'), `x = "mnist/samples/digit_7.png"`, 'python')), at(0, 8), token());
      assert.match((hover?.contents as unknown as { value: string }).value, /data:image\/png;base64,.*Trust this workspace/s);
    } finally {
      fake.trusted = true;
      fake.messages = [];
    }
  });

  it('picks the active model from the workspace files, skipping node_modules', async () => {
    let offered: string[] = [];
    fake.quickPicks.push((items) => {
      offered = items.map((i) => i.label);
      return items[0];
    });
    await cmd('attributionLens.pickModel');
    assert.deepEqual(offered, ['digit_cnn.onnx']);
    assert.equal(ext.state.activeModel, model);
    assert.equal(fake.context.get('attributionLens.hasActiveModel'), true);
    const status = fake.statusItems.find((s) => s.id === 'attributionLens.status');
    assert.equal(status?.text, '$(beaker) digit_cnn.onnx', 'the status bar names the picked model');
  });

  it('explains an image from the explorer: progress reported, the Explain panel filled method by method', async () => {
    await cmd('attributionLens.explainImage', Uri.file(sample));
    assert.deepEqual(fake.messages, []);
    const progress = fake.progress[fake.progress.length - 1];
    assert.match(progress.title ?? '', /digit_7\.png with digit_cnn\.onnx/);
    assert.ok(progress.reports.length > 0, 'progress reported');
    const panel = lastPanel();
    assert.equal(panel.viewType, 'attributionLens.explain');
    assert.deepEqual(
      panel.options.localResourceRoots?.map((u) => path.relative(REPO, u.fsPath)),
      [path.join('dist', 'webview')],
    );
    assert.match(panel.webview.html, /default-src 'none'/);
    assert.deepEqual(panel.posted, [], 'nothing before the page is ready');
    panel.sendFromWebview({ type: 'ready' });
    const posted = panel.posted as HostToPanel[];
    assert.deepEqual(
      posted.map((m) => m.type),
      ['show', 'method', 'busy'],
      'the first method with the prediction, the second as it finished, not busy (the page was not ready while busy)',
    );
    const shown = (posted[0] as Extract<HostToPanel, { type: 'show' }>).view as ExplainView;
    assert.equal(shown.topK[0].label, '7');
    assert.deepEqual(
      shown.methods.map((m) => [m.name, m.status]),
      [
        ['saliency', 'done'],
        ['gradcam', 'pending'],
      ],
    );
    const gradcam = (posted[1] as Extract<HostToPanel, { type: 'method' }>).method;
    assert.equal(gradcam.status, 'done');
    for (const map of [shown.methods[0].map, gradcam.map]) {
      assert.equal(map?.width, 28);
      const values = decodeFloat32(map?.absolute ?? '');
      assert.equal(values.length, 28 * 28);
      assert.ok(values.some((v) => v > 0) && values.every((v) => v >= 0), 'absolute maps are non-negative and not all zero');
    }
    assert.equal(Panel.get('explain')?.view?.kind, 'explain');
    panel.sendFromWebview({ type: 'evil', payload: 1 }); // ignored
  });

  it('the panel asks to explain another class, and exports what it shows', async () => {
    const panel = lastPanel();
    const before = panel.posted.length;
    panel.sendFromWebview({ type: 'explain', target: 3, methods: [{ method: 'input_x_gradient' }] });
    await waitFor(() => (panel.posted as HostToPanel[]).slice(before).some((m) => m.type === 'busy' && !m.busy));
    const shown = (panel.posted as HostToPanel[]).slice(before).find((m): m is Extract<HostToPanel, { type: 'show' }> => m.type === 'show');
    const view = shown?.view as ExplainView;
    assert.equal(view.target, 3);
    assert.deepEqual(view.methods.map((m) => m.name), ['input_x_gradient']);

    const out = path.join(ws, 'exported.json');
    fake.saveAnswers.push(Uri.file(out));
    panel.sendFromWebview({ type: 'export', format: 'json' });
    await waitFor(() => fs.existsSync(out));
    assert.equal(fake.saveDialogs.at(-1), path.join(ws, 'mnist', 'samples', 'digit_7-explain.json'), 'offered next to the input');
    assert.equal((JSON.parse(fs.readFileSync(out, 'utf8')) as ExplainView).target, 3);
    const png = path.join(ws, 'exported.png');
    fake.saveAnswers.push(Uri.file(png));
    panel.sendFromWebview({ type: 'export', format: 'png', name: 'digit_7-saliency.png', dataUri: 'data:image/png;base64,iVBORw0KGgo=' });
    await waitFor(() => fs.existsSync(png));
    assert.deepEqual([...fs.readFileSync(png)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // Not a PNG data URI, or a name with a folder in it: refused before anything is asked.
    const dialogs = fake.saveDialogs.length;
    panel.sendFromWebview({ type: 'export', format: 'png', name: '../x.png', dataUri: 'data:image/png;base64,iVBORw0KGgo=' });
    panel.sendFromWebview({ type: 'export', format: 'png', name: 'x.png', dataUri: 'javascript:alert(1)' });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fake.saveDialogs.length, dialogs);
  });

  it('cancelling the notification stops the request within a second', async () => {
    setConfig('attributionLens.methods', ['occlusion', 'integrated_gradients', 'gradient_shap', 'boundary_ig']);
    let cancelledAt = 0;
    fake.onProgressStart = (p) =>
      setTimeout(() => {
        cancelledAt = performance.now();
        p.cancel();
      }, 150);
    fake.messages = [];
    const panelsBefore = fake.panels.length;
    const posted = lastPanel().posted.length;
    lastPanel().sendFromWebview({ type: 'ready' });
    try {
      await cmd('attributionLens.explainImage', Uri.file(path.join(ws, 'mnist', 'samples', 'digit_3.png')));
    } finally {
      fake.onProgressStart = undefined;
      setConfig('attributionLens.methods', ['saliency', 'gradcam']);
    }
    assert.ok(cancelledAt > 0);
    // The engine checks the signal between batches (~0.6 s apart here); 2 s leaves room for a loaded CI machine.
    assert.ok(performance.now() - cancelledAt < 2000, `stopped ${Math.round(performance.now() - cancelledAt)} ms after cancel`);
    assert.match(fake.messages.map((m) => m.text).join('\n'), /cancelled/);
    assert.equal(fake.panels.length, panelsBefore, 'the open panel was reused');
    const after = (lastPanel().posted as HostToPanel[]).slice(posted);
    assert.deepEqual(after.at(-1), { type: 'busy', busy: false });
    const view = Panel.get('explain')?.view;
    assert.ok(view?.kind === 'explain' && view.methods.some((m) => m.status === 'pending'), 'the cancelled methods stay pending');
  });

  it('hovers an image path: image, top-k and overlay; the second hover comes from the cache', async () => {
    const doc = asDoc(fakeDocument(path.join(ws, 'train.py'), `img = load("mnist/samples/digit_9.png")`, 'python'));
    const t0 = performance.now();
    const cold = await ext.hover.provideHover(doc, at(0, 20), token());
    const coldMs = performance.now() - t0;
    const t1 = performance.now();
    const warm = await ext.hover.provideHover(doc, at(0, 20), token());
    const warmMs = performance.now() - t1;
    const md = (cold?.contents as unknown as { value: string; supportHtml: boolean }) ?? assert.fail('no hover');
    assert.ok(md.supportHtml);
    assert.equal((md.value.match(/<img src="data:image\/png;base64,/g) ?? []).length, 2, 'input and overlay');
    assert.match(md.value, /\*\*9\*\* \d+\.\d%/);
    assert.equal((warm?.contents as unknown as { value: string }).value, md.value);
    assert.ok(warmMs < coldMs && warmMs < 50, `warm ${warmMs.toFixed(1)} ms, cold ${coldMs.toFixed(1)} ms`);
    // A .npy has no image file: the hover shows the input as the model sees it, and the overlay.
    const npy = await ext.hover.provideHover(asDoc(fakeDocument(path.join(ws, 'n.py'), `x = "mnist/samples/digit_7.npy"`, 'python')), at(0, 8), token());
    const npyMd = (npy?.contents as unknown as { value: string }) ?? assert.fail('no .npy hover');
    assert.equal((npyMd.value.match(/<img src="data:image\/png;base64,/g) ?? []).length, 2, '.npy: input and overlay');
    assert.match(npyMd.value, /\*\*7\*\* \d+\.\d%/);
    // Not a path, or a path that does not exist: no hover.
    const none = await ext.hover.provideHover(asDoc(fakeDocument(path.join(ws, 'a.py'), `x = "nope.png"`, 'python')), at(0, 6), token());
    assert.equal(none, undefined);
  });

  it('puts CodeLenses above training and export calls', () => {
    const doc = asDoc(fakeDocument(path.join(ws, 'train.py'), 'model.fit(x)\n\ntorch.onnx.export(model, x, "m.onnx")\n', 'python'));
    const lenses = ext.codeLens.provideCodeLenses(doc);
    assert.deepEqual(
      lenses.map((l) => [l.range.start.line, l.command?.command]),
      [
        [0, 'attributionLens.explainLatestModel'],
        [0, 'attributionLens.sanityCheckLatestModel'],
        [2, 'attributionLens.explainLatestModel'],
        [2, 'attributionLens.sanityCheckLatestModel'],
      ],
    );
  });

  it('the Models view lists the model, its input spec, labels and samples, then pinned samples', async () => {
    const roots = await ext.models.getChildren();
    assert.deepEqual(
      roots.map((n) => n.kind === 'model' && n.entry.label),
      ['digit_cnn.onnx'],
    );
    const item = ext.models.getTreeItem(roots[0]);
    assert.equal(item.contextValue, 'model.active');
    const children = await ext.models.getChildren(roots[0]);
    const infos = children.filter((c): c is Extract<ModelsNode, { kind: 'info' }> => c.kind === 'info');
    assert.deepEqual(
      infos.map((i) => [i.label, i.description]),
      [
        ['input', '1×28×28 NCHW'],
        ['labels', '10: 0, 1, 2, 3, 4, …'],
      ],
    );
    const samples = children.filter((c): c is Extract<ModelsNode, { kind: 'sample' }> => c.kind === 'sample');
    assert.deepEqual(
      samples.map((s) => path.basename(s.file)),
      ['digit_0.png', 'digit_1.png', 'digit_2.png', 'digit_3.png', 'digit_7.npy', 'digit_7.png', 'digit_9.png'],
    );
    await cmd('attributionLens.pinSample', samples[5]);
    await cmd('attributionLens.pinSample', undefined, [Uri.file(samples[2].file), Uri.file(samples[4].file)]);
    const after = await ext.models.getChildren();
    assert.equal(after[after.length - 1].kind, 'pinnedGroup');
    assert.deepEqual(
      (await ext.models.getChildren(after[after.length - 1])).map((n) => n.kind === 'sample' && path.basename(n.file)),
      ['digit_7.png', 'digit_2.png', 'digit_7.npy'],
    );
    assert.equal(ext.models.getTreeItem(samples[5]).contextValue, 'sample.pinned');
  });

  it('sanity checks from the tree: panel and message "n/m sanity checks pass"', async () => {
    const [modelNode] = await ext.models.getChildren();
    fake.quickPicks.push((items) => items[0]); // the first pinned sample
    fake.messages = [];
    await cmd('attributionLens.sanityCheck', modelNode);
    assert.match(fake.messages[0]?.text ?? '', /^digit_cnn\.onnx: \d\/2 sanity checks pass$/);
    const view = Panel.get('sanity')?.view;
    assert.equal(view?.kind, 'sanity');
    if (view?.kind === 'sanity') {
      assert.deepEqual(view.methods.map((m) => m.method), ['saliency', 'gradcam']);
      assert.ok(view.methods.every((m) => m.original && m.steps.every((st) => st.map)), 'every map of the grid');
    }
  });

  it('re-exporting the model evicts it, re-explains the pinned samples and updates the status bar', async () => {
    setConfig('attributionLens.liveSanity', true);
    await cmd('attributionLens.explainImage', Uri.file(sample));
    const panel = fake.panels.find((p) => p.viewType === 'attributionLens.explain' && !p.disposed) ?? assert.fail('no Explain panel');
    panel.sendFromWebview({ type: 'ready' });
    const postedBefore = panel.posted.length;
    const watcher = fake.watchers.find((w) => w.glob === MODEL_GLOB) ?? assert.fail('no model watcher');
    fs.copyFileSync(model, `${model}.tmp`);
    fs.renameSync(`${model}.tmp`, model); // as an exporter writes it
    watcher.change.fire(Uri.file(model));
    await new Promise((r) => setTimeout(r, 600)); // the debounce
    await ext.watcher.idle;
    const status = fake.statusItems.find((s) => s.id === 'attributionLens.status') ?? assert.fail('no status item');
    assert.match(status.text, /^\$\(pass\) digit_cnn\.onnx: \d\/2 sanity checks pass$/);
    assert.ok(fake.logLines.some((l) => /evict digit_cnn\.onnx/.test(l)), 'evicted in the engine');
    assert.ok(fake.logLines.some((l) => /explain digit_cnn\.onnx digit_7\.npy/.test(l)), 'pinned .npy re-explained');
    await waitFor(() => (panel.posted as HostToPanel[]).slice(postedBefore).some((m) => m.type === 'busy' && !m.busy));
    assert.ok((panel.posted as HostToPanel[]).slice(postedBefore).some((m) => m.type === 'show'), 'the open panel was explained again');
    setConfig('attributionLens.liveSanity', false);
  });
});
