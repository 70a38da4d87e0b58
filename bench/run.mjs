// `npm run bench`: times the engine against a plain-PyTorch reference on the same models and
// inputs, plus the evaluation and extension workloads, one child process per measurement, strictly
// one after another (they would compete for the cores otherwise). Prints one table and writes
// bench/out/results.json. See bench/README.md.
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

const zoo = (name) => ({ onnx: `bench/out/${name}.onnx`, weights: `bench/out/${name}.pt`, input: `bench/out/${name}_input.npy`, zoo: true });
const MODELS = {
  mnist: { onnx: 'examples/mnist/digit_cnn.onnx', weights: 'examples/mnist/digit_cnn.onnx', input: 'examples/mnist/samples/digit_7.npy' },
  resnet18: zoo('resnet18'),
  mobilenet_v2: zoo('mobilenet_v2'),
  densenet121: zoo('densenet121'),
};

// Attribution workloads: engine (as the CLI runs it: wasm, with ONNX Runtime for ONNX models' plain
// gradients and forward passes when installed) and the engine on wasm alone, against PyTorch, same model and input.
// steps: IG steps / SmoothGrad samples; torchBatch: inputs per PyTorch backward pass (all of them for
// MNIST; 16 for the 224 models, like Captum's internal_batch_size). IG-50 on the 224 models (issue 9: it
// must not run out of memory) runs the same chunks as IG-16, whose batch is already memory-bound
// (batching.ts), just more of them; BENCH_FULL=1 adds those rows anyway (one run each, ~8 more minutes).
const attributionWorkloads = [
  { model: 'mnist', method: 'saliency', warmup: 1, repeats: 5 },
  { model: 'mnist', method: 'integrated_gradients', steps: 50, torchBatch: 50, warmup: 1, repeats: 5 },
  { model: 'mnist', method: 'smoothgrad', steps: 25, torchBatch: 25, warmup: 1, repeats: 5 },
  { model: 'mnist', method: 'occlusion', warmup: 1, repeats: 5 },
  ...['resnet18', 'mobilenet_v2', 'densenet121'].flatMap((model) => [
    { model, method: 'saliency', warmup: 1, repeats: 3 },
    { model, method: 'integrated_gradients', steps: 16, torchBatch: 16, warmup: 1, repeats: 2 },
  ]),
  ...(!process.env.BENCH_FULL
    ? []
    : ['resnet18', 'mobilenet_v2', 'densenet121'].map((model) => ({ model, method: 'integrated_gradients', steps: 50, torchBatch: 16, warmup: 0, repeats: 1 }))),
];

/** Runs a child to completion; its last stdout line is its JSON report. */
function run(command, args, env) {
  const child = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } });
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

/** Python with torch, torchvision and onnx, or exit saying exactly what to install. */
function checkPython() {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision, onnx, numpy; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status === 0) return probe.stdout.trim();
  console.error(
    `${PYTHON} cannot import torch, torchvision, onnx and numpy (${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}).\n` +
      'On Debian/Ubuntu install them with:\n\n  sudo apt-get update && sudo apt-get install -y python3-torch python3-torchvision python3-onnx python3-numpy\n\n' +
      'or point BENCH_PYTHON at a Python that has them.',
  );
  process.exit(2);
}

