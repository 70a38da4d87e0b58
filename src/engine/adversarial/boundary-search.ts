import * as tf from '@tensorflow/tfjs-core';
import { batchSizeFor } from '../attribution/batching';
import { booleanOption, checkpoint, formatShape, positiveInteger, sampleSize, seedOption, validateInputShape } from '../attribution/common';
import { Random } from '../random';
import { InputError } from '../errors';
import type { InputSpec, Model } from '../model/model';

/**
 * Search for the closest point on the model's decision boundary (PAPERS.md §5, Wang, Fredrikson &
 * Datta): the point x_b nearest to x, in L2 or L∞, where the top class is no longer the one at x.
 *
 * 1. PGD at an increasing schedule of radii ε: in each round every run starts at x (the first run)
 *    or at a random point of the ε-ball (the others, `restarts`), then takes `pgdSteps` steps of
 *    size 2.5·ε/pgdSteps (Madry et al.) that increase the margin loss max_{k≠c} z_k − z_c (c the
 *    top class at x): along the normalized gradient (L2) or its sign (L∞), each followed by the
 *    projection onto the ε-ball around x and, with `clamp`, onto the valid input range. A run stops
 *    at its first iterate whose top class differs from c (later iterates only move further out);
 *    the closest such iterate over the runs is kept. The result is that of the first ε of the
 *    schedule whose round crosses. To skip rounds that cannot cross, the walk starts at the ε just
 *    below half the linearized distance margin/‖∇margin‖ (one backward pass at x), goes up after a
 *    failed round and down after a crossing one until the round below is known to fail
 *    (startIndices): the same answer as a scan from the smallest ε when crossing is monotone in ε.
 * 2. Refinement: bisection on the segment from x to that iterate for the point closest to x that
 *    still crosses, to a precision of REFINE_TOLERANCE of the segment, then one tolerance further
 *    so that the point is clearly across (its margin is not at float32 rounding level). On a linear
 *    model the PGD path is the straight line along the boundary's normal (L2) or its sign (L∞), so
 *    this gives the exact closest boundary point (to the tolerance).
 *
 * The arithmetic around the model (steps, projections, distances, bisection) is float64 JS, as in
 * passes.ts: only the model runs on the backend, so every backend follows the same path.
 * Several inputs are searched together, their runs batched in the same model passes.
 *
 * PGD on the untargeted margin can miss a closer boundary with a class that is not the runner-up
 * (it follows the gradient of the leading other class); random restarts explore other directions.
 */
export type Norm = 'l2' | 'linf';
export const NORMS: readonly Norm[] = ['l2', 'linf'];

export const DEFAULT_PGD_STEPS = 20;
export const DEFAULT_RESTARTS = 1;
/** Step size of PGD relative to ε (Madry et al. 2018 use 2.5·ε/steps). */
export const STEP_FACTOR = 2.5;
/** Bisection stops when the bracket is this fraction of the segment x → PGD point. */
export const REFINE_TOLERANCE = 1e-4;
/** The search starts at the largest ε ≤ START_FACTOR × the linearized distance (see startIndices). */
export const START_FACTOR = 0.5;
/** Offset of the restarts' random stream from the user's seed. */
const RESTART_SEED_OFFSET = 0xb0a7d;

export interface BoundarySearchOptions {
  /** Distance to minimise (default 'l2'). */
  norm?: Norm;
  /** Increasing radii in the model's input space (default: defaultEpsilons). */
  epsilons?: number[];
  /** PGD steps per ε (default 20). */
  pgdSteps?: number;
  /** PGD runs per ε and input: the first from x, the others from random points in the ball (default 1). */
  restarts?: number;
  /** Keep iterates in the valid input range (default: when the input lies in it). */
  clamp?: boolean;
  /** Seed of the random restarts (default 0). */
  seed?: number;
  /** Upper bound on the rows of one model pass. */
  batchSize?: number;
  signal?: AbortSignal;
  /** Progress in PGD steps over the whole schedule (the total assumes no early exit). */
  onProgress?: (done: number, total: number) => void;
}

export interface BoundarySearchResult {
  /**
   * The boundary point, shape [1, ...input shape], exactly as the model evaluated it (its top
   * class is `crossedTo`). When nothing was found: a copy of the input. Caller disposes.
   */
  point: tf.Tensor;
  found: boolean;
  /** ‖point − x‖₂ and ‖point − x‖∞ (Infinity when not found). */
  distance: { l2: number; linf: number };
  norm: Norm;
  /** The ε whose PGD round crossed first (when not found: the largest ε tried). */
  epsilon: number;
  /** Top class at x. */
  originalClass: number;
  /** Top class at the point (originalClass when not found). */
  crossedTo: number;
}

