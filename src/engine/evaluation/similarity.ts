/**
 * Similarity of two attribution maps, as the sanity checks compare them (PAPERS.md §3; Adebayo et
 * al. 2018 and their code): Spearman rank correlation of the absolute and of the signed maps
 * (scipy.stats.spearmanr), SSIM (skimage.metrics.structural_similarity) and the Pearson
 * correlation of HOG features (skimage.feature.hog + scipy.stats.pearsonr). Plain JS in float64
 * on small 2-D maps; test/fixtures/make_similarity_references.py checks it against scipy and
 * scikit-image 0.19.
 */
import { InputError } from '../errors';
import { sumChannels } from '../render/attribution-map';

/** A 2-D map, row-major [height, width]. */
export interface Plane {
  height: number;
  width: number;
  data: Float64Array;
}

export type Reduction = 'absolute' | 'signed';

/**
 * An attribution tensor's values reduced over channels to one 2-D map: Σ_c |a_c| ('absolute',
 * the paper's grayscale visualisation) or Σ_c a_c ('signed'). `shape` is the attribution's
 * ([1, C, H, W], [1, H, W, C] or Grad-CAM's [1, 1, h, w]); `layout` says where the channels are
 * when C > 1 could be either.
 */
export function toPlane(values: ArrayLike<number>, shape: readonly number[], layout: 'NCHW' | 'NHWC', reduction: Reduction): Plane {
  return toPlanes(values, shape, layout)[reduction];
}

/** Both reductions of toPlane at once (one pass over the values). */
function toPlanes(values: ArrayLike<number>, shape: readonly number[], layout: 'NCHW' | 'NHWC'): Record<Reduction, Plane> {
  const dims = shape[0] === 1 && shape.length === 4 ? shape.slice(1) : shape.length === 2 ? [1, ...shape] : shape;
  if (dims.length !== 3) throw new InputError(`an attribution map of shape [${shape.join(', ')}] cannot be reduced to 2-D`);
  const channelsLast = layout === 'NHWC' && dims[0] !== 1;
  const [c, h, w] = channelsLast ? [dims[2], dims[0], dims[1]] : dims;
  const sums = sumChannels(values, { channels: c, height: h, width: w, channelsLast });
  return { absolute: { height: h, width: w, data: sums.absolute }, signed: { height: h, width: w, data: sums.signed } };
}

/** The absolute map scaled to [0, 1] by its maximum (the sanity-checks code's abs_grayscale_norm); an all-zero map stays zero. */
export function normalizeAbsolute(plane: Plane): Plane {
  let max = 0;
  for (const v of plane.data) max = Math.max(max, Math.abs(v));
  const data = plane.data.map((v) => (max > 0 ? Math.abs(v) / max : 0));
  return { height: plane.height, width: plane.width, data };
}

function checkSameSize(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new InputError(`maps of different sizes: ${a.length} vs ${b.length} values`);
}

/**
 * Pearson correlation in float64 (scipy.stats.pearsonr's statistic). NaN with fewer than 2 values
 * or when either side is constant — or nearly: standard deviation ≤ `spread` × its root mean
 * square (Sensitivity-n uses a small spread so rounding noise does not pass for a signal).
 */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>, spread = 0): number {
  checkSameSize(a, b);
  const n = a.length;
  if (n < 2) return NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  let qa = 0;
  let qb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
    qa += a[i] * a[i];
    qb += b[i] * b[i];
  }
  if (saa === 0 || sbb === 0 || saa <= spread ** 2 * qa || sbb <= spread ** 2 * qb) return NaN;
  return Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb)));
}

/** Ranks 1..n with ties given their average rank (scipy.stats.rankdata 'average'). */
export function ranks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => values[i] - values[j]);
  const out = new Float64Array(n);
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && values[order[end]] === values[order[start]]) end++;
    const rank = (start + end + 1) / 2; // mean of ranks start+1 .. end
    for (let k = start; k < end; k++) out[order[k]] = rank;
    start = end;
  }
  return out;
}

/** Spearman rank correlation (scipy.stats.spearmanr's statistic): Pearson of average ranks; NaN for a constant side. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameSize(a, b);
  return pearson(ranks(a), ranks(b));
}

export interface SsimOptions {
  /** Side of the square window (odd, default 7). */
  winSize?: number;
  /** Distance between the smallest and largest possible values (default 1: maps scaled to [0, 1]). */
  dataRange?: number;
}

