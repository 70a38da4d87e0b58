/**
 * Model-parameter randomization benchmark (Adebayo et al., PAPERS.md §3) on the MNIST example:
 *
 *   node --import tsx bench/sanity.ts [--backend auto|wasm|cpu] [--mode cascading|independent]
 *        [--methods a,b,…] [--seed S] [--input FILE]
 *
 * Times sanityCheck (src/engine/evaluation/sanity.ts) on examples/mnist/digit_cnn.onnx and
 * digit_7.npy — the trained maps plus one map per method and randomization step — and prints,
 * per method and step, the four similarities to the trained model's map (Spearman ρ of absolute
 * maps, of signed maps, SSIM, HOG) and the verdict. Writes bench/out/sanity.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { initBenchEngine } from './runtime';
import { loadInput } from '../src/engine/data/input';
import { sanityCheck, type RandomizationMode } from '../src/engine/evaluation/sanity';
import { loadModel } from '../src/engine/model/load';

const ROOT = path.resolve(__dirname, '..');
const MODEL = path.join(ROOT, 'examples', 'mnist', 'digit_cnn.onnx');
const OUT = path.join(ROOT, 'bench', 'out', 'sanity.json');

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    mode: { type: 'string', default: 'cascading' },
    methods: { type: 'string', default: 'saliency,input_x_gradient,integrated_gradients,guided_backprop,gradcam' },
    seed: { type: 'string', default: '0' },
    input: { type: 'string', default: path.join(ROOT, 'examples', 'mnist', 'samples', 'digit_7.npy') },
    repeats: { type: 'string', default: '3' },
  },
});

const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2).padStart(5) : '  nan');

async function main() {
  const backend = await initBenchEngine(args.backend);
  const model = await loadModel(MODEL);
  const input = await loadInput(args.input, model);
  const methods = args.methods.split(',');
  const mode = args.mode as RandomizationMode;
  const before = tf.memory().numTensors;
  const options = { methods, mode, seed: Number(args.seed), includeMaps: false };
  await sanityCheck(model, input, options); // warm-up (kernel compilation, first allocations)
  const times: number[] = [];
  let result = await sanityCheck(model, input, options);
  for (let r = 0; r < Number(args.repeats); r++) {
    const started = performance.now();
    result = await sanityCheck(model, input, options);
    times.push(performance.now() - started);
  }
  const leaked = tf.memory().numTensors - before;
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];

  console.log(`backend ${backend}, ${mode} randomization of ${path.basename(MODEL)} on ${path.basename(args.input)}, target ${result.targetLabel}, seed ${result.seed}`);
  console.log(`median ${median.toFixed(0)} ms over ${times.length} runs (${times.map((t) => t.toFixed(0)).join(', ')}), ${methods.length} methods × (1 + ${result.steps.length} steps) maps; tensors leaked: ${leaked}`);
  console.log(`steps: ${result.steps.map((s, k) => `${k + 1}=${s.randomized.join('+')}`).join('  ')}`);
  console.log('cells: Spearman |·| / Spearman signed / SSIM / HOG');
  console.log(`${'method'.padEnd(22)}${result.steps.map((_, k) => `step ${k + 1}`.padEnd(26)).join('')}verdict (mean ρ|·| < ${result.threshold})   ms`);
  for (const m of result.methods) {
    const cells = m.similarities.map((s) => `${f2(s.spearmanAbs)} ${f2(s.spearmanSigned)} ${f2(s.ssim)} ${f2(s.hog)}  `);
    console.log(`${m.method.padEnd(22)}${cells.join('')}${m.verdict.passed ? 'PASS' : 'FAIL'} (${m.verdict.meanSpearmanAbs.toFixed(2)})   ${m.attributionMs}`);
  }
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(
    OUT,
    `${JSON.stringify({ machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg() }, backend, times, medianMs: median, leaked, result }, null, 2)}\n`,
  );
  input.dispose();
  model.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
