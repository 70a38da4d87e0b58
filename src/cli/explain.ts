import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { NOISE_TYPES } from '../engine/attribution/noise-tunnel';
import { QUADRATURE_RULES } from '../engine/attribution/quadrature';
import type { MethodOptions } from '../engine/attribution/method';
import { methodIds } from '../engine/attribution/registry';
import { BACKENDS } from '../engine/backend';
import { loadInput } from '../engine/data/input';
import { encodeNpy, parseNpy, toFloat32 } from '../engine/data/npy';
import { readUserFile } from '../engine/data/read-file';
import { InputError } from '../engine/errors';
import { classLabel, explain, type Explanation } from '../engine/explain';
import { loadModel } from '../engine/model/load';
import type { Model } from '../engine/model/model';
import { renderAttribution } from '../engine/render/attribution-image';
import { encodePng } from '../engine/render/png';
import { oneOf, parseList, parseNumber, parsePair, startBackend } from './options';
import { progressReporter } from './progress';
import { manifoldForDataset } from '../engine/manifold/dataset-manifold';

export const EXPLAIN_HELP = `Usage: attribution-lens explain --model M --input X [options]

Explains the model's prediction for one input with one attribution method.

  --model FILE         ONNX model (preprocessing from FILE.lens.json if present)
  --input FILE         PNG/JPEG image (preprocessed) or .npy array (fed as it is)
  --method ID          ${methodIds().join(', ')}
                       (default integrated_gradients)
  --target K           class to explain (default: the predicted class)
  --out FILE           .npy (float32 attribution), .png (heatmap over the input) or
                       .json (summary); repeat for several. Without it the summary
                       JSON goes to stdout.
  --steps N            integrated_gradients: number of steps (default 50)
  --target-delta T     integrated_gradients: double the steps until |delta|/|F(x) − F(x')| ≤ T
  --max-steps N        integrated_gradients: at most this many steps when adapting (default 1024)
  --rule R             integrated_gradients: ${QUADRATURE_RULES.join(', ')}
  --baseline B         zero | blur | uniform | FILE.npy (occlusion: also a number;
                       gradient_shap: FILE.npy may hold a set [K, ...input])
  --epsilon E          lrp_epsilon: the stabiliser ε (default 1e-9)
  --window HxW         occlusion window (default 4x4 for small images)
  --stride HxW         occlusion stride
  --layer NAME         gradcam, guided_gradcam: layer name or output (default: last conv block)
  --upsample           gradcam: resize the map to the input size
  --no-relu            gradcam: keep negative evidence
  --signed             saliency: signed gradient instead of its magnitude
  --norm N             boundary_ig, boundary_normal: l2 (default) or linf distance
  --epsilons E1,E2,…   boundary search: the increasing PGD radii (default: scaled to the input range)
  --pgd-steps N        boundary search: PGD steps per radius
  --restarts N         boundary search: random restarts per radius (default 1)
  --no-clamp           boundary search: do not clamp to the valid pixel range
  --manifold D         manifold_projected: the model's training images (IDX file or folder);
                       a VAE is trained on them once and cached beside them
  --base ID            manifold_projected: the attribution to project (default saliency, signed)
  --noise T            wrap the method: ${NOISE_TYPES.join(', ')}
  --samples N          noise samples (default 25); gradient_shap: draws (default 50)
  --stdev F            noise stdev as a fraction of the input range (default 0.15;
                       gradient_shap: 0)
  --seed S             seed for noise and random baselines
  --batch-size N       largest batch per model pass (default: sized from memory)
  --top-k K            classes listed in the summary (default 5)
  --backend B          auto, ${BACKENDS.join(', ')} (default auto: fastest present)
  -h, --help           this help
`;

const OUT_FORMATS = ['.npy', '.png', '.json'];