/** Validated settings of a search. */
export interface SearchSettings {
  norm: Norm;
  epsilons: number[];
  pgdSteps: number;
  restarts: number;
  clamp: boolean | undefined;
  seed: number;
}

/** Validates the search options (InputError with one line for a bad one) and fills the defaults. */
export function searchSettings(model: Model, options: BoundarySearchOptions): SearchSettings {
  const norm = options.norm ?? 'l2';
  if (!(NORMS as readonly string[]).includes(norm)) {
    throw new InputError(`norm must be 'l2' or 'linf', got ${String(norm)}`);
  }
  if (model.numClasses < 2) throw new InputError(`a decision boundary needs at least 2 classes; the model has ${model.numClasses}`);
  let epsilons: number[];
  if (options.epsilons === undefined) {
    epsilons = defaultEpsilons(model.input, norm);
  } else {
    const e = options.epsilons as unknown;
    const valid =
      Array.isArray(e) &&
      e.length > 0 &&
      e.every((v, i) => typeof v === 'number' && Number.isFinite(v) && v > 0 && (i === 0 || v > (e[i - 1] as number)));
    if (!valid) {
      throw new InputError(`epsilons must be a non-empty list of increasing positive numbers, got ${Array.isArray(e) ? formatShape(e) : String(e)}`);
    }
    epsilons = [...(e as number[])];
  }
  return {
    norm,
    epsilons,
    pgdSteps: positiveInteger('pgdSteps', options.pgdSteps, DEFAULT_PGD_STEPS),
    restarts: positiveInteger('restarts', options.restarts, DEFAULT_RESTARTS),
    clamp: options.clamp === undefined ? undefined : booleanOption('clamp', options.clamp, true),
    seed: seedOption(options.seed),
  };
}

/**
 * Per-channel valid range of the model input: raw pixels 0..255 through the preprocessing,
 * [(0·scale − mean)/std, (255·scale − mean)/std] (swapped if std < 0).
 */
export function validRange(spec: InputSpec): { lo: number[]; hi: number[] } {
  const { scale, mean, std } = spec.preprocessing;
  const lo: number[] = [];
  const hi: number[] = [];
  for (let c = 0; c < spec.channels; c++) {
    const m = mean.length === 1 ? mean[0] : (mean[c] ?? 0);
    const s = std.length === 1 ? std[0] : (std[c] ?? 1);
    const a = (0 * scale - m) / s;
    const b = (255 * scale - m) / s;
    lo.push(Math.min(a, b));
    hi.push(Math.max(a, b));
  }
  return { lo, hi };
}

/**
 * Default ε schedule, from the width R of the valid input range (the widest channel):
 * L∞: R·2^k/256 for k = 0..8 (1/256 of the range up to all of it);
 * L2: R·2^k/64 for k = 0, 1, … up to the first value ≥ R·√d (the diameter of the input box).
 */
export function defaultEpsilons(spec: InputSpec, norm: Norm): number[] {
  const { lo, hi } = validRange(spec);
  const range = Math.max(...hi.map((h, c) => h - lo[c]));
  const out: number[] = [];
  if (norm === 'linf') {
    for (let k = 0; k <= 8; k++) out.push((range * 2 ** k) / 256);
    return out;
  }
  const diameter = range * Math.sqrt(spec.shape.reduce((a, b) => a * b, 1));
  for (let k = 0; ; k++) {
    out.push((range * 2 ** k) / 64);
    if (out[k] >= diameter) return out;
  }
}

/** Lower and upper bound of every element of one sample (the channel's valid range). */
function elementBounds(spec: InputSpec): { lo: Float64Array; hi: Float64Array } {
  const { lo, hi } = validRange(spec);
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const loE = new Float64Array(size);
  const hiE = new Float64Array(size);
  const plane = spec.height * spec.width;
  for (let d = 0; d < size; d++) {
    const c =
      spec.shape.length !== 3 || spec.channels <= 1 ? 0 : spec.layout === 'NHWC' ? d % spec.channels : Math.floor(d / plane);
    loE[d] = lo[Math.min(c, lo.length - 1)];
    hiE[d] = hi[Math.min(c, hi.length - 1)];
  }
  return { lo: loE, hi: hiE };
}

// ---------------------------------------------------------------- model passes

