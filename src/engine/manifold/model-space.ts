import type * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import type { InputSpec, Model } from '../model/model';
import { decoderJacobian, orthonormalize, type JacobianOptions, type TangentBasis } from './tangent';
import type { Autoencoder } from './vae';

/**
 * A model of the data manifold as attribution methods see it (MethodOptions.manifold): the
 * tangent space at an input given in the model's own input space and layout, so a basis vector
 * lines up element by element with an attribution of that input.
 */
export interface ManifoldModel {
  /** Orthonormal basis of the tangent space at `input` ([1, ...model.input.shape], preprocessed). */
  tangentSpace(model: Model, input: tf.Tensor, options?: JacobianOptions): Promise<TangentBasis>;
}

/**
 * A manifold from an autoencoder over pixels / 255 ∈ [0, 1], NHWC (vae.ts's data space).
 *
 * The model's input is x = (255·p·scale − mean_c) / std_c (its preprocessing, p = pixel / 255), an
 * affine map with diagonal D = diag(255·scale / std_c). The tangent space at x is therefore
 * D · span(J_p) at p: each Jacobian column is scaled by D and laid out as the model's input
 * (NCHW or NHWC) before orthonormalization. For one channel (MNIST) D is a multiple of the
 * identity and the subspace is the pixel-space one unchanged.
 */
export function autoencoderManifold(ae: Autoencoder): ManifoldModel {
  return {
    async tangentSpace(model, input, options) {
      const spec = model.input;
      const d = spec.height * spec.width * spec.channels;
      if (d !== ae.dataSize) {
        throw new InputError(
          `the manifold's autoencoder models ${ae.dataSize} values per sample, the model's input has ${d} (${spec.channels}×${spec.height}×${spec.width})`,
        );
      }
      if (input.size !== d) throw new InputError(`expected one input of ${d} values, got ${input.size}`);
      const x = (await input.data()) as Float32Array;
      const pixels = toPixelsNHWC(spec, x);
      const jac = await decoderJacobian(ae, pixels, options);
      const k = ae.latentDim;
      const mapped = new Float64Array(k * d);
      for (let j = 0; j < k; j++) {
        fromPixelsNHWCDirection(spec, jac.subarray(j * d, (j + 1) * d), mapped.subarray(j * d, (j + 1) * d));
      }
      return orthonormalize(mapped, k, d);
    },
  };
}

function perChannel(values: number[], c: number): number {
  return values.length === 1 ? values[0] : values[c];
}

/** Index in the model's layout of (h, w, c). */
function modelIndex(spec: InputSpec, h: number, w: number, c: number): number {
  return spec.layout === 'NCHW' ? (c * spec.height + h) * spec.width + w : (h * spec.width + w) * spec.channels + c;
}

/** The model's preprocessed input → pixels / 255, NHWC. */
export function toPixelsNHWC(spec: InputSpec, x: ArrayLike<number>): Float32Array {
  const { scale, mean, std } = spec.preprocessing;
  const out = new Float32Array(x.length);
  for (let h = 0; h < spec.height; h++)
    for (let w = 0; w < spec.width; w++)
      for (let c = 0; c < spec.channels; c++) {
        const v = x[modelIndex(spec, h, w, c)];
        out[(h * spec.width + w) * spec.channels + c] = (v * perChannel(std, c) + perChannel(mean, c)) / (255 * scale);
      }
  return out;
}

/** A direction in pixels / 255 (NHWC) → the same direction in the model's input space and layout (× D). */
export function fromPixelsNHWCDirection(spec: InputSpec, v: ArrayLike<number>, out: Float64Array): void {
  const { scale, std } = spec.preprocessing;
  for (let h = 0; h < spec.height; h++)
    for (let w = 0; w < spec.width; w++)
      for (let c = 0; c < spec.channels; c++) {
        out[modelIndex(spec, h, w, c)] = (v[(h * spec.width + w) * spec.channels + c] * 255 * scale) / perChannel(std, c);
      }
}

/** Pixels / 255, NHWC → the model's preprocessed input in its layout (the inverse of toPixelsNHWC). */
export function fromPixelsNHWC(spec: InputSpec, pixels: ArrayLike<number>): Float32Array {
  const { scale, mean, std } = spec.preprocessing;
  const out = new Float32Array(pixels.length);
  for (let h = 0; h < spec.height; h++)
    for (let w = 0; w < spec.width; w++)
      for (let c = 0; c < spec.channels; c++) {
        const p = pixels[(h * spec.width + w) * spec.channels + c];
        out[modelIndex(spec, h, w, c)] = (p * 255 * scale - perChannel(mean, c)) / perChannel(std, c);
      }
  return out;
}
