import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { MethodOptions } from '../engine/attribution/method';
import { getMethod, methodIds } from '../engine/attribution/registry';
import { BACKENDS, initBackend } from '../engine/backend';
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
import { oneOf, parseNumber } from './options';
import { progressReporter } from './progress';

export const SANITY_HELP = `Usage: attribution-lens sanity --model M --input X [options]

Model-parameter randomization test (Adebayo et al. 2018): re-initialises the model's layers
from the logits down and compares each method's map with the trained model's map by Spearman
rank correlation (of absolute and of signed values), SSIM and HOG similarity. A method passes
when the mean Spearman correlation of its absolute maps over the steps is below the threshold:
its maps depend on what the model learned.

  --model FILE         ONNX model (preprocessing from FILE.lens.json if present)
  --input FILE         PNG/JPEG image (preprocessed) or .npy array (fed as it is)
  --methods A,B,…      methods to check (default ${DEFAULT_SANITY_METHODS.join(',')});
                       any of ${methodIds().join(', ')}
  --mode M             cascading (default: top k layers randomized at step k) or
                       independent (one layer at a time)
  --seed S             seed of the re-initialisation (default 0)
  --threshold T        pass when the mean Spearman ρ of absolute maps < T (default ${DEFAULT_SANITY_THRESHOLD})
  --layer NAME         gradcam, guided_gradcam: layer (default: last conv block)
  --steps N            integrated_gradients: number of steps (default 50)
  --maps / --no-maps   include the 2-D maps in the JSON (default: inputs up to 64×64)
  --out FILE.json      write the full result; without it the result JSON goes to stdout
  --backend B          auto, ${BACKENDS.join(', ')} (default auto: fastest present)
  -h, --help           this help

The table (stderr when the JSON goes to stdout) shows ρ of absolute maps per method and step.
`;

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
      seed: { type: 'string' },
      threshold: { type: 'string' },
      layer: { type: 'string' },
      steps: { type: 'string' },
      maps: { type: 'boolean' },
      'no-maps': { type: 'boolean' },
      out: { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(SANITY_HELP);
    return;
  }
  if (!values.model) throw new InputError('sanity: --model is required');
  if (!values.input) throw new InputError('sanity: --input is required');
  if (values.out !== undefined && path.extname(values.out).toLowerCase() !== '.json') {
    throw new InputError(`${values.out}: --out must end in .json`);
  }
  const methods = values.methods !== undefined ? values.methods.split(',').map((m) => m.trim()) : [...DEFAULT_SANITY_METHODS];
  for (const id of methods) getMethod(id);
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

  const backend = await initBackend(oneOf('backend', values.backend, ['auto', ...BACKENDS]));
  process.stderr.write(`backend: ${backend}\n`);
  const model = await loadModel(values.model);
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
