import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { MethodOptions } from '../engine/attribution/method';
import { attribute, getMethod, METHODS } from '../engine/attribution/registry';
import { activeBackend } from '../engine/backend';
import { loadInput } from '../engine/data/input';
import { CancelledError, InputError } from '../engine/errors';
import { dataRandomizationCheck } from '../engine/evaluation/data-randomization';
import { imagePreview, mapPreview, type ImagePreview } from '../engine/evaluation/map-preview';
import { DEFAULT_SANITY_METHODS, sanityCheck } from '../engine/evaluation/sanity';
import { prepareMap } from '../engine/evaluation/similarity';
import { sensitivityN } from '../engine/evaluation/sensitivity-n';
import { classLabel, defaultGradcamLayer, explain, predict, type Prediction } from '../engine/explain';
import { modelStamp } from '../engine/parallel/model-source';
import type { EnginePool } from '../engine/parallel/pool';
import { loadModel } from '../engine/model/load';
import type { Model } from '../engine/model/model';
import { inputToDisplay } from '../engine/data/preprocess';
import { renderAttribution, renderInput } from '../engine/render/attribution-image';
import { attributionMap } from '../engine/render/attribution-map';
import { encodePng } from '../engine/render/png';
import { SENSITIVITY_N_METHODS } from '../engine/evaluation/sensitivity-n';
import { ALIGNMENT_METHODS } from '../engine/evaluation/alignment-methods';
import { alignment, projected } from '../engine/manifold/alignment';
import { tangentStrip } from '../engine/manifold/tangent-strip';
import { manifoldForDataset } from '../engine/manifold/dataset-manifold';
import type {
  EngineMemory,
  EngineRequests,
  ExplainResult,
  MethodResult,
  MethodSettings,
  ModelDescription,
  RequestKind,
} from '../protocol/engine';

/** What a handler gets besides its params: progress reporting and cancellation. */
export interface RequestContext {
  signal: AbortSignal;
  onProgress(done: number, total: number, label?: string): void;
}

interface CachedModel {
  model: Model;
  /** The file's and its sidecar's mtime and size when loaded (modelStamp): a changed file is loaded again. */
  stamp: string;
  /** Top classes of inputs run through it, by input file and its stamp and k: the forward pass of a sample, once. */
  predictions: Map<string, Prediction[]>;
}

/** Inputs whose forward pass a cached model remembers (the most recently used). */
export const MAX_CACHED_PREDICTIONS = 64;

async function fileStamp(file: string): Promise<string | undefined> {
  try {
    const s = await fs.stat(file);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return undefined;
  }
}

function cancelIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new CancelledError();
}

