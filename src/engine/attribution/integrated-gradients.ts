import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import { resolveBaseline } from './baselines';
import { batchSizeFor } from './batching';
import { attributeOne, positiveInteger, Progress, sampleSize, seedOption, validateInputs } from './common';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';
import { evaluateTargets, gradientPasses } from './passes';
import { DEFAULT_RULE, quadrature } from './quadrature';

export const DEFAULT_STEPS = 50;
/** Adaptive IG: default target for |delta| / |F(x) − F(x')| when adaptive steps are requested. */
export const DEFAULT_TARGET_DELTA = 0.01;
/** Adaptive IG: default upper bound on the number of steps. */
export const DEFAULT_MAX_STEPS = 1024;

/**
 * Rules whose points at the refined step count contain those at the previous one, so a
 * refinement evaluates only the new points: `next(m)` is the refined count, `isNew(k)` tells
 * whether point k of the refined rule is new. Riemann left/right points k/m and (k+1)/m nest under
 * doubling; the trapezoid's linspace(0, 1, m) nests when its intervals double (m → 2m − 1). Every
 * point of these rules has weight c_k / m with c_k ∈ {1, ½} fixed (½ only at the trapezoid's
 * ends), so the running sum Σ c_k ∇F(α_k) carries over. Gauss–Legendre and riemann_middle
 * points do not nest under doubling: they are evaluated afresh.
 */
const NESTED: Partial<Record<string, { next: (m: number) => number; isNew: (k: number) => boolean }>> = {
  riemann_left: { next: (m) => 2 * m, isNew: (k) => k % 2 === 1 },
  riemann_right: { next: (m) => 2 * m, isNew: (k) => k % 2 === 0 },
  riemann_trapezoid: { next: (m) => 2 * m - 1, isNew: (k) => k % 2 === 1 },
};

