/**
 * What the tangent space looks like: images decoded along its main directions. At the input's
 * latent code z = μ(x), the decoder Jacobian J = U S Vᵀ (d × k) maps a latent step v to the image
 * change J v; its right singular vectors are the latent directions the decoder responds to most,
 * in order of the singular values. The strip decodes z + t·v_i for the top directions and a few
 * offsets t, so a viewer sees which image changes the manifold (and so the alignment score)
 * counts as "on the manifold".
 *
 * Offsets are in standard deviations of the VAE's prior N(0, I): isotropic, so every unit latent
 * direction has standard deviation 1, and the KL term of training pulls the codes of the data
 * towards that scale. −2…+2 spans the central 95% of the prior along a direction: far enough to
 * see the change, near enough that the decoder stays where it was trained. (The encoder's own
 * posterior σ at x is usually much smaller and would show barely visible changes.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { inputToDisplay } from '../data/preprocess';
import { InputError } from '../errors';
import type { InputSpec } from '../model/model';
import { fromPixelsNHWC, toPixelsNHWC } from './model-space';
import { decoderJacobian, dot, type JacobianOptions } from './tangent';
import type { Autoencoder } from './vae';

export const DEFAULT_STRIP_DIRECTIONS = 3;
export const DEFAULT_STRIP_OFFSETS: readonly number[] = [-2, -1, 0, 1, 2];

/** 8-bit RGBA pixels, row-major, as plain numbers (JSON). */
export interface StripImage {
  width: number;
  height: number;
  rgba: number[];
}

export interface TangentStrip {
  /** The latent offsets of each direction's images, in prior standard deviations. */
  offsets: number[];
  /** By decreasing singular value. */
  directions: {
    /** σ_i of the decoder Jacobian (pixel / 255 per unit of latent). */
    singularValue: number;
    /** Dec(z + t·v_i) as the model sees it, one per offset t. */
    images: StripImage[];
  }[];
}

export interface TangentStripOptions extends JacobianOptions {
  /** Number of directions (default 3; at most the latent dimension). */
  directions?: number;
  /** Latent offsets in prior standard deviations (default −2, −1, 0, 1, 2). */
  offsets?: readonly number[];
}

/**
 * Eigenvalues and eigenvectors of a symmetric n × n matrix (row-major, float64) by cyclic Jacobi
 * rotations: exact to rounding for the small Gram matrices here (n = latent dimension). Returns the
 * eigenvalues in decreasing order and the eigenvectors as rows in the same order.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): { values: number[]; vectors: number[][] } {
  const a = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => matrix[i * n + j]));
  const v = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j): number => (i === j ? 1 : 0)));
  let scale = 0;
  for (const row of a) for (const x of row) scale += x * x;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] ** 2;
    if (off <= 1e-30 * scale) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (a[p][q] === 0) continue;
        // The rotation that zeroes a[p][q] (Golub & Van Loan, Algorithm 8.5.1).
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j][j] - a[i][i]);
  return { values: order.map((i) => a[i][i]), vectors: order.map((i) => v.map((row) => row[i])) };
}

/**
 * The tangent strip at `input` ([1, ...spec.shape], preprocessed as the model sees it) of the
 * autoencoder's manifold. Allocated tensors are disposed before returning.
 */
export async function tangentStrip(ae: Autoencoder, spec: InputSpec, input: tf.Tensor, options: TangentStripOptions = {}): Promise<TangentStrip> {
  const d = spec.height * spec.width * spec.channels;
  if (d !== ae.dataSize) throw new InputError(`the manifold's autoencoder models ${ae.dataSize} values per sample, the model's input has ${d}`);
  if (input.size !== d) throw new InputError(`expected one input of ${d} values, got ${input.size}`);
  const k = ae.latentDim;
  const count = options.directions ?? DEFAULT_STRIP_DIRECTIONS;
  if (!Number.isInteger(count) || count < 1) throw new InputError(`tangent strip directions must be a whole number ≥ 1, got ${count}`);
  const offsets = [...(options.offsets ?? DEFAULT_STRIP_OFFSETS)];
  if (offsets.length === 0 || !offsets.every(Number.isFinite)) throw new InputError('tangent strip offsets must be finite numbers');

  const pixels = toPixelsNHWC(spec, await input.data());
  // Row j of `jac` is column j of J: the image change per unit of latent direction j.
  const jac = await decoderJacobian(ae, pixels, options);
  // JᵀJ = V S² Vᵀ: its eigenvectors are J's right singular vectors, its eigenvalues σ².
  const gram = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = i; j < k; j++) gram[i * k + j] = gram[j * k + i] = dot(jac, i * d, jac, j * d, d);
  const eigen = symmetricEigen(gram, k);
  const n = Math.min(count, k);
  const directions = eigen.vectors.slice(0, n).map((v) => {
    // A singular vector's sign is arbitrary: fix it so its largest latent component is positive.
    const largest = v.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0);
    return largest < 0 ? v.map((x) => -x) : v;
  });

  const latents = new Float32Array(n * offsets.length * k);
  const zt = tf.tidy(() => ae.encodeMean(tf.tensor2d(pixels, [1, d])));
  const z = await zt.data();
  zt.dispose();
  directions.forEach((v, i) =>
    offsets.forEach((t, o) => {
      for (let j = 0; j < k; j++) latents[(i * offsets.length + o) * k + j] = z[j] + t * v[j];
    }),
  );
  const images = tf.tidy(() => ae.decodeMean(tf.tensor2d(latents, [n * offsets.length, k])));
  const values = await images.data();
  images.dispose();

  return {
    offsets,
    directions: directions.map((_, i) => ({
      singularValue: Math.sqrt(Math.max(0, eigen.values[i])),
      images: offsets.map((_, o) => {
        const row = values.subarray((i * offsets.length + o) * d, (i * offsets.length + o + 1) * d);
        const img = inputToDisplay(fromPixelsNHWC(spec, row), spec);
        return { width: img.width, height: img.height, rgba: Array.from(img.data) };
      }),
    })),
  };
}
