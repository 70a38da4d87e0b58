/**
 * The Sanity panel's view (protocol/panels.ts SanityView) from the JSON of the randomization tests:
 * the model-parameter test as the worker returns it and `attribution-lens sanity --out` writes it
 * (engine/evaluation/sanity.ts SanityResult with model, input and backend), and optionally the
 * data-randomization test (`sanity --mode data`, engine/evaluation/data-randomization.ts). Pure
 * JSON in, JSON out — no TensorFlow.js: it is bundled into the extension and the CLI. Numbers that
 * are not finite (or already null, as the CLI writes NaN) become null; maps are base64 float32.
 */
import type { DataRandomizationMethodView, EncodedImage, SanityMethodView, SanityView, SimilarityView } from '../panels';
import { baseName, encodeImage, encodePreview, finiteOrNull, type MapPreviewJson, type RgbaJson } from './previews';

/** The four similarities of similarity.ts; null (NaN) where undefined. */
export interface SimilarityJson {
  spearmanAbs: number | null;
  spearmanSigned: number | null;
  ssim: number | null;
  hog: number | null;
}

/** The model-parameter randomization test's JSON (what `attribution-lens sanity` writes). */
export interface SanityJson {
  /** The input at the maps' size (the worker adds it with maps). */
  image?: RgbaJson;
  model: string;
  input: string;
  backend?: string | null;
  mode: 'cascading' | 'independent';
  target: number;
  targetLabel: string;
  layers?: string[];
  steps: { layer: string; randomized: string[] }[];
  threshold?: number | null;
  methods: {
    method: string;
    label: string;
    multipliesByInput: boolean;
    original?: MapPreviewJson;
    similarities: (SimilarityJson & { map?: MapPreviewJson })[];
    verdict: { passed: boolean; meanSpearmanAbs: number | null; lastSpearmanAbs: number | null; threshold?: number | null };
  }[];
}

/** The data-randomization test's JSON (`attribution-lens sanity --mode data`, the worker's `dataRandomization`). */
export interface DataRandomizationJson {
  model?: string;
  input?: string;
  backend?: string | null;
  mode?: 'data';
  targets?: number[];
  randomizedPredictions?: number[];
  threshold?: number | null;
  methods: {
    method: string;
    label: string;
    multipliesByInput?: boolean;
    /** One per input. */
    similarities: SimilarityJson[];
    meanSpearmanAbs: number | null;
    meanSpearmanSigned: number | null;
    passed: boolean;
    attributionMs?: number;
    original?: MapPreviewJson;
    randomized?: MapPreviewJson;
  }[];
}

export interface SanityViewOptions {
  /** The input at the maps' size (drawn beside the grid when the sizes match). */
  image?: EncodedImage;
  /** The data-randomization test on the same input, to show under the grid. */
  data?: DataRandomizationJson;
  /** The permuted-label model's file (the data JSON does not name it). */
  compareModel?: string;
  title?: string;
}

/** The sanity checks' default verdict threshold (engine/evaluation/sanity.ts), when the JSON lacks one. */
const DEFAULT_THRESHOLD = 0.5;

function fail(what: string): never {
  throw new Error(`not a sanity-check result: ${what}`);
}

function similarity(s: SimilarityJson): SimilarityView {
  return { spearmanAbs: finiteOrNull(s.spearmanAbs), spearmanSigned: finiteOrNull(s.spearmanSigned), ssim: finiteOrNull(s.ssim), hog: finiteOrNull(s.hog) };
}

/** The mean, or null when there is no value or any is undefined (the engine's mean of a NaN is NaN). */
function meanOrNull(values: (number | null)[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const v of values) {
    const x = finiteOrNull(v);
    if (x === null) return null;
    sum += x;
  }
  return sum / values.length;
}

/** The data-randomization part of the view: per method the two maps, the mean similarities and the verdict. */
export function dataRandomizationView(result: DataRandomizationJson, compareModel?: string): NonNullable<SanityView['data']> {
  if (!result || !Array.isArray(result.methods)) fail('no methods in the data-randomization result');
  return {
    compareModel: compareModel ?? 'model trained on permuted labels',
    threshold: finiteOrNull(result.threshold) ?? DEFAULT_THRESHOLD,
    methods: result.methods.map((m): DataRandomizationMethodView => {
      const sims = Array.isArray(m.similarities) ? m.similarities : [];
      return {
        method: m.method,
        label: m.label,
        // The means over the inputs, as the verdict takes them.
        spearmanAbs: finiteOrNull(m.meanSpearmanAbs),
        spearmanSigned: finiteOrNull(m.meanSpearmanSigned),
        ssim: meanOrNull(sims.map((s) => s.ssim)),
        hog: meanOrNull(sims.map((s) => s.hog)),
        ...(m.original ? { original: encodePreview(m.original) } : {}),
        ...(m.randomized ? { randomized: encodePreview(m.randomized) } : {}),
        passed: m.passed === true,
      };
    }),
  };
}

/** The Sanity panel's view of a randomization test (and of the data-randomization test, if given). */
export function sanityView(result: SanityJson, options: SanityViewOptions = {}): SanityView {
  if (!result || typeof result !== 'object') fail('not an object');
  const { mode } = result;
  if (mode !== 'cascading' && mode !== 'independent') fail(`mode '${String(mode)}'`);
  if (!Array.isArray(result.steps) || !Array.isArray(result.methods)) fail('no steps or methods');
  const steps = result.steps.map((s) => ({ layer: s.layer, randomized: [...s.randomized] }));
  const methods = result.methods.map((m): SanityMethodView => {
    if (!Array.isArray(m.similarities) || m.similarities.length !== steps.length) fail(`${m.method} has ${m.similarities?.length} similarities for ${steps.length} steps`);
    return {
      method: m.method,
      label: m.label,
      multipliesByInput: m.multipliesByInput === true,
      ...(m.original ? { original: encodePreview(m.original) } : {}),
      steps: m.similarities.map((s) => ({ ...similarity(s), ...(s.map ? { map: encodePreview(s.map) } : {}) })),
      passed: m.verdict?.passed === true,
      meanSpearmanAbs: finiteOrNull(m.verdict?.meanSpearmanAbs),
      lastSpearmanAbs: finiteOrNull(m.verdict?.lastSpearmanAbs),
    };
  });
  return {
    kind: 'sanity',
    title: options.title ?? `Sanity check (${mode}): ${baseName(result.model)} on ${baseName(result.input)}`,
    model: result.model,
    input: result.input,
    ...(typeof result.backend === 'string' ? { backend: result.backend } : {}),
    mode,
    targetLabel: typeof result.targetLabel === 'string' ? result.targetLabel : `class ${result.target}`,
    ...(options.image ? { image: options.image } : result.image ? { image: encodeImage(result.image, 'input image') } : {}),
    steps,
    threshold: finiteOrNull(result.threshold) ?? finiteOrNull(result.methods[0]?.verdict?.threshold) ?? DEFAULT_THRESHOLD,
    methods,
    ...(options.data ? { data: dataRandomizationView(options.data, options.compareModel) } : {}),
  };
}