/**
 * Mean SSIM as skimage.metrics.structural_similarity(a, b, win_size=7, data_range=1,
 * gaussian_weights=False): uniform windows, sample covariances (N/(N − 1)), K1 = 0.01,
 * K2 = 0.03, averaged over the windows lying inside the image (skimage crops (win − 1)/2 at the
 * borders, which removes every window that would reach its reflect padding).
 */
export function ssim(a: Plane, b: Plane, options: SsimOptions = {}): number {
  checkSameSize(a.data, b.data);
  const win = options.winSize ?? 7;
  const range = options.dataRange ?? 1;
  if (win < 1 || win % 2 !== 1) throw new InputError(`SSIM window must be odd, got ${win}`);
  if (a.height < win || a.width < win) {
    throw new InputError(`SSIM window ${win}×${win} exceeds the ${a.height}×${a.width} map`);
  }
  const { height: h, width: w } = a;
  const np = win * win;
  const covNorm = np / (np - 1);
  const c1 = (0.01 * range) ** 2;
  const c2 = (0.03 * range) ** 2;
  const pad = (win - 1) / 2;
  let total = 0;
  let count = 0;
  for (let i = pad; i < h - pad; i++) {
    for (let j = pad; j < w - pad; j++) {
      let sx = 0;
      let sy = 0;
      let sxx = 0;
      let syy = 0;
      let sxy = 0;
      for (let di = -pad; di <= pad; di++) {
        for (let dj = -pad; dj <= pad; dj++) {
          const x = a.data[(i + di) * w + j + dj];
          const y = b.data[(i + di) * w + j + dj];
          sx += x;
          sy += y;
          sxx += x * x;
          syy += y * y;
          sxy += x * y;
        }
      }
      const ux = sx / np;
      const uy = sy / np;
      const vx = covNorm * (sxx / np - ux * ux);
      const vy = covNorm * (syy / np - uy * uy);
      const vxy = covNorm * (sxy / np - ux * uy);
      total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
      count++;
    }
  }
  return total / count;
}

export interface HogOptions {
  orientations?: number;
  /** Pixels per cell [rows, cols] (default [4, 4] up to 64 pixels a side, else [8, 8]). */
  pixelsPerCell?: [number, number];
  cellsPerBlock?: [number, number];
}

/** The HOG settings used for a map of this size. */
export function hogSettings(plane: Plane, options: HogOptions = {}): Required<HogOptions> {
  const cell = Math.min(plane.height, plane.width) <= 64 ? 4 : 8;
  return {
    orientations: options.orientations ?? 9,
    pixelsPerCell: options.pixelsPerCell ?? [cell, cell],
    cellsPerBlock: options.cellsPerBlock ?? [2, 2],
  };
}

/** numpy's floor modulo (x % m with the sign of m), which can round up to m itself. */
function floorMod(x: number, m: number): number {
  const r = x % m;
  return r !== 0 && r < 0 ? r + m : r;
}

/**
 * HOG features as skimage.feature.hog(image, orientations, pixels_per_cell, cells_per_block,
 * block_norm='L2-Hys', transform_sqrt=False, feature_vector=True) for a 2-D image: central
 * differences (zero on the border rows/columns), unsigned orientations in [0, 180) binned
 * without interpolation, each cell's magnitudes summed (in float32, as skimage's Cython does)
 * and divided by the cell's area, then every overlapping block L2-Hys normalised (ε = 1e-5,
 * clip 0.2). Empty when the image holds fewer cells than one block.
 */
