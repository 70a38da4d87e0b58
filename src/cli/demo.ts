import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { MethodOptions } from '../engine/attribution/method';
import { loadInput } from '../engine/data/input';
import { readSidecar } from '../engine/data/sidecar';
import { InputError } from '../engine/errors';
import { explain } from '../engine/explain';
import { loadModel } from '../engine/model/load';
import { renderAttribution } from '../engine/render/attribution-image';
import { encodePng } from '../engine/render/png';
import type { MethodSettings } from '../protocol/engine';
import { runName } from '../protocol/views/explain';
import { startBackend } from './options';
import { defaultRuns, writeReport } from './report';

export const DEMO_HELP = `Usage: attribution-lens demo [--out DIR] [--backend B]

Explains every sample of the bundled MNIST example (examples/mnist) with every method and
writes one heatmap PNG per sample and method, summary.md and summary.json to DIR (default
demo-output), and report.html: the same explanations with the trust checks (model and data
randomization against the example's permuted-label twin, Sensitivity-n), to open in a browser.
`;

/**
 * The demo's runs (the report's defaults): every registered method with its defaults, plus
 * SmoothGrad as the noise tunnel around saliency. manifold_projected is left out: it needs a VAE
 * trained on the dataset (minutes).
 */
export function demoRuns(): { name: string; method: string; options: MethodOptions; settings: MethodSettings }[] {
  return defaultRuns().map((settings) => {
    const { method, ...options } = settings;
    return { name: runName(settings), method, options, settings };
  });
}

interface Row {
  sample: string;
  predicted: string;
  probability: number;
  method: string;
  ms: number;
  delta?: number;
  png: string;
}

export async function runDemo(argv: string[], signal: AbortSignal): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { out: { type: 'string', default: 'demo-output' }, backend: { type: 'string', default: 'auto' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(DEMO_HELP);
    return;
  }
  const modelFile = path.resolve(__dirname, '..', 'examples', 'mnist', 'digit_cnn.onnx');
  const backend = await startBackend(values.backend);
  const sidecar = await readSidecar(modelFile);
  if (!sidecar?.samples) throw new InputError(`${modelFile}: the example's sidecar names no samples folder`);
  const samples = (await fs.readdir(sidecar.samples)).filter((f) => f.endsWith('.png')).sort();
  const model = await loadModel(modelFile);
  const out = path.resolve(values.out);
  const rows: Row[] = [];
  try {
    for (const sample of samples) {
      const input = await loadInput(path.join(sidecar.samples, sample), model);
      try {
        for (const run of demoRuns()) {
          const result = await explain({ model, input, method: run.method, options: run.options, signal });
          const png = path.join(out, path.basename(sample, '.png'), `${run.name}.png`);
          await fs.mkdir(path.dirname(png), { recursive: true });
          await fs.writeFile(png, encodePng(renderAttribution(model, input, result.attribution)));
          result.attribution.dispose();
          const top = result.topK[0];
          rows.push({ sample, predicted: top.label, probability: top.probability, method: run.name, ms: result.attributionMs, delta: result.delta, png: path.relative(out, png) });
        }
      } finally {
        input.dispose();
      }
    }
  } finally {
    model.dispose();
  }
  const table = [
    '| sample | predicted | method | time (ms) | completeness delta |',
    '|---|---|---|---:|---:|',
    ...rows.map((r) => `| ${r.sample} | ${r.predicted} (${(r.probability * 100).toFixed(1)}%) | ${r.method} | ${r.ms.toFixed(1)} | ${r.delta !== undefined ? r.delta.toExponential(2) : ''} |`),
  ].join('\n');
  await fs.writeFile(path.join(out, 'summary.md'), `# Attribution Lens demo (${backend})\n\n${table}\n`);
  await fs.writeFile(path.join(out, 'summary.json'), `${JSON.stringify({ backend, model: modelFile, rows }, null, 2)}\n`);
  const report = await writeReport({
    model: modelFile,
    inputs: samples.map((s) => path.join(sidecar.samples!, s)),
    runs: demoRuns().map((r) => r.settings),
    compareModel: path.join(path.dirname(modelFile), 'controls', 'digit_cnn_random_labels.onnx'),
    out: path.join(out, 'report.html'),
    backend,
    signal,
  });
  process.stdout.write(`${table}\n\nwrote ${rows.length} heatmaps, summary.md and summary.json to ${out}\nwrote ${report}\n`);
}
