/**
 * The Manifold panel's view from the engine's alignment result (the worker's `alignment` request,
 * the JSON the CLI writes for `evaluate --metric alignment`): plain arithmetic and base64, no
 * tensors, so the extension host, the CLI's report and the tests all build it the same way.
 */
import { encodeBytes, encodeFloat32 } from '../codecs';
import type { EncodedImage, EncodedMap, ManifoldView } from '../panels';

/** A 2-D map as the engine puts it in JSON (MapPreview); null stands for a non-finite value. */
export interface AlignmentMapJson {
  height: number;
  width: number;
  signed: (number | null)[];
  absolute: (number | null)[];
}

/** 8-bit RGBA pixels as plain numbers (the engine's StripImage). */
export interface RgbaJson {
  width: number;
  height: number;
  rgba: ArrayLike<number>;
}

/** The engine's alignment result, as JSON (what `asCliJson` leaves of it). */
export interface AlignmentResultJson {
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
    raw?: AlignmentMapJson;
    projected?: AlignmentMapJson;
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

function checkedDims(what: string, width: number, height: number, length: number, per: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) throw new Error(`${what}: bad size ${width}×${height}`);
  if (length !== width * height * per) throw new Error(`${what}: ${length} values for ${width}×${height}${per > 1 ? `×${per}` : ''}`);
}

/** Non-finite values (null in JSON) are drawn as no attribution. */
const finite = (values: readonly (number | null)[]): number[] => values.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0));

export function encodeMap(map: AlignmentMapJson, what = 'map'): EncodedMap {
  checkedDims(what, map.width, map.height, map.signed.length, 1);
  checkedDims(`${what} (absolute)`, map.width, map.height, map.absolute.length, 1);
  return { height: map.height, width: map.width, signed: encodeFloat32(finite(map.signed)), absolute: encodeFloat32(finite(map.absolute)) };
}

export function encodeImage(image: RgbaJson, what = 'image'): EncodedImage {
  checkedDims(what, image.width, image.height, image.rgba.length, 4);
  return { width: image.width, height: image.height, rgba: encodeBytes(Uint8Array.from(image.rgba)) };
}

const basename = (file: string): string => file.split(/[\\/]/).pop() || file;

/**
 * The view of one alignment result. Methods keep the result's order; maps and images are encoded
 * as base64 (codecs.ts). Throws on maps or images whose data does not match their size.
 */
export function manifoldView(result: AlignmentResultJson, options: ManifoldViewOptions = {}): ManifoldView {
  const strip = result.tangentStrip;
  const view: ManifoldView = {
    kind: 'manifold',
    title: options.title ?? `Manifold alignment · ${basename(result.input)}`,
    model: result.model,
    input: result.input,
    ...(result.backend ? { backend: result.backend } : {}),
    dataset: result.dataset,
    ...(options.image ? { image: encodeImage(options.image, 'input image') } : {}),
    randomBaseline: result.randomBaseline,
    k: result.k,
    d: result.d,
    methods: result.methods.map((m) => ({
      method: m.method,
      label: options.labels?.[m.method] ?? m.method,
      alignment: m.alignment,
      overRandom: m.overRandom,
      ...(m.raw ? { raw: encodeMap(m.raw, `${m.method} raw map`) } : {}),
      ...(m.projected ? { projected: encodeMap(m.projected, `${m.method} projected map`) } : {}),
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
