// `npm run bench`: times the engine against a plain-PyTorch reference on the same models and
// inputs, one child process per measurement, strictly one after another (they would compete for
// the cores otherwise). Prints a table and writes bench/out/results.json. See bench/README.md.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', 'out');
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const CORES = os.availableParallelism();

const MODELS = {
  mnist: { onnx: 'examples/mnist/digit_cnn.onnx', weights: 'examples/mnist/digit_cnn.onnx', input: 'examples/mnist/samples/digit_7.npy' },
  resnet18: { onnx: 'bench/out/resnet18.onnx', weights: 'bench/out/resnet18.pt', input: 'bench/out/resnet18_input.npy' },
};

// backends: 'auto' is the engine's default (wasm here); cpu only where it is fast enough.
// torchBatch: IG steps per PyTorch backward pass (all 50 for MNIST; 16 for ResNet, like Captum's internal_batch_size).
const WORKLOADS = [
  { model: 'mnist', method: 'saliency', backends: ['auto', 'cpu'], warmup: 1, repeats: 5 },
  { model: 'mnist', method: 'integrated_gradients', steps: 50, torchBatch: 50, backends: ['auto', 'cpu'], warmup: 1, repeats: 5 },
  { model: 'resnet18', method: 'saliency', backends: ['auto'], warmup: 1, repeats: 5 },
  { model: 'resnet18', method: 'integrated_gradients', steps: 50, torchBatch: 16, backends: ['auto'], warmup: 1, repeats: 3 },
];

/** Runs a child to completion; its last stdout line is its JSON report. */
function run(command, args) {
  const child = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const last = child.stdout?.trim().split('\n').pop() ?? '';
  let report;
  try {
    report = JSON.parse(last);
  } catch {
    report = { error: `${path.basename(command)} ${args[0]} exited with ${child.status ?? child.signal}: ${(child.stderr || child.stdout || '').trim().slice(-500)}` };
  }
  if (child.status !== 0 && !report.error) report.error = `exit status ${child.status ?? child.signal}`;
  return report;
}

function ensureModels() {
  const m = MODELS.resnet18;
  if ([m.onnx, m.weights, m.input].every((f) => fs.existsSync(path.join(ROOT, f)))) return;
  console.log('generating bench/out/resnet18.* with bench/make_models.py ...');
  const child = spawnSync(PYTHON, ['bench/make_models.py'], { cwd: ROOT, stdio: 'inherit' });
  if (child.status !== 0) throw new Error('bench/make_models.py failed');
}

/** PyTorch on `threads` threads; with `map`, also its float64 map for the agreement check. */
function reference(w, threads, map) {
  const m = MODELS[w.model];
  return run(PYTHON, [
    'bench/reference.py', '--model', w.model, '--weights', m.weights, '--input', m.input, '--method', w.method,
    '--steps', String(w.steps ?? 50), '--batch', String(w.torchBatch ?? 1), '--threads', String(threads),
    '--warmup', String(w.warmup), '--repeats', String(w.repeats), ...(map ? ['--map', map] : []),
  ]);
}

/**
 * The engine with its own batch sizing first; if that runs out of memory (the wasm heap is 4 GiB),
 * again with half the batch until it fits, noting every failure.
 */
function engine(w, backend, map) {
  const m = MODELS[w.model];
  const base = [
    '--import', 'tsx', 'bench/engine.ts', '--model', m.onnx, '--input', m.input, '--method', w.method,
    '--steps', String(w.steps ?? 50), '--backend', backend,
    '--warmup', String(w.warmup), '--repeats', String(w.repeats), '--reference', map,
  ];
  const failures = [];
  let batch;
  for (;;) {
    const report = run(process.execPath, batch === undefined ? base : [...base, '--batch-size', String(batch)]);
    if (!report.error) return { ...report, failures };
    failures.push(`batch ${report.batch_size ?? '?'}${batch === undefined ? ' (auto)' : ''}: ${report.error}`);
    const outOfMemory = /memory|out of bounds|alloc/i.test(report.error);
    if (!outOfMemory || !(report.batch_size > 1)) return { ...report, failures };
    batch = Math.floor(report.batch_size / 2);
  }
}

