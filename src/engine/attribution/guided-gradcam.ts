import * as tf from '@tensorflow/tfjs-core';
import { attributeOne } from './common';
import { gradcam } from './gradcam';
import { rectifiedGradients } from './guided-backprop';
import type { AttributionMethod, BatchAttributionRequest, BatchAttributionResult, MethodOptions } from './method';

/**
 * Guided Grad-CAM (Selvaraju et al. 2017) as Captum's GuidedGradCam: Guided Backprop times the
 * layer's Grad-CAM map (ReLU applied) resized to the input with nearest-neighbour interpolation,
 * broadcast over channels. The method the sanity-checks paper shows failing.
 */
async function guidedGradcamBatch(request: BatchAttributionRequest, options: MethodOptions): Promise<BatchAttributionResult> {
  const { model } = request;
  const cam = await gradcam.attributeBatch!(request, { layer: options.layer, batchSize: options.batchSize, relu: true });
  try {
    const guided = await rectifiedGradients('guided_backprop', request, { batchSize: options.batchSize });
    try {
      const { height, width, layout } = model.input;
      const attributions = tf.tidy(() => {
        const [n, , h, w] = cam.attributions.shape;
        const nhwc = tf.reshape(cam.attributions, [n, h, w, 1]) as tf.Tensor4D;
        const resized = tf.image.resizeNearestNeighbor(nhwc, [height, width], false, false);
        const map = layout === 'NCHW' ? tf.transpose(resized, [0, 3, 1, 2]) : resized;
        return tf.mul(guided.attributions, tf.reshape(map, guided.attributions.rank === 4 ? map.shape : [n, ...model.input.shape]));
      });
      return { attributions };
    } finally {
      guided.attributions.dispose();
    }
  } finally {
    cam.attributions.dispose();
  }
}

export const guidedGradcam: AttributionMethod = {
  id: 'guided_gradcam',
  label: 'Guided Grad-CAM',
  multipliesByInput: false,
  hasDelta: false,
  options: ['layer', 'batchSize'],
  attribute: (request, options) => attributeOne(guidedGradcamBatch, request, options),
  attributeBatch: guidedGradcamBatch,
};
