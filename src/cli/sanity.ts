import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { MethodOptions } from '../engine/attribution/method';
import { getMethod, methodIds } from '../engine/attribution/registry';
import { BACKENDS } from '../engine/backend';
import { loadInput } from '../engine/data/input';
import { InputError } from '../engine/errors';
import {
  DEFAULT_SANITY_METHODS,
  DEFAULT_SANITY_THRESHOLD,
  SANITY_MODES,
  sanityCheck,
  type SanityResult,
} from '../engine/evaluation/sanity';
import { loadModel } from '../engine/model/load';
import { oneOf, parseNumber, startBackend } from './options';
import { loadIdxDataset, loadImageFolder } from '../engine/data/dataset';
import { dataRandomizationCheck } from '../engine/evaluation/data-randomization';
import type { Model } from '../engine/model/model';
import { trainArchitecture, type TrainingReport } from '../engine/training/train';
import { progressReporter } from './progress';
import { DATASET_FLAG_DECLARATIONS, DATASET_HELP, datasetFlags, isDatasetInput, openDataset, runLines, selectInputs } from './dataset-runs';
import { predict } from '../engine/explain';

export const SANITY_HELP = `Usage: attribution-lens sanity --model M --input X [options]

Model-parameter randomization test (Adebayo et al. 2018): re-initialises the model's layers
from the logits down and compares each method's map with the trained model's map by Spearman
rank correlation (of absolute and of signed values), SSIM and HOG similarity. A method passes
when the mean Spearman correlation of its absolute maps over the steps is below the threshold:
its maps depend on what the model learned.

  --model FILE         ONNX model (preprocessing from FILE.lens.json if present)
  --input FILE         PNG/JPEG image (preprocessed) or .npy array (fed as it is); or a
                       dataset: an IDX images file or a folder (see Datasets below)
  --methods A,B,…      methods to check (default ${DEFAULT_SANITY_METHODS.join(',')});
                       any of ${methodIds().join(', ')}
  --mode M             cascading (default: top k layers randomized at step k),
                       independent (one layer at a time), or data (data randomization:
                       the same architecture trained on permuted labels)
  --compare-model F    data: a model file of the same architecture trained on permuted labels
  --train-images F     data: train it here instead, on an IDX images file (with --train-labels)
  --train-labels F     data: the IDX labels file of --train-images
  --train-folder D     data: or on a folder of images, one subfolder per class
  --train-samples N    data: training images used (default 1000)
  --epochs N           data: training epochs (default 30: enough to memorise random labels)
  --seed S             seed of the re-initialisation (default 0)
  --threshold T        pass when the mean Spearman ρ of absolute maps < T (default ${DEFAULT_SANITY_THRESHOLD})
  --layer NAME         gradcam, guided_gradcam: layer (default: last conv block)
  --steps N            integrated_gradients: number of steps (default 50)
  --maps / --no-maps   include the 2-D maps in the JSON (default: inputs up to 64×64;
                       larger maps are average-pooled to at most 64 a side)
  --out FILE.json      write the full result; without it the result JSON goes to stdout
                       (a dataset: FILE.jsonl, one line per input; maps only with --maps)
  --backend B          auto, ${BACKENDS.join(', ')} (default auto: fastest present)
  -h, --help           this help

The table (stderr when the JSON goes to stdout) shows ρ of absolute maps per method and step.

${DATASET_HELP}`;

const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'nan').padStart(6);

/** Method × step table of ρ(|·|) and the verdicts. */
export function sanityTable(result: SanityResult): string {
  const lines = [
    `${result.mode} randomization, target ${result.targetLabel}, seed ${result.seed}; Spearman ρ of absolute maps vs the trained model:`,
    ...result.steps.map((s, k) => `  step ${k + 1}: ${s.randomized.join(' + ')}`),
    `${'method'.padEnd(22)}${result.steps.map((_, k) => `step${k + 1}`.padStart(6)).join(' ')}    mean  verdict`,
  ];
  for (const m of result.methods) {
    const cells = m.similarities.map((s) => f2(s.spearmanAbs)).join(' ');
    const verdict = m.verdict.passed ? 'PASS' : 'FAIL';
    lines.push(`${m.method.padEnd(22)}${cells}  ${f2(m.verdict.meanSpearmanAbs)}  ${verdict}`);
  }
  lines.push(`PASS: mean ρ < ${result.threshold} (the maps change when the parameters do); FAIL: they stay alike.`);
  return `${lines.join('\n')}\n`;
}