/** A FILE.npy baseline as a tensor: one input ([1, ...] or without batch) or, with `allowSet`, a set [K, ...]. */
async function baselineOption(value: string | undefined, model: Model, allowSet: boolean): Promise<string | tf.Tensor | undefined> {
  if (value === undefined || !value.toLowerCase().endsWith('.npy')) return value;
  const arr = parseNpy(await readUserFile(value, 'baseline'), path.basename(value));
  const expected = model.input.shape;
  const single = arr.shape.length === expected.length && arr.shape.every((d, i) => d === expected[i]);
  const batched = arr.shape.length === expected.length + 1 && expected.every((d, i) => arr.shape[i + 1] === d);
  if (!single && !(batched && (allowSet || arr.shape[0] === 1))) {
    throw new InputError(
      `${path.basename(value)}: baseline of shape [${arr.shape}] does not fit the model's input [${expected}]${allowSet ? ` (or a set [K,${expected}])` : ''}`,
    );
  }
  return tf.tensor(toFloat32(arr), single ? [1, ...expected] : arr.shape);
}

/** The JSON summary written by --out F.json and printed without --out. */
export function summarize(model: Model, inputFile: string, backend: string, result: Explanation, attribution: Float32Array) {
  let sum = 0;
  let sumAbs = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of attribution) {
    sum += v;
    sumAbs += Math.abs(v);
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const { baseline, manifold, ...options } = result.options;
  return {
    model: model.path,
    input: inputFile,
    backend,
    method: result.method,
    options: {
      ...options,
      ...(baseline !== undefined ? { baseline: typeof baseline === 'string' ? baseline : 'file' } : {}),
      ...(manifold !== undefined ? { manifold: 'vae' } : {}),
    },
    target: result.target,
    targetLabel: classLabel(model, result.target),
    prediction: result.topK[0],
    topK: result.topK,
    attribution: { shape: result.attribution.shape, sum, min, max, meanAbs: sumAbs / attribution.length },
    ...(result.delta !== undefined
      ? {
          delta: result.delta,
          outputDifference: result.outputDifference,
          relativeDelta: result.outputDifference ? Math.abs(result.delta) / Math.abs(result.outputDifference) : undefined,
        }
      : {}),
    ...(result.stepsUsed !== undefined ? { stepsUsed: result.stepsUsed } : {}),
    ...(result.targetMet !== undefined ? { targetMet: result.targetMet } : {}),
    ...(result.boundary ? { boundary: { ...result.boundary, crossedToLabel: classLabel(model, result.boundary.crossedTo) } } : {}),
    timings: { attributionMs: Math.round(result.attributionMs * 10) / 10 },
  };
}

