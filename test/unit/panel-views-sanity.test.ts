/**
 * The pure builders of the Sanity and Sensitivity-n panels' views (src/protocol/views), on small
 * hand-written JSON shaped like what the worker returns and the CLI writes: every field carried
 * over, maps as base64 float32 of the given values, undefined numbers as null, and the result
 * accepted by the panels' own guard.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFloat32 } from '../../src/protocol/codecs';
import { isPanelView } from '../../src/protocol/panels';
import { encodePreview } from '../../src/protocol/views/previews';
import { dataRandomizationView, sanityView, type DataRandomizationJson, type SanityJson } from '../../src/protocol/views/sanity';
import { sensitivityView, type SensitivityJson } from '../../src/protocol/views/sensitivity';

const sim = (a: number | null, s: number | null, ssim: number | null, hog: number | null) => ({ spearmanAbs: a, spearmanSigned: s, ssim, hog });
/** A 2×3 map: signed values v, absolute |v| / max|v|. */
const preview = (v: number[]) => ({ height: 2, width: 3, signed: v, absolute: v.map((x) => Math.abs(x) / Math.max(...v.map(Math.abs))) });

function sanityJson(): SanityJson {
  return {
    model: '/work/models/net.onnx',
    input: 'C:\\data\\digit_7.png',
    backend: 'wasm',
    mode: 'cascading',
    target: 7,
    targetLabel: 'seven',
    layers: ['conv', 'fc'],
    steps: [
      { layer: 'fc', randomized: ['fc'] },
      { layer: 'conv', randomized: ['fc', 'conv'] },
    ],
    threshold: 0.5,
    methods: [
      {
        method: 'saliency',
        label: 'Saliency (gradient)',
        multipliesByInput: false,
        original: preview([1, -2, 0, 0.5, 4, -1]),
        similarities: [
          { ...sim(0.3, 0.1, 0.2, 0.4), map: preview([0, 1, 2, 3, 4, 5]) },
          { ...sim(0.1, null, -0.2, 0.05), map: preview([-1, -1, 1, 1, 0, 2]) },
        ],
        verdict: { passed: true, meanSpearmanAbs: 0.2, lastSpearmanAbs: 0.1, threshold: 0.5 },
      },
      {
        method: 'guided_backprop',
        label: 'Guided Backprop',
        multipliesByInput: false,
        similarities: [sim(0.9, 0.8, 0.7, 0.6), sim(null, null, null, null)],
        verdict: { passed: false, meanSpearmanAbs: null, lastSpearmanAbs: null, threshold: 0.5 },
      },
    ],
  };
}

function dataJson(): DataRandomizationJson {
  return {
    model: '/work/models/net.onnx',
    input: 'digit_7.png',
    backend: 'cpu',
    mode: 'data',
    targets: [7, 2],
    randomizedPredictions: [3, 3],
    threshold: 0.4,
    methods: [
      {
        method: 'saliency',
        label: 'Saliency (gradient)',
        multipliesByInput: false,
        similarities: [sim(0.2, 0.1, 0.3, 0.5), sim(0.4, 0.3, 0.5, 0.7)],
        meanSpearmanAbs: 0.3,
        meanSpearmanSigned: 0.2,
        passed: true,
        attributionMs: 12,
        original: preview([1, 2, 3, 4, 5, 6]),
        randomized: preview([6, 5, 4, 3, 2, 1]),
      },
      {
        method: 'gradcam',
        label: 'Grad-CAM',
        multipliesByInput: false,
        similarities: [sim(0.9, 0.9, null, 0.8), sim(0.7, 0.7, 0.6, 0.6)],
        meanSpearmanAbs: 0.8,
        meanSpearmanSigned: 0.8,
        passed: false,
        attributionMs: 3,
      },
    ],
  };
}

const values = (b64: string): number[] => Array.from(decodeFloat32(b64));
const close = (actual: number | null, expected: number): void => {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-12, `${actual} ≈ ${expected}`);
};

