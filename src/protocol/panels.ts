/**
 * The typed messages between the extension host and the webview panels, and the views the panels
 * draw. The same views, inlined as JSON, feed the static HTML report. Every view is plain JSON
 * (getState/setState and the report keep it as text), so arrays of numbers travel as base64 of
 * their little-endian bytes (codecs.ts). Both sides validate what they receive with the guards
 * below: the host what a webview sends, the webview what the host (or a saved state) gives it.
 */
import type { MethodSettings } from './engine';

/** A 2-D attribution map, row-major: Σ_c a_c and Σ_c |a_c| as base64 float32. */
export interface EncodedMap {
  height: number;
  width: number;
  signed: string;
  absolute: string;
}

/** 8-bit RGBA pixels, row-major, as base64. */
export interface EncodedImage {
  width: number;
  height: number;
  rgba: string;
}

export interface PredictionView {
  class: number;
  label: string;
  probability: number;
}

export interface ExplainMethodView {
  /** The run's name (a method id, or e.g. 'smoothgrad' for a noise-tunnelled saliency). */
  name: string;
  /** Human-readable method name. */
  label: string;
  settings: MethodSettings;
  status: 'pending' | 'done' | 'error';
  map?: EncodedMap;
  /** Completeness delta |Σa − (F(x) − F(x'))| where the method has one. */
  delta?: number;
  ms?: number;
  error?: string;
}

export interface ExplainView {
  kind: 'explain';
  title: string;
  model: string;
  input: string;
  backend?: string;
  image: EncodedImage;
  topK: PredictionView[];
  target: number;
  numClasses: number;
  labels?: string[];
  methods: ExplainMethodView[];
  /** The methods the user can pick from, with the options each takes. */
  catalog: { method: string; label: string; options: string[] }[];
}

export interface SimilarityView {
  spearmanAbs: number | null;
  spearmanSigned: number | null;
  ssim: number | null;
  hog: number | null;
}

export interface SanityStepView extends SimilarityView {
  map?: EncodedMap;
}

export interface SanityMethodView {
  method: string;
  label: string;
  multipliesByInput: boolean;
  original?: EncodedMap;
  /** One per step, in the view's `steps` order. */
  steps: SanityStepView[];
  passed: boolean;
  meanSpearmanAbs: number | null;
  lastSpearmanAbs: number | null;
}

export interface DataRandomizationMethodView extends SimilarityView {
  method: string;
  label: string;
  original?: EncodedMap;
  randomized?: EncodedMap;
  passed: boolean;
}

export interface SanityView {
  kind: 'sanity';
  title: string;
  model: string;
  input: string;
  backend?: string;
  mode: 'cascading' | 'independent';
  targetLabel: string;
  /** The input at the maps' size (sanity maps of large inputs are pooled). */
  image?: EncodedImage;
  steps: { layer: string; randomized: string[] }[];
  threshold: number;
  methods: SanityMethodView[];
  /** The data randomization test, when a permuted-label twin of the model was given. */
  data?: {
    compareModel: string;
    threshold: number;
    methods: DataRandomizationMethodView[];
  };
}

export interface SensitivityView {
  kind: 'sensitivity';
  title: string;
  model: string;
  input: string;
  backend?: string;
  targetLabel: string;
  /** Subset sizes, ascending. */
  ns: number[];
  features: number;
  subsets: number;
  /** Features are patch×patch pixel blocks (1: pixels). */
  patch?: number;
  /** What removed features were set to ('zero', 'blur', …). */
  baseline?: string;
  /** Per method, Pearson correlation at each n (null where undefined). */
  curves: { method: string; label: string; values: (number | null)[] }[];
}

export interface ManifoldMethodView {
  method: string;
  label: string;
  /** ‖P_T a‖ / ‖a‖. */
  alignment: number;
  overRandom: number;
  raw?: EncodedMap;
  projected?: EncodedMap;
}

export interface ManifoldView {
  kind: 'manifold';
  title: string;
  model: string;
  input: string;
  backend?: string;
  dataset: string;
  image?: EncodedImage;
  /** √(k/d): the alignment of a random direction. */
  randomBaseline: number;
  k: number;
  d: number;
  methods: ManifoldMethodView[];
  /** Decoded images along the top tangent directions, each at offsets from −2σ to +2σ. */
  tangents: { singularValue: number; images: EncodedImage[] }[];
  /** The latent offset of each tangent image column, in prior standard deviations. */
  tangentOffsets?: number[];
  /** The class the attributions explain. */
  targetLabel?: string;
}

export type PanelView = ExplainView | SanityView | SensitivityView | ManifoldView;
export type PanelKind = PanelView['kind'];

/** Host → webview. */
export type HostToPanel =
  | { type: 'show'; view: PanelView }
  /** One explain method finished (progressive display); matched to the shown view by name. */
  | { type: 'method'; method: ExplainMethodView }
  | { type: 'busy'; busy: boolean; label?: string };