function ensureModels() {
  const missing = Object.entries(MODELS).filter(([, m]) => m.zoo && ![m.onnx, m.weights, m.input].every((f) => fs.existsSync(path.join(ROOT, f))));
  if (missing.length === 0) return;
  console.log(`generating ${missing.map(([k]) => `bench/out/${k}.*`).join(', ')} with bench/make_models.py ...`);
  const child = spawnSync(PYTHON, ['bench/make_models.py', ...missing.map(([k]) => k)], { cwd: ROOT, stdio: 'inherit' });
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
function engine(w, map, env) {
  const m = MODELS[w.model];
  const base = [
    '--import', 'tsx', 'bench/engine.ts', '--model', m.onnx, '--input', m.input, '--method', w.method,
    '--steps', String(w.steps ?? 50), '--backend', 'auto',
    '--warmup', String(w.warmup), '--repeats', String(w.repeats), ...(map ? ['--reference', map] : []),
  ];
  const failures = [];
  let batch;
  for (;;) {
    const report = run(process.execPath, batch === undefined ? base : [...base, '--batch-size', String(batch)], env);
    if (!report.error) return { ...report, failures };
    failures.push(`batch ${report.batch_size ?? '?'}${batch === undefined ? ' (auto)' : ''}: ${report.error}`);
    const outOfMemory = /memory|out of bounds|alloc/i.test(report.error);
    if (!outOfMemory || !(report.batch_size > 1)) return { ...report, failures };
    batch = Math.floor(report.batch_size / 2);
  }
}

// Engine-only workloads (no PyTorch counterpart except the forward passes of Sensitivity-n).
function sensitivityN() {
  // The curve for one image: its saliency map plus the metric (2000 perturbed forward passes).
  const out = path.join(OUT, 'sensitivity-n-bench.json');
  fs.rmSync(out, { force: true });
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/sensitivity-n.ts', '--backend', 'auto', '--methods', 'saliency', '--repeats', '3', '--out', out], { cwd: ROOT, encoding: 'utf8' });
  if (child.status === 0 && fs.existsSync(out)) {
    const j = JSON.parse(fs.readFileSync(out, 'utf8'));
    return { engine_ms: j.metricMs + j.attributionMs.saliency, metric_ms: j.metricMs, attribution_ms: j.attributionMs.saliency, backend: j.backend, evaluations: j.evaluations };
  }
  return { error: `bench/sensitivity-n.ts exited with ${child.status ?? child.signal}: ${(child.stderr || '').trim().slice(-300)}` };
}

function sanity() {
  const out = path.join(OUT, 'sanity.json');
  const before = fs.existsSync(out) ? fs.statSync(out).mtimeMs : 0;
  const r = run(process.execPath, ['--import', 'tsx', 'bench/sanity.ts', '--backend', 'auto', '--mode', 'cascading']);
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs > before) {
    const j = JSON.parse(fs.readFileSync(out, 'utf8'));
    return { engine_ms: j.medianMs, backend: j.backend, times_ms: j.times, methods: j.result.methods.map((m) => m.method) };
  }
  return { error: r.error ?? 'no output' };
}

function extension() {
  return run(process.execPath, ['--import', 'tsx', 'bench/extension.ts', '--backend', 'auto', '--repeats', '20']);
}

const fmtMs = (ms) => (ms === undefined || ms === null ? '-' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms >= 10 ? 1 : 2)} ms`);
const fmtRatio = (x) => (x === undefined ? '-' : `${x.toFixed(x >= 10 ? 0 : 1)}x`);
const fmtMiB = (x) => (x === undefined || x === null ? '-' : `${x.toFixed(0)} MiB`);
const fmtSci = (x) => (x === undefined || x === null ? '-' : x.toExponential(1));

function table(rows) {
  const header = ['workload', 'runs', 'engine', 'pytorch', 'ratio', 'pytorch 1T', 'ratio 1T', 'target', 'wasm only', 'ratio wasm', 'peak heap', 'RSS engine', 'RSS torch', 'relL2', 'batch e/t'];
  const lines = rows.map((r) => [
    r.workload, r.runs ?? `${r.warmup}+${r.repeats}`, r.error ? 'FAILED' : fmtMs(r.engine_ms), fmtMs(r.torch_ms), fmtRatio(r.ratio),
    fmtMs(r.torch_1thread_ms), fmtRatio(r.ratio_1thread), r.target_text ?? '', fmtMs(r.wasm_ms), fmtRatio(r.ratio_wasm),
    fmtMiB(r.engine_wasm_heap_mib), fmtMiB(r.engine_rss_mib), fmtMiB(r.torch_rss_mib),
    fmtSci(r.rel_l2), r.engine_batch === undefined ? '' : `${r.engine_batch ?? '-'}/${r.torch_batch ?? '-'}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((n) => '-'.repeat(n)).join('  '), ...lines.map(line)].join('\n');
}

/** Issue 9's targets: a ratio bound (engine / PyTorch on all cores) or an absolute time. */
const TARGETS = {
  'mnist IG-50': { ratio: 2 },
  'resnet18 saliency': { ratio: 2 },
  'resnet18 IG-16': { ratio: 2 },
  'mobilenet_v2 saliency': { ratio: 3 },
  'mobilenet_v2 IG-16': { ratio: 3 },
  'sensitivity-n curve (20 n x 100)': { ms: 1000 },
  'cascading randomization x 5 methods': { ms: 3000 },
  'hover warm': { ms: 150 },
  'extension activation': { ms: 150 },
};

