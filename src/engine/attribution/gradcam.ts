import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import type { Model } from '../model/model';
import { batchSizeFor } from './batching';
import { attributeOne, booleanOption, checkpoint, formatShape, Progress, sampleSize, validateInputs } from './common';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';

/** Checks the `layer` option against the model's layers (by name or output name). */
export function resolveLayer(model: Model, layer: unknown): string {
  const names = model.layers.map((l) => l.name);
  const listing = names.length > 0 ? names.join(', ') : '(the model exposes no layers)';
  if (layer === undefined || layer === '') throw new InputError(`gradcam needs option 'layer': one of ${listing}`);
  if (typeof layer !== 'string' || !model.layers.some((l) => l.name === layer || l.output === layer)) {
    throw new InputError(`unknown layer '${String(layer)}': expected one of ${listing}`);
  }
  return layer;
}

/** The layer's activation A and dlogits[:, target]/dA for a batch x, kept out of any tidy scope. */
function activationAndGradient(model: Model, x: tf.Tensor, layer: string, target: number): [tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const { activation, head } = model.split(x, layer);
    if (activation.rank !== 4) {
      throw new InputError(
        `layer '${layer}' has activation shape ${formatShape(activation.shape)}; Grad-CAM needs a 4-D [N, C, h, w] (convolutional) layer`,
      );
    }
    const f = (a: tf.Tensor): tf.Scalar => tf.sum(tf.slice(head(a), [0, target], [-1, 1]));
    return [activation, tf.grad(f)(activation)];
  });
}

/**
 * Grad-CAM (Selvaraju et al. 2017) as Captum's LayerGradCam: for the activation A [C, h, w] of
 * `layer`, α_c = mean over (h, w) of d logits[target] / dA_c and map = Σ_c α_c A_c, passed
 * through a ReLU unless `relu: false` (the paper's choice; Captum's relu_attributions=True).
 * The result is [1, 1, h, w]; `upsample: true` resizes it bilinearly (half-pixel centres, as
 * PyTorch's align_corners=False) to the input's H×W: [1, 1, H, W].
 */
async function gradcamBatch(request: BatchAttributionRequest, options: MethodOptions): Promise<BatchAttributionResult> {
  const { model, inputs, target } = request;
  const layer = resolveLayer(model, options.layer);
  const relu = booleanOption('relu', options.relu, true);
  const upsample = booleanOption('upsample', options.upsample, false);
  const n = validateInputs(model, inputs, target, false);
  const batchSize = batchSizeFor(model, 'backward', options, n);
  const size = sampleSize(model);
  const data = (await inputs.data()) as Float32Array;
  const progress = new Progress(n, request.onProgress);

  let maps: Float32Array | undefined;
  let spatial: [number, number] = [0, 0];
  for (let start = 0; start < n; start += batchSize) {
    await checkpoint(request.signal);
    const end = Math.min(n, start + batchSize);
    const x = tf.tensor(data.subarray(start * size, end * size), [end - start, ...model.input.shape], 'float32');
    let act: Float32Array;
    let grad: Float32Array;
    let shape: number[];
    try {
      const [a, g] = activationAndGradient(model, x, layer, target);
      try {
        shape = a.shape;
        act = (await a.data()) as Float32Array;
        grad = (await g.data()) as Float32Array;
      } finally {
        a.dispose();
        g.dispose();
      }
    } finally {
      x.dispose();
    }
    const [, channels, h, w] = shape;
    const area = h * w;
    spatial = [h, w];
    maps ??= new Float32Array(n * area);
    for (let s = 0; s < end - start; s++) {
      const map = new Float64Array(area);
      for (let c = 0; c < channels; c++) {
        const offset = (s * channels + c) * area;
        let alpha = 0;
        for (let k = 0; k < area; k++) alpha += grad[offset + k];
        alpha /= area;
        for (let k = 0; k < area; k++) map[k] += alpha * act[offset + k];
      }
      for (let k = 0; k < area; k++) maps[(start + s) * area + k] = relu ? Math.max(0, map[k]) : map[k];
    }
    progress.advance(end - start);
  }

  const [h, w] = spatial;
  const result = tf.tensor(maps as Float32Array, [n, 1, h, w], 'float32');
  if (!upsample) return { attributions: result };
  try {
    return {
      attributions: tf.tidy(() => {
        const nhwc = tf.transpose(result, [0, 2, 3, 1]) as tf.Tensor4D;
        const resized = tf.image.resizeBilinear(nhwc, [model.input.height, model.input.width], false, true);
        return tf.transpose(resized, [0, 3, 1, 2]);
      }),
    };
  } finally {
    result.dispose();
  }
}

export const gradcam: AttributionMethod = {
  id: 'gradcam',
  label: 'Grad-CAM',
  multipliesByInput: false,
  hasDelta: false,
  options: ['layer', 'relu', 'upsample', 'batchSize'],
  attribute: (request, options) => attributeOne(gradcamBatch, request, options),
  attributeBatch: gradcamBatch,
};