describe('sanityView', () => {
  it('carries the header, steps, threshold and per-method verdicts over, and titles the view with the file names', () => {
    const view = sanityView(sanityJson());
    assert.equal(view.kind, 'sanity');
    assert.equal(view.title, 'Sanity check (cascading): net.onnx on digit_7.png');
    assert.equal(view.model, '/work/models/net.onnx');
    assert.equal(view.backend, 'wasm');
    assert.equal(view.mode, 'cascading');
    assert.equal(view.targetLabel, 'seven');
    assert.deepEqual(view.steps, [
      { layer: 'fc', randomized: ['fc'] },
      { layer: 'conv', randomized: ['fc', 'conv'] },
    ]);
    assert.equal(view.threshold, 0.5);
    assert.deepEqual(
      view.methods.map((m) => [m.method, m.label, m.passed, m.meanSpearmanAbs, m.lastSpearmanAbs]),
      [
        ['saliency', 'Saliency (gradient)', true, 0.2, 0.1],
        ['guided_backprop', 'Guided Backprop', false, null, null],
      ],
    );
    assert.equal(view.data, undefined);
    assert.equal(view.image, undefined);
    assert.ok(isPanelView(view, 'sanity'));
  });

  it('encodes each map as float32 of its values and keeps the similarities, null where undefined', () => {
    const view = sanityView(sanityJson());
    const [saliency, gbp] = view.methods;
    assert.equal(saliency.original?.height, 2);
    assert.equal(saliency.original?.width, 3);
    assert.deepEqual(values(saliency.original!.signed), [1, -2, 0, 0.5, 4, -1]);
    assert.deepEqual(values(saliency.original!.absolute), [0.25, 0.5, 0, 0.125, 1, 0.25]);
    assert.deepEqual(values(saliency.steps[1].map!.signed), [-1, -1, 1, 1, 0, 2]);
    assert.deepEqual(
      saliency.steps.map(({ map: _map, ...s }) => s),
      [sim(0.3, 0.1, 0.2, 0.4), sim(0.1, null, -0.2, 0.05)],
    );
    // No maps in the JSON: none in the view.
    assert.equal(gbp.original, undefined);
    assert.deepEqual(gbp.steps, [sim(0.9, 0.8, 0.7, 0.6), sim(null, null, null, null)]);
  });

  it('turns non-finite numbers (a raw engine result) into null and undefined map values into 0', () => {
    const json = sanityJson();
    json.methods[0].similarities[0].spearmanAbs = NaN;
    json.methods[0].verdict.meanSpearmanAbs = Infinity;
    json.methods[0].similarities[0].map!.signed[2] = null;
    json.methods[0].similarities[0].map!.signed[3] = NaN;
    const view = sanityView(json);
    assert.equal(view.methods[0].steps[0].spearmanAbs, null);
    assert.equal(view.methods[0].meanSpearmanAbs, null);
    assert.deepEqual(values(view.methods[0].steps[0].map!.signed), [0, 1, 0, 0, 4, 5]);
    assert.ok(isPanelView(JSON.parse(JSON.stringify(view)), 'sanity'), 'still plain JSON the guard accepts');
  });

  it('independent mode, the input image, a title and the threshold from the verdicts when the top level lacks it', () => {
    const json = { ...sanityJson(), mode: 'independent' as const, threshold: undefined, backend: null };
    json.methods.forEach((m) => (m.verdict.threshold = 0.3));
    const image = { width: 3, height: 2, rgba: Buffer.alloc(24, 255).toString('base64') };
    const view = sanityView(json, { image, title: 'Mine' });
    assert.equal(view.mode, 'independent');
    assert.equal(view.title, 'Mine');
    assert.equal(view.threshold, 0.3);
    assert.equal(view.backend, undefined);
    assert.deepEqual(view.image, image);
    assert.ok(isPanelView(view, 'sanity'));
  });

  it('adds the data randomization test: the means as the verdict takes them, SSIM and HOG averaged, both maps', () => {
    const view = sanityView(sanityJson(), { data: dataJson(), compareModel: '/work/models/net_random_labels.onnx' });
    const data = view.data!;
    assert.equal(data.compareModel, '/work/models/net_random_labels.onnx');
    assert.equal(data.threshold, 0.4);
    const [saliency, gradcam] = data.methods;
    assert.equal(saliency.method, 'saliency');
    assert.equal(saliency.spearmanAbs, 0.3);
    assert.equal(saliency.spearmanSigned, 0.2);
    close(saliency.ssim, 0.4);
    close(saliency.hog, 0.6);
    assert.equal(saliency.passed, true);
    assert.deepEqual(values(saliency.original!.signed), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(values(saliency.randomized!.signed), [6, 5, 4, 3, 2, 1]);
    // One undefined SSIM makes the mean undefined, as the engine's mean of a NaN is.
    assert.equal(gradcam.ssim, null);
    close(gradcam.hog, 0.7);
    assert.equal(gradcam.passed, false);
    assert.equal(gradcam.original, undefined);
    assert.ok(isPanelView(view, 'sanity'));
  });

  it('names the compare model generically when the caller does not, and defaults the threshold', () => {
    const json = dataJson();
    delete json.threshold;
    const data = dataRandomizationView(json);
    assert.equal(data.compareModel, 'model trained on permuted labels');
    assert.equal(data.threshold, 0.5);
  });

  it('rejects what is not a sanity result: bad mode, steps and similarities out of step, a map of the wrong size', () => {
    assert.throws(() => sanityView({ ...sanityJson(), mode: 'data' as never }), /mode 'data'/);
    const short = sanityJson();
    short.methods[1].similarities.pop();
    assert.throws(() => sanityView(short), /guided_backprop has 1 similarities for 2 steps/);
    assert.throws(() => encodePreview({ height: 2, width: 2, signed: [1, 2, 3], absolute: [1, 2, 3, 4] }), /map: 3 values for 2×2/);
  });
});

function sensitivityJson(): SensitivityJson {
  return {
    model: '/m/net.onnx',
    input: '/m/samples/x.npy',
    backend: 'cpu',
    target: 3,
    methods: ['saliency', 'occlusion'],
    result: {
      ns: [1, 2, 5, 10],
      fractions: [0.01, 0.02, 0.05, 0.1],
      features: 100,
      subsets: 50,
      patch: 1,
      baseline: 'zero',
      curves: { occlusion: [1, 0.9, null, 0.5], saliency: [0.2, 0.3, 0.4, 0.5] },
    },
  };
}

describe('sensitivityView', () => {
  it('one curve per method in the order they ran, with labels, null where undefined', () => {
    const view = sensitivityView(sensitivityJson(), { methodLabels: { saliency: 'Saliency (gradient)' }, targetLabel: 'three' });
    assert.equal(view.kind, 'sensitivity');
    assert.equal(view.title, 'Sensitivity-n: net.onnx on x.npy');
    assert.equal(view.targetLabel, 'three');
    assert.deepEqual(view.ns, [1, 2, 5, 10]);
    assert.equal(view.features, 100);
    assert.equal(view.subsets, 50);
    assert.equal(view.patch, 1);
    assert.equal(view.baseline, 'zero');
    assert.equal(view.backend, 'cpu');
    assert.deepEqual(view.curves, [
      { method: 'saliency', label: 'Saliency (gradient)', values: [0.2, 0.3, 0.4, 0.5] },
      { method: 'occlusion', label: 'occlusion', values: [1, 0.9, null, 0.5] },
    ]);
    assert.ok(isPanelView(view, 'sensitivity'));
  });

  it("takes the CLI's target label, the curves' order without a method list, and NaN as null", () => {
    const json = sensitivityJson();
    json.targetLabel = 'digit 3';
    delete json.methods;
    json.result.curves.saliency[0] = NaN;
    const view = sensitivityView(json, { targetLabel: 'ignored' });
    assert.equal(view.targetLabel, 'digit 3');
    assert.deepEqual(view.curves.map((c) => c.method), ['occlusion', 'saliency']);
    assert.equal(view.curves[1].values[0], null);
    assert.ok(isPanelView(JSON.parse(JSON.stringify(view)), 'sensitivity'));
  });

  it('without a label: "class k"; a curve of the wrong length is an error', () => {
    assert.equal(sensitivityView(sensitivityJson()).targetLabel, 'class 3');
    const bad = sensitivityJson();
    bad.result.curves.saliency.pop();
    assert.throws(() => sensitivityView(bad), /saliency has 3 values for 4 subset sizes/);
  });
});
