// Pure logic of the extension (no vscode): CodeLens call detection, hover string-literal
// resolution, the Models tree from a file list, cache keys, sanity summaries, the panel's CSP.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { findTrainingCalls } from '../../src/extension/codelens/training-calls';
import { candidatePaths, looksLikeInputPath, stringLiteralAt } from '../../src/extension/hover/string-literal';
import { ResultCache, resultKey } from '../../src/extension/engine/result-cache';
import { latestModel, modelEntries, sampleFiles, sampleFolders, summarizeSidecar, describeLabels } from '../../src/extension/models/model-files';
import { sanityStatusText, summarizeSanity } from '../../src/extension/live/sanity-summary';

describe('CodeLens call detection', () => {
  it('finds every listed call in Python, with the receiver as an attribute', () => {
    const src = [
      'history = model.fit(x, y, epochs=3)',
      'trainer.fit(module, datamodule=dm)',
      'torch.save(model.state_dict(), "m.pt")',
      'torch.onnx.export(model, x, "digit_cnn.onnx")',
      '    self.model.save("m.keras")',
      'tf.saved_model.save(model, "out")',
      'torch . onnx . export (model, x, "f.onnx")',
    ].join('\n');
    const calls = findTrainingCalls(src, 'python');
    assert.deepEqual(
      calls.map((c) => [c.call, c.line, c.character]),
      [
        ['model.fit', 0, 10],
        ['trainer.fit', 1, 0],
        ['torch.save', 2, 0],
        ['torch.onnx.export', 3, 0],
        ['model.save', 4, 9],
        ['tf.saved_model.save', 5, 0],
        ['torch.onnx.export', 6, 0],
      ],
    );
  });

  it('ignores look-alikes, comments and strings', () => {
    const src = [
      'remodel.fit(x)',
      'model.fit_generator(gen)',
      'model.fitted = True',
      '# model.fit(x, y)',
      'x = 1  # then torch.save(m, p)',
      'print("model.fit(x)")',
      'mytorch.save(m)',
    ].join('\n');
    assert.deepEqual(findTrainingCalls(src, 'python'), []);
    assert.deepEqual(findTrainingCalls('// model.fit(x)\nconst s = `model.save(p)`;', 'typescript'), []);
    assert.equal(findTrainingCalls('await model.save("file://m"); // model.fit(', 'typescript').length, 1);
  });

  it('treats # as code in TypeScript (private fields) and // as code in Python (floor division)', () => {
    assert.equal(findTrainingCalls('this.#x = 1; model.fit(xs, ys)', 'typescript').length, 1);
    assert.equal(findTrainingCalls('n = a // 2; model.fit(x)', 'python').length, 1);
  });
});

describe('hover string literals', () => {
  const line = `img = load("samples/digit_7.png") + other('x.npy')`;
  it('finds the literal under the cursor, quotes included', () => {
    assert.deepEqual(stringLiteralAt(line, 15), { value: 'samples/digit_7.png', start: 12, end: 31 });
    assert.equal(stringLiteralAt(line, 11)?.value, 'samples/digit_7.png'); // on the opening quote
    assert.equal(stringLiteralAt(line, 45)?.value, 'x.npy');
    assert.equal(stringLiteralAt(line, 3), undefined);
    assert.equal(stringLiteralAt(line, 35), undefined); // between the literals
  });
  it('honours escapes and Python prefixes', () => {
    assert.equal(stringLiteralAt(String.raw`p = "a\"b.png"`, 7)?.value, String.raw`a\"b.png`);
    assert.equal(stringLiteralAt(`p = r'C:\\data\\x.png'`, 8)?.value, 'C:\\data\\x.png');
    assert.equal(stringLiteralAt('const p = `${dir}/x.png`;', 14)?.value, '${dir}/x.png');
  });
  it('accepts only image and array paths', () => {
    assert.ok(looksLikeInputPath('a/b.PNG'));
    assert.ok(looksLikeInputPath('x.npy'));
    assert.ok(!looksLikeInputPath('model.onnx'));
    assert.ok(!looksLikeInputPath('https://example.com/x.png'));
    assert.ok(!looksLikeInputPath(''));
  });
  it('resolves relative to the document, then each workspace root', () => {
    const doc = path.resolve('/ws/train');
    const roots = [path.resolve('/ws'), path.resolve('/other')];
    assert.deepEqual(candidatePaths('data/x.png', doc, roots), [path.resolve('/ws/train/data/x.png'), path.resolve('/ws/data/x.png'), path.resolve('/other/data/x.png')]);
    assert.deepEqual(candidatePaths(path.resolve('/abs/x.png'), doc, roots), [path.resolve('/abs/x.png')]);
    assert.deepEqual(candidatePaths('~/x.png', doc, roots, path.resolve('/home/u')), [path.resolve('/home/u/x.png')]);
    assert.deepEqual(candidatePaths('x.png', path.resolve('/ws'), [path.resolve('/ws')]), [path.resolve('/ws/x.png')]);
    assert.deepEqual(candidatePaths('model.onnx', doc, roots), []);
  });
});