/** Webview → host. */
export type PanelToHost =
  | { type: 'ready' }
  /** Explain again with another target class or other methods/options. */
  | { type: 'explain'; target: number; methods: MethodSettings[] }
  | { type: 'cancel' }
  | { type: 'export'; format: 'json' }
  /** A heatmap as the user sees it, as a PNG data: URI, and a file name to suggest. */
  | { type: 'export'; format: 'png'; name: string; dataUri: string };

// ---- guards ------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isNumOrNull = (v: unknown): boolean => v === null || isNum(v);
const isOpt = (v: unknown, guard: (x: unknown) => boolean): boolean => v === undefined || guard(v);
const isDim = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0 && (v as number) <= 16384;
const isArrayOf = (v: unknown, guard: (x: unknown) => boolean): boolean => Array.isArray(v) && v.every(guard);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64 = (v: unknown): v is string => isStr(v) && v.length % 4 === 0 && BASE64.test(v);

/** Base64 that decodes to exactly `bytes` bytes. */
function base64Bytes(s: string): number {
  const padding = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - padding;
}

export function isEncodedMap(v: unknown): v is EncodedMap {
  if (!isObj(v) || !isDim(v.height) || !isDim(v.width) || !isBase64(v.signed) || !isBase64(v.absolute)) return false;
  const bytes = v.height * v.width * 4;
  return base64Bytes(v.signed) === bytes && base64Bytes(v.absolute) === bytes;
}

export function isEncodedImage(v: unknown): v is EncodedImage {
  return isObj(v) && isDim(v.width) && isDim(v.height) && isBase64(v.rgba) && base64Bytes(v.rgba) === v.width * v.height * 4;
}

const METHOD_SETTING_KEYS = new Set(['method', 'steps', 'rule', 'baseline', 'window', 'stride', 'layer', 'noise', 'samples', 'stdev', 'seed', 'epsilon']);

export function isMethodSettings(v: unknown): v is MethodSettings {
  if (!isObj(v) || !isStr(v.method) || !/^[a-z_]{1,40}$/.test(v.method)) return false;
  if (!Object.keys(v).every((k) => METHOD_SETTING_KEYS.has(k))) return false;
  const pair = (x: unknown): boolean => Array.isArray(x) && x.length === 2 && x.every((n) => Number.isInteger(n) && n > 0);
  return (
    isOpt(v.steps, (x) => Number.isInteger(x) && (x as number) > 0 && (x as number) <= 10000) &&
    isOpt(v.rule, isStr) &&
    isOpt(v.baseline, (x) => x === 'zero' || x === 'blur' || x === 'uniform') &&
    isOpt(v.window, pair) &&
    isOpt(v.stride, pair) &&
    isOpt(v.layer, isStr) &&
    isOpt(v.noise, (x) => x === 'smoothgrad' || x === 'smoothgrad_sq' || x === 'vargrad') &&
    isOpt(v.samples, (x) => Number.isInteger(x) && (x as number) > 0 && (x as number) <= 10000) &&
    isOpt(v.stdev, (x) => isNum(x) && x >= 0) &&
    isOpt(v.seed, Number.isInteger) &&
    isOpt(v.epsilon, (x) => isNum(x) && x > 0)
  );
}

function isPrediction(v: unknown): v is PredictionView {
  return isObj(v) && Number.isInteger(v.class) && isStr(v.label) && isNum(v.probability);
}

export function isExplainMethodView(v: unknown): v is ExplainMethodView {
  return (
    isObj(v) &&
    isStr(v.name) &&
    isStr(v.label) &&
    isMethodSettings(v.settings) &&
    (v.status === 'pending' || v.status === 'done' || v.status === 'error') &&
    isOpt(v.map, isEncodedMap) &&
    isOpt(v.delta, isNum) &&
    isOpt(v.ms, isNum) &&
    isOpt(v.error, isStr)
  );
}

const hasHeader = (v: Obj): boolean => isStr(v.title) && isStr(v.model) && isStr(v.input) && isOpt(v.backend, isStr);

function isExplainView(v: Obj): boolean {
  return (
    isEncodedImage(v.image) &&
    isArrayOf(v.topK, isPrediction) &&
    Number.isInteger(v.target) &&
    isDim(v.numClasses) &&
    (v.target as number) >= 0 &&
    (v.target as number) < (v.numClasses as number) &&
    isOpt(v.labels, (x) => isArrayOf(x, isStr)) &&
    isArrayOf(v.methods, isExplainMethodView) &&
    isArrayOf(v.catalog, (c) => isObj(c) && isStr(c.method) && isStr(c.label) && isArrayOf(c.options, isStr))
  );
}

const isSimilarity = (v: Obj): boolean => isNumOrNull(v.spearmanAbs) && isNumOrNull(v.spearmanSigned) && isNumOrNull(v.ssim) && isNumOrNull(v.hog);

