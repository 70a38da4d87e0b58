/**
 * The Sensitivity-n panel's view (protocol/panels.ts SensitivityView) from the JSON of the
 * Sensitivity-n evaluation: what the worker's `sensitivityN` returns ({ model, input, backend,
 * target, methods, result }) and what `attribution-lens evaluate --metric sensitivity-n --out`
 * writes (the same plus targetLabel, prediction, options, timings). Pure JSON in, JSON out — no
 * TensorFlow.js. Correlations that are undefined (NaN, null in the JSON) stay null.
 */
import type { SensitivityView } from '../panels';
import { baseName, finiteOrNull } from './previews';

export interface SensitivityJson {
  /** Method names by id (the worker adds them). */
  methodLabels?: Record<string, string>;
  model: string;
  input: string;
  backend?: string | null;
  target: number;
  /** The CLI writes it; the worker's JSON has only `target`. */
  targetLabel?: string;
  /** Method ids in the order they ran; defaults to the curves' order. */
  methods?: string[];
  result: {
    ns: number[];
    fractions?: number[];
    features: number;
    subsets: number;
    patch?: number;
    baseline?: string;
    curves: Record<string, (number | null)[]>;
  };
}

export interface SensitivityViewOptions {
  /** Human-readable method names by id (the registry's labels); default: the id. */
  methodLabels?: Readonly<Record<string, string>>;
  /** The target class's name when the JSON has none (the worker's). */
  targetLabel?: string;
  title?: string;
}

function fail(what: string): never {
  throw new Error(`not a sensitivity-n result: ${what}`);
}

export function sensitivityView(json: SensitivityJson, options: SensitivityViewOptions = {}): SensitivityView {
  const result = json?.result;
  if (!result || !Array.isArray(result.ns) || typeof result.curves !== 'object' || result.curves === null) fail('no ns or curves');
  const ns = result.ns;
  const ids = json.methods ?? Object.keys(result.curves);
  const curves = ids.map((id) => {
    const values = result.curves[id];
    if (!Array.isArray(values) || values.length !== ns.length) fail(`${id} has ${values?.length} values for ${ns.length} subset sizes`);
    return { method: id, label: options.methodLabels?.[id] ?? json.methodLabels?.[id] ?? id, values: values.map(finiteOrNull) };
  });
  return {
    kind: 'sensitivity',
    title: options.title ?? `Sensitivity-n: ${baseName(json.model)} on ${baseName(json.input)}`,
    model: json.model,
    input: json.input,
    ...(typeof json.backend === 'string' ? { backend: json.backend } : {}),
    targetLabel: json.targetLabel ?? options.targetLabel ?? `class ${json.target}`,
    ns: [...ns],
    features: result.features,
    subsets: result.subsets,
    ...(Number.isInteger(result.patch) ? { patch: result.patch } : {}),
    ...(typeof result.baseline === 'string' ? { baseline: result.baseline } : {}),
    curves,
  };
}
