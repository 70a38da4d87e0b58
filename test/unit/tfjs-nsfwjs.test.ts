import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { attribute } from '../../src/engine/attribution/registry';
import { initBackend } from '../../src/engine/backend';
import { decodeImage } from '../../src/engine/data/image';
import { loadInput } from '../../src/engine/data/input';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { FIXTURES, REPO, TEST_BACKENDS } from './helpers/fixtures';
import { extractNsfwjsModel, NSFWJS_CLASSES, type NsfwjsModel } from './helpers/nsfwjs-models';

/**
 * Real third-party TF.js models: nsfwjs's MobileNetV2 and InceptionV3 (LayersModels, uint8-quantized
 * weights) and MobileNetV2Mid (a GraphModel of fused TensorFlow ops), extracted from the .min.js
 * modules nsfwjs ships. The reference is nsfwjs itself classifying the same pixels (in a child
 * process with @tensorflow/tfjs, its peer dependency, on tfjs's wasm backend: its cpu backend
 * needs over a minute for InceptionV3).
 */

const CASES: { model: NsfwjsModel; nsfwjs: string; format: string; image: string }[] = [
  { model: 'mobilenet_v2', nsfwjs: 'MobileNetV2', format: 'tfjs-layers', image: 'cat_224.jpg' },
  { model: 'mobilenet_v2_mid', nsfwjs: 'MobileNetV2Mid', format: 'tfjs-graph', image: 'cat_224.jpg' },
  { model: 'inception_v3', nsfwjs: 'InceptionV3', format: 'tfjs-layers', image: 'cat_299.jpg' },
];

const run = promisify(execFile);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-nsfwjs-'));
const files = new Map<NsfwjsModel, string>();
const expected = new Map<NsfwjsModel, number[]>();

/** nsfwjs's probabilities for an image's RGB pixels. */
async function nsfwjsClassify(name: string, image: string): Promise<number[]> {
  const decoded = decodeImage(fs.readFileSync(path.join(FIXTURES, 'images', image)), image);
  const rgb = new Uint8Array(decoded.width * decoded.height * 3);
  for (let i = 0; i < decoded.width * decoded.height; i++) rgb.set(decoded.data.subarray(4 * i, 4 * i + 3), 3 * i);
  const pixels = path.join(work, `${name}.rgb`);
  fs.writeFileSync(pixels, rgb);
  const script = path.join(REPO, 'test', 'unit', 'helpers', 'nsfwjs-classify.ts');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script, name, pixels, String(decoded.width), 'wasm'], {
    cwd: REPO,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

before(async () => {
  for (const c of CASES) files.set(c.model, extractNsfwjsModel(c.model, path.join(work, c.model)));
  const results = await Promise.all(CASES.map((c) => nsfwjsClassify(c.nsfwjs, c.image)));
  CASES.forEach((c, i) => expected.set(c.model, results[i]));
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

async function predict(model: Model, image: string): Promise<{ input: tf.Tensor; probabilities: number[] }> {
  const input = await loadInput(path.join(FIXTURES, 'images', image), model);
  const probabilities = Array.from(tf.tidy(() => tf.softmax(model.logits(input)).dataSync()));
  return { input, probabilities };
}

const argmax = (v: number[]) => v.indexOf(Math.max(...v));

for (const backend of TEST_BACKENDS) {
  describe(`nsfwjs's models on ${backend}`, () => {
    before(async () => {
      await initBackend(backend);
    });
    after(async () => {
      await initBackend('cpu');
    });

    // InceptionV3 at 299×299 takes ~50 s per forward pass on pure-JS cpu: it runs on wasm only.
    for (const c of CASES.filter((c) => backend === 'wasm' || c.model !== 'inception_v3')) {
      it(`${c.nsfwjs} (${c.format}) predicts what nsfwjs predicts${backend === 'wasm' ? '; Integrated Gradients is complete' : ''}`, async (t) => {
        const model = await loadModel(files.get(c.model)!);
        assert.equal(model.format, c.format);
        assert.equal(model.numClasses, NSFWJS_CLASSES.length);
        const before = tf.memory().numTensors;
        const { input, probabilities } = await predict(model, c.image);
        const want = expected.get(c.model)!;
        const worst = Math.max(...probabilities.map((p, i) => Math.abs(p - want[i])));
        assert.ok(worst < 2e-5, `${c.nsfwjs}: |p − p_nsfwjs| up to ${worst}: ${probabilities} vs ${want}`);
        t.diagnostic(`max |p − p_nsfwjs| = ${worst.toExponential(2)}`);
        const target = argmax(probabilities);
        assert.equal(NSFWJS_CLASSES[target], NSFWJS_CLASSES[argmax(want)]);
        if (backend === 'wasm') {
          // Completeness: Σ attributions = F(x) − F(baseline) + delta, the delta the method reports.
          // Pure-JS cpu takes minutes for a 32-step path on these networks; wasm a few seconds.
          const ig = await attribute('integrated_gradients', { model, input, target }, { steps: 32 });
          const sum = (ig.attribution.dataSync() as Float32Array).reduce((a, b) => a + b, 0);
          ig.attribution.dispose();
          const difference = ig.outputDifference!;
          t.diagnostic(`IG (32 steps): delta ${ig.delta!.toFixed(4)} of F(x) − F(0) = ${difference.toFixed(4)}`);
          assert.ok(Math.abs(sum - difference - ig.delta!) < 1e-3 * Math.abs(difference), `delta ${ig.delta} vs Σ ${sum} − ${difference}`);
          // The 32-step quadrature's own error on these ReLU6 networks: MobileNetV2 ≈ 21% (falling to
          // 2.5% at 256 steps), MobileNetV2Mid and InceptionV3 under 5%. Gradients themselves are
          // checked against PyTorch in keras-models.test.ts; this bound catches gross errors.
          assert.ok(Math.abs(ig.delta!) < 0.25 * Math.abs(difference), `${c.nsfwjs}: IG delta ${ig.delta} of F(x) − F(0) = ${difference}`);
        }
        input.dispose();
        assert.equal(tf.memory().numTensors, before);
        model.dispose();
      });
    }
  });
}