/** A copy of the bytes in an ArrayBuffer of their own (nothing else in it: a view into the wasm heap would send the whole heap). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/** The bytes of a float32 array in an ArrayBuffer of their own. */
function floatBuffer(values: Float32Array): ArrayBuffer {
  return ownBuffer(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/** The serialisable method settings of a request as engine MethodOptions (the method id left out). */
function methodOptions(settings: MethodSettings): MethodOptions {
  const { method: _method, ...rest } = settings;
  const options: MethodOptions = {};
  for (const [key, value] of Object.entries(rest)) if (value !== undefined) (options as Record<string, unknown>)[key] = value;
  return options;
}

/** The input at the size of the results' map previews, for a panel to draw them over. */
function displayPreview(model: Model, input: tf.Tensor): ImagePreview {
  return imagePreview(inputToDisplay(input.dataSync() as Float32Array, model.input));
}

/** Method ids to their names, for the panels. */
function methodLabels(ids: readonly string[]): Record<string, string> {
  return Object.fromEntries(ids.map((id) => [id, getMethod(id).label]));
}

/** JSON as the CLI writes it: non-finite numbers (undefined correlations) become null. */
function asCliJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
}

/**
 * The engine behind the worker's RPC: one handler per request kind and a cache of loaded
 * models by resolved path. Editor-free and thread-free (engine-worker.ts carries the messages);
 * requests are expected one at a time.
 */
export class EngineService {
  private readonly models = new Map<string, CachedModel>();
  /** The engine pool of the model passes, if the worker runs one: its workers' models are evicted with ours. */
  pool: EnginePool | undefined;
  /** Models loaded so far (tests: reuse). */
  loads = 0;
  /** Forward passes of inputs run so far (tests: reuse). */
  forwardPasses = 0;

  /**
   * The cached model for `file`, loaded (again, when the file or its sidecar changed since) if
   * needed. The model holds its prepared weights (decoded, on the backend), so a cached model
   * costs nothing to reuse.
   */
  private async model(file: string, signal: AbortSignal): Promise<Model> {
    return (await this.cachedModel(file, signal)).model;
  }

  private async cachedModel(file: string, signal: AbortSignal): Promise<CachedModel> {
    const key = path.resolve(file);
    const stamp = modelStamp(key);
    const cached = this.models.get(key);
    if (cached && cached.stamp === stamp) return cached;
    if (cached) this.evict(key);
    const model = await loadModel(key);
    this.loads++;
    if (signal.aborted) {
      model.dispose();
      throw new CancelledError();
    }
    const entry = { model, stamp, predictions: new Map<string, Prediction[]>() };
    this.models.set(key, entry);
    return entry;
  }

  /**
   * predict(model, input, k) for the input file `inputFile`, from the cache when the same file
   * (same mtime and size) was run through the same model version before: hovers, re-explains
   * and panels of one sample share one forward pass.
   */
  private async predictCached(file: string, inputFile: string, input: tf.Tensor, k: number, signal: AbortSignal): Promise<Prediction[]> {
    const entry = await this.cachedModel(file, signal);
    const key = JSON.stringify([path.resolve(inputFile), (await fileStamp(path.resolve(inputFile))) ?? '-', k]);
    const hit = entry.predictions.get(key);
    if (hit) {
      entry.predictions.delete(key);
      entry.predictions.set(key, hit);
      return hit;
    }
    const result = predict(entry.model, input, k);
    this.forwardPasses++;
    entry.predictions.set(key, result);
    if (entry.predictions.size > MAX_CACHED_PREDICTIONS) entry.predictions.delete(entry.predictions.keys().next().value as string);
    return result;
  }

  /** Disposes the cached model of `file`, or every cached model without one (and the pool workers' copies). */
  evict(file?: string): void {
    const keys = file === undefined ? [...this.models.keys()] : [path.resolve(file)];
    for (const key of keys) {
      this.models.get(key)?.model.dispose();
      this.models.delete(key);
    }
    this.pool?.evict(file === undefined ? undefined : path.resolve(file));
  }

  async handle<K extends RequestKind>(kind: K, params: EngineRequests[K]['params'], ctx: RequestContext): Promise<EngineRequests[K]['result']> {
    // Each handler's params and result types match its kind; the map below keeps them checked.
    const handler = this.handlers[kind] as (p: EngineRequests[K]['params'], c: RequestContext) => Promise<EngineRequests[K]['result']>;
    if (!handler) throw new InputError(`unknown request '${String(kind)}'`);
    return handler(params, ctx);
  }

  private readonly handlers: { [K in RequestKind]: (params: EngineRequests[K]['params'], ctx: RequestContext) => Promise<EngineRequests[K]['result']> } = {
    describeModel: (p, ctx) => this.describeModel(p, ctx),
    explain: (p, ctx) => this.explain(p, ctx),
    sanity: (p, ctx) => this.sanity(p, ctx),
    dataRandomization: (p, ctx) => this.dataRandomization(p, ctx),
    sensitivityN: (p, ctx) => this.sensitivityN(p, ctx),
    alignment: (p, ctx) => this.alignment(p, ctx),
    evict: async (p) => this.evict(p.model),
    memory: async () => this.memory(),
  };

  memory(): EngineMemory {
    const m = tf.memory();
    return {
      numTensors: m.numTensors,
      numBytes: m.numBytes,
      models: [...this.models.keys()],
      backend: activeBackend() ?? 'none',
      ...(this.pool ? { pool: { workers: this.pool.size, chunks: [...this.pool.chunksPerWorker] } } : {}),
    };
  }

  dispose(): void {
    this.evict();
  }

  private async describeModel(params: EngineRequests['describeModel']['params'], ctx: RequestContext): Promise<ModelDescription> {
    const model = await this.model(params.model, ctx.signal);
    const { shape, layout, channels, height, width } = model.input;
    return {
      path: model.path,
      format: model.format,
      input: { shape: [...shape], layout, channels, height, width },
      numClasses: model.numClasses,
      ...(model.labels ? { labels: [...model.labels] } : {}),
      layers: model.layers.map((l) => ({ name: l.name, opType: l.opType, ...(l.outputShape ? { outputShape: [...l.outputShape] } : {}) })),
      backend: activeBackend() ?? 'none',
    };
  }

  /**
   * Every method in turn on one prediction. A method rejecting its options (an InputError) gets
   * its `error` and the others still run; cancellation and internal errors fail the request.
   * Progress: percent units per method, labelled with the method. Output 'png' renders each
   * attribution over the input (hovers); 'map' sends its 2-D maps and the input's pixels instead,
   * for a panel that draws them itself (colormap, opacity, sign).
   */
  private async explain(params: EngineRequests['explain']['params'], ctx: RequestContext): Promise<ExplainResult> {
    if (params.methods.length === 0) throw new InputError('explain: no methods given');
    const output = params.output ?? 'png';
    if (output !== 'png' && output !== 'map') throw new InputError(`explain: output must be 'png' or 'map', got '${String(output)}'`);
    const model = await this.model(params.model, ctx.signal);
    const input = await loadInput(params.input, model);
    try {
      cancelIfAborted(ctx.signal);
      const topK = await this.predictCached(params.model, params.input, input, params.topK ?? 5, ctx.signal);
      const target = params.target ?? topK[0].class;
      if (!Number.isInteger(target) || target < 0 || target >= model.numClasses) {
        throw new InputError(`target ${target} is out of range: the model has classes 0–${model.numClasses - 1}`);
      }
      const total = params.methods.length * 100;
      const methods: MethodResult[] = [];
      for (const [i, settings] of params.methods.entries()) {
        const started = performance.now();
        ctx.onProgress(i * 100, total, settings.method);
        try {
          const result = await explain({
            model,
            input,
            method: settings.method,
            options: methodOptions(settings),
            target,
            topK: 1,
            signal: ctx.signal,
            onProgress: (done, of) => ctx.onProgress(i * 100 + Math.floor((100 * done) / Math.max(of, 1)), total, settings.method),
          });
          try {
            const delta = result.delta !== undefined ? { delta: result.delta } : {};
            if (output === 'map') {
              const map = attributionMap(model, input, result.attribution);
              const signed = floatBuffer(map.signed);
              const absolute = floatBuffer(map.absolute);
              methods.push({ method: result.method, map: { height: map.height, width: map.width, signed, absolute }, ms: result.attributionMs, ...delta });
            } else {
              const png = ownBuffer(encodePng(renderAttribution(model, input, result.attribution, params.opacity)));
              methods.push({ method: result.method, png, ms: result.attributionMs, ...delta });
            }
          } finally {
            result.attribution.dispose();
          }
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          const failed = { method: settings.method, ms: performance.now() - started, error: err.message };
          methods.push(output === 'png' ? { ...failed, png: new ArrayBuffer(0) } : failed);
        }
      }
      ctx.onProgress(total, total);
      let image: ExplainResult['image'];
      if (output === 'map') {
        const display = inputToDisplay(input.dataSync() as Float32Array, model.input);
        image = { width: display.width, height: display.height, rgba: ownBuffer(display.data) };
      }
      return {
        model: model.path,
        input: params.input,
        ...(image
          ? { image, catalog: METHODS.map((m) => ({ method: m.id, label: m.label, options: [...m.options] })) }
          : { inputImage: `data:image/png;base64,${Buffer.from(encodePng(renderInput(model, input))).toString('base64')}` }),
        target,
        numClasses: model.numClasses,
        ...(model.labels ? { labels: [...model.labels] } : {}),
        topK: topK.map(({ class: k, label, probability }) => ({ class: k, label, probability })),
        methods,
        backend: activeBackend() ?? 'none',
      };
    } finally {
      input.dispose();
    }
  }

  /** The CLI's `sanity` (cascading by default) as the JSON it writes. */
  private async sanity(params: EngineRequests['sanity']['params'], ctx: RequestContext): Promise<unknown> {
    const model = await this.model(params.model, ctx.signal);
    const input = await loadInput(params.input, model);
    try {
      const started = performance.now();
      const mode = params.mode ?? 'cascading';
      const result = await sanityCheck(model, input, {
        methods: params.methods ?? [...DEFAULT_SANITY_METHODS],
        mode,
        seed: params.seed,
        includeMaps: params.maps,
        signal: ctx.signal,
        onProgress: (done, total) => ctx.onProgress(done, total, `sanity (${mode})`),
      });
      return asCliJson({
        model: model.path,
        input: params.input,
        backend: activeBackend(),
        ...result,
        ...(params.maps ? { image: displayPreview(model, input) } : {}),
        timings: { totalMs: Math.round(performance.now() - started) },
      });
    } finally {
      input.dispose();
    }
  }

  /**
   * The CLI's `sanity --mode data --compare-model` as the JSON it writes, with each method's maps
   * of the input on both models. A compare model of another input shape or class count is an
   * InputError naming its file (dataRandomizationCheck), as is a missing one (loadModel).
   */
  private async dataRandomization(params: EngineRequests['dataRandomization']['params'], ctx: RequestContext): Promise<unknown> {
    const model = await this.model(params.model, ctx.signal);
    const compare = await this.model(params.compareModel, ctx.signal);
    const input = await loadInput(params.input, model);
    try {
      const result = await dataRandomizationCheck(model, compare, input, {
        methods: params.methods ?? [...DEFAULT_SANITY_METHODS],
        includeMaps: true,
        signal: ctx.signal,
        onProgress: (done, total) => ctx.onProgress(done, total, 'data randomization'),
      });
      return asCliJson({ model: model.path, input: params.input, backend: activeBackend(), mode: 'data', ...result, image: displayPreview(model, input) });
    } finally {
      input.dispose();
    }
  }

  /**
   * The CLI's `evaluate --metric sensitivity-n` with its defaults (pixel features, occlusion 1×1,
   * Grad-CAM upsampled), on the predicted class.
   */
  private async sensitivityN(params: EngineRequests['sensitivityN']['params'], ctx: RequestContext): Promise<unknown> {
    const model = await this.model(params.model, ctx.signal);
    const input = await loadInput(params.input, model);
    const attributions: Record<string, tf.Tensor> = {};
    try {
      const methods = params.methods ?? SENSITIVITY_N_METHODS;
      for (const id of methods) getMethod(id);
      const target = (await this.predictCached(params.model, params.input, input, 1, ctx.signal))[0].class;
      for (const [i, id] of methods.entries()) {
        const options: MethodOptions =
          id === 'occlusion' ? { window: [1, 1], stride: [1, 1] } : id === 'gradcam' ? { upsample: true, layer: defaultGradcamLayer(model) } : {};
        if (id === 'guided_gradcam') options.layer = defaultGradcamLayer(model);
        ctx.onProgress(i, methods.length, id);
        const result = await attribute(id, { model, input, target, signal: ctx.signal }, options);
        attributions[id] = result.attribution;
      }
      const result = await sensitivityN(
        { model, input, target, attributions, signal: ctx.signal, onProgress: (done, total) => ctx.onProgress(done, total, 'sensitivity-n') },
        { subsets: params.subsets, seed: params.seed },
      );
      return asCliJson({ model: model.path, input: params.input, backend: activeBackend(), target, targetLabel: classLabel(model, target), methods, methodLabels: methodLabels(methods), result });
    } finally {
      for (const t of Object.values(attributions)) t.dispose();
      input.dispose();
    }
  }

  /**
   * The CLI's `evaluate --metric alignment` with its defaults (signed gradient), on the predicted
   * class; each method also carries its map and the map of its tangent-space projection, and the
   * result the tangent strip (tangent-strip.ts).
   */
  private async alignment(params: EngineRequests['alignment']['params'], ctx: RequestContext): Promise<unknown> {
    const model = await this.model(params.model, ctx.signal);
    const input = await loadInput(params.input, model);
    try {
      const methods = params.methods ?? ALIGNMENT_METHODS;
      for (const id of methods) getMethod(id);
      const vae = await manifoldForDataset(params.dataset, model.input, {
        signal: ctx.signal,
        onProgress: (done, total) => ctx.onProgress(done, total, 'training the VAE'),
      });
      try {
        const basis = await vae.manifold.tangentSpace(model, input, { signal: ctx.signal });
        const target = (await this.predictCached(params.model, params.input, input, 1, ctx.signal))[0].class;
        const entries = [];
        for (const [i, id] of methods.entries()) {
          ctx.onProgress(i, methods.length, id);
          const result = await attribute(id, { model, input, target, signal: ctx.signal }, id === 'saliency' ? { abs: false } : {});
          const shape = result.attribution.shape;
          const values = await result.attribution.data();
          result.attribution.dispose();
          const a = alignment(values, basis);
          const preview = (v: ArrayLike<number>) => mapPreview(prepareMap(v, shape, model.input.layout));
          entries.push({
            method: id,
            alignment: a.alignment,
            overRandom: a.alignment / a.randomBaseline,
            raw: preview(values),
            projected: preview(projected(values, basis)),
          });
        }
        ctx.onProgress(methods.length, methods.length, 'tangent strip');
        const strip = await tangentStrip(vae.vae, model.input, input, { signal: ctx.signal });
        const randomBaseline = Math.sqrt(basis.k / basis.d);
        return asCliJson({
          model: model.path,
          input: params.input,
          backend: activeBackend(),
          target,
          dataset: params.dataset,
          vae: { file: vae.file, cached: vae.cached },
          k: basis.k,
          d: basis.d,
          randomBaseline,
          methods: entries,
          methodLabels: methodLabels(methods),
          image: displayPreview(model, input),
          tangentStrip: strip,
        });
      } finally {
        vae.vae.dispose();
      }
    } finally {
      input.dispose();
    }
  }
}