/**
 * Gradient of the margin loss max_{k≠c} z_k − z_c w.r.t. each row of x (c = classes[row]), and
 * the logits of x. Synchronous, tidy except for the two returned tensors.
 */
export function marginLossGradient(model: Model, x: tf.Tensor, classes: Int32Array): { grads: tf.Tensor; logits: tf.Tensor2D } {
  let logits: tf.Tensor2D | undefined;
  try {
    const grads = tf.tidy(() => {
      const mask = tf.cast(tf.oneHot(tf.tensor1d(classes, 'int32'), model.numClasses), 'bool');
      const f = (z: tf.Tensor): tf.Scalar => {
        const l = model.logits(z);
        logits = tf.keep(tf.clone(l)); // kept out of the tidy scopes; disposed by the caller
        const own = tf.sum(tf.where(mask, l, tf.zerosLike(l)), 1);
        const others = tf.max(tf.where(mask, tf.fill(l.shape, -Infinity), l), 1);
        return tf.sum(tf.sub(others, own));
      };
      return tf.grad(f)(x);
    });
    return { grads, logits: logits as unknown as tf.Tensor2D };
  } catch (err) {
    (logits as tf.Tensor2D | undefined)?.dispose();
    throw err;
  }
}

interface Evaluation {
  /** Logits, rows × numClasses. */
  logits: Float32Array;
  /** Margin-loss gradients, rows × size (only when asked). */
  grads?: Float32Array;
}

/** Logits (and margin-loss gradients) of `rows` samples, in batches of at most `batch`. */
async function evaluateRows(
  model: Model,
  data: Float32Array,
  rows: number,
  classes: Int32Array,
  withGrad: boolean,
  batch: number,
  signal: AbortSignal | undefined,
): Promise<Evaluation> {
  const size = sampleSize(model);
  const k = model.numClasses;
  const logits = new Float32Array(rows * k);
  const grads = withGrad ? new Float32Array(rows * size) : undefined;
  for (let start = 0; start < rows; start += batch) {
    await checkpoint(signal);
    const end = Math.min(rows, start + batch);
    const x = tf.tensor(data.subarray(start * size, end * size), [end - start, ...model.input.shape], 'float32');
    try {
      if (grads) {
        const out = marginLossGradient(model, x, classes.subarray(start, end));
        try {
          grads.set((await out.grads.data()) as Float32Array, start * size);
          logits.set((await out.logits.data()) as Float32Array, start * k);
        } finally {
          tf.dispose([out.grads, out.logits]);
        }
      } else {
        const y = tf.tidy(() => model.logits(x));
        try {
          logits.set((await y.data()) as Float32Array, start * k);
        } finally {
          y.dispose();
        }
      }
    } finally {
      x.dispose();
    }
  }
  return { logits, grads };
}

/** Index of the largest of values[row·k .. row·k + k) (the first one on ties, like argmax). */
export function topClass(values: ArrayLike<number>, row: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (values[row * k + j] > values[row * k + best]) best = j;
  return best;
}

function distances(a: ArrayLike<number>, aOffset: number, b: ArrayLike<number>, bOffset: number, size: number): { l2: number; linf: number } {
  let sq = 0;
  let max = 0;
  for (let d = 0; d < size; d++) {
    const v = Math.abs(a[aOffset + d] - b[bOffset + d]);
    sq += v * v;
    if (v > max) max = v;
  }
  return { l2: Math.sqrt(sq), linf: max };
}

// ---------------------------------------------------------------- search

/** One input's outcome, its point as flat float32 data. */
export interface FlatBoundary {
  found: boolean;
  point: Float32Array;
  distance: { l2: number; linf: number };
  epsilon: number;
  originalClass: number;
  crossedTo: number;
}

/**
 * Searches the boundary for each of n inputs (flat data, n samples of the model's input). The
 * building block of findBoundary / findBoundaries and of the boundary attribution methods.
 */
