// What survives a window reload: explain results in the extension's storage (keyed by the files'
// content hashes), the panels (their webview serializers and saved state), and the status bar
// item naming the active model. `vscode` is faked at the edge; the engine worker is the real one.
import './helpers/install-fake-vscode';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fake, fakeContext, FakePanel, window as fakeWindow } from './helpers/fake-vscode';
import { activate } from '../../src/extension/extension';
import { EngineHost } from '../../src/extension/engine/engine-host';
import { ExplainCache, type ExplainParams } from '../../src/extension/engine/explain-cache';
import { ResultStore } from '../../src/extension/engine/result-store';
import { Panel } from '../../src/extension/panels/panel';
import { encodeBytes, encodeFloat32 } from '../../src/protocol/codecs';
import type { ExplainResult } from '../../src/protocol/engine';
import type { ExplainView } from '../../src/protocol/panels';

const REPO = path.resolve(__dirname, '..', '..');
const WORKER = path.join(REPO, 'dist', 'engine-worker.js');

let ws: string;
let storage: string;
let model: string;
let sample: string;

before(() => {
  if (!fs.existsSync(WORKER)) execFileSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, stdio: 'inherit' });
  ws = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-persist-'));
  storage = path.join(ws, '.storage', 'results');
  fs.cpSync(path.join(REPO, 'examples', 'mnist'), path.join(ws, 'mnist'), { recursive: true });
  model = path.join(ws, 'mnist', 'digit_cnn.onnx');
  sample = path.join(ws, 'mnist', 'samples', 'digit_7.png');
  fake.reset();
  fake.trusted = true;
  fake.workspaceFolders = [ws];
  fake.config = { 'attributionLens.backend': 'cpu' };
});

after(() => {
  fs.rmSync(ws, { recursive: true, force: true });
});

