/**
 * Colouring a 2-D attribution map over its input, pixel by pixel: the one implementation behind
 * the CLI's and hover's PNGs (overlay.ts) and the webview heatmaps, so all of them agree. Pure
 * arithmetic, no tensors: it is bundled into the webviews.
 */
import { LUMA_WEIGHTS } from '../data/preprocess';
import { colormap } from './colormap';

/** The input is drawn at this brightness under the heatmap, so that colours on bright strokes stay visible. */
export const BACKGROUND_DIMMING = 0.5;

/**
 * The magnitude that saturates the colour scale: the smallest |value| at which the ascending
 * cumulative sum of magnitudes reaches (100 − outlierPercentile)% of the total (Captum's
 * _cumulative_sum_threshold), so a few extreme pixels cannot wash out the rest. 0 for an all-zero map.
 */
export function mapScale(values: ArrayLike<number>, outlierPercentile = 2): number {
  const sorted = Float64Array.from(values, Math.abs).sort();
  const total = sorted.reduce((a, b) => a + b, 0);
  const target = total * 0.01 * (100 - outlierPercentile);
  let cumulative = 0;
  for (const v of sorted) {
    cumulative += v;
    if (cumulative >= target) return v;
  }
  return sorted.length ? sorted[sorted.length - 1] : 0;
}

export interface ShadeOptions {
  /** Diverging colormap around 0 for signed maps; sequential (viridis) for magnitudes. */
  signed: boolean;
  /** Values at or beyond ±scale get the end colours; 0 or less draws nothing. */
  scale: number;
  /** RGBA of the input at the map's size, drawn dimmed in grayscale under the heatmap. */
  background?: Uint8Array | Uint8ClampedArray;
  /** Heatmap weight where the attribution saturates, in [0, 1]; weight ∝ |value|/scale. */
  opacity: number;
}

/**
 * Writes RGBA pixels of `values` into `out` (4 bytes per value). With a background, each pixel
 * is (1 − w)·gray + w·colour with w = opacity·min(1, |v|/scale), so pixels without attribution
 * show the input; without one the colours are drawn opaque.
 */
export function shadeMap(values: ArrayLike<number>, options: ShadeOptions, out: Uint8Array | Uint8ClampedArray): void {
  const { signed, scale, background, opacity } = options;
  for (let p = 0; p < values.length; p++) {
    const t = scale > 0 ? Math.min(1, Math.max(-1, values[p] / scale)) : 0;
    const color = signed ? colormap('diverging', (t + 1) / 2) : colormap('sequential', Math.abs(t));
    const gray = background
      ? BACKGROUND_DIMMING * (LUMA_WEIGHTS[0] * background[4 * p] + LUMA_WEIGHTS[1] * background[4 * p + 1] + LUMA_WEIGHTS[2] * background[4 * p + 2])
      : 0;
    const w = background ? opacity * Math.abs(t) : 1;
    for (let k = 0; k < 3; k++) out[4 * p + k] = Math.round((1 - w) * gray + w * color[k]);
    out[4 * p + 3] = 255;
  }
}
