/**
 * Explain results (the worker's, with output 'map') as the Explain panel's views. Pure and free
 * of tfjs: bundled into the extension and the CLI's report.
 */
import { encodeBytes, encodeFloat32 } from '../codecs';
import type { ExplainResult, MethodResult, MethodSettings } from '../engine';
import type { ExplainMethodView, ExplainView } from '../panels';

export type MethodCatalog = ExplainView['catalog'];

const NOISE_LABELS: Record<NonNullable<MethodSettings['noise']>, string> = {
  smoothgrad: 'SmoothGrad',
  smoothgrad_sq: 'SmoothGrad²',
  vargrad: 'VarGrad',
};

/** A run's name, unique among runs of different settings kinds: the method id, or id+noise. */
export function runName(settings: MethodSettings): string {
  return settings.noise ? `${settings.method}+${settings.noise}` : settings.method;
}

export function runLabel(settings: MethodSettings, catalog: MethodCatalog): string {
  const base = catalog.find((c) => c.method === settings.method)?.label ?? settings.method;
  return settings.noise ? `${NOISE_LABELS[settings.noise]} · ${base}` : base;
}

export function pendingMethodView(settings: MethodSettings, catalog: MethodCatalog): ExplainMethodView {
  return { name: runName(settings), label: runLabel(settings, catalog), settings, status: 'pending' };
}

export function methodView(settings: MethodSettings, result: MethodResult, catalog: MethodCatalog): ExplainMethodView {
  const view: ExplainMethodView = { ...pendingMethodView(settings, catalog), status: result.error ? 'error' : 'done', ms: result.ms };
  if (result.error) view.error = result.error;
  if (result.delta !== undefined && Number.isFinite(result.delta)) view.delta = result.delta;
  if (!result.error && result.map) {
    const { height, width, signed, absolute } = result.map;
    view.map = { height, width, signed: encodeFloat32(new Float32Array(signed)), absolute: encodeFloat32(new Float32Array(absolute)) };
  }
  return view;
}

/**
 * The panel's view of `result` (output 'map') for the runs `settings`, in order: those `result`
 * answered are filled (matched by position among its methods), the others pending.
 */
export function explainView(result: ExplainResult, settings: MethodSettings[], title: string): ExplainView {
  const { catalog } = result;
  if (!result.image || !catalog) throw new Error('explainView: the result has no image or catalog (request it with output "map")');
  const { width, height, rgba } = result.image;
  const answered = new Map(result.methods.map((m, i) => [i, m]));
  return {
    kind: 'explain',
    title,
    model: result.model,
    input: result.input,
    backend: result.backend,
    image: { width, height, rgba: encodeBytes(new Uint8Array(rgba)) },
    topK: result.topK.map(({ class: k, label, probability }) => ({ class: k, label, probability })),
    target: result.target,
    numClasses: result.numClasses,
    ...(result.labels ? { labels: [...result.labels] } : {}),
    methods: settings.map((s, i) => {
      const r = answered.get(i);
      return r ? methodView(s, r, catalog) : pendingMethodView(s, catalog);
    }),
    catalog,
  };
}