const fmtMs = (ms) => (ms === undefined ? '-' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms >= 10 ? 1 : 2)} ms`);
const fmtRatio = (x) => (x === undefined ? '-' : `${x.toFixed(x >= 10 ? 0 : 1)}x`);
const fmtMiB = (x) => (x === undefined ? '-' : `${x.toFixed(0)} MiB`);
const fmtSci = (x) => (x === undefined || x === null ? '-' : x.toExponential(1));

function table(rows) {
  const header = ['workload', 'backend', 'runs', 'engine', 'pytorch', 'ratio', 'pytorch 1T', 'ratio 1T', 'RSS engine', 'RSS torch', 'relL2', 'batch e/t'];
  const lines = rows.map((r) => [
    r.workload, r.backend, `${r.warmup}+${r.repeats}`, r.error ? 'FAILED' : fmtMs(r.engine_ms), fmtMs(r.torch_ms), fmtRatio(r.ratio),
    fmtMs(r.torch_1thread_ms), fmtRatio(r.ratio_1thread), fmtMiB(r.engine_rss_mib), fmtMiB(r.torch_rss_mib),
    fmtSci(r.rel_l2), `${r.engine_batch ?? '-'}/${r.torch_batch ?? '-'}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((n) => '-'.repeat(n)).join('  '), ...lines.map(line)].join('\n');
}

const started = performance.now();
const loadBefore = os.loadavg();
fs.mkdirSync(OUT, { recursive: true });
ensureModels();
if (loadBefore[0] > 0.5) console.log(`warning: load average ${loadBefore[0].toFixed(2)} before starting: other processes may skew the timings`);

const rows = [];
for (const w of WORKLOADS) {
  const name = `${w.model} ${w.method === 'saliency' ? 'saliency' : `IG-${w.steps}`}`;
  const map = path.join('bench', 'out', `ref_${w.model}_${w.method}.npy`);
  console.log(`${name}: pytorch (${CORES} threads) ...`);
  const torch = reference(w, CORES, map);
  if (torch.error) console.log(`  pytorch failed: ${torch.error}`);
  console.log(`${name}: pytorch (1 thread) ...`);
  const torch1 = reference(w, 1);
  if (torch1.error) console.log(`  pytorch (1 thread) failed: ${torch1.error}`);
  for (const backend of w.backends) {
    console.log(`${name}: engine (${backend}) ...`);
    const e = torch.error ? { error: 'no reference', failures: [] } : engine(w, backend, map);
    for (const f of e.failures) console.log(`  engine failed with ${f}`);
    rows.push({
      workload: name, backend: e.backend ?? backend, warmup: w.warmup, repeats: w.repeats,
      engine_ms: e.median_ms, torch_ms: torch.median_ms,
      ratio: e.median_ms !== undefined && torch.median_ms !== undefined ? e.median_ms / torch.median_ms : undefined,
      torch_1thread_ms: torch1.median_ms,
      ratio_1thread: e.median_ms !== undefined && torch1.median_ms !== undefined ? e.median_ms / torch1.median_ms : undefined,
      engine_rss_mib: e.max_rss_mib, torch_rss_mib: torch.max_rss_mib,
      rel_l2: e.rel_l2, torch_f32_rel_l2: torch.f32_rel_l2,
      engine_batch: e.batch_size, engine_batch_auto: e.batch_size_auto, torch_batch: torch.batch,
      target: { engine: e.target, torch: torch.target },
      engine_times_ms: e.times_ms, torch_times_ms: torch.times_ms, torch_1thread_times_ms: torch1.times_ms,
      delta: { engine: e.delta, torch: torch.delta },
      torch_threads: torch.threads, torch_default_threads: torch.default_threads,
      error: e.error ?? torch.error, engine_failures: e.failures,
    });
    if (e.target !== undefined && e.target !== torch.target) console.log(`  warning: targets differ (engine ${e.target}, pytorch ${torch.target})`);
  }
}

const totalSeconds = (performance.now() - started) / 1000;
const results = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gib: os.totalmem() / 2 ** 30, node: process.version },
  load_average: { before: loadBefore, after: os.loadavg() },
  total_seconds: totalSeconds,
  rows,
};
fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2) + '\n');

console.log('\n' + table(rows));
console.log(
  `\nmedians; runs = warm-up + timed; ratio = engine / pytorch on ${CORES} threads; 1T = pytorch on 1 thread;` +
    ' RSS = peak of each process; relL2 = engine map vs pytorch float64 map',
);
for (const r of rows.filter((x) => x.engine_failures?.length)) {
  console.log(`${r.workload} (${r.backend}): the engine's automatic batch failed, batch ${r.engine_batch} used: ${r.engine_failures.join('; ')}`);
}
console.log(`total ${totalSeconds.toFixed(0)} s; wrote bench/out/results.json`);
process.exitCode = rows.some((r) => r.error) ? 1 : 0;
