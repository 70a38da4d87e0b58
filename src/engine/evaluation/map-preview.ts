/**
 * The 2-D maps the sanity checks and the manifold alignment put in their JSON for a viewer: small
 * enough to send whole (a 224×224 map would be 100 000 numbers per map, per step, per method), so
 * larger maps are average-pooled down to at most `maxSide` a side.
 */
import { InputError } from '../errors';
import type { InputSpec } from '../model/model';
import { normalizeAbsolute, type Plane, type PreparedMap } from './similarity';

/** Maps larger than this a side are pooled in previews. */
export const DEFAULT_MAX_MAP_SIDE = 64;

/** Images up to this many pixels get their maps in results by default. */
const MAPS_BY_DEFAULT_PIXELS = 64 * 64;

/** A 2-D map reduced over channels, row-major, values rounded to 6 significant digits. */
export interface MapPreview {
  height: number;
  width: number;
  /** Σ_c a_c (averaged over the pooling block, if pooled). */
  signed: number[];
  /** Σ_c |a_c| (averaged over the block, if pooled) divided by its maximum (what SSIM and HOG compare). */
  absolute: number[];
}

/** Whether results include maps when the caller does not say: only for inputs up to 64×64 pixels. */
export function mapsByDefault(spec: InputSpec): boolean {
  return spec.height * spec.width <= MAPS_BY_DEFAULT_PIXELS;
}

export function checkMaxMapSide(maxSide: number): void {
  if (!Number.isInteger(maxSide) || maxSide < 1) throw new InputError(`maxMapSide must be a whole number ≥ 1, got ${maxSide}`);
}

/** The smallest whole factor f with ⌈height/f⌉ ≤ maxSide and ⌈width/f⌉ ≤ maxSide. */
export function poolFactor(height: number, width: number, maxSide: number): number {
  // ⌈n/f⌉ ≤ m ⇔ n/f ≤ m (m whole) ⇔ f ≥ n/m.
  return Math.max(1, Math.ceil(height / maxSide), Math.ceil(width / maxSide));
}

/**
 * Averages f×f blocks into ⌈height/f⌉×⌈width/f⌉ values; a block cut by the right or bottom edge
 * averages the pixels it has (so an edge block is not darkened by pixels that do not exist).
 */
export function averagePool(plane: Plane, f: number): Plane {
  if (f === 1) return plane;
  const height = Math.ceil(plane.height / f);
  const width = Math.ceil(plane.width / f);
  const data = new Float64Array(height * width);
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      let sum = 0;
      let count = 0;
      for (let y = i * f; y < Math.min((i + 1) * f, plane.height); y++) {
        for (let x = j * f; x < Math.min((j + 1) * f, plane.width); x++) {
          sum += plane.data[y * plane.width + x];
          count++;
        }
      }
      data[i * width + j] = sum / count;
    }
  }
  return { height, width, data };
}

function round6(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(6)) : v;
}

/**
 * A prepared map as a preview, pooled to at most `maxSide` a side. The absolute map is pooled
 * before it is scaled by its maximum, so the pooled preview still reaches 1.
 */
export function mapPreview(map: PreparedMap, maxSide = DEFAULT_MAX_MAP_SIDE): MapPreview {
  const f = poolFactor(map.signed.height, map.signed.width, maxSide);
  const signed = averagePool(map.signed, f);
  const absolute = f === 1 ? map.normalized : normalizeAbsolute(averagePool(map.absolute, f));
  return {
    height: signed.height,
    width: signed.width,
    signed: Array.from(signed.data, round6),
    absolute: Array.from(absolute.data, round6),
  };
}

/** 8-bit RGBA pixels as numbers (JSON), row-major. */
export interface ImagePreview {
  width: number;
  height: number;
  rgba: number[];
}

/** The input as the model sees it (inputToDisplay's RGBA), pooled like the maps, to draw them over. */
export function imagePreview(display: { width: number; height: number; data: Uint8Array }, maxSide = DEFAULT_MAX_MAP_SIDE): ImagePreview {
  const f = poolFactor(display.height, display.width, maxSide);
  const channels = [0, 1, 2, 3].map((c) => {
    const data = new Float64Array(display.width * display.height);
    for (let p = 0; p < data.length; p++) data[p] = display.data[4 * p + c];
    return averagePool({ height: display.height, width: display.width, data }, f);
  });
  const { height, width } = channels[0];
  const rgba = new Array<number>(height * width * 4);
  for (let p = 0; p < height * width; p++) for (let c = 0; c < 4; c++) rgba[4 * p + c] = Math.round(channels[c].data[p]);
  return { width, height, rgba };
}