export async function runExplain(argv: string[], signal: AbortSignal): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      input: { type: 'string' },
      method: { type: 'string', default: 'integrated_gradients' },
      target: { type: 'string' },
      out: { type: 'string', multiple: true },
      steps: { type: 'string' },
      'target-delta': { type: 'string' },
      'max-steps': { type: 'string' },
      manifold: { type: 'string' },
      base: { type: 'string' },
      rule: { type: 'string' },
      baseline: { type: 'string' },
      epsilon: { type: 'string' },
      window: { type: 'string' },
      stride: { type: 'string' },
      layer: { type: 'string' },
      upsample: { type: 'boolean' },
      'no-relu': { type: 'boolean' },
      signed: { type: 'boolean' },
      norm: { type: 'string' },
      epsilons: { type: 'string' },
      'pgd-steps': { type: 'string' },
      restarts: { type: 'string' },
      'no-clamp': { type: 'boolean' },
      noise: { type: 'string' },
      samples: { type: 'string' },
      stdev: { type: 'string' },
      seed: { type: 'string' },
      'batch-size': { type: 'string' },
      'top-k': { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(EXPLAIN_HELP);
    return;
  }
  if (!values.model) throw new InputError('explain: --model is required');
  if (!values.input) throw new InputError('explain: --input is required');
  const outs = values.out ?? [];
  for (const out of outs) {
    if (!OUT_FORMATS.includes(path.extname(out).toLowerCase())) {
      throw new InputError(`${out}: --out must end in ${OUT_FORMATS.join(', ')}`);
    }
  }
  const backend = await startBackend(values.backend);

  const model = await loadModel(values.model);
  const input = await loadInput(values.input, model);
  const baseline = await baselineOption(values.baseline, model, values.method === 'gradient_shap');
  let disposeVae = () => {};
  try {
    const options: MethodOptions = {
      steps: parseNumber('steps', values.steps, true),
      targetDelta: parseNumber('target-delta', values['target-delta']),
      maxSteps: parseNumber('max-steps', values['max-steps'], true),
      base: values.base,
      rule: values.rule,
      baseline,
      epsilon: parseNumber('epsilon', values.epsilon),
      window: parsePair('window', values.window),
      stride: parsePair('stride', values.stride),
      layer: values.layer,
      upsample: values.upsample,
      relu: values['no-relu'] ? false : undefined,
      abs: values.signed ? false : undefined,
      norm: oneOf('norm', values.norm, ['l2', 'linf'] as const),
      epsilons: parseList('epsilons', values.epsilons),
      pgdSteps: parseNumber('pgd-steps', values['pgd-steps'], true),
      restarts: parseNumber('restarts', values.restarts, true),
      clamp: values['no-clamp'] ? false : undefined,
      noise: oneOf('noise', values.noise, NOISE_TYPES),
      samples: parseNumber('samples', values.samples, true),
      stdev: parseNumber('stdev', values.stdev),
      seed: parseNumber('seed', values.seed, true),
      batchSize: parseNumber('batch-size', values['batch-size'], true),
    };
    for (const key of Object.keys(options) as (keyof MethodOptions)[]) if (options[key] === undefined) delete options[key];
    if (values.manifold !== undefined) {
      const training = progressReporter('VAE training');
      const vae = await manifoldForDataset(values.manifold, model.input, { onProgress: training.update, signal }).finally(training.finish);
      disposeVae = () => vae.vae.dispose();
      options.manifold = vae.manifold;
    }
    const progress = progressReporter(values.method);
    const result = await explain({
      model,
      input,
      method: values.method,
      options,
      target: parseNumber('target', values.target, true),
      topK: parseNumber('top-k', values['top-k'], true),
      onProgress: progress.update,
      signal,
    }).finally(progress.finish);
    try {
      await writeOutputs(model, input, values.input, backend, result, outs);
    } finally {
      result.attribution.dispose();
    }
  } finally {
    input.dispose();
    if (baseline instanceof tf.Tensor) baseline.dispose();
    disposeVae();
    model.dispose();
  }
}

async function writeOutputs(model: Model, input: tf.Tensor, inputFile: string, backend: string, result: Explanation, outs: string[]) {
  const data = (await result.attribution.data()) as Float32Array;
  const summary = summarize(model, inputFile, backend, result, data);
  if (outs.length === 0) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  for (const out of outs) {
    const ext = path.extname(out).toLowerCase();
    await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
    if (ext === '.npy') await fs.writeFile(out, encodeNpy(data, result.attribution.shape));
    else if (ext === '.png') await fs.writeFile(out, encodePng(renderAttribution(model, input, result.attribution)));
    else await fs.writeFile(out, `${JSON.stringify(summary, null, 2)}\n`);
  }
  const p = summary.prediction;
  const delta = summary.delta !== undefined ? `, delta ${summary.delta.toExponential(2)}` : '';
  process.stdout.write(
    `${result.method} on ${path.basename(inputFile)}: predicted ${p.label} (${(p.probability * 100).toFixed(1)}%), ` +
      `target ${summary.targetLabel}${delta}, ${summary.timings.attributionMs} ms -> ${outs.join(', ')}\n`,
  );
}
