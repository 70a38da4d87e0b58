/**
 * The Manifold panel's view from the engine's alignment result (the worker's `alignment` request,
 * the JSON the CLI writes for `evaluate --metric alignment`): plain arithmetic and base64, no
 * tensors, so the extension host, the CLI's report and the tests all build it the same way.
 */
import type { ManifoldView } from '../panels';
import { baseName, encodeImage, encodePreview, type MapPreviewJson, type RgbaJson } from './previews';

/** The engine's alignment result, as JSON (what `asCliJson` leaves of it). */
export interface AlignmentResultJson {
  /** Method names by id and the input at the maps' size (the worker adds them). */
  methodLabels?: Record<string, string>;
  image?: RgbaJson;
  model: string;
  input: string;
  backend?: string;
  target?: number;
  dataset: string;
  vae?: { file: string; cached: boolean };
  k: number;
  d: number;
  randomBaseline: number;
  methods: {
    method: string;
    alignment: number;
    overRandom: number;
    raw?: MapPreviewJson;
    projected?: MapPreviewJson;
  }[];
  tangentStrip?: {
    /** Latent offsets of each direction's images, in prior standard deviations. */
    offsets?: number[];
    directions: { singularValue: number; images: RgbaJson[] }[];
  };
}

export interface ManifoldViewOptions {
  /** Human-readable method names by id (the engine registry's labels); the id where missing. */
  labels?: Readonly<Record<string, string>>;
  /** The model's class labels, to name the explained class. */
  classLabels?: readonly string[];
  /** The input as the model sees it (inputToDisplay), drawn under the heatmaps. */
  image?: RgbaJson;
  /** Defaults to "Manifold alignment · <input file name>". */
  title?: string;
}

/**
 * The view of one alignment result. Methods keep the result's order; maps and images are encoded
 * as base64 (codecs.ts). Throws on maps or images whose data does not match their size.
 */
export function manifoldView(result: AlignmentResultJson, options: ManifoldViewOptions = {}): ManifoldView {
  const strip = result.tangentStrip;
  const view: ManifoldView = {
    kind: 'manifold',
    title: options.title ?? `Manifold alignment · ${baseName(result.input)}`,
    model: result.model,
    input: result.input,
    ...(result.backend ? { backend: result.backend } : {}),
    dataset: result.dataset,
    ...((options.image ?? result.image) ? { image: encodeImage((options.image ?? result.image)!, 'input image') } : {}),
    randomBaseline: result.randomBaseline,
    k: result.k,
    d: result.d,
    methods: result.methods.map((m) => ({
      method: m.method,
      label: options.labels?.[m.method] ?? result.methodLabels?.[m.method] ?? m.method,
      alignment: m.alignment,
      overRandom: m.overRandom,
      ...(m.raw ? { raw: encodePreview(m.raw, `${m.method} raw map`) } : {}),
      ...(m.projected ? { projected: encodePreview(m.projected, `${m.method} projected map`) } : {}),
    })),
    tangents: (strip?.directions ?? []).map((dir, i) => ({
      singularValue: dir.singularValue,
      images: dir.images.map((img, j) => encodeImage(img, `tangent direction ${i + 1} image ${j + 1}`)),
    })),
  };
  if (strip?.offsets) view.tangentOffsets = [...strip.offsets];
  if (result.target !== undefined) view.targetLabel = options.classLabels?.[result.target] ?? `class ${result.target}`;
  return view;
}
