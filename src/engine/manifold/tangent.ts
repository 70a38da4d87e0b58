import * as tf from '@tensorflow/tfjs-core';
import { checkpoint } from '../attribution/common';
import { InputError } from '../errors';
import type { Autoencoder } from './vae';

/**
 * An orthonormal basis of a k-dimensional subspace of R^d (PAPERS.md §4: the tangent space of
 * the data manifold at a point), as k rows of length d in one float64 array, row-major.
 */
export interface TangentBasis {
  /** Number of basis vectors (the decoder Jacobian's numerical rank, ≤ the latent dimension). */
  k: number;
  /** Dimension of the ambient space (pixels × channels). */
  d: number;
  /** Row i = basis vector i: vectors[i·d .. (i+1)·d). Orthonormal to float64 precision. */
  vectors: Float64Array;
}

export interface JacobianOptions {
  /** Rows of J per backward pass (copies of z in one batch; default 256). */
  batchSize?: number;
  signal?: AbortSignal;
}

/**
 * The decoder Jacobian J = ∂Dec(z)/∂z (d × k) at z = μ(x), returned transposed: k rows of length
 * d, row j = column j of J (the image of latent direction j). Rows of J come from batched
 * vector–Jacobian products: z is replicated m times and the backward pass of Σ_r Dec(z_r)[i_r]
 * gives rows i_1..i_m of J at once, so d/m backward passes and no finite differences.
 * `x` is one flat sample of the autoencoder's data space.
 */
export async function decoderJacobian(ae: Autoencoder, x: ArrayLike<number>, options: JacobianOptions = {}): Promise<Float64Array> {
  const d = ae.dataSize;
  const k = ae.latentDim;
  if (x.length !== d) throw new InputError(`the sample has ${x.length} values, the autoencoder expects d = ${d}`);
  const batch = options.batchSize ?? 256;
  if (!Number.isInteger(batch) || batch <= 0) throw new InputError(`batchSize must be a positive integer, got ${batch}`);
  const z = tf.tidy(() => ae.encodeMean(tf.tensor2d(Float32Array.from(x), [1, d])));
  const out = new Float64Array(k * d);
  try {
    for (let start = 0; start < d; start += batch) {
      await checkpoint(options.signal);
      const m = Math.min(batch, d - start);
      const select = new Float32Array(m * d);
      for (let r = 0; r < m; r++) select[r * d + start + r] = 1;
      const rows = tf.tidy(() => {
        const mask = tf.tensor2d(select, [m, d]);
        const f = (zs: tf.Tensor): tf.Scalar => tf.sum(tf.mul(ae.decodeMean(zs as tf.Tensor2D), mask));
        return tf.grad(f)(tf.tile(z, [m, 1]));
      });
      const values = await rows.data();
      rows.dispose();
      // values[r·k + j] = ∂Dec_{start+r} / ∂z_j
      for (let r = 0; r < m; r++) for (let j = 0; j < k; j++) out[j * d + start + r] = values[r * k + j];
    }
  } finally {
    z.dispose();
  }
  return out;
}

/**
 * Orthonormalizes `count` vectors of length d (rows of `vectors`) by modified Gram–Schmidt with
 * one re-orthogonalization pass, in float64. A vector whose remainder is below `tolerance` times
 * the largest input norm is dropped (rank deficiency), so the result may have fewer rows.
 */
export function orthonormalize(vectors: ArrayLike<number>, count: number, d: number, tolerance = 1e-7): TangentBasis {
  if (vectors.length !== count * d) throw new InputError(`expected ${count} × ${d} values, got ${vectors.length}`);
  let largest = 0;
  for (let i = 0; i < count; i++) largest = Math.max(largest, Math.sqrt(dot(vectors, i * d, vectors, i * d, d)));
  const basis: Float64Array[] = [];
  for (let i = 0; i < count; i++) {
    const v = Float64Array.from({ length: d }, (_, p) => vectors[i * d + p]);
    for (let pass = 0; pass < 2; pass++) {
      for (const q of basis) {
        const c = dot(q, 0, v, 0, d);
        for (let p = 0; p < d; p++) v[p] -= c * q[p];
      }
    }
    const norm = Math.sqrt(dot(v, 0, v, 0, d));
    if (norm <= tolerance * largest || norm === 0) continue;
    for (let p = 0; p < d; p++) v[p] /= norm;
    basis.push(v);
  }
  const out = new Float64Array(basis.length * d);
  basis.forEach((q, i) => out.set(q, i * d));
  return { k: basis.length, d, vectors: out };
}

/**
 * The tangent space of the autoencoder's manifold at `x` (a flat sample of its data space):
 * the column space of the decoder Jacobian at the encoder mean, orthonormalized.
 */
export async function tangentSpace(ae: Autoencoder, x: ArrayLike<number>, options: JacobianOptions = {}): Promise<TangentBasis> {
  return orthonormalize(await decoderJacobian(ae, x, options), ae.latentDim, ae.dataSize);
}

export function dot(a: ArrayLike<number>, aOffset: number, b: ArrayLike<number>, bOffset: number, length: number): number {
  let s = 0;
  for (let p = 0; p < length; p++) s += a[aOffset + p] * b[bOffset + p];
  return s;
}
