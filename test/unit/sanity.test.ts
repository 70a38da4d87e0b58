import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { loadInput } from '../../src/engine/data/input';
import { CancelledError, InputError } from '../../src/engine/errors';
import { randomizationSteps, sanityCheck, type SanityResult } from '../../src/engine/evaluation/sanity';
import { loadModel } from '../../src/engine/model/load';
import type { Model } from '../../src/engine/model/model';
import { REPO, TEST_BACKENDS } from './helpers/fixtures';

/** Model-parameter randomization (Adebayo et al. 2018) on the MNIST example. */
const MODEL = path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx');
const INPUT = path.join(REPO, 'examples', 'mnist', 'samples', 'digit_7.npy');
const CLI = path.join(REPO, 'dist', 'cli.js');
const LAYERS = ['/conv1/Conv', '/conv2/Conv', '/fc1/Gemm', '/fc2/Gemm'];
const METHODS = ['saliency', 'input_x_gradient', 'guided_backprop', 'gradcam', 'guided_gradcam'];

function byMethod(result: SanityResult, id: string) {
  const m = result.methods.find((x) => x.method === id);
  assert.ok(m, id);
  return m;
}

describe('randomizationSteps', () => {
  it('goes from the logits down, cumulatively or one layer at a time', () => {
    assert.deepEqual(randomizationSteps(['a', 'b', 'c'], 'cascading'), [
      { layer: 'c', randomized: ['c'] },
      { layer: 'b', randomized: ['c', 'b'] },
      { layer: 'a', randomized: ['c', 'b', 'a'] },
    ]);
    assert.deepEqual(randomizationSteps(['a', 'b'], 'independent'), [
      { layer: 'b', randomized: ['b'] },
      { layer: 'a', randomized: ['a'] },
    ]);
  });
});

for (const backend of TEST_BACKENDS) {
  describe(`sanityCheck on the MNIST example (${backend})`, () => {
    let model: Model;
    let input: tf.Tensor;
    before(async () => {
      await initBackend(backend);
      model = await loadModel(MODEL);
      input = await loadInput(INPUT, model);
    });

    it('cascading: one step per layer from the logits, the gradient passes and Guided Backprop stays more similar', async () => {
      const before = tf.memory().numTensors;
      const progress: [number, number][] = [];
      const result = await sanityCheck(model, input, { methods: METHODS, mode: 'cascading', onProgress: (d, t) => progress.push([d, t]) });
      assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
      assert.deepEqual(result.layers, LAYERS);
      assert.equal(result.steps.length, 4);
      assert.deepEqual(result.steps[0].randomized, ['/fc2/Gemm'], 'the first step only changes the logits layer');
      assert.deepEqual(result.steps[3].randomized, [...LAYERS].reverse());
      assert.equal(result.target, 7);
      assert.deepEqual(progress.at(-1), [METHODS.length * 5, METHODS.length * 5]);
      for (const m of result.methods) {
        assert.equal(m.similarities.length, 4, m.method);
        for (const s of m.similarities) {
          for (const v of [s.spearmanAbs, s.spearmanSigned, s.ssim, s.hog]) assert.ok(v >= -1 && v <= 1, `${m.method}: ${v}`);
          assert.equal(s.map?.absolute.length, 28 * 28, 'maps included for a 28×28 input, at input resolution (Grad-CAM upsampled)');
        }
      }
      const saliency = byMethod(result, 'saliency');
      const gbp = byMethod(result, 'guided_backprop');
      // Measured (seed 0): saliency ρ 0.57, 0.43, 0.16, 0.21; Guided Backprop 0.85, 0.65, 0.44, 0.32.
      assert.ok(saliency.verdict.lastSpearmanAbs < 0.5, `saliency at full randomization: ${saliency.verdict.lastSpearmanAbs}`);
      assert.ok(saliency.verdict.passed, `saliency mean ρ ${saliency.verdict.meanSpearmanAbs}`);
      assert.ok(gbp.verdict.meanSpearmanAbs > saliency.verdict.meanSpearmanAbs, 'Guided Backprop is less sensitive than the gradient');
      assert.ok(gbp.similarities[0].spearmanAbs > saliency.similarities[0].spearmanAbs);
    });

    it('independent: each layer alone, and the same seed gives the same numbers', async () => {
      const before = tf.memory().numTensors;
      const options = { methods: ['saliency'], mode: 'independent' as const, seed: 3, includeMaps: false };
      const a = await sanityCheck(model, input, options);
      const b = await sanityCheck(model, input, options);
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(a.steps.map((s) => s.randomized), [...LAYERS].reverse().map((l) => [l]));
      const numbers = (r: SanityResult) => r.methods.map(({ attributionMs: _, ...rest }) => rest);
      assert.deepEqual(numbers(a), numbers(b));
      assert.equal(a.methods[0].similarities[0].map, undefined);
      assert.equal(a.methods[0].original, undefined);
    });

    it('stops on a fired signal without leaking', async () => {
      const before = tf.memory().numTensors;
      const controller = new AbortController();
      await assert.rejects(
        sanityCheck(model, input, { methods: ['saliency', 'gradcam'], mode: 'cascading', signal: controller.signal, onProgress: (d) => d === 3 && controller.abort() }),
        CancelledError,
      );
      assert.equal(tf.memory().numTensors, before);
    });

    it('rejects unknown methods and modes as input errors', async () => {
      await assert.rejects(sanityCheck(model, input, { methods: ['nope'], mode: 'cascading' }), InputError);
      await assert.rejects(sanityCheck(model, input, { methods: [], mode: 'cascading' }), InputError);
      await assert.rejects(sanityCheck(model, input, { methods: ['saliency'], mode: 'sideways' as 'cascading' }), /mode must be one of/);
    });
  });
}

describe('attribution-lens sanity', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO, timeout: 120_000 });

  it('prints help, a table and writes the JSON result', () => {
    const help = cli('sanity', '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: attribution-lens sanity/);
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lens-sanity-')), 's.json');
    const r = cli('sanity', '--model', MODEL, '--input', INPUT, '--methods', 'saliency,guided_backprop', '--backend', 'wasm', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /saliency\s+0\.\d\d\s/);
    assert.match(r.stdout, /PASS/);
    const json = JSON.parse(fs.readFileSync(out, 'utf8')) as SanityResult & { backend: string };
    assert.equal(json.backend, 'wasm');
    assert.equal(json.mode, 'cascading');
    assert.deepEqual(json.methods.map((m) => m.method), ['saliency', 'guided_backprop']);
    assert.equal(json.methods[0].similarities.length, 4);
  });

  it('exits 2 with one line on bad input', () => {
    for (const [args, message] of [
      [['--mode', 'sideways'], /--mode must be one of cascading, independent/],
      [['--methods', 'saliency,nope'], /unknown method 'nope'/],
      [['--out', 'x.npy'], /--out must end in .json/],
    ] as const) {
      const r = cli('sanity', '--model', MODEL, '--input', INPUT, ...args);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length <= 2, true, r.stderr);
      assert.match(r.stderr.trim().split('\n').at(-1)!, message);
    }
  });
});