export function hog(plane: Plane, options: HogOptions = {}): Float64Array {
  const { orientations, pixelsPerCell, cellsPerBlock } = hogSettings(plane, options);
  const { height: h, width: w, data } = plane;
  const [cr, cc] = pixelsPerCell;
  const [br, bc] = cellsPerBlock;
  const magnitude = new Float64Array(h * w);
  const orientation = new Float64Array(h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const gRow = i > 0 && i < h - 1 ? data[(i + 1) * w + j] - data[(i - 1) * w + j] : 0;
      const gCol = j > 0 && j < w - 1 ? data[i * w + j + 1] - data[i * w + j - 1] : 0;
      magnitude[i * w + j] = Math.hypot(gCol, gRow);
      orientation[i * w + j] = floorMod((Math.atan2(gRow, gCol) * 180) / Math.PI, 180);
    }
  }
  const nCellsRow = Math.floor(h / cr);
  const nCellsCol = Math.floor(w / cc);
  const perBin = 180 / orientations;
  const histogram = new Float64Array(nCellsRow * nCellsCol * orientations);
  for (let o = 0; o < orientations; o++) {
    const start = perBin * o;
    const end = perBin * (o + 1);
    for (let ri = 0; ri < nCellsRow; ri++) {
      for (let ci = 0; ci < nCellsCol; ci++) {
        let total = 0;
        for (let y = ri * cr; y < (ri + 1) * cr; y++) {
          for (let x = ci * cc; x < (ci + 1) * cc; x++) {
            const angle = orientation[y * w + x];
            if (angle >= end || angle < start) continue;
            total = Math.fround(total + magnitude[y * w + x]);
          }
        }
        // skimage divides the float32 total in float32.
        histogram[(ri * nCellsCol + ci) * orientations + o] = Math.fround(total / (cr * cc));
      }
    }
  }
  const nBlocksRow = nCellsRow - br + 1;
  const nBlocksCol = nCellsCol - bc + 1;
  if (nBlocksRow < 1 || nBlocksCol < 1) return new Float64Array(0);
  const blockSize = br * bc * orientations;
  const out = new Float64Array(nBlocksRow * nBlocksCol * blockSize);
  const eps = 1e-5;
  const block = new Float64Array(blockSize);
  for (let r = 0; r < nBlocksRow; r++) {
    for (let c = 0; c < nBlocksCol; c++) {
      let k = 0;
      for (let i = 0; i < br; i++) {
        for (let j = 0; j < bc; j++) {
          for (let o = 0; o < orientations; o++) block[k++] = histogram[((r + i) * nCellsCol + c + j) * orientations + o];
        }
      }
      let norm = Math.sqrt(block.reduce((s, v) => s + v * v, 0) + eps * eps);
      for (let t = 0; t < blockSize; t++) block[t] = Math.min(block[t] / norm, 0.2);
      norm = Math.sqrt(block.reduce((s, v) => s + v * v, 0) + eps * eps);
      const offset = (r * nBlocksCol + c) * blockSize;
      for (let t = 0; t < blockSize; t++) out[offset + t] = block[t] / norm;
    }
  }
  return out;
}

/** Pearson correlation of the two maps' HOG features (the sanity-checks code); NaN if the maps are too small or featureless. */
export function hogSimilarity(a: Plane, b: Plane, options: HogOptions = {}): number {
  const fa = hog(a, options);
  const fb = hog(b, options);
  return fa.length === 0 ? NaN : pearson(fa, fb);
}

export interface Similarity {
  /** Spearman ρ of the channel-summed absolute maps. */
  spearmanAbs: number;
  /** Spearman ρ of the channel-summed signed maps. */
  spearmanSigned: number;
  /** SSIM of the absolute maps scaled to [0, 1] (window 7, data range 1); NaN for maps under 7×7. */
  ssim: number;
  /** Pearson correlation of the HOG features of the absolute maps scaled to [0, 1]. */
  hog: number;
}

/** One attribution reduced once, so a reference map can be compared with many others cheaply. */
export interface PreparedMap {
  absolute: Plane;
  signed: Plane;
  /** `absolute` scaled to [0, 1]. */
  normalized: Plane;
}

export function prepareMap(values: ArrayLike<number>, shape: readonly number[], layout: 'NCHW' | 'NHWC'): PreparedMap {
  const { absolute, signed } = toPlanes(values, shape, layout);
  return { absolute, signed, normalized: normalizeAbsolute(absolute) };
}

/** All four similarities of two prepared maps of the same size. */
export function compareMaps(a: PreparedMap, b: PreparedMap, options: { hog?: HogOptions; ssim?: SsimOptions } = {}): Similarity {
  if (a.absolute.height !== b.absolute.height || a.absolute.width !== b.absolute.width) {
    throw new InputError(
      `maps of different sizes: ${a.absolute.height}×${a.absolute.width} vs ${b.absolute.height}×${b.absolute.width}`,
    );
  }
  const win = options.ssim?.winSize ?? 7;
  const fits = a.normalized.height >= win && a.normalized.width >= win;
  return {
    spearmanAbs: spearman(a.absolute.data, b.absolute.data),
    spearmanSigned: spearman(a.signed.data, b.signed.data),
    ssim: fits ? ssim(a.normalized, b.normalized, options.ssim) : NaN,
    hog: hogSimilarity(a.normalized, b.normalized, options.hog),
  };
}