function isSanityMethod(v: unknown): boolean {
  return (
    isObj(v) &&
    isStr(v.method) &&
    isStr(v.label) &&
    typeof v.multipliesByInput === 'boolean' &&
    isOpt(v.original, isEncodedMap) &&
    isArrayOf(v.steps, (s) => isObj(s) && isSimilarity(s) && isOpt(s.map, isEncodedMap)) &&
    typeof v.passed === 'boolean' &&
    isNumOrNull(v.meanSpearmanAbs) &&
    isNumOrNull(v.lastSpearmanAbs)
  );
}

function isDataMethod(v: unknown): boolean {
  return (
    isObj(v) &&
    isStr(v.method) &&
    isStr(v.label) &&
    isSimilarity(v) &&
    isOpt(v.original, isEncodedMap) &&
    isOpt(v.randomized, isEncodedMap) &&
    typeof v.passed === 'boolean'
  );
}

function isSanityView(v: Obj): boolean {
  const steps = v.steps;
  return (
    (v.mode === 'cascading' || v.mode === 'independent') &&
    isStr(v.targetLabel) &&
    isOpt(v.image, isEncodedImage) &&
    isArrayOf(steps, (s) => isObj(s) && isStr(s.layer) && isArrayOf(s.randomized, isStr)) &&
    isNum(v.threshold) &&
    isArrayOf(v.methods, (m) => isSanityMethod(m) && (m as SanityMethodView).steps.length === (steps as unknown[]).length) &&
    isOpt(v.data, (d) => isObj(d) && isStr(d.compareModel) && isNum(d.threshold) && isArrayOf(d.methods, isDataMethod))
  );
}

function isSensitivityView(v: Obj): boolean {
  const ns = v.ns;
  return (
    isStr(v.targetLabel) &&
    isArrayOf(ns, (n) => Number.isInteger(n) && (n as number) > 0) &&
    isDim(v.features) &&
    Number.isInteger(v.subsets) &&
    isOpt(v.patch, isDim) &&
    isOpt(v.baseline, isStr) &&
    isArrayOf(
      v.curves,
      (c) => isObj(c) && isStr(c.method) && isStr(c.label) && isArrayOf(c.values, isNumOrNull) && (c.values as unknown[]).length === (ns as unknown[]).length,
    )
  );
}

function isManifoldView(v: Obj): boolean {
  return (
    isStr(v.dataset) &&
    isOpt(v.image, isEncodedImage) &&
    isNum(v.randomBaseline) &&
    isDim(v.k) &&
    isDim(v.d) &&
    isArrayOf(
      v.methods,
      (m) =>
        isObj(m) && isStr(m.method) && isStr(m.label) && isNum(m.alignment) && isNum(m.overRandom) && isOpt(m.raw, isEncodedMap) && isOpt(m.projected, isEncodedMap),
    ) &&
    isArrayOf(v.tangents, (t) => isObj(t) && isNum(t.singularValue) && isArrayOf(t.images, isEncodedImage)) &&
    isOpt(v.tangentOffsets, (o) => isArrayOf(o, isNum) && (v.tangents as { images: unknown[] }[]).every((t) => t.images.length === (o as unknown[]).length)) &&
    isOpt(v.targetLabel, isStr)
  );
}

const VIEW_GUARDS: Record<PanelKind, (v: Obj) => boolean> = {
  explain: isExplainView,
  sanity: isSanityView,
  sensitivity: isSensitivityView,
  manifold: isManifoldView,
};

export function isPanelView(v: unknown, kind?: PanelKind): v is PanelView {
  if (!isObj(v) || !isStr(v.kind) || !(v.kind in VIEW_GUARDS) || (kind !== undefined && v.kind !== kind)) return false;
  return hasHeader(v) && VIEW_GUARDS[v.kind as PanelKind](v);
}

export function isHostToPanel(v: unknown, kind?: PanelKind): v is HostToPanel {
  if (!isObj(v)) return false;
  switch (v.type) {
    case 'show':
      return isPanelView(v.view, kind);
    case 'method':
      return isExplainMethodView(v.method);
    case 'busy':
      return typeof v.busy === 'boolean' && isOpt(v.label, isStr);
    default:
      return false;
  }
}

const PNG_DATA_URI = /^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/;
/** File names offered in a save dialog: no folders, nothing hidden. */
const SAFE_NAME = /^[\w][\w .()+-]{0,120}$/;

export function isPanelToHost(v: unknown): v is PanelToHost {
  if (!isObj(v)) return false;
  switch (v.type) {
    case 'ready':
    case 'cancel':
      return true;
    case 'explain':
      return Number.isInteger(v.target) && (v.target as number) >= 0 && isArrayOf(v.methods, isMethodSettings) && (v.methods as unknown[]).length > 0;
    case 'export':
      return v.format === 'json' || (v.format === 'png' && isStr(v.name) && SAFE_NAME.test(v.name) && isStr(v.dataUri) && PNG_DATA_URI.test(v.dataUri));
    default:
      return false;
  }
}