export async function runSanity(argv: string[], signal: AbortSignal): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      input: { type: 'string' },
      methods: { type: 'string' },
      mode: { type: 'string', default: 'cascading' },
      'compare-model': { type: 'string' },
      'train-images': { type: 'string' },
      'train-labels': { type: 'string' },
      'train-folder': { type: 'string' },
      'train-samples': { type: 'string' },
      epochs: { type: 'string' },
      seed: { type: 'string' },
      threshold: { type: 'string' },
      layer: { type: 'string' },
      steps: { type: 'string' },
      maps: { type: 'boolean' },
      'no-maps': { type: 'boolean' },
      out: { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h' },
      ...DATASET_FLAG_DECLARATIONS,
    },
  });
  if (values.help) {
    process.stdout.write(SANITY_HELP);
    return;
  }
  if (!values.model) throw new InputError('sanity: --model is required');
  if (!values.input) throw new InputError('sanity: --input is required');
  const dataset = await isDatasetInput(values.input);
  const datasetOptions = datasetFlags(values, dataset, values.input);
  const outExtension = dataset ? '.jsonl' : '.json';
  if (values.out !== undefined && path.extname(values.out).toLowerCase() !== outExtension) {
    throw new InputError(`${values.out}: --out must end in ${outExtension}${dataset ? ' (one JSON line per input of the dataset)' : ''}`);
  }
  const methods = values.methods !== undefined ? values.methods.split(',').map((m) => m.trim()) : [...DEFAULT_SANITY_METHODS];
  for (const id of methods) getMethod(id);
  if (values.mode === 'data') {
    if (dataset) throw new InputError('sanity --mode data takes one --input; a dataset runs with --mode cascading or independent');
    return runDataRandomization(values, methods, signal);
  }
  const mode = oneOf('mode', values.mode, SANITY_MODES)!;
  const seed = parseNumber('seed', values.seed, true);
  const threshold = parseNumber('threshold', values.threshold);
  const steps = parseNumber('steps', values.steps, true);
  const methodOptions: Record<string, MethodOptions> = {};
  for (const id of methods) {
    const options: MethodOptions = {};
    if (values.layer !== undefined && (id === 'gradcam' || id === 'guided_gradcam')) options.layer = values.layer;
    if (steps !== undefined && getMethod(id).options.includes('steps')) options.steps = steps;
    methodOptions[id] = options;
  }
  const includeMaps = values['no-maps'] ? false : values.maps ? true : undefined;

  const backend = await startBackend(values.backend);
  const model = await loadModel(values.model);
  if (dataset) {
    const run = {
      command: 'sanity' as const,
      mode,
      model: path.basename(model.path),
      dataset: path.basename(path.resolve(values.input)),
      methods,
      options: Object.fromEntries(
        Object.entries({ seed, threshold, steps, layer: values.layer, target: 'predicted' }).filter(([, v]) => v !== undefined),
      ),
    };
    try {
      const data = await openDataset(values.input, datasetOptions.labels, model);
      const { size, indices } = selectInputs(data.count, datasetOptions.limit, datasetOptions.shard);
      const shard = datasetOptions.shard ? `${datasetOptions.shard.index}/${datasetOptions.shard.count}` : null;
      process.stderr.write(`${data.count} inputs in ${values.input}; this run: ${indices.length} of ${size}${shard ? ` (shard ${shard})` : ''}\n`);
      await runLines(indices, values.out, datasetOptions, signal, async (i) => {
        const input = await data.input(i);
        try {
          const prediction = predict(model, input, 1)[0];
          const result = await sanityCheck(model, input, { methods, mode, seed, threshold, methodOptions, includeMaps: includeMaps ?? false, signal });
          const label = data.label(i);
          // Timings apart, so that a line depends on its input only.
          const attributionMs = Object.fromEntries(result.methods.map((m) => [m.method, m.attributionMs]));
          const methodResults = result.methods.map(({ attributionMs: _, ...rest }) => rest);
          return {
            index: i,
            id: data.id(i),
            ...(label !== undefined ? { label } : {}),
            shard,
            run: { ...run, size },
            target: result.target,
            prediction,
            result: { ...result, methods: methodResults } as unknown as Record<string, unknown>,
            timings: { attributionMs },
          };
        } finally {
          input.dispose();
        }
      });
    } finally {
      model.dispose();
    }
    return;
  }
  try {
    const input = await loadInput(values.input, model);
    try {
      const progress = progressReporter(`sanity (${mode})`);
      const started = performance.now();
      const result = await sanityCheck(model, input, {
        methods,
        mode,
        seed,
        threshold,
        methodOptions,
        includeMaps,
        signal,
        onProgress: progress.update,
      }).finally(progress.finish);
      const json = `${JSON.stringify(
        { model: model.path, input: values.input, backend, ...result, timings: { totalMs: Math.round(performance.now() - started) } },
        (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
        values.out ? 2 : undefined,
      )}\n`;
      if (values.out) {
        await fs.mkdir(path.dirname(path.resolve(values.out)), { recursive: true });
        await fs.writeFile(values.out, json);
        process.stdout.write(`${sanityTable(result)}-> ${values.out}\n`);
      } else {
        process.stderr.write(sanityTable(result));
        process.stdout.write(json);
      }
    } finally {
      input.dispose();
    }
  } finally {
    model.dispose();
  }
}