describe('Models tree from a file list', () => {
  const root = path.resolve('/ws');
  it('keeps model files, drops dependencies, sorts by folder then name', () => {
    const files = ['b/z.onnx', 'a.onnx', 'b/a.onnx', 'node_modules/pkg/m.onnx', 'notes.txt', 'a.onnx'].map((f) => path.join(root, f));
    assert.deepEqual(
      modelEntries(files, [root]).map((e) => [e.label, e.folder]),
      [
        ['a.onnx', ''],
        ['a.onnx', 'b'],
        ['z.onnx', 'b'],
      ],
    );
  });
  it('reads the sidecar tolerantly and resolves its samples folder', () => {
    const model = path.join(root, 'm', 'digit_cnn.onnx');
    const s = summarizeSidecar(model, { input: { size: [28, 28], channels: 1, layout: 'NCHW' }, labels: ['0', '1'], samples: 'samples' });
    assert.deepEqual(s, { input: '1×28×28 NCHW', labels: ['0', '1'], samplesDir: path.join(root, 'm', 'samples') });
    assert.deepEqual(summarizeSidecar(model, { input: { size: 'big' }, labels: 3 }), {});
    assert.deepEqual(summarizeSidecar(model, undefined), {});
    assert.deepEqual(sampleFolders(model, s, ['samples', 'data/val']), [path.join(root, 'm', 'samples'), path.join(root, 'm', 'data', 'val')]);
    assert.equal(describeLabels(['a', 'b', 'c', 'd', 'e', 'f']), '6: a, b, c, d, e, …');
  });
  it('lists samples naturally sorted', () => {
    assert.deepEqual(sampleFiles('/d', ['digit_10.png', 'readme.md', 'digit_2.png', 'x.npy']), ['/d/digit_2.png', '/d/digit_10.png', '/d/x.npy'].map((p) => path.join(p)));
  });
  it('picks the latest model by mtime', () => {
    assert.equal(latestModel([]), undefined);
    assert.equal(
      latestModel([
        { path: '/a.onnx', mtime: 5 },
        { path: '/b.onnx', mtime: 9 },
        { path: '/c.onnx', mtime: 1 },
      ]),
      '/b.onnx',
    );
  });
});

describe('result cache', () => {
  const model = { path: '/m.onnx', mtime: 1, size: 10 };
  const input = { path: '/x.png', mtime: 2, size: 20 };
  it('keys change with mtime, size, method and options; option order does not matter', () => {
    const k = resultKey({ model, input, method: 'saliency', options: { topK: 3, opacity: 0.5 } });
    assert.equal(k, resultKey({ model, input, method: 'saliency', options: { opacity: 0.5, topK: 3, target: undefined } }));
    assert.notEqual(k, resultKey({ model: { ...model, mtime: 2 }, input, method: 'saliency', options: { topK: 3, opacity: 0.5 } }));
    assert.notEqual(k, resultKey({ model, input: { ...input, size: 21 }, method: 'saliency', options: { topK: 3, opacity: 0.5 } }));
    assert.notEqual(k, resultKey({ model, input, method: 'gradcam', options: { topK: 3, opacity: 0.5 } }));
    assert.notEqual(k, resultKey({ model, input, method: 'saliency', options: { topK: 2, opacity: 0.5 } }));
  });
  it('shares in-flight work, evicts the least recently used, forgets failures', async () => {
    const c = new ResultCache<number>(2);
    let calls = 0;
    const compute = async () => ++calls;
    const [a, b] = await Promise.all([c.getOrCompute('a', compute), c.getOrCompute('a', compute)]);
    assert.equal(a, 1);
    assert.equal(b, 1);
    await c.getOrCompute('b', compute);
    await c.getOrCompute('a', compute); // touch a
    await c.getOrCompute('c', compute); // evicts b
    assert.ok(c.has('a') && c.has('c') && !c.has('b'));
    await assert.rejects(c.getOrCompute('d', () => Promise.reject(new Error('boom'))));
    assert.ok(!c.has('d'));
    c.evictPath('/m.onnx');
    const key = resultKey({ model, input, method: 's' });
    await c.getOrCompute(key, compute);
    c.evictPath('/m.onnx');
    assert.ok(!c.has(key));
  });
});

describe('sanity summary and the stepping-stone panel', () => {
  it('counts passing methods from the CLI-shaped JSON', () => {
    const s = summarizeSanity({
      mode: 'cascading',
      methods: [
        { method: 'saliency', verdict: { passed: true, meanSpearmanAbs: 0.1 } },
        { method: 'gradcam', verdict: { passed: false, meanSpearmanAbs: null } },
        { method: 'broken' },
      ],
    });
    assert.ok(s);
    assert.equal(sanityStatusText('digit_cnn.onnx', s), 'digit_cnn.onnx: 1/2 sanity checks pass');
    assert.equal(s.verdicts[1].meanSpearmanAbs, null);
    assert.equal(summarizeSanity({ nope: 1 }), undefined);
  });
});
