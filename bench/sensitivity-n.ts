/**
 * Sensitivity-n benchmark on the MNIST example:
 *
 *   node --import tsx bench/sensitivity-n.ts [--backend wasm|cpu|auto] [--input FILE] [--patch 1]
 *        [--methods saliency,input_x_gradient,integrated_gradients,deeplift,occlusion]
 *        [--ns 20] [--subsets 100] [--repeats 3] [--out FILE.json]
 *
 * Computes the attributions of each method on one image (occlusion with a 1-pixel window,
 * Ancona et al.'s Occlusion-1; with --patch p a p×p window), then the full Sensitivity-n curve
 * (default 20 log-spaced n × 100 subsets = 2000 perturbed forward passes, shared by every
 * method). Times each attribution and the metric (one warm-up, then the median of `repeats`
 * runs), and prints the curves as a table.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { MethodOptions } from '../src/engine/attribution/method';
import { attribute } from '../src/engine/attribution/registry';
import { initBenchEngine } from './runtime';
import { loadInput } from '../src/engine/data/input';
import { sensitivityN, type SensitivityNResult } from '../src/engine/evaluation/sensitivity-n';
import { predict } from '../src/engine/explain';
import { loadModel } from '../src/engine/model/load';

const ROOT = path.resolve(__dirname, '..');
const MODEL = path.join(ROOT, 'examples', 'mnist', 'digit_cnn.onnx');

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    input: { type: 'string', default: path.join(ROOT, 'examples', 'mnist', 'samples', 'digit_7.npy') },
    patch: { type: 'string', default: '1' },
    methods: { type: 'string', default: 'saliency,input_x_gradient,integrated_gradients,deeplift,occlusion' },
    ns: { type: 'string', default: '20' },
    subsets: { type: 'string', default: '100' },
    repeats: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const backend = await initBenchEngine(args.backend!);
  const model = await loadModel(MODEL);
  const input = await loadInput(args.input!, model);
  const target = predict(model, input, 1)[0].class;
  const patch = Number(args.patch);
  const repeats = Number(args.repeats);
  const methods = args.methods!.split(',');
  const optionsOf = (id: string): MethodOptions => (id === 'occlusion' ? { window: [patch, patch], stride: [patch, patch] } : {});

  const attributionMs: Record<string, number> = {};
  const maps: Record<string, tf.Tensor> = {};
  for (const id of methods) {
    const times: number[] = [];
    for (let run = 0; run <= repeats; run++) {
      const started = performance.now();
      const { attribution } = await attribute(id, { model, input, target }, optionsOf(id));
      const elapsed = performance.now() - started;
      if (run > 0) times.push(elapsed);
      if (maps[id]) attribution.dispose();
      else maps[id] = attribution;
    }
    attributionMs[id] = median(times);
  }

  const options = { count: Number(args.ns), subsets: Number(args.subsets), patch };
  const metricTimes: number[] = [];
  let result: SensitivityNResult | undefined;
  const before = tf.memory().numTensors;
  for (let run = 0; run <= repeats; run++) {
    const started = performance.now();
    result = await sensitivityN({ model, input, target, attributions: maps }, options);
    if (run > 0) metricTimes.push(performance.now() - started);
  }
  const leaked = tf.memory().numTensors - before;
  const r = result!;
  const metricMs = median(metricTimes);
  const evaluations = r.ns.length * r.subsets;
  const totalMs = metricMs + Object.values(attributionMs).reduce((a, b) => a + b, 0);

  const lines: string[] = [];
  lines.push(`Sensitivity-n on ${path.basename(args.input!)} (target ${target}), backend ${backend}, ${os.cpus().length} cores`);
  lines.push(`${r.features} features (${patch === 1 ? 'pixels' : `${patch}x${patch} patches`}), ${r.ns.length} n × ${r.subsets} subsets = ${evaluations} perturbed forward passes, shared by ${methods.length} methods`);
  lines.push(`F(x) = ${r.outputAtInput.toFixed(3)}, F(baseline) = ${r.outputAtBaseline.toFixed(3)}; median of ${repeats} runs after a warm-up:`);
  for (const id of methods) lines.push(`  ${id.padEnd(22)} attribution ${attributionMs[id].toFixed(1).padStart(8)} ms`);
  lines.push(`  ${'sensitivity-n metric'.padEnd(22)}             ${metricMs.toFixed(1).padStart(8)} ms  (${((evaluations / metricMs) * 1000).toFixed(0)} forward passes/s)`);
  lines.push(`  ${'total'.padEnd(22)}             ${totalMs.toFixed(1).padStart(8)} ms`);
  lines.push(`tensors leaked by the metric: ${leaked}`);
  lines.push('');
  const width = methods.map((m) => Math.max(m.length, 6));
  lines.push(['n'.padStart(4), 'fraction', ...methods.map((m, i) => m.padStart(width[i])), 'mean drop'.padStart(10)].join('  '));
  r.ns.forEach((n, k) => {
    const cells = methods.map((m, i) => {
      const v = r.curves[m][k];
      return (Number.isFinite(v) ? v.toFixed(3) : 'n/a').padStart(width[i]);
    });
    lines.push([String(n).padStart(4), r.fractions[k].toFixed(4).padStart(8), ...cells, r.outputDrops[k].mean.toFixed(3).padStart(10)].join('  '));
  });
  console.log(lines.join('\n'));

  if (args.out) {
    fs.mkdirSync(path.dirname(path.resolve(args.out)), { recursive: true });
    fs.writeFileSync(args.out, `${JSON.stringify({ backend, target, attributionMs, metricMs, evaluations, result: r }, null, 2)}\n`);
  }
  tf.dispose([input, ...Object.values(maps)]);
  model.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
