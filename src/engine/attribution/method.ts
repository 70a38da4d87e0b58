import type * as tf from '@tensorflow/tfjs-core';
import type { ManifoldModel } from '../manifold/model-space';
import type { Model } from '../model/model';
import type { PassPool } from '../parallel/pool';

/** What every attribution call receives. */
export interface AttributionRequest {
  model: Model;
  /** One input, batch dimension 1, shape [1, ...model.input.shape], already preprocessed. */
  input: tf.Tensor;
  /** Class index whose logit is explained. */
  target: number;
  /** Reports progress as (done, total) units of work. */
  onProgress?: (done: number, total: number) => void;
  /** Checked between batches; a fired signal makes the call reject with CancelledError. */
  signal?: AbortSignal;
  /**
   * Worker pool for the model passes (src/engine/parallel); default: the process's default pool
   * (none unless set); null: this thread only. The result is the serial one either way.
   */
  pool?: PassPool | null;
}

/**
 * Several inputs attributed in one call (the noise tunnel's noisy samples): methods evaluate
 * them together in batches sized by batching.ts instead of one pass per input.
 */
export interface BatchAttributionRequest {
  model: Model;
  /** N inputs, shape [N, ...model.input.shape], already preprocessed. */
  inputs: tf.Tensor;
  /** Class index whose logit is explained (the same for every input). */
  target: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** As AttributionRequest.pool. */
  pool?: PassPool | null;
}

export interface BatchAttributionResult {
  /** One attribution per input, stacked: [N, ...] (Grad-CAM: [N, 1, h, w]). Caller disposes. */
  attributions: tf.Tensor;
  /** Path methods: per input, sum(attribution) - (F(x) - F(baseline)). */
  deltas?: number[];
  /** Path methods: per input, F(x) - F(baseline). */
  outputDifferences?: number[];
  /** Boundary methods (boundary_ig, boundary_normal): per input, the decision-boundary point used. */
  boundaries?: BoundaryInfo[];
  /** integrated_gradients: per input, the number of steps of the quadrature used. */
  stepsUsed?: number[];
  /** integrated_gradients with adaptive steps: per input, whether |delta| / |F(x) − F(x')| ≤ targetDelta. */
  targetMet?: boolean[];
}

/**
 * The decision-boundary point a boundary method used (src/engine/adversarial/boundary-search.ts):
 * the closest point found where the model's top class changes.
 */
export interface BoundaryInfo {
  /** Always true in a result: a method whose search finds no point throws an InputError. */
  found: boolean;
  /** ‖x_b − x‖ in `norm`, in the model's input space (after preprocessing). */
  distance: number;
  norm: 'l2' | 'linf';
  /** The ε of the PGD round that first crossed the boundary (before the refinement along the segment). */
  epsilon: number;
  /** The top class at x. */
  originalClass: number;
  /** The top class at x_b. */
  crossedTo: number;
}

export interface AttributionResult {
  /** Same shape as the input ([1, ...input.shape]) except Grad-CAM: [1, 1, h, w]. Caller disposes. */
  attribution: tf.Tensor;
  /** Path methods: sum(attribution) - (F(x) - F(baseline)). */
  delta?: number;
  /** F(x) - F(baseline) for path methods, for a relative delta. */
  outputDifference?: number;
  /** Boundary methods: the decision-boundary point used as baseline (BIG) or where the normal is taken. */
  boundary?: BoundaryInfo;
  /** integrated_gradients: the number of steps of the quadrature used (adaptive steps: where it stopped). */
  stepsUsed?: number;
  /** integrated_gradients with adaptive steps: whether |delta| / |F(x) − F(x')| ≤ targetDelta was reached within maxSteps. */
  targetMet?: boolean;
}

/** Options as parsed from the CLI or a request; each method reads and validates its own. */
export interface MethodOptions {
  steps?: number;
  rule?: string;
  /**
   * integrated_gradients, adaptive steps: the relative completeness error |delta| / |F(x) − F(x')|
   * to reach by doubling the steps (default 0.01 when adaptive; giving it or maxSteps turns
   * adaptive steps on).
   */
  targetDelta?: number;
  /** integrated_gradients, adaptive steps: the most steps to use (default 1024). */
  maxSteps?: number;
  /**
   * 'zero' | 'blur' | 'blur:<sigma in pixels>' | 'uniform' | a tensor shaped like the input (with
   * or without the batch dimension); occlusion also takes a number written as a string ('0.5');
   * gradient_shap also takes a set of baselines [K, ...input shape] to draw from.
   */
  baseline?: string | tf.Tensor;
  window?: [number, number];
  stride?: [number, number];
  layer?: string;
  /** ε-LRP's stabiliser (default 1e-9, Captum's). */
  epsilon?: number;
  abs?: boolean;
  relu?: boolean;
  upsample?: boolean;
  noise?: 'smoothgrad' | 'smoothgrad_sq' | 'vargrad';
  /** Noise tunnel: noisy samples (default 25); gradient_shap: draws (default 50). */
  samples?: number;
  /** Gaussian noise σ as a fraction of the input's range (noise tunnel default 0.15; gradient_shap default 0). */
  stdev?: number;
  seed?: number;
  /** Upper bound on the number of inputs evaluated in one forward/backward pass. */
  batchSize?: number;
  /** Boundary search (boundary_ig, boundary_normal): the norm of the distance to minimise (default 'l2'). */
  norm?: 'l2' | 'linf';
  /**
   * Boundary search: increasing ε radii tried in turn, in the model's input space (default: a
   * geometric schedule scaled to the model's valid input range, see boundary-search.ts).
   */
  epsilons?: number[];
  /** Boundary search: PGD steps per ε (default 20). */
  pgdSteps?: number;
  /** Boundary search: PGD runs per ε, the first from x, the others from random points in the ε-ball (default 1). */
  restarts?: number;
  /**
   * Boundary search: keep iterates within the valid input range (pixels 0..255 through the
   * model's preprocessing). Default: when the input itself lies in that range.
   */
  clamp?: boolean;
  /** manifold_projected: the method whose attribution is projected (default 'saliency', signed). */
  base?: string;
  /**
   * manifold_projected: the data manifold whose tangent space the attribution is projected on
   * (src/engine/manifold, e.g. autoencoderManifold(vae) with a VAE trained on the model's data).
   */
  manifold?: ManifoldModel;
}

export interface AttributionMethod {
  id: string;
  label: string;
  /** Whether the result is (input - baseline) × something: such maps are weak under sanity checks. */
  multipliesByInput: boolean;
  /** Whether the result has a convergence delta (path methods). */
  hasDelta: boolean;
  /** Option names this method reads (others are rejected with an InputError). */
  options: readonly (keyof MethodOptions)[];
  attribute(request: AttributionRequest, options: MethodOptions): Promise<AttributionResult>;
  /**
   * Attributes N inputs in one call, batching the model passes across inputs. Optional: the
   * noise tunnel falls back to one `attribute` call per sample for methods without it.
   */
  attributeBatch?(request: BatchAttributionRequest, options: MethodOptions): Promise<BatchAttributionResult>;
}