type SanityFlags = Record<string, string | boolean | undefined>;

/**
 * Data randomization (Adebayo et al. §4): the maps of the model against those of the same
 * architecture trained on permuted labels — given as a file, or trained here on the dataset.
 */
async function runDataRandomization(values: SanityFlags, methods: string[], signal: AbortSignal): Promise<void> {
  const str = (k: string) => values[k] as string | undefined;
  const sources = ['compare-model', 'train-images', 'train-folder'].filter((k) => str(k) !== undefined);
  if (sources.length !== 1) {
    throw new InputError('sanity --mode data needs exactly one of --compare-model, --train-images (with --train-labels) or --train-folder');
  }
  if (str('train-images') !== undefined && str('train-labels') === undefined) throw new InputError('--train-images needs --train-labels');
  const threshold = parseNumber('threshold', str('threshold'));
  const samples = parseNumber('train-samples', str('train-samples'), true) ?? 1000;
  const epochs = parseNumber('epochs', str('epochs'), true) ?? 30;
  const backend = await startBackend(str('backend'));
  const model = await loadModel(str('model')!);
  const cleanup: (() => void)[] = [() => model.dispose()];
  try {
    const input = await loadInput(str('input')!, model);
    cleanup.push(() => input.dispose());
    let randomized: Model;
    let training: TrainingReport | undefined;
    if (str('compare-model') !== undefined) {
      randomized = await loadModel(str('compare-model')!);
    } else {
      const dataset = str('train-folder') !== undefined
        ? await loadImageFolder(str('train-folder')!, model.input, { classNames: model.labels })
        : await loadIdxDataset(str('train-images')!, str('train-labels')!, model.input);
      const progress = progressReporter('training on permuted labels');
      const trained = await trainArchitecture(model, dataset, {
        permuteLabels: true,
        epochs,
        maxSamples: samples,
        signal,
        onProgress: (p) => progress.update((p.epoch - 1) * p.batches + p.batch, p.epochs * p.batches),
      }).finally(progress.finish);
      randomized = trained.model;
      training = trained.report;
    }
    cleanup.push(() => randomized.dispose());
    const progress = progressReporter('data randomization');
    const includeMaps = values['no-maps'] ? false : values.maps ? true : undefined;
    const result = await dataRandomizationCheck(model, randomized, input, { methods, threshold, includeMaps, signal, onProgress: progress.update }).finally(
      progress.finish,
    );
    const lines = [
      `data randomization: Spearman ρ of the maps of the trained model vs the model trained on permuted labels${training ? ` (${training.samples} images × ${training.epochs} epochs)` : ''}:`,
      `${'method'.padEnd(22)}  ρ(|·|)  ρ(signed)  verdict`,
      ...result.methods.map((m) => `${m.method.padEnd(22)}${f2(m.meanSpearmanAbs)}  ${f2(m.meanSpearmanSigned)}     ${m.passed ? 'PASS' : 'FAIL'}`),
      `PASS: ρ(|·|) < ${result.threshold} (the maps depend on the labels the model learned); FAIL: they stay alike.`,
    ];
    const json = JSON.stringify(
      { model: model.path, input: str('input'), backend, mode: 'data', training, ...result },
      (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
      2,
    );
    const out = str('out');
    if (out) {
      await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
      await fs.writeFile(out, `${json}\n`);
      process.stdout.write(`${lines.join('\n')}\n-> ${out}\n`);
    } else {
      process.stderr.write(`${lines.join('\n')}\n`);
      process.stdout.write(`${json}\n`);
    }
  } finally {
    for (const f of cleanup.reverse()) f();
  }
}
