import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { AttributionResult, MethodOptions } from '../engine/attribution/method';
import { positiveInteger } from '../engine/attribution/common';
import { QUADRATURE_RULES } from '../engine/attribution/quadrature';
import { attribute, getMethod, methodIds } from '../engine/attribution/registry';
import { BACKENDS } from '../engine/backend';
import { loadInput } from '../engine/data/input';
import { parseNpy, toFloat32 } from '../engine/data/npy';
import { readUserFile } from '../engine/data/read-file';
import { InputError } from '../engine/errors';
import { completenessOf, pathMethodIds, requirePathMethod, type CompletenessEntry } from '../engine/evaluation/completeness';
import { featureGroups } from '../engine/evaluation/features';
import {
  DEFAULT_MAX_FRACTION,
  DEFAULT_SENSITIVITY_COUNT,
  DEFAULT_SUBSETS,
  sensitivityN,
  sensitivityNGrid,
  type SensitivityNOptions,
  type SensitivityNResult,
} from '../engine/evaluation/sensitivity-n';
import { classLabel, defaultGradcamLayer, predict } from '../engine/explain';
import { loadModel } from '../engine/model/load';
import type { Model } from '../engine/model/model';
import { parseNumber, parsePair, startBackend } from './options';
import { progressReporter } from './progress';
import { alignment } from '../engine/manifold/alignment';
import { manifoldForDataset } from '../engine/manifold/dataset-manifold';
import { ALIGNMENT_METHODS } from '../engine/evaluation/alignment-methods';
import { SENSITIVITY_N_METHODS } from '../engine/evaluation/sensitivity-n';
import { DATASET_FLAG_DECLARATIONS, DATASET_HELP, datasetFlags, isDatasetInput, openDataset, runLines, selectInputs, type DatasetFlags } from './dataset-runs';
import type { InputRecord, RunInfo } from './merge';

/** A parseArgs option declaration. */
type Flag = { type: 'string' } | { type: 'boolean' };
type FlagValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** What a metric receives: the loaded model and input, the attributions of every method, the flags. */
export interface MetricContext {
  model: Model;
  input: tf.Tensor;
  target: number;
  /** Methods in the order given, with their attributions (tensors disposed by the caller after run). */
  methods: string[];
  results: Map<string, AttributionResult>;
  /** The --baseline option resolved (a string or a tensor of the input's shape), undefined = zero. */
  baseline: string | tf.Tensor | undefined;
  /** Every flag as parsed (strings unconverted). */
  values: FlagValues;
  signal: AbortSignal;
  /** No progress on stderr (a dataset run reports progress per input instead). */
  quiet?: boolean;
}

/** A progress reporter, or one that says nothing. */
function reporter(label: string, quiet: boolean | undefined): ReturnType<typeof progressReporter> {
  return quiet ? { update: () => undefined, finish: () => undefined } : progressReporter(label);
}

/**
 * An evaluation metric of the `evaluate` command. Adding one: its object and one line in METRICS.
 */
export interface EvaluationMetric {
  /** One line for the help. */
  summary: string;
  /** Flags read by this metric only (beyond the common ones), as parseArgs declarations. */
  flags: Record<string, Flag>;
  /** Help lines of those flags. */
  help: string;
  /** Methods evaluated without --methods. */
  defaultMethods(model: Model): string[];
  /** Throws an InputError for a method the metric cannot evaluate (before anything is computed). */
  checkMethod?(id: string): void;
  /** Throws an InputError for a bad metric flag (before any attribution is computed). */
  checkFlags?(values: FlagValues, model: Model): void;
  /**
   * Method options the metric wants unless the user set them (e.g. the occlusion window
   * matching the features), given the flags.
   */
  methodDefaults?(id: string, values: FlagValues): MethodOptions;
  /** Computes the metric: its JSON result and a small text table for stdout. */
  run(ctx: MetricContext): Promise<{ result: unknown; table: string }>;
}

// ---------------------------------------------------------------------------------------------
// completeness

/** Fixed-width column formatting for the tables. */
function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [row(header, widths), ...rows.map((r) => row(r, widths))].join('\n') + '\n';
}

/** A table cell: fixed-point, exponent for tiny or huge values, 'n/a' for NaN. */
function fmt(v: number | undefined, digits = 4): string {
  if (v === undefined) return '';
  if (!Number.isFinite(v)) return 'n/a';
  const magnitude = Math.abs(v);
  return magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5) ? v.toExponential(2) : v.toFixed(digits);
}

