/**
 * The Manifold panel's view builder on small hand-built alignment results: what it copies, how it
 * names methods and the class, how it encodes maps and images, and that the panel's guard takes
 * what it builds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBytes, decodeFloat32 } from '../../src/protocol/codecs';
import { isPanelView } from '../../src/protocol/panels';
import { manifoldView, type AlignmentResultJson } from '../../src/protocol/views/manifold';

const rgba = (w: number, h: number, v: number): number[] => Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : (v + i) % 256));

function result(): AlignmentResultJson {
  return {
    model: '/m/digit_cnn.onnx',
    input: '/m/samples/digit_7.png',
    backend: 'wasm',
    target: 7,
    dataset: '/data/train-images-idx3-ubyte',
    vae: { file: '/data/.attribution-lens/vae-abc.json', cached: true },
    k: 4,
    d: 16,
    randomBaseline: 0.5,
    methods: [
      {
        method: 'saliency',
        alignment: 0.25,
        overRandom: 0.5,
        raw: { height: 2, width: 3, signed: [1, -2, 0.5, 0, null, 3], absolute: [1 / 3, 2 / 3, 1 / 6, 0, null, 1] },
        projected: { height: 2, width: 3, signed: [0.5, -1, 0, 0, 0, 1], absolute: [0.5, 1, 0, 0, 0, 1] },
      },
      { method: 'integrated_gradients', alignment: 0.9, overRandom: 1.8 },
    ],
    tangentStrip: {
      offsets: [-2, 0, 2],
      directions: [
        { singularValue: 3.5, images: [rgba(2, 2, 0), rgba(2, 2, 10), rgba(2, 2, 20)].map((p) => ({ width: 2, height: 2, rgba: p })) },
        { singularValue: 1.25, images: [rgba(2, 2, 30), rgba(2, 2, 40), rgba(2, 2, 50)].map((p) => ({ width: 2, height: 2, rgba: p })) },
      ],
    },
  };
}

describe('manifoldView (alignment JSON → ManifoldView)', () => {
  it('copies the numbers, labels methods from the given table, names the class and keeps the order', () => {
    const view = manifoldView(result(), { labels: { saliency: 'Saliency (gradient)' }, classLabels: ['0', '1', '2', '3', '4', '5', '6', 'seven'] });
    assert.equal(view.kind, 'manifold');
    assert.equal(view.title, 'Manifold alignment · digit_7.png');
    assert.equal(view.model, '/m/digit_cnn.onnx');
    assert.equal(view.input, '/m/samples/digit_7.png');
    assert.equal(view.backend, 'wasm');
    assert.equal(view.dataset, '/data/train-images-idx3-ubyte');
    assert.deepEqual([view.k, view.d, view.randomBaseline], [4, 16, 0.5]);
    assert.equal(view.targetLabel, 'seven');
    assert.deepEqual(
      view.methods.map((m) => [m.method, m.label, m.alignment, m.overRandom]),
      [
        ['saliency', 'Saliency (gradient)', 0.25, 0.5],
        // No label given: the id.
        ['integrated_gradients', 'integrated_gradients', 0.9, 1.8],
      ],
    );
    assert.equal(view.methods[1].raw, undefined);
    assert.equal(view.image, undefined);
    assert.ok(isPanelView(view, 'manifold'));
    assert.ok(isPanelView(JSON.parse(JSON.stringify(view)), 'manifold'), 'survives JSON (getState/setState, the report)');
  });

  it('encodes maps as float32 (null → 0) and images as bytes, with the strip offsets', () => {
    const view = manifoldView(result(), { image: { width: 3, height: 2, rgba: rgba(3, 2, 7) }, title: 'T' });
    assert.equal(view.title, 'T');
    const raw = view.methods[0].raw!;
    assert.deepEqual([raw.height, raw.width], [2, 3]);
    assert.deepEqual(Array.from(decodeFloat32(raw.signed)), [1, -2, 0.5, 0, 0, 3]);
    assert.deepEqual(Array.from(decodeFloat32(raw.absolute)), Array.from(Float32Array.from([1 / 3, 2 / 3, 1 / 6, 0, 0, 1])));
    assert.deepEqual(Array.from(decodeFloat32(view.methods[0].projected!.signed)), [0.5, -1, 0, 0, 0, 1]);
    assert.deepEqual(Array.from(decodeBytes(view.image!.rgba)), rgba(3, 2, 7));
    assert.deepEqual(view.tangentOffsets, [-2, 0, 2]);
    assert.deepEqual(
      view.tangents.map((t) => t.singularValue),
      [3.5, 1.25],
    );
    assert.deepEqual(Array.from(decodeBytes(view.tangents[1].images[2].rgba)), rgba(2, 2, 50));
    assert.ok(isPanelView(view, 'manifold'));
  });

  it('takes a result without maps, strip, target or backend (the CLI before previews)', () => {
    const r = result();
    delete r.tangentStrip;
    delete r.target;
    delete r.backend;
    r.methods = r.methods.map(({ method, alignment, overRandom }) => ({ method, alignment, overRandom }));
    const view = manifoldView(r);
    assert.deepEqual(view.tangents, []);
    assert.equal(view.tangentOffsets, undefined);
    assert.equal(view.targetLabel, undefined);
    assert.equal('backend' in view, false);
    assert.ok(isPanelView(view, 'manifold'));
    // Without class labels the class is named by its index.
    assert.equal(manifoldView(result()).targetLabel, 'class 7');
  });

  it('rejects maps and images whose data does not match their size', () => {
    const r = result();
    r.methods[0].raw!.signed.pop();
    assert.throws(() => manifoldView(r), /saliency raw map: 5 values for 3×2/);
    const s = result();
    s.tangentStrip!.directions[1].images[0].rgba = [1, 2, 3];
    assert.throws(() => manifoldView(s), /tangent direction 2 image 1: 3 values/);
    assert.throws(() => manifoldView(result(), { image: { width: 0, height: 2, rgba: [] } }), /input image: bad size/);
  });

  it("the guard rejects offsets that do not match the strip's columns", () => {
    const view = manifoldView(result());
    assert.equal(isPanelView({ ...view, tangentOffsets: [-1, 1] }, 'manifold'), false);
    assert.equal(isPanelView({ ...view, targetLabel: 7 }, 'manifold'), false);
  });
});