function positiveNumber(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InputError(`${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

interface IgSettings {
  rule: string;
  steps: number;
  /** Adaptive mode: the relative completeness error to reach, and the step bound. */
  adaptive?: { targetDelta: number; maxSteps: number };
}

function igSettings(options: MethodOptions): IgSettings {
  if (options.rule !== undefined && typeof options.rule !== 'string') {
    throw new InputError(`rule must be a string, got ${String(options.rule)}`);
  }
  const rule = options.rule ?? DEFAULT_RULE;
  if (options.targetDelta === undefined && options.maxSteps === undefined) {
    const steps = positiveInteger('steps', options.steps, DEFAULT_STEPS);
    quadrature(rule, steps);
    return { rule, steps };
  }
  const targetDelta = positiveNumber('targetDelta', options.targetDelta, DEFAULT_TARGET_DELTA);
  const maxSteps = positiveInteger('maxSteps', options.maxSteps, DEFAULT_MAX_STEPS);
  const steps = positiveInteger('steps', options.steps, Math.min(DEFAULT_STEPS, maxSteps));
  quadrature(rule, steps);
  if (maxSteps < steps) throw new InputError(`maxSteps (${maxSteps}) must be at least steps (${steps})`);
  return { rule, steps, adaptive: { targetDelta, maxSteps } };
}

/**
 * Integrated Gradients (Sundararajan et al. 2017) as Captum computes it:
 * IG(x) = (x - x') ⊙ Σ_k w_k ∇F(x' + α_k (x - x')) with Captum's quadrature (α_k, w_k)
 * (default Gauss–Legendre, 50 steps), and the convergence delta
 * Σ IG - (F(x) - F(x')). All N·steps gradient evaluations of a call are batched together,
 * across inputs when several are given (noise tunnel).
 *
 * Adaptive steps (`targetDelta` and/or `maxSteps` given): starting from `steps`, the step count
 * of every input whose relative completeness error |delta| / |F(x) − F(x')| exceeds
 * `targetDelta` (default 0.01) is doubled (riemann_trapezoid: its intervals, m → 2m − 1) while it
 * stays ≤ `maxSteps` (default 1024); the rules whose points nest (riemann_left, riemann_right,
 * riemann_trapezoid) reuse the gradients already evaluated. The result reports each input's
 * `stepsUsed` and whether its target was met. An input with F(x) = F(x') meets it only with
 * delta = 0.
 */
async function integratedGradientsBatch(
  request: BatchAttributionRequest,
  options: MethodOptions,
): Promise<BatchAttributionResult> {
  const { model, inputs, target } = request;
  const settings = igSettings(options);
  const seed = seedOption(options.seed);
  const n = validateInputs(model, inputs, target, false);
  const size = sampleSize(model);
  const data = (await inputs.data()) as Float32Array;
  const baseline = await resolveBaseline(options.baseline, model.input, data, n, seed);
  const baselines = baseline.length / size; // 1 (shared) or n
  const baseOffset = (i: number): number => (baselines === 1 ? 0 : i * size);

  const forwardBatch = batchSizeFor(model, 'forward', options, n);
  const ctx = { model, target, signal: request.signal, pool: request.pool };
  const atInput = await evaluateTargets(ctx, data, n, forwardBatch);
  const atBaseline = await evaluateTargets(ctx, baseline, baselines, forwardBatch);
  const outputDifferences = Array.from({ length: n }, (_, i) => atInput[i] - atBaseline[baselines === 1 ? 0 : i]);

  /**
   * Adds Σ_k weights[k] ∇F(x'_i + alphas[k] (x_i − x'_i)) to sums[i] for every input i of `which`,
   * all evaluations batched together. `done` units of progress precede this round.
   */
  let done = 0;
  const accumulate = async (which: number[], alphas: number[], weights: number[], sums: Float64Array): Promise<void> => {
    const count = alphas.length;
    const evaluations = which.length * count;
    const before = done;
    const progress = new Progress(evaluations, request.onProgress && ((d, t) => request.onProgress!(before + d, before + t)));
    await gradientPasses(
      { ...ctx, progress },
      evaluations,
      batchSizeFor(model, 'backward', options, evaluations),
      (start, end) => {
        const out = new Float32Array((end - start) * size);
        for (let e = start; e < end; e++) {
          const i = which[Math.floor(e / count)];
          const alpha = alphas[e % count];
          const x = i * size;
          const b = baseOffset(i);
          const o = (e - start) * size;
          for (let d = 0; d < size; d++) out[o + d] = baseline[b + d] + alpha * (data[x + d] - baseline[b + d]);
        }
        return out;
      },
      (start, end, grads) => {
        for (let e = start; e < end; e++) {
          const w = weights[e % count];
          const x = which[Math.floor(e / count)] * size;
          const g = (e - start) * size;
          for (let d = 0; d < size; d++) sums[x + d] += w * grads[g + d];
        }
      },
    );
    done += evaluations;
  };

  const attributions = new Float32Array(n * size);
  const deltas = new Array<number>(n).fill(NaN);
  const stepsUsed = new Array<number>(n).fill(settings.steps);
  const targetMet = new Array<boolean>(n).fill(false);
  /** Writes input i's attribution and delta from its integral (scaled by `scale`). */
  const finish = (i: number, integral: Float64Array, scale: number): void => {
    const b = baseOffset(i);
    let sum = 0;
    for (let d = 0; d < size; d++) {
      const j = i * size + d;
      attributions[j] = (data[j] - baseline[b + d]) * integral[j] * scale;
      sum += attributions[j];
    }
    deltas[i] = sum - outputDifferences[i];
  };

  const all = Array.from({ length: n }, (_, i) => i);
  if (!settings.adaptive) {
    const { alphas, weights } = quadrature(settings.rule, settings.steps);
    const integral = new Float64Array(n * size);
    await accumulate(all, alphas, weights, integral);
    for (const i of all) finish(i, integral, 1);
    return { attributions: tf.tensor(attributions, inputs.shape, 'float32'), deltas, outputDifferences, stepsUsed };
  }

  const { targetDelta, maxSteps } = settings.adaptive;
  const nested = NESTED[settings.rule];
  const met = (i: number): boolean => Math.abs(deltas[i]) <= targetDelta * Math.abs(outputDifferences[i]);
  // Nested rules: running Σ c_k ∇F(α_k) (integral = sums / m); others: the integral itself.
  const sums = new Float64Array(n * size);
  let active = all;
  let steps = settings.steps;
  let first = true;
  for (;;) {
    const { alphas, weights } = quadrature(settings.rule, steps);
    if (nested) {
      const fresh = alphas.map((_, k) => k).filter((k) => first || nested.isNew(k));
      // c_k = w_k · m is exactly 1 (or ½ at the trapezoid's ends) whatever m.
      await accumulate(active, fresh.map((k) => alphas[k]), fresh.map((k) => Math.round(weights[k] * steps * 2) / 2), sums);
    } else {
      for (const i of active) sums.fill(0, i * size, (i + 1) * size);
      await accumulate(active, alphas, weights, sums);
    }
    for (const i of active) {
      finish(i, sums, nested ? 1 / steps : 1);
      stepsUsed[i] = steps;
      targetMet[i] = met(i);
    }
    const next = nested ? nested.next(steps) : 2 * steps;
    active = active.filter((i) => !targetMet[i]);
    if (active.length === 0 || next > maxSteps) break;
    first = false;
    steps = next;
  }
  return { attributions: tf.tensor(attributions, inputs.shape, 'float32'), deltas, outputDifferences, stepsUsed, targetMet };
}

export const integratedGradients: AttributionMethod = {
  id: 'integrated_gradients',
  label: 'Integrated Gradients',
  multipliesByInput: true,
  hasDelta: true,
  options: ['steps', 'rule', 'baseline', 'seed', 'batchSize', 'targetDelta', 'maxSteps'],
  attribute: (request, options) => attributeOne(integratedGradientsBatch, request, options),
  attributeBatch: integratedGradientsBatch,
};