export async function searchBoundaries(
  model: Model,
  data: Float32Array,
  n: number,
  settings: SearchSettings,
  options: Pick<BoundarySearchOptions, 'batchSize' | 'signal' | 'onProgress'> = {},
): Promise<FlatBoundary[]> {
  const size = sampleSize(model);
  const k = model.numClasses;
  const { norm, epsilons, pgdSteps, restarts } = settings;
  const signal = options.signal;
  const total = epsilons.length * pgdSteps + 1;
  let done = 0;
  const report = (units: number): void => {
    done = Math.min(total, done + units);
    options.onProgress?.(done, total);
  };
  options.onProgress?.(0, total);

  const backward = batchSizeFor(model, 'backward', options, n * restarts);
  const forward = batchSizeFor(model, 'forward', options, n);

  // The class at x.
  const clean = await evaluateRows(model, data, n, new Int32Array(n), false, forward, signal);
  const classes = Int32Array.from({ length: n }, (_, i) => topClass(clean.logits, i, k));

  // Clamping: only where the inputs lie in the valid range (or as asked).
  const bounds = elementBounds(model.input);
  let width = 0;
  for (let d = 0; d < size; d++) width = Math.max(width, bounds.hi[d] - bounds.lo[d]);
  const slack = 1e-4 * width;
  let inside = true;
  for (let i = 0; i < n * size && inside; i++) {
    const d = i % size;
    if (data[i] < bounds.lo[d] - slack || data[i] > bounds.hi[d] + slack) inside = false;
  }
  if (settings.clamp === true && !inside) {
    const { lo, hi } = validRange(model.input);
    const ranges = [...new Set(lo.map((l, c) => `[${fmt(l)}, ${fmt(hi[c])}]`))];
    throw new InputError(
      `clamp: the input lies outside the model's valid input range ${ranges.join(' / ')} (pixels 0..255 through its preprocessing); set clamp to false`,
    );
  }
  const clamp = settings.clamp ?? inside;

  const random = new Random(settings.seed + RESTART_SEED_OFFSET);
  const best: (FlatBoundary | undefined)[] = new Array(n).fill(undefined);
  const bestPoint: (Float64Array | undefined)[] = new Array(n).fill(undefined);
  // Per input: the schedule index of its next round, and the largest index known to fail.
  const index = await startIndices(model, data, n, classes, settings, backward, signal);
  const failed = new Int32Array(n).fill(-1);
  let active = Array.from({ length: n }, (_, i) => i);

  while (active.length > 0) {
    // Runs: rows of (input, restart), each at its input's current ε.
    let rows = active.flatMap((i) => Array.from({ length: restarts }, (_, r) => ({ input: i, restart: r, epsilon: epsilons[index[i]] })));
    let current = rows.map(({ input, restart, epsilon }) => startPoint(data, input * size, size, restart, epsilon, norm, random, clamp, bounds));
    const hits = new Map<number, { distance: number; point: Float64Array; crossedTo: number }>();

    for (let t = 0; t <= pgdSteps && rows.length > 0; t++) {
      const batchData = new Float32Array(rows.length * size);
      current.forEach((p, r) => batchData.set(p, r * size));
      const rowClasses = Int32Array.from(rows, (row) => classes[row.input]);
      const last = t === pgdSteps;
      const evaluation = await evaluateRows(model, batchData, rows.length, rowClasses, !last, backward, signal);
      const nextRows: typeof rows = [];
      const next: Float64Array[] = [];
      rows.forEach((row, r) => {
        const top = topClass(evaluation.logits, r, k);
        if (top !== classes[row.input]) {
          // Crossed: keep the closest crossing iterate (as the model saw it: float32) and stop this run.
          const point = Float64Array.from(batchData.subarray(r * size, (r + 1) * size));
          const dist = distances(point, 0, data, row.input * size, size)[norm];
          const prior = hits.get(row.input);
          if (!prior || dist < prior.distance) hits.set(row.input, { distance: dist, point, crossedTo: top });
          return;
        }
        if (last || !evaluation.grads) return;
        const step = (STEP_FACTOR * row.epsilon) / pgdSteps;
        next.push(pgdStep(current[r], evaluation.grads, r * size, data, row.input * size, size, row.epsilon, step, norm, clamp, bounds));
        nextRows.push(row);
      });
      rows = nextRows;
      current = next;
      if (!last) report(1);
    }

    // Walk the schedule: down after a crossing (until the ε below is known to fail), up after a failure.
    active = active.filter((i) => {
      const hit = hits.get(i);
      if (hit) {
        bestPoint[i] = hit.point;
        best[i] = {
          found: true,
          point: new Float32Array(0),
          distance: { l2: 0, linf: 0 },
          epsilon: epsilons[index[i]],
          originalClass: classes[i],
          crossedTo: hit.crossedTo,
        };
        if (index[i] - 1 > failed[i]) {
          index[i] -= 1;
          return true;
        }
        return false;
      }
      failed[i] = index[i];
      if (best[i] || index[i] + 1 >= epsilons.length) return false;
      index[i] += 1;
      return true;
    });
  }

  await refine(model, data, size, classes, best, bestPoint, forward, signal);
  report(total);

  return Array.from({ length: n }, (_, i) => {
    const hit = best[i];
    if (hit) return hit;
    return {
      found: false,
      point: Float32Array.from(data.subarray(i * size, (i + 1) * size)),
      distance: { l2: Infinity, linf: Infinity },
      epsilon: epsilons[epsilons.length - 1],
      originalClass: classes[i],
      crossedTo: classes[i],
    };
  });
}