const completenessMetric: EvaluationMetric = {
  summary: 'Σ attributions vs F(x) − F(baseline) for the path methods (delta, relative delta)',
  flags: {},
  help: '',
  defaultMethods: () => pathMethodIds(),
  checkMethod: requirePathMethod,
  async run(ctx) {
    const entries: CompletenessEntry[] = [];
    for (const id of ctx.methods) entries.push(await completenessOf(id, ctx.results.get(id)!));
    const rows = entries.map((e) => [
      e.method,
      fmt(e.sum),
      fmt(e.outputDifference),
      fmt(e.delta),
      fmt(e.relativeDelta),
      e.stepsUsed !== undefined ? `${e.stepsUsed}${e.targetMet === false ? ' (target not met)' : ''}` : '',
    ]);
    return {
      result: { methods: entries },
      table: table(['method', 'Σ attribution', 'F(x) − F(x\')', 'delta', '|delta|/|ΔF|', 'steps'], rows),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// sensitivity-n


function patchOf(values: FlagValues): number {
  return parseNumber('patch', values.patch as string | undefined, true) ?? 1;
}

function sensitivityOptions(values: FlagValues, baseline: string | tf.Tensor | undefined): SensitivityNOptions {
  const str = (k: string) => values[k] as string | undefined;
  return {
    count: parseNumber('ns', str('ns'), true),
    maxFraction: parseNumber('max-fraction', str('max-fraction')),
    subsets: parseNumber('subsets', str('subsets'), true),
    patch: patchOf(values),
    baseline,
    seed: parseNumber('seed', str('seed'), true),
    batchSize: parseNumber('batch-size', str('batch-size'), true),
  };
}

const sensitivityNMetric: EvaluationMetric = {
  summary: 'correlation of Σ_{i∈S} R_i with the output drop when S is removed, per subset size n',
  flags: {
    subsets: { type: 'string' },
    ns: { type: 'string' },
    'max-fraction': { type: 'string' },
    patch: { type: 'string' },
  },
  help: `  --ns COUNT           sensitivity-n: number of log-spaced subset sizes n (default 20)
  --max-fraction F     sensitivity-n: largest n as a fraction of the features (default 0.8)
  --subsets N          sensitivity-n: random subsets per n (default 100)
  --patch P            sensitivity-n: features are PxP patches (default 1: pixels); occlusion's
                       default window is PxP with stride P
`,
  defaultMethods: () => [...SENSITIVITY_N_METHODS],
  checkFlags(values, model) {
    const o = sensitivityOptions(values, undefined);
    const groups = featureGroups(model.input, positiveInteger('patch', o.patch, 1));
    sensitivityNGrid(groups.count, positiveInteger('count', o.count, DEFAULT_SENSITIVITY_COUNT), o.maxFraction ?? DEFAULT_MAX_FRACTION);
    if (positiveInteger('subsets', o.subsets, DEFAULT_SUBSETS) < 2) throw new InputError(`subsets must be at least 2 for a correlation, got ${o.subsets}`);
  },
  methodDefaults(id, values) {
    const p = patchOf(values);
    if (id === 'occlusion') return { window: [p, p], stride: [p, p] };
    if (id === 'gradcam') return { upsample: true };
    return {};
  },
  async run(ctx) {
    const { values } = ctx;
    const attributions: Record<string, tf.Tensor> = {};
    for (const id of ctx.methods) attributions[id] = ctx.results.get(id)!.attribution;
    const progress = reporter('sensitivity-n', ctx.quiet);
    const result: SensitivityNResult = await sensitivityN(
      { model: ctx.model, input: ctx.input, target: ctx.target, attributions, onProgress: progress.update, signal: ctx.signal },
      sensitivityOptions(values, ctx.baseline),
    ).finally(progress.finish);
    const rows = result.ns.map((n, k) => [String(n), result.fractions[k].toFixed(4), ...ctx.methods.map((id) => fmt(result.curves[id][k], 3))]);
    const header = `${result.features} features (${result.patch === 1 ? 'pixels' : `${result.patch}x${result.patch} patches`}), ${result.subsets} subsets per n, baseline ${result.baseline}; Pearson r:\n`;
    return { result, table: header + table(['n', 'fraction', ...ctx.methods], rows) };
  },
};

// ---------------------------------------------------------------------------------------------
// alignment


const alignmentMetric: EvaluationMetric = {
  summary: "fraction ‖P_T a‖/‖a‖ of each map in the data manifold's tangent space (a VAE trained on --dataset) vs a random direction's sqrt(k/d)",
  flags: {
    dataset: { type: 'string' },
    'vae-samples': { type: 'string' },
    'vae-epochs': { type: 'string' },
  },
  help: `  --dataset D          alignment: the model's training images (IDX images file or a folder of
                       images); a VAE is trained on them once and cached beside them
  --vae-samples N      alignment: images the VAE trains on (default 10000)
  --vae-epochs N       alignment: VAE training epochs (default 10)
`,
  defaultMethods: () => [...ALIGNMENT_METHODS],
  checkFlags(values) {
    if (!values.dataset) throw new InputError('--metric alignment needs --dataset (IDX images file or folder of images)');
    parseNumber('vae-samples', values['vae-samples'] as string | undefined, true);
    parseNumber('vae-epochs', values['vae-epochs'] as string | undefined, true);
  },
  // The manifold paper compares signed maps.
  methodDefaults: (id) => (id === 'saliency' ? { abs: false } : {}),
  async run(ctx) {
    const { values } = ctx;
    const progress = progressReporter('VAE training');
    const vae = await manifoldForDataset(values.dataset as string, ctx.model.input, {
      samples: parseNumber('vae-samples', values['vae-samples'] as string | undefined, true),
      epochs: parseNumber('vae-epochs', values['vae-epochs'] as string | undefined, true),
      onProgress: progress.update,
      signal: ctx.signal,
    }).finally(progress.finish);
    try {
      const basis = await vae.manifold.tangentSpace(ctx.model, ctx.input, { signal: ctx.signal });
      const entries = ctx.methods.map((id) => {
        const a = alignment(ctx.results.get(id)!.attribution.dataSync(), basis);
        return { method: id, alignment: a.alignment, overRandom: a.alignment / a.randomBaseline };
      });
      const randomBaseline = Math.sqrt(basis.k / basis.d);
      const rows = entries.map((e) => [e.method, fmt(e.alignment), `${e.overRandom.toFixed(2)}×`]);
      const header = `tangent space of dimension k = ${basis.k} in d = ${basis.d}; random direction sqrt(k/d) = ${fmt(randomBaseline)}; VAE ${vae.cached ? 'from' : 'trained, saved to'} ${vae.file}\n`;
      return {
        result: { dataset: values.dataset, vae: { file: vae.file, cached: vae.cached }, k: basis.k, d: basis.d, randomBaseline, methods: entries },
        table: header + table(['method', '‖P_T a‖/‖a‖', 'vs random'], rows),
      };
    } finally {
      vae.vae.dispose();
    }
  },
};

/** The metrics by name. Adding one: one line here. */
export const METRICS: Record<string, EvaluationMetric> = {
  completeness: completenessMetric,
  'sensitivity-n': sensitivityNMetric,
  alignment: alignmentMetric,
};

// ---------------------------------------------------------------------------------------------
// the command

const COMMON_FLAGS: Record<string, Flag> = {
  model: { type: 'string' },
  input: { type: 'string' },
  metric: { type: 'string' },
  methods: { type: 'string' },
  target: { type: 'string' },
  out: { type: 'string' },
  steps: { type: 'string' },
  rule: { type: 'string' },
  'target-delta': { type: 'string' },
  'max-steps': { type: 'string' },
  baseline: { type: 'string' },
  window: { type: 'string' },
  stride: { type: 'string' },
  samples: { type: 'string' },
  signed: { type: 'boolean' },
  seed: { type: 'string' },
  'batch-size': { type: 'string' },
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' } as Flag,
};

/** Words of `text` in lines of at most 92 characters, each indented by `indent` spaces. */
function wrap(text: string, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > 92) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.map((l) => ' '.repeat(indent) + l).join('\n');
}

export const EVALUATE_HELP = `Usage: attribution-lens evaluate --model M --input X --metric METRIC [options]

Computes attributions with several methods and checks them with a metric:
${Object.entries(METRICS)
  .map(([name, m]) => `  ${name.padEnd(15)}${m.summary}`)
  .join('\n')}
Prints a table; --out writes the full result as JSON.

  --model FILE         ONNX model (preprocessing from FILE.lens.json if present)
  --input FILE         PNG/JPEG image (preprocessed) or .npy array (fed as it is); or a
                       dataset: an IDX images file or a folder (see Datasets below)
  --metric M           ${Object.keys(METRICS).join(', ')}
  --methods a,b,c      methods to evaluate, any of
${wrap(methodIds().join(', '), 23)}
                       default for completeness: the path methods
${wrap(pathMethodIds().join(', '), 25)}
                       default for sensitivity-n:
${wrap(SENSITIVITY_N_METHODS.join(', '), 25)}
  --target K           class to explain (default: the predicted class)
  --out FILE.json      write the result as JSON (a dataset: FILE.jsonl, one line per input)
  --steps N            integrated_gradients, boundary_ig: steps (default 50)
  --rule R             integrated_gradients, boundary_ig: ${QUADRATURE_RULES.join(', ')}
  --target-delta T     integrated_gradients: adaptive steps, doubled until
                       |delta| / |F(x) − F(x')| ≤ T (default 0.01 with --max-steps)
  --max-steps N        integrated_gradients: adaptive steps, at most N (default 1024)
  --baseline B         zero | blur | uniform | FILE.npy: the methods' baseline and
                       the value removed features take (default zero)
  --window HxW         occlusion window (sensitivity-n default: the patch)
  --stride HxW         occlusion stride
  --samples N          gradient_shap: draws (default 50)
  --signed             saliency: signed gradient instead of its magnitude
  --seed S             seed of the random subsets, gradient_shap and random baselines
${Object.values(METRICS)
  .map((m) => m.help)
  .join('')}  --batch-size N       largest batch per model pass (default: sized from memory)
  --backend B          auto, ${BACKENDS.join(', ')} (default auto: fastest present)
  -h, --help           this help

${DATASET_HELP}`;

/** --baseline FILE.npy as a tensor [1, ...input shape]; other values as they are. */
async function baselineOption(value: string | undefined, model: Model): Promise<string | tf.Tensor | undefined> {
  if (value === undefined || !value.toLowerCase().endsWith('.npy')) return value;
  const arr = parseNpy(await readUserFile(value, 'baseline'), path.basename(value));
  const expected = model.input.shape;
  const shape = arr.shape.length === expected.length + 1 && arr.shape[0] === 1 ? arr.shape.slice(1) : arr.shape;
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new InputError(`${path.basename(value)}: baseline of shape [${arr.shape}] does not fit the model's input [${expected}]`);
  }
  return tf.tensor(toFloat32(arr), [1, ...expected], 'float32');
}

/** Method options from the flags, keeping for each method only those it reads. */
function methodOptions(
  id: string,
  model: Model,
  values: FlagValues,
  baseline: string | tf.Tensor | undefined,
  defaults: MethodOptions,
): MethodOptions {
  const str = (k: string) => values[k] as string | undefined;
  const all: MethodOptions = {
    ...defaults,
    steps: parseNumber('steps', str('steps'), true),
    rule: str('rule'),
    targetDelta: parseNumber('target-delta', str('target-delta')),
    maxSteps: parseNumber('max-steps', str('max-steps'), true),
    baseline,
    window: parsePair('window', str('window')) ?? defaults.window,
    stride: parsePair('stride', str('stride')) ?? (str('window') !== undefined ? undefined : defaults.stride),
    samples: parseNumber('samples', str('samples'), true),
    abs: values.signed ? false : defaults.abs,
    seed: parseNumber('seed', str('seed'), true),
    batchSize: parseNumber('batch-size', str('batch-size'), true),
  };
  if (id === 'gradcam' || id === 'guided_gradcam') all.layer = defaultGradcamLayer(model);
  const accepted = new Set<string>(getMethod(id).options);
  const out: MethodOptions = {};
  for (const [key, value] of Object.entries(all)) {
    if (value !== undefined && accepted.has(key)) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** Flags that set method options, and the option each sets. */
const METHOD_FLAGS: Record<string, keyof MethodOptions> = {
  steps: 'steps',
  rule: 'rule',
  'target-delta': 'targetDelta',
  'max-steps': 'maxSteps',
  window: 'window',
  stride: 'stride',
  samples: 'samples',
  signed: 'abs',
};

export async function runEvaluate(argv: string[], signal: AbortSignal): Promise<void> {
  const metricFlags: Record<string, Flag> = {};
  for (const metric of Object.values(METRICS)) Object.assign(metricFlags, metric.flags);
  const { values } = parseArgs({ args: argv, strict: true, options: { ...COMMON_FLAGS, ...DATASET_FLAG_DECLARATIONS, ...metricFlags } });
  if (values.help) {
    process.stdout.write(EVALUATE_HELP);
    return;
  }
  if (!values.model) throw new InputError('evaluate: --model is required');
  if (!values.input) throw new InputError('evaluate: --input is required');
  if (!values.metric) throw new InputError(`evaluate: --metric is required: one of ${Object.keys(METRICS).join(', ')}`);
  const metric = METRICS[values.metric as string];
  if (!metric) throw new InputError(`unknown metric '${String(values.metric)}': expected one of ${Object.keys(METRICS).join(', ')}`);
  for (const flag of Object.keys(metricFlags)) {
    if (values[flag] !== undefined && !(flag in metric.flags)) {
      const owners = Object.entries(METRICS).filter(([, m]) => flag in m.flags).map(([name]) => name);
      throw new InputError(`--${flag} applies to --metric ${owners.join(', ')}, not ${String(values.metric)}`);
    }
  }
  const out = values.out as string | undefined;
  const dataset = await isDatasetInput(values.input as string);
  const datasetOptions = datasetFlags(values, dataset, values.input as string);
  const outExtension = dataset ? '.jsonl' : '.json';
  if (out !== undefined && path.extname(out).toLowerCase() !== outExtension) {
    throw new InputError(`${out}: --out must end in ${outExtension}${dataset ? ' (one JSON line per input of the dataset)' : ''}`);
  }

  const methods =
    values.methods !== undefined
      ? (values.methods as string).split(',').map((m) => m.trim()).filter((m) => m !== '')
      : undefined;
  if (methods !== undefined && methods.length === 0) throw new InputError('--methods lists no method');
  for (const id of methods ?? []) {
    getMethod(id);
    metric.checkMethod?.(id);
  }
  if (methods !== undefined && new Set(methods).size !== methods.length) throw new InputError('--methods lists a method twice');
  const backend = await startBackend(values.backend as string | undefined);

  const model = await loadModel(values.model as string);
  if (dataset) {
    try {
      await evaluateDataset({ model, metric, methods, values, backend, signal, flags: datasetOptions });
    } finally {
      model.dispose();
    }
    return;
  }
  const results = new Map<string, AttributionResult>();
  let input: tf.Tensor | undefined;
  let baseline: string | tf.Tensor | undefined;
  try {
    input = await loadInput(values.input as string, model);
    baseline = await baselineOption(values.baseline as string | undefined, model);
    const chosen = prepare(model, metric, methods, values);
    const one = await evaluateOne({ model, input, metric, chosen, values, baseline, signal, results });
    const { prediction, target, options, result } = one;

    process.stdout.write(`${values.metric} on ${path.basename(values.input as string)}, target ${classLabel(model, target)} (predicted ${prediction.label}):\n${one.table}`);
    if (out !== undefined) {
      const summary = {
        model: model.path,
        input: values.input,
        backend,
        metric: values.metric,
        target,
        targetLabel: classLabel(model, target),
        prediction,
        methods: chosen,
        methodOptions: Object.fromEntries([...options].map(([id, o]) => [id, printable(o)])),
        result,
        timings: one.timings,
      };
      await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
      // NaN (an undefined correlation or relative delta) becomes null.
      await fs.writeFile(out, `${JSON.stringify(summary, null, 2)}\n`);
      process.stdout.write(`-> ${out}\n`);
    }
  } finally {
    for (const r of results.values()) r.attribution.dispose();
    if (input) input.dispose();
    if (baseline instanceof tf.Tensor) baseline.dispose();
    model.dispose();
  }
}

/** Method options as JSON shows them (a baseline tensor as 'file'). */
function printable(o: MethodOptions): Record<string, unknown> {
  const { baseline: b, ...rest } = o;
  return { ...rest, ...(b !== undefined ? { baseline: typeof b === 'string' ? b : 'file' } : {}) };
}

/** Checks the metric's flags against the model; the methods evaluated. */
function prepare(model: Model, metric: EvaluationMetric, methods: string[] | undefined, values: FlagValues): string[] {
  metric.checkFlags?.(values, model);
  const chosen = methods ?? metric.defaultMethods(model);
  for (const [flag, option] of Object.entries(METHOD_FLAGS)) {
    if (values[flag] !== undefined && !chosen.some((id) => getMethod(id).options.includes(option))) {
      throw new InputError(`--${flag} applies to none of the methods evaluated (${chosen.join(', ')})`);
    }
  }
  return chosen;
}

/**
 * One input: its prediction and target, every method's attribution (left in `results`, which
 * the caller disposes), the metric's result and table.
 */
async function evaluateOne(args: {
  model: Model;
  input: tf.Tensor;
  metric: EvaluationMetric;
  chosen: string[];
  values: FlagValues;
  baseline: string | tf.Tensor | undefined;
  signal: AbortSignal;
  results: Map<string, AttributionResult>;
  quiet?: boolean;
}) {
  const { model, input, metric, chosen, values, baseline, signal, results, quiet } = args;
  const prediction = predict(model, input, 1)[0];
  const target = parseNumber('target', values.target as string | undefined, true) ?? prediction.class;
  if (target < 0 || target >= model.numClasses) {
    throw new InputError(`--target ${target} is out of range: the model has classes 0–${model.numClasses - 1}`);
  }
  const options = new Map(chosen.map((id) => [id, methodOptions(id, model, values, baseline, metric.methodDefaults?.(id, values) ?? {})]));

  const attributionMs: Record<string, number> = {};
  for (const id of chosen) {
    const progress = reporter(id, quiet);
    const started = performance.now();
    const result = await attribute(id, { model, input, target, onProgress: progress.update, signal }, options.get(id)!).finally(progress.finish);
    results.set(id, result);
    attributionMs[id] = Math.round((performance.now() - started) * 10) / 10;
  }
  const started = performance.now();
  const { result, table: text } = await metric.run({ model, input, target, methods: chosen, results, baseline, values, signal, quiet });
  const metricMs = Math.round((performance.now() - started) * 10) / 10;
  return { prediction, target, options, result, table: text, timings: { attributionMs, metricMs } };
}

/** Flags that do not change the numbers, left out of a dataset run's description. */
const NOT_RUN_OPTIONS = new Set(['model', 'input', 'out', 'summary', 'shard', 'labels', 'limit', 'backend', 'batch-size', 'help', 'methods', 'metric']);

/** The flags that change the numbers, in a stable order, file paths as file names. */
function runOptions(values: FlagValues): Record<string, unknown> {
  const entries = Object.entries(values)
    .filter(([k, v]) => v !== undefined && !NOT_RUN_OPTIONS.has(k))
    .map(([k, v]) => [k, typeof v === 'string' && (k === 'dataset' || k === 'baseline' || k === 'compare-model') ? path.basename(v) : v] as const)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return Object.fromEntries(entries);
}

/** evaluate over a dataset: one JSON line per selected input, then the summary. */
async function evaluateDataset(args: {
  model: Model;
  metric: EvaluationMetric;
  methods: string[] | undefined;
  values: FlagValues;
  backend: string;
  signal: AbortSignal;
  flags: DatasetFlags;
}): Promise<void> {
  const { model, metric, methods, values, signal, flags } = args;
  const source = values.input as string;
  const data = await openDataset(source, flags.labels, model);
  const { size, indices } = selectInputs(data.count, flags.limit, flags.shard);
  const baseline = await baselineOption(values.baseline as string | undefined, model);
  try {
    const chosen = prepare(model, metric, methods, values);
    const run: RunInfo = {
      command: 'evaluate',
      metric: values.metric as string,
      model: path.basename(model.path),
      dataset: path.basename(path.resolve(source)),
      size,
      methods: chosen,
      options: runOptions(values),
    };
    const shard = flags.shard ? `${flags.shard.index}/${flags.shard.count}` : null;
    process.stderr.write(`${data.count} inputs in ${source}; this run: ${indices.length} of ${size}${shard ? ` (shard ${shard})` : ''}\n`);
    await runLines(indices, values.out as string | undefined, flags, signal, async (i) => {
      const input = await data.input(i);
      const results = new Map<string, AttributionResult>();
      try {
        const one = await evaluateOne({ model, input, metric, chosen, values, baseline, signal, results, quiet: true });
        const label = data.label(i);
        const record: InputRecord = {
          index: i,
          id: data.id(i),
          ...(label !== undefined ? { label } : {}),
          shard,
          run,
          target: one.target,
          prediction: one.prediction,
          result: one.result as Record<string, unknown>,
          timings: one.timings,
        };
        return record;
      } finally {
        for (const r of results.values()) r.attribution.dispose();
        input.dispose();
      }
    });
  } finally {
    if (baseline instanceof tf.Tensor) baseline.dispose();
  }
}
