import { InputError } from '../errors';
import type { RgbaImage } from '../data/image';
import { LUMA_WEIGHTS } from '../data/preprocess';
import { colormap } from './colormap';

/** Size of a 2-D map, row-major. */
export interface MapSize {
  height: number;
  width: number;
}

export interface HeatmapOptions {
  /** Signed maps use the diverging colormap (0 is neutral); otherwise magnitudes on the sequential one. */
  signed: boolean;
  /** The input as an image of the map's size, drawn in grayscale under the heatmap. */
  background?: RgbaImage;
  /**
   * Weight of the heatmap over the background where the attribution is strongest, in [0, 1];
   * each pixel's weight scales with its normalised magnitude, so pixels without attribution show
   * the input itself. Default 0.75.
   */
  opacity?: number;
  /** Percent of the total attribution mass treated as outliers and saturated; 2 as in Captum. */
  outlierPercentile?: number;
  /** Whole-number factor for nearest-neighbour enlargement, so small maps stay crisp. */
  upscale?: number;
}

/**
 * The smallest magnitude at which the ascending cumulative sum of magnitudes reaches
 * `percentile`% of the total (Captum's _cumulative_sum_threshold).
 */
function cumulativeSumThreshold(magnitudes: Float64Array, percentile: number): number {
  const sorted = magnitudes.slice().sort();
  const total = sorted.reduce((a, b) => a + b, 0);
  const target = total * 0.01 * percentile;
  let cumulative = 0;
  for (const v of sorted) {
    cumulative += v;
    if (cumulative >= target) return v;
  }
  return sorted[sorted.length - 1];
}

/**
 * Captum's _normalize_attr for the 'all' (signed) and 'absolute_value' signs: divides by the
 * cumulative-sum threshold at 100 - outlierPercentile and clips, so a few extreme pixels
 * cannot wash out the rest. Result in [-1, 1] (signed) or [0, 1]; all zeros stay zeros.
 */
export function normalizeMap(map: Float32Array, signed: boolean, outlierPercentile = 2): Float32Array {
  if (!(outlierPercentile >= 0 && outlierPercentile <= 100)) {
    throw new InputError(`outlier percentile must be between 0 and 100, got ${outlierPercentile}`);
  }
  const values = signed ? map : map.map(Math.abs);
  const threshold = cumulativeSumThreshold(Float64Array.from(values, Math.abs), 100 - outlierPercentile);
  if (threshold === 0) return new Float32Array(map.length);
  return values.map((v) => Math.min(1, Math.max(-1, v / threshold)));
}

/** The input is drawn at this brightness under the heatmap, so that colours on bright strokes stay visible. */
export const BACKGROUND_DIMMING = 0.5;

/**
 * Colours a 2-D attribution map (already reduced over channels: attribution-map.ts), optionally
 * over its input in grayscale, as an RGBA image.
 */
export function renderHeatmap(map: Float32Array, size: MapSize, options: HeatmapOptions): RgbaImage {
  const { signed, background, opacity = 0.75, outlierPercentile = 2, upscale = 1 } = options;
  if (!(opacity >= 0 && opacity <= 1)) throw new InputError(`overlay opacity must be between 0 and 1, got ${opacity}`);
  if (!Number.isInteger(upscale) || upscale < 1) throw new InputError(`upscale must be a whole number ≥ 1, got ${upscale}`);
  const { width, height } = size;
  if (map.length !== width * height) throw new Error(`renderHeatmap: ${map.length} values for a ${height}×${width} map`);
  if (background && (background.width !== width || background.height !== height)) {
    throw new Error(`renderHeatmap: background is ${background.width}×${background.height} but the map is ${width}×${height}`);
  }
  const normalized = normalizeMap(map, signed, outlierPercentile);
  const alpha = background ? opacity : 1;

  const small = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const color = signed ? colormap('diverging', (normalized[p] + 1) / 2) : colormap('sequential', normalized[p]);
    const gray = background
      ? BACKGROUND_DIMMING *
        (LUMA_WEIGHTS[0] * background.data[4 * p] + LUMA_WEIGHTS[1] * background.data[4 * p + 1] + LUMA_WEIGHTS[2] * background.data[4 * p + 2])
      : 0;
    const a = background ? alpha * Math.abs(normalized[p]) : 1;
    for (let k = 0; k < 3; k++) small[4 * p + k] = Math.round((1 - a) * gray + a * color[k]);
    small[4 * p + 3] = 255;
  }
  return enlarge({ width, height, data: small }, upscale);
}

/** Nearest-neighbour enlargement by a whole factor: each map pixel becomes a factor×factor block. */
export function enlarge(img: RgbaImage, factor: number): RgbaImage {
  if (factor === 1) return img;
  const width = img.width * factor;
  const height = img.height * factor;
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sourceRow = Math.floor(y / factor) * img.width;
    for (let x = 0; x < width; x++) {
      const from = 4 * (sourceRow + Math.floor(x / factor));
      data.set(img.data.subarray(from, from + 4), 4 * (y * width + x));
    }
  }
  return { width, height, data };
}