const fmt = (v: number): string => String(Number(v.toPrecision(5)));

/**
 * Where each input starts in the ε schedule: at the largest ε not above START_FACTOR times the
 * first-order (linearized) distance to the boundary, margin / ‖∇ margin‖ (dual norm: L2 for L2,
 * L1 for L∞), from one backward pass at x. The walk down the schedule after a crossing makes the
 * result the same as a scan from the smallest ε (when crossing is monotone in ε); the estimate
 * only skips rounds that would fail.
 */
async function startIndices(
  model: Model,
  data: Float32Array,
  n: number,
  classes: Int32Array,
  settings: SearchSettings,
  batch: number,
  signal: AbortSignal | undefined,
): Promise<Int32Array> {
  const size = sampleSize(model);
  const k = model.numClasses;
  const { epsilons, norm } = settings;
  const out = new Int32Array(n);
  if (epsilons.length === 1) return out;
  const { logits, grads } = await evaluateRows(model, data, n, classes, true, batch, signal);
  for (let i = 0; i < n; i++) {
    let margin = Infinity;
    for (let j = 0; j < k; j++) if (j !== classes[i]) margin = Math.min(margin, logits[i * k + classes[i]] - logits[i * k + j]);
    let dual = 0;
    for (let d = 0; d < size; d++) {
      const g = (grads as Float32Array)[i * size + d];
      dual += norm === 'l2' ? g * g : Math.abs(g);
    }
    if (norm === 'l2') dual = Math.sqrt(dual);
    const estimate = dual > 0 ? (START_FACTOR * margin) / dual : 0;
    let j = 0;
    while (j + 1 < epsilons.length && epsilons[j + 1] <= estimate) j++;
    out[i] = j;
  }
  return out;
}

/** The first run starts at x; the others at a uniform point of the ε-ball (L∞) or a random point in it (L2). */
function startPoint(
  data: Float32Array,
  offset: number,
  size: number,
  restart: number,
  epsilon: number,
  norm: Norm,
  random: Random,
  clamp: boolean,
  bounds: { lo: Float64Array; hi: Float64Array },
): Float64Array {
  const p = Float64Array.from(data.subarray(offset, offset + size));
  if (restart === 0) return p;
  if (norm === 'linf') {
    for (let d = 0; d < size; d++) p[d] += epsilon * (2 * random.uniform() - 1);
  } else {
    const dir = new Float64Array(size);
    let sq = 0;
    for (let d = 0; d < size; d++) {
      dir[d] = random.normal();
      sq += dir[d] * dir[d];
    }
    const radius = (epsilon * random.uniform() ** (1 / size)) / Math.sqrt(sq || 1);
    for (let d = 0; d < size; d++) p[d] += radius * dir[d];
  }
  if (clamp) for (let d = 0; d < size; d++) p[d] = Math.min(bounds.hi[d], Math.max(bounds.lo[d], p[d]));
  return p;
}

/** One ascent step on the margin loss, then projection on the ε-ball around x and the valid range. */
function pgdStep(
  p: Float64Array,
  grads: Float32Array,
  gOffset: number,
  data: Float32Array,
  xOffset: number,
  size: number,
  epsilon: number,
  step: number,
  norm: Norm,
  clamp: boolean,
  bounds: { lo: Float64Array; hi: Float64Array },
): Float64Array {
  const out = new Float64Array(size);
  if (norm === 'linf') {
    for (let d = 0; d < size; d++) {
      const x = data[xOffset + d];
      const v = p[d] + step * Math.sign(grads[gOffset + d]);
      out[d] = Math.min(x + epsilon, Math.max(x - epsilon, v));
    }
  } else {
    let gNorm = 0;
    for (let d = 0; d < size; d++) gNorm += grads[gOffset + d] ** 2;
    gNorm = Math.sqrt(gNorm);
    const scale = gNorm > 0 ? step / gNorm : 0;
    let dNorm = 0;
    for (let d = 0; d < size; d++) {
      out[d] = p[d] + scale * grads[gOffset + d] - data[xOffset + d];
      dNorm += out[d] * out[d];
    }
    dNorm = Math.sqrt(dNorm);
    const shrink = dNorm > epsilon ? epsilon / dNorm : 1;
    for (let d = 0; d < size; d++) out[d] = data[xOffset + d] + shrink * out[d];
  }
  if (clamp) for (let d = 0; d < size; d++) out[d] = Math.min(bounds.hi[d], Math.max(bounds.lo[d], out[d]));
  return out;
}