function judge(row) {
  const t = TARGETS[row.workload];
  if (!t) return row;
  // Ratios against PyTorch's faster configuration in this run: on a loaded machine its 2-thread
  // run can be many times slower than its 1-thread run, which would flatter the engine.
  const fastest = Math.min(row.torch_ms ?? Infinity, row.torch_1thread_ms ?? Infinity);
  const value = t.ratio !== undefined ? (Number.isFinite(fastest) && row.engine_ms !== undefined ? row.engine_ms / fastest : undefined) : row.engine_ms;
  const bound = t.ratio ?? t.ms;
  const met = value !== undefined && value !== null && !row.error && value <= bound;
  const shown = t.ratio !== undefined && value !== undefined ? ` ${fmtRatio(value)}` : '';
  return { ...row, target: t, target_value: value, target_met: met, target_text: `${t.ratio !== undefined ? `<=${t.ratio}x` : `<${fmtMs(t.ms)}`}${shown} ${met ? 'ok' : 'MISS'}` };
}

const methodLabel = (w) =>
  ({ saliency: 'saliency', integrated_gradients: `IG-${w.steps}`, smoothgrad: `SmoothGrad-${w.steps}`, occlusion: 'occlusion 4x4/2' })[w.method];

const started = performance.now();
const loadBefore = os.loadavg();
fs.mkdirSync(OUT, { recursive: true });
const torchVersion = checkPython();
ensureModels();
if (loadBefore[0] > 0.5) console.log(`warning: load average ${loadBefore[0].toFixed(2)} before starting: other processes may skew the timings`);

const rows = [];
for (const w of attributionWorkloads) {
  const name = `${w.model} ${methodLabel(w)}`;
  // SmoothGrad's noise differs between the two sides: no map comparison.
  const map = w.method === 'smoothgrad' ? undefined : path.join('bench', 'out', `ref_${w.model}_${w.method}_${w.steps ?? 1}.npy`);
  console.log(`${name}: pytorch (${CORES} threads) ...`);
  const torch = reference(w, CORES, map);
  if (torch.error) console.log(`  pytorch failed: ${torch.error}`);
  console.log(`${name}: pytorch (1 thread) ...`);
  const torch1 = reference(w, 1);
  if (torch1.error) console.log(`  pytorch (1 thread) failed: ${torch1.error}`);
  console.log(`${name}: engine ...`);
  const e = engine(w, torch.error ? undefined : map);
  for (const f of e.failures) console.log(`  engine failed with ${f}`);
  console.log(`${name}: engine on wasm alone ...`);
  const wasm = /onnxruntime/.test(e.backend ?? '') ? engine(w, undefined, { LENS_NATIVE: 'off' }) : e;
  for (const f of wasm === e ? [] : wasm.failures) console.log(`  engine (wasm) failed with ${f}`);
  const ratio = (a, b) => (a !== undefined && b !== undefined ? a / b : undefined);
  rows.push(
    judge({
      workload: name, backend: e.backend, warmup: w.warmup, repeats: w.repeats,
      engine_ms: e.median_ms, torch_ms: torch.median_ms, ratio: ratio(e.median_ms, torch.median_ms),
      torch_1thread_ms: torch1.median_ms, ratio_1thread: ratio(e.median_ms, torch1.median_ms),
      wasm_ms: wasm.median_ms, ratio_wasm: ratio(wasm.median_ms, Math.min(torch.median_ms ?? Infinity, torch1.median_ms ?? Infinity)), native_gradients: e.native_gradients,
      engine_rss_mib: e.max_rss_mib, engine_wasm_heap_mib: e.wasm_heap_mib, torch_rss_mib: torch.max_rss_mib,
      rel_l2: e.rel_l2, torch_f32_rel_l2: torch.f32_rel_l2,
      engine_batch: e.batch_size, engine_batch_auto: e.batch_size_auto, torch_batch: torch.batch,
      activation_bytes_per_sample: e.activation_bytes_per_sample,
      predicted: { engine: e.target, torch: torch.target },
      engine_times_ms: e.times_ms, torch_times_ms: torch.times_ms, torch_1thread_times_ms: torch1.times_ms,
      delta: { engine: e.delta, torch: torch.delta },
      torch_threads: torch.threads, torch_default_threads: torch.default_threads,
      error: e.error ?? torch.error, engine_failures: e.failures,
    }),
  );
  if (e.target !== undefined && e.target !== torch.target) console.log(`  warning: predicted classes differ (engine ${e.target}, pytorch ${torch.target})`);
}

