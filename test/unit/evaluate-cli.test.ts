import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { FIXTURES, REPO } from './helpers/fixtures';

/** The built CLI's `evaluate` command, run as a user would (built in `before`, as `npm test` does). */
const CLI = path.join(REPO, 'dist', 'cli.js');
const MODEL = path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx');
const SAMPLE = path.join(REPO, 'examples', 'mnist', 'samples', 'digit_7.npy');
const REFERENCE = path.join(FIXTURES, 'reference', 'digit_cnn');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function errorLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  return lines[lines.length - 1];
}

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'lens-evaluate-'));

describe('attribution-lens evaluate', () => {
  before(() => {
    const build = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
  });

  it('has help, and is listed in the main help', () => {
    const r = cli('evaluate', '--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: attribution-lens evaluate --model M --input X --metric METRIC/);
    assert.match(r.stdout, /--target-delta T/);
    assert.match(cli('--help').stdout, /evaluate/);
  });

  it('completeness: the IG delta of the PyTorch reference, in a table and in JSON', () => {
    const out = path.join(tempDir(), 'c.json');
    const r = cli('evaluate', '--model', MODEL, '--input', SAMPLE, '--metric', 'completeness', '--methods', 'integrated_gradients,deeplift',
      '--steps', '32', '--rule', 'riemann_trapezoid', '--backend', 'cpu', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^completeness on digit_7\.npy, target 7 \(predicted 7\):/);
    assert.match(r.stdout, /integrated_gradients .* 32\n/);
    assert.match(r.stdout, /\ndeeplift /);
    const summary = JSON.parse(fs.readFileSync(out, 'utf8'));
    const meta = JSON.parse(fs.readFileSync(path.join(REFERENCE, 'meta.json'), 'utf8'));
    assert.equal(summary.metric, 'completeness');
    assert.equal(summary.target, 7);
    assert.deepEqual(summary.methods, ['integrated_gradients', 'deeplift']);
    assert.deepEqual(summary.methodOptions.integrated_gradients, { steps: 32, rule: 'riemann_trapezoid' });
    const [ig, deeplift] = summary.result.methods;
    assert.ok(Math.abs(ig.delta - meta.ig.riemann_trapezoid.delta) < 1e-2, `delta ${ig.delta}`);
    assert.ok(Math.abs(ig.relativeDelta - Math.abs(ig.delta) / Math.abs(ig.outputDifference)) < 1e-12);
    assert.equal(ig.stepsUsed, 32);
    assert.ok(deeplift.relativeDelta < 1e-4);
    assert.ok(summary.timings.attributionMs.deeplift >= 0);
  });

  it('completeness with adaptive IG steps reports the steps reached', () => {
    const out = path.join(tempDir(), 'a.json');
    const r = cli('evaluate', '--model', MODEL, '--input', SAMPLE, '--metric', 'completeness', '--methods', 'integrated_gradients',
      '--steps', '4', '--rule', 'riemann_middle', '--target-delta', '0.002', '--max-steps', '256', '--backend', 'wasm', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const [ig] = JSON.parse(fs.readFileSync(out, 'utf8')).result.methods;
    assert.equal(ig.targetMet, true);
    assert.ok(ig.stepsUsed > 4 && ig.stepsUsed <= 256);
    assert.ok(ig.relativeDelta <= 0.002);
  });

  it('sensitivity-n: one curve per method, occlusion windowed like the patches', () => {
    const out = path.join(tempDir(), 's.json');
    const r = cli('evaluate', '--model', MODEL, '--input', SAMPLE, '--metric', 'sensitivity-n', '--methods', 'saliency,occlusion,integrated_gradients',
      '--ns', '4', '--subsets', '20', '--patch', '2', '--steps', '16', '--backend', 'wasm', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /196 features \(2x2 patches\), 20 subsets per n, baseline zero/);
    assert.match(r.stdout, /\nn +fraction +saliency +occlusion +integrated_gradients\n/);
    const summary = JSON.parse(fs.readFileSync(out, 'utf8'));
    const result = summary.result;
    assert.deepEqual(result.ns, [1, 5, 29, 157]); // round(157^(k/3))
    assert.equal(result.features, 196);
    assert.deepEqual(Object.keys(result.curves), ['saliency', 'occlusion', 'integrated_gradients']);
    assert.ok(result.curves.occlusion[0] > 0.9999, 'occlusion 2x2 is the drop of one patch');
    assert.deepEqual(summary.methodOptions.occlusion, { window: [2, 2], stride: [2, 2] });
    assert.equal(result.outputDrops.length, 4);
  });

  it('bad input: exit 2 with one line naming the option', () => {
    const base = ['evaluate', '--model', MODEL, '--input', SAMPLE];
    const cases: [string[], string][] = [
      [[...base, '--metric', 'bogus'], "error: unknown metric 'bogus': expected one of completeness, sensitivity-n"],
      [[...base], 'error: evaluate: --metric is required: one of completeness, sensitivity-n'],
      [[...base, '--metric', 'completeness', '--methods', 'saliency'],
        "error: method 'saliency' has no completeness delta: completeness applies to integrated_gradients, deeplift, gradient_shap, boundary_ig"],
      [[...base, '--metric', 'completeness', '--methods', 'nope'], "error: unknown method 'nope'"],
      [[...base, '--metric', 'completeness', '--subsets', '10'], 'error: --subsets applies to --metric sensitivity-n, not completeness'],
      [[...base, '--metric', 'sensitivity-n', '--patch', '0'], 'error: patch must be a positive integer, got 0'],
      [[...base, '--metric', 'sensitivity-n', '--patch', '40'], 'error: patch 40 is larger than the 28x28 input'],
      [[...base, '--metric', 'sensitivity-n', '--subsets', '1'], 'error: subsets must be at least 2 for a correlation, got 1'],
      [[...base, '--metric', 'sensitivity-n', '--ns', 'many'], "error: --ns must be an integer, got 'many'"],
      [[...base, '--metric', 'sensitivity-n', '--methods', 'saliency', '--window', '2x2'],
        'error: --window applies to none of the methods evaluated (saliency)'],
      [[...base, '--metric', 'completeness', '--out', 'x.csv'], 'error: x.csv: --out must end in .json'],
      [[...base, '--metric', 'completeness', '--methods', 'integrated_gradients', '--target-delta', '0'],
        'error: targetDelta must be a positive number, got 0'],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(errorLine(r.stderr).startsWith(message), `${errorLine(r.stderr)} vs ${message}`);
    }
  });
});