/**
 * Bisection on the segment x → PGD point for every found input (all inputs in the same passes):
 * t ∈ [lo, hi] with the top class c at lo and another at hi, until hi − lo ≤ REFINE_TOLERANCE;
 * then the point at min(1, hi + REFINE_TOLERANCE), if it crosses, else at hi. Fills in point,
 * distance and crossedTo.
 */
async function refine(
  model: Model,
  data: Float32Array,
  size: number,
  classes: Int32Array,
  best: (FlatBoundary | undefined)[],
  bestPoint: (Float64Array | undefined)[],
  batch: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const k = model.numClasses;
  const found = best.flatMap((b, i) => (b ? [i] : []));
  if (found.length === 0) return;
  const lo = new Float64Array(found.length);
  const hi = new Float64Array(found.length).fill(1);
  const hiPoint: Float32Array[] = found.map((i) => Float32Array.from(bestPoint[i] as Float64Array));
  const hiClass = found.map((i) => (best[i] as FlatBoundary).crossedTo);
  const pointAt = (j: number, t: number): Float32Array => {
    const i = found[j];
    const end = bestPoint[i] as Float64Array;
    const out = new Float32Array(size);
    for (let d = 0; d < size; d++) {
      const x = data[i * size + d];
      out[d] = x + t * (end[d] - x);
    }
    return out;
  };
  const rowClasses = Int32Array.from(found, (i) => classes[i]);
  const evaluate = async (ts: Float64Array): Promise<{ points: Float32Array[]; top: number[] }> => {
    const points = found.map((_, j) => pointAt(j, ts[j]));
    const flat = new Float32Array(found.length * size);
    points.forEach((p, j) => flat.set(p, j * size));
    const { logits } = await evaluateRows(model, flat, found.length, rowClasses, false, batch, signal);
    return { points, top: found.map((_, j) => topClass(logits, j, k)) };
  };

  const iterations = Math.ceil(Math.log2(1 / REFINE_TOLERANCE));
  for (let it = 0; it < iterations; it++) {
    const mid = Float64Array.from(lo, (l, j) => (l + hi[j]) / 2);
    const { points, top } = await evaluate(mid);
    found.forEach((i, j) => {
      if (top[j] !== classes[i]) {
        hi[j] = mid[j];
        hiPoint[j] = points[j];
        hiClass[j] = top[j];
      } else {
        lo[j] = mid[j];
      }
    });
  }
  const beyond = Float64Array.from(hi, (h) => Math.min(1, h + REFINE_TOLERANCE));
  const { points, top } = await evaluate(beyond);
  found.forEach((i, j) => {
    const across = top[j] !== classes[i];
    const point = across ? points[j] : hiPoint[j];
    const b = best[i] as FlatBoundary;
    b.point = point;
    b.crossedTo = across ? top[j] : hiClass[j];
    b.distance = distances(point, 0, data, i * size, size);
  });
}

// ---------------------------------------------------------------- public API

/**
 * The closest decision-boundary point of each input of a batch [N, ...input shape]; see the top
 * of this file. Never throws for an input without a crossing: its result has found = false.
 */
export async function findBoundaries(model: Model, inputs: tf.Tensor, options: BoundarySearchOptions = {}): Promise<BoundarySearchResult[]> {
  const settings = searchSettings(model, options);
  const n = validateInputShape(model, inputs, false);
  const data = (await inputs.data()) as Float32Array;
  const flat = await searchBoundaries(model, data, n, settings, options);
  return flat.map((b) => ({
    point: tf.tensor(b.point, [1, ...model.input.shape], 'float32'),
    found: b.found,
    distance: b.distance,
    norm: settings.norm,
    epsilon: b.epsilon,
    originalClass: b.originalClass,
    crossedTo: b.crossedTo,
  }));
}

/** The closest decision-boundary point of one input [1, ...input shape]. */
export async function findBoundary(model: Model, input: tf.Tensor, options: BoundarySearchOptions = {}): Promise<BoundarySearchResult> {
  validateInputShape(model, input, true);
  const [result] = await findBoundaries(model, input, options);
  return result;
}