type HostArg = ConstructorParameters<typeof ExplainCache>[0];
/** An engine stand-in for the cache's second life: counts calls, answers `answer` (or fails). */
function countingHost(answer?: ExplainResult) {
  const h = {
    calls: 0,
    async request(): Promise<ExplainResult> {
      h.calls++;
      if (!answer) throw new Error('the engine was called');
      return answer;
    },
  };
  return h;
}
const params = (extra: Partial<ExplainParams> = {}): ExplainParams => ({ model, input: sample, methods: [{ method: 'saliency' }, { method: 'gradcam' }], topK: 3, opacity: 0.6, ...extra });
const pngs = (r: ExplainResult) => r.methods.map((m) => Buffer.from(m.png ?? new ArrayBuffer(0)).toString('base64'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('explain results in the extension storage', () => {
  let first: ExplainResult;

  it('a reloaded cache answers from disk without the engine', async () => {
    const log = fakeWindow.createOutputChannel('test') as unknown as ConstructorParameters<typeof EngineHost>[1];
    const host = new EngineHost(WORKER, log, 'cpu');
    try {
      const cache = new ExplainCache(host, 8, { storageDir: storage });
      first = await cache.explain(params());
      assert.equal(first.topK[0].label, '7');
      assert.equal((await cache.store?.files())?.length, 1, 'one stored result');
    } finally {
      host.dispose();
    }
    const reloaded = countingHost();
    const cache2 = new ExplainCache(reloaded as unknown as HostArg, 8, { storageDir: storage });
    const again = await cache2.explain(params());
    assert.equal(reloaded.calls, 0, 'no engine call');
    assert.deepEqual(again.topK, first.topK);
    assert.equal(again.target, first.target);
    assert.deepEqual(pngs(again), pngs(first), 'the PNG bytes');
    assert.deepEqual(
      again.methods.map((m) => [m.method, m.ms, m.error]),
      first.methods.map((m) => [m.method, m.ms, m.error]),
      'methods and timings',
    );
    for (const m of again.methods) assert.ok(m.png instanceof ArrayBuffer);
  });

  it('stores map results (the panels\' 2-D maps and input pixels) byte for byte, apart from PNG results', async () => {
    const log = fakeWindow.createOutputChannel('test') as unknown as ConstructorParameters<typeof EngineHost>[1];
    const host = new EngineHost(WORKER, log, 'cpu');
    let maps: ExplainResult;
    try {
      maps = await new ExplainCache(host, 8, { storageDir: storage }).explain(params({ output: 'map' }));
    } finally {
      host.dispose();
    }
    const bytes = (b: ArrayBuffer | undefined) => Buffer.from(b ?? new ArrayBuffer(0)).toString('base64');
    const reloaded = countingHost();
    const again = await new ExplainCache(reloaded as unknown as HostArg, 8, { storageDir: storage }).explain(params({ output: 'map' }));
    assert.equal(reloaded.calls, 0, 'no engine call');
    assert.equal(bytes(again.image?.rgba), bytes(maps.image?.rgba));
    assert.equal(again.image?.rgba.byteLength, 28 * 28 * 4);
    for (const [k, m] of again.methods.entries()) {
      assert.equal(m.map?.signed.byteLength, 28 * 28 * 4);
      assert.equal(bytes(m.map?.signed), bytes(maps.methods[k].map?.signed));
      assert.equal(bytes(m.map?.absolute), bytes(maps.methods[k].map?.absolute));
    }
    assert.deepEqual(again.catalog, maps.catalog);
    const png = countingHost(first);
    await new ExplainCache(png as unknown as HostArg, 8, { storageDir: storage }).explain(params());
    assert.equal(png.calls, 0, 'the PNG result is still its own entry');
  });

  it('keys by content: a copy hits (and names the copy), other options or changed bytes miss', async () => {
    const copy = path.join(ws, 'copy.onnx');
    fs.copyFileSync(model, copy);
    const engine = countingHost(first);
    const cache = new ExplainCache(engine as unknown as HostArg, 8, { storageDir: storage });
    const hit = await cache.explain(params({ model: copy }));
    assert.equal(engine.calls, 0);
    assert.equal(hit.model, copy);
    await cache.explain(params({ topK: 2 }));
    assert.equal(engine.calls, 1, 'other options miss');
    fs.appendFileSync(copy, Buffer.from([0]));
    await cache.explain(params({ model: copy }));
    assert.equal(engine.calls, 2, 'changed model bytes miss');
    // A fresh instance (reload) sees the same: the changed model's result was stored under its new hash.
    const fresh = countingHost();
    await new ExplainCache(fresh as unknown as HostArg, 8, { storageDir: storage }).explain(params({ model: copy }));
    assert.equal(fresh.calls, 0);
  });

  it('is bounded by the cache size: least recently used files go first', async () => {
    const dir = path.join(ws, '.storage', 'lru');
    const engine = countingHost(first);
    const cache = new ExplainCache(engine as unknown as HostArg, 2, { storageDir: dir });
    for (const topK of [1, 2, 3]) {
      await cache.explain(params({ topK }));
      await sleep(20);
    }
    assert.equal((await new ResultStore(dir, 2).files()).length, 2);
    const reloaded = countingHost(first);
    const cache2 = new ExplainCache(reloaded as unknown as HostArg, 2, { storageDir: dir });
    await cache2.explain(params({ topK: 3 }));
    assert.equal(reloaded.calls, 0, 'the newest stayed');
    await cache2.explain(params({ topK: 1 }));
    assert.equal(reloaded.calls, 1, 'the oldest was evicted');
    cache2.setCapacity(1);
    await sleep(50);
    assert.equal((await new ResultStore(dir, 1).files()).length, 1);
  });
});

describe('after a window reload', () => {
  let context: ReturnType<typeof fakeContext>;

  before(async () => {
    context = fakeContext(REPO);
    await context.workspaceState.update('attributionLens.activeModel', model);
    activate(context as unknown as Parameters<typeof activate>[0]);
  });

  after(() => {
    for (const d of context.subscriptions) d.dispose();
  });

  it('the status bar names the active model from activation on', async () => {
    const status = fake.statusItems.find((s) => s.id === 'attributionLens.status') ?? assert.fail('no status item');
    assert.equal(status.text, '$(beaker) digit_cnn.onnx');
    assert.equal(status.tooltip, 'Attribution Lens: active model');
    assert.ok(status.visible);
    await fake.commands.get('attributionLens.pinSample')?.(undefined, [{ fsPath: sample }, { fsPath: sample }]);
    assert.equal(status.text, '$(beaker) digit_cnn.onnx');
  });

  it('the Explain panel is restored from its saved state', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { activationEvents: string[] };
    for (const kind of ['explain', 'sanity', 'sensitivity', 'manifold']) assert.ok(pkg.activationEvents.includes(`onWebviewPanel:attributionLens.${kind}`), kind);
    const serializer = fake.serializers.get(Panel.viewType('explain')) ?? assert.fail('no serializer');
    const view: ExplainView = {
      kind: 'explain',
      title: 'digit_cnn.onnx · digit_7.png',
      model,
      input: sample,
      image: { width: 1, height: 1, rgba: encodeBytes(new Uint8Array([9, 9, 9, 255])) },
      topK: [{ class: 7, label: '7', probability: 0.99 }],
      target: 7,
      numClasses: 10,
      methods: [{ name: 'saliency', label: 'Saliency', settings: { method: 'saliency' }, status: 'done', ms: 12, map: { height: 1, width: 1, signed: encodeFloat32([1]), absolute: encodeFloat32([1]) } }],
      catalog: [{ method: 'saliency', label: 'Saliency', options: [] }],
    };
    const panel = new FakePanel(Panel.viewType('explain'), 'old title', {});
    await serializer.deserializeWebviewPanel(panel, { view, ui: { mode: 'absolute' } });
    assert.match(panel.webview.html, /default-src 'none'/);
    assert.match(panel.webview.html, /<script nonce="\w+" src="[^"]*dist\/webview\/explain\.js">/);
    assert.equal(panel.webview.options.enableScripts, true);
    assert.deepEqual(
      panel.webview.options.localResourceRoots?.map((u) => path.relative(REPO, u.fsPath)),
      [path.join('dist', 'webview')],
    );
    assert.deepEqual(Panel.get('explain')?.view, view, 'the host knows what the page shows');
    panel.sendFromWebview({ type: 'ready' });
    assert.deepEqual(panel.posted, [], 'the page restores its own state: nothing re-sent');

    // The revived panel is the current one: a new result goes into it.
    const created = fake.panels.length;
    Panel.show({ ...view, title: 'next' });
    assert.equal(fake.panels.length, created, 'no second panel');
    assert.equal(panel.title, 'next');
    assert.equal((panel.posted.at(-1) as unknown as { view: ExplainView }).view.title, 'next');

    // A state that is not a valid view leaves an empty panel; the previous one is replaced.
    const other = new FakePanel(Panel.viewType('explain'), 't', {});
    await serializer.deserializeWebviewPanel(other, { view: { ...view, target: 12 } });
    assert.ok(panel.disposed);
    assert.equal(Panel.get('explain')?.view, undefined);
  });
});
