import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { METHODS } from '../engine/attribution/registry';
import { InputError } from '../engine/errors';
import type { MethodSettings } from '../protocol/engine';
import type { PanelView } from '../protocol/panels';
import { explainView } from '../protocol/views/explain';
import { manifoldView, type AlignmentResultJson } from '../protocol/views/manifold';
import { sanityView, type DataRandomizationJson, type SanityJson } from '../protocol/views/sanity';
import { sensitivityView, type SensitivityJson } from '../protocol/views/sensitivity';
import { EngineService, type RequestContext } from '../worker/engine-service';
import { startBackend } from './options';
import { progressReporter } from './progress';
import { readReportBundle, reportHtml } from './report-html';

export const REPORT_HELP = `Usage: attribution-lens report --model M --input X [X ...] [options]

Explains each input with several methods, runs the trust checks on it, and writes everything into
one self-contained HTML file (no network needed to open it): the heatmaps, the randomization
grid and similarity curves, the Sensitivity-n curves, and — given a dataset — the manifold
alignment.

Options:
  --model F            the model file (.onnx)
  --input X [X ...]    images (PNG/JPEG) or .npy arrays; repeatable
  --out F              the HTML file to write (default report.html)
  --methods a,b        methods of the explanations (default: every method but manifold_projected,
                       plus SmoothGrad)
  --no-sanity          leave out the model randomization test
  --no-sensitivity     leave out Sensitivity-n
  --compare-model F    add the data randomization test against F, the same architecture trained on
                       permuted labels
  --dataset D          add manifold alignment with a VAE trained on D (IDX file or image folder)
  --backend B          auto, tensorflow-gpu, tensorflow, wasm or cpu (default auto)
`;

/** Explain's default runs: every method that needs nothing but the model, and SmoothGrad. */
export function defaultRuns(): MethodSettings[] {
  return [
    ...METHODS.filter((m) => m.id !== 'manifold_projected').map((m) => ({ method: m.id })),
    { method: 'saliency', noise: 'smoothgrad', samples: 25, stdev: 0.15, seed: 0 },
  ];
}

export interface ReportOptions {
  model: string;
  inputs: string[];
  runs?: MethodSettings[];
  sanity?: boolean;
  sensitivity?: boolean;
  compareModel?: string;
  dataset?: string;
  signal: AbortSignal;
  /** Called with each step's name and its progress. */
  onProgress?: (label: string, done: number, total: number) => void;
}

/** Every section of the report, computed with the engine the extension's worker runs. */
export async function reportSections(service: EngineService, options: ReportOptions): Promise<PanelView[]> {
  const { model, signal } = options;
  const runs = options.runs ?? defaultRuns();
  const sections: PanelView[] = [];
  const context = (label: string): RequestContext => ({ signal, onProgress: (done, total) => options.onProgress?.(label, done, total) });
  for (const input of options.inputs) {
    const name = path.basename(input);
    const title = (what: string): string => `${what} · ${path.basename(model)} · ${name}`;
    const result = await service.handle('explain', { model, input, methods: runs, output: 'map', topK: 5 }, context(`explain ${name}`));
    sections.push(explainView(result, runs, `${path.basename(model)} · ${name}`));
    if (options.sanity !== false || options.compareModel) {
      const sanity = (await service.handle('sanity', { model, input, maps: true }, context(`sanity ${name}`))) as SanityJson;
      const data = options.compareModel
        ? ((await service.handle('dataRandomization', { model, input, compareModel: options.compareModel }, context(`data randomization ${name}`))) as DataRandomizationJson)
        : undefined;
      sections.push(
        sanityView(sanity, {
          title: title('Sanity'),
          ...(data ? { data, compareModel: options.compareModel } : {}),
        }),
      );
    }
    if (options.sensitivity !== false) {
      const json = (await service.handle('sensitivityN', { model, input }, context(`sensitivity-n ${name}`))) as SensitivityJson;
      sections.push(sensitivityView(json, { title: title('Sensitivity-n') }));
    }
    if (options.dataset) {
      const json = (await service.handle('alignment', { model, input, dataset: options.dataset }, context(`manifold alignment ${name}`))) as AlignmentResultJson;
      sections.push(manifoldView(json, { title: title('Manifold') }));
    }
  }
  return sections;
}

export async function runReport(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      input: { type: 'string', multiple: true },
      out: { type: 'string', default: 'report.html' },
      methods: { type: 'string' },
      'no-sanity': { type: 'boolean', default: false },
      'no-sensitivity': { type: 'boolean', default: false },
      'compare-model': { type: 'string' },
      dataset: { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(REPORT_HELP);
    return;
  }
  if (!values.model) throw new InputError('report needs --model');
  // `--input a.png b.png`: the files after the first --input arrive as positionals.
  const inputs = [...(values.input ?? []), ...positionals];
  if (inputs.length === 0) throw new InputError('report needs --input (one or more images or .npy arrays)');
  const runs = values.methods?.split(',').map((m) => ({ method: m.trim() }));
  const backend = await startBackend(values.backend);
  const written = await writeReport({
    model: values.model,
    inputs,
    runs,
    out: values.out,
    backend,
    sanity: !values['no-sanity'],
    sensitivity: !values['no-sensitivity'],
    compareModel: values['compare-model'],
    dataset: values.dataset,
    signal,
  });
  process.stdout.write(`wrote ${written}\n`);
}

/** Computes the sections and writes the HTML file; returns its absolute path. */
export async function writeReport(options: ReportOptions & { out: string; backend: string }): Promise<string> {
  const bundle = await readReportBundle();
  const service = new EngineService();
  let bar: ReturnType<typeof progressReporter> | undefined;
  let barLabel = '';
  try {
    const sections = await reportSections(service, {
      ...options,
      onProgress: (label, done, total) => {
        if (label !== barLabel) {
          bar?.finish();
          bar = progressReporter(label);
          barLabel = label;
        }
        bar?.update(done, total);
      },
    });
    bar?.finish();
    const out = path.resolve(options.out);
    const html = reportHtml(
      { title: `Attribution Lens report · ${path.basename(options.model)}`, generated: new Date().toISOString(), backend: options.backend, model: path.resolve(options.model), sections },
      bundle,
    );
    await fs.mkdir(path.dirname(out), { recursive: true });
    await fs.writeFile(out, html);
    return out;
  } finally {
    service.dispose();
  }
}
