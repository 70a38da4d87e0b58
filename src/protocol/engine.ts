/**
 * The typed RPC between the extension host and the engine worker (a child process running
 * dist/engine-worker.js). The host sends requests; the worker answers each with exactly one
 * result or error, and may send progress events for it before. Messages are plain data, with
 * typed arrays and PNG bytes as ArrayBuffers inside (the IPC channel's 'advanced' serialization).
 */

export type BackendChoice = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** Options of an attribution method as the CLI spells them (serialisable subset of MethodOptions). */
export interface MethodSettings {
  method: string;
  steps?: number;
  rule?: string;
  baseline?: 'zero' | 'blur' | 'uniform';
  window?: [number, number];
  stride?: [number, number];
  layer?: string;
  noise?: 'smoothgrad' | 'smoothgrad_sq' | 'vargrad';
  samples?: number;
  stdev?: number;
  seed?: number;
  epsilon?: number;
}

/** What the host can ask; `params` and `result` types per request kind. */
export interface EngineRequests {
  /** Loads (or reuses) the model and describes it. */
  describeModel: { params: { model: string }; result: ModelDescription };
  /**
   * Prediction plus one attribution per method: each rendered to PNG over the input (output 'png',
   * the default: hovers), or as its 2-D maps for a panel to draw (output 'map').
   */
  explain: {
    params: {
      model: string;
      input: string;
      methods: MethodSettings[];
      target?: number;
      topK?: number;
      opacity?: number;
      output?: 'png' | 'map';
    };
    result: ExplainResult;
  };
  /**
   * Model-parameter randomization test (the CLI's `sanity`), JSON as the CLI writes it. `maps`:
   * include the 2-D maps (MapPreview; default only for inputs up to 64×64, larger ones pooled),
   * and the input pooled to their size as `image` (ImagePreview) to draw them over.
   */
  sanity: {
    params: { model: string; input: string; methods?: string[]; mode?: 'cascading' | 'independent'; seed?: number; maps?: boolean };
    result: unknown;
  };
  /**
   * Data randomization test (the CLI's `sanity --mode data --compare-model`), JSON as the CLI
   * writes it; each method also carries `original` and `randomized`, the MapPreview maps of the
   * input on the model and on `compareModel` (the same architecture trained on permuted labels),
   * and the input as `image` (ImagePreview) at their size.
   */
  dataRandomization: { params: { model: string; input: string; compareModel: string; methods?: string[] }; result: unknown };
  /** Sensitivity-n curves (the CLI's `evaluate --metric sensitivity-n`), plus `targetLabel` and `methodLabels` (id → name). */
  sensitivityN: { params: { model: string; input: string; methods?: string[]; subsets?: number; seed?: number }; result: unknown };
  /**
   * Manifold alignment (the CLI's `evaluate --metric alignment`): a VAE trained on `dataset` (or
   * loaded from its cache beside it) and each method's ‖P_T a‖/‖a‖, with its `raw` and `projected`
   * MapPreview maps, the `tangentStrip` (TangentStrip) of decoded images along the top tangent
   * directions, the input as `image` (ImagePreview) and `methodLabels` (id → name).
   */
  alignment: { params: { model: string; input: string; dataset: string; methods?: string[] }; result: unknown };
  /** Forgets cached models (e.g. after the file changed on disk); all of them without `model`. */
  evict: { params: { model?: string }; result: void };
  /** The worker's tensor memory and cached models (diagnostics; tests check for leaks with it). */
  memory: { params: Record<string, never>; result: EngineMemory };
}

export type RequestKind = keyof EngineRequests;

export interface ModelDescription {
  path: string;
  format: string;
  input: { shape: number[]; layout: string; channels: number; height: number; width: number };
  numClasses: number;
  labels?: string[];
  layers: { name: string; opType: string; outputShape?: number[] }[];
  backend: string;
}

export interface EngineMemory {
  numTensors: number;
  numBytes: number;
  /** Resolved paths of the models the worker keeps loaded. */
  models: string[];
  backend: string;
  /** The engine pool, when the worker runs one: its size and the chunks each of its workers computed. */
  pool?: { workers: number; chunks: number[] };
}

export interface Prediction {
  class: number;
  label: string;
  probability: number;
}

/**
 * An attribution reduced over channels at the input's height × width (Grad-CAM resized
 * bilinearly), row-major; each buffer holds height·width little-endian float32 values.
 */
export interface MapData {
  height: number;
  width: number;
  /** Σ_c a_c. */
  signed: ArrayBuffer;
  /** Σ_c |a_c|. */
  absolute: ArrayBuffer;
}

/** 8-bit RGBA pixels, row-major (width·height·4 bytes). */
export interface RgbaPixels {
  width: number;
  height: number;
  rgba: ArrayBuffer;
}

export interface MethodResult {
  method: string;
  /** Output 'png': PNG bytes of the heatmap over the input (empty when the method failed). */
  png?: ArrayBuffer;
  /** Output 'map': the attribution's 2-D maps (absent when the method failed). */
  map?: MapData;
  delta?: number;
  ms: number;
  error?: string;
}

export interface ExplainResult {
  model: string;
  input: string;
  /** The input as the model sees it, as a PNG data: URI (what a hover shows for a `.npy`). */
  inputImage?: string;
  /** Output 'map': the input as the model sees it (preprocessing undone), at its native size. */
  image?: RgbaPixels;
  /** Output 'map': every method the engine has, with the options it takes (a panel's choices). */
  catalog?: { method: string; label: string; options: string[] }[];
  target: number;
  /** The model's number of classes and their labels (when it has them): a target picker's choices. */
  numClasses: number;
  labels?: string[];
  topK: Prediction[];
  methods: MethodResult[];
  backend: string;
}

/** Host → worker. */
export type HostMessage =
  /**
   * `workers`: engine pool workers for the model passes (src/engine/parallel), a number (0 or 1:
   * none, the default) or 'auto' (one per core when there are several). `nativeRuntime`: ONNX
   * Runtime for ONNX models' plain gradients and forward passes when installed (src/engine/native).
   */
  | { type: 'init'; backend: BackendChoice; nativeModulePaths?: string[]; workers?: number | 'auto'; nativeRuntime?: boolean }
  | { [K in RequestKind]: { type: 'request'; id: number; kind: K; params: EngineRequests[K]['params'] } }[RequestKind]
  | { type: 'cancel'; id: number }
  /** Test hook: the worker throws an uncaught error at once, as a crash would (crash-recovery tests). */
  | { type: 'crash'; reason: string };

/** Worker → host. */
export type WorkerMessage =
  | { type: 'ready'; backend: string }
  /** The answer to 'init' when no backend could be started (the worker stays, unusable). */
  | { type: 'initError'; message: string; kind: 'input' | 'internal' }
  | { type: 'progress'; id: number; done: number; total: number; label?: string }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; message: string; kind: 'input' | 'cancelled' | 'internal' }
  /** An uncaught error: the engine process exits right after sending it. */
  | { type: 'fatal'; message: string };

/** Type guard for messages arriving from the worker (the host validates what it receives). */
export function isWorkerMessage(value: unknown): value is WorkerMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as { type?: unknown; id?: unknown };
  switch (m.type) {
    case 'ready':
      return typeof (value as { backend?: unknown }).backend === 'string';
    case 'initError':
    case 'fatal':
      return typeof (value as { message?: unknown }).message === 'string';
    case 'progress':
    case 'result':
      return typeof m.id === 'number';
    case 'error':
      return typeof m.id === 'number' && typeof (value as { message?: unknown }).message === 'string';
    default:
      return false;
  }
}