console.log('sensitivity-n: engine ...');
{
  const w = { model: 'mnist', method: 'forward', steps: 2000, torchBatch: 2000, warmup: 1, repeats: 3 };
  const e = sensitivityN();
  const torch = reference(w, CORES);
  const torch1 = reference(w, 1);
  rows.push(
    judge({
      workload: 'sensitivity-n curve (20 n x 100)', backend: e.backend, runs: '1+3', engine_ms: e.engine_ms, metric_ms: e.metric_ms, attribution_ms: e.attribution_ms,
      torch_ms: torch.median_ms, torch_1thread_ms: torch1.median_ms, torch_rss_mib: torch.max_rss_mib,
      ratio: e.engine_ms !== undefined && torch.median_ms !== undefined ? e.engine_ms / torch.median_ms : undefined,
      ratio_1thread: e.engine_ms !== undefined && torch1.median_ms !== undefined ? e.engine_ms / torch1.median_ms : undefined,
      note: 'pytorch: the same 2000 forward passes only (no metric bookkeeping)', error: e.error,
    }),
  );
}
console.log('cascading randomization: engine ...');
{
  const e = sanity();
  rows.push(judge({ workload: 'cascading randomization x 5 methods', backend: e.backend, runs: `1+${e.times_ms ? e.times_ms.length - 1 : '?'}`, engine_ms: e.engine_ms, methods: e.methods, error: e.error }));
}
console.log('extension activation and hover: engine ...');
{
  const e = extension();
  const common = { backend: e.backend, error: e.error, engine_rss_mib: e.maxRssMib };
  rows.push(judge({ workload: 'hover cold', runs: '0+1', engine_ms: e.hover?.coldMs, ...common }));
  rows.push(judge({ workload: 'hover new sample, engine warm', runs: '0+1', engine_ms: e.hover?.coldCacheWarmEngineMs, ...common }));
  rows.push(judge({ workload: 'hover warm', runs: `0+${e.hover?.repeats ?? '?'}`, engine_ms: e.hover?.warmMedianMs, ...common }));
  // As VS Code does it in a fresh extension host: load the bundle, then the first activate().
  const activation = e.activation ? e.activation.requireBundleMs + e.activation.firstActivateMs : undefined;
  rows.push(judge({ workload: 'extension activation', runs: '0+1', engine_ms: activation, first_activation_ms: e.activation?.firstActivateMs, require_bundle_ms: e.activation?.requireBundleMs, activate_again_median_ms: e.activation?.activateMedianMs, ...common }));
}

const totalSeconds = (performance.now() - started) / 1000;
const results = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gib: os.totalmem() / 2 ** 30, node: process.version, torch: torchVersion },
  load_average: { before: loadBefore, after: os.loadavg() },
  total_seconds: totalSeconds,
  rows,
};
fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2) + '\n');

console.log('\n' + table(rows));
console.log(
  `\nmedians of the timed runs after the warm-ups (runs = warm-up + timed); ratio = engine / pytorch on ${CORES} threads; 1T = pytorch on 1 thread;` +
    ' wasm only = the engine with LENS_NATIVE=off, ratio wasm against pytorch\'s faster setting;' +
    ' peak heap = wasm heap size at the end (it only grows; limit 4096 MiB); RSS = peak of each process; relL2 = engine map vs pytorch float64 map',
);
for (const r of rows.filter((x) => x.engine_failures?.length)) {
  console.log(`${r.workload}: the engine's automatic batch failed, batch ${r.engine_batch} used: ${r.engine_failures.join('; ')}`);
}
for (const r of rows.filter((x) => x.error)) console.log(`${r.workload}: ${r.error}`);
console.log(`load average ${loadBefore[0].toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after; total ${totalSeconds.toFixed(0)} s; wrote bench/out/results.json`);
process.exitCode = rows.some((r) => r.error) ? 1 : 0;
