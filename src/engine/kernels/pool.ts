import * as tf from '@tensorflow/tfjs-core';
import { hasMaxPoolGradKernel, maxPoolGrad } from './max-pool-grad';
import { dilateSpatial, padOrCrop, type SpatialPads } from './spatial';

export interface PoolParams {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** Padding [[top, bottom], [left, right]], bottom/right including any ceil_mode overhang. */
  pads: SpatialPads;
}

/** The input value at window offset (i, j) of every output position: [N, oh, ow, C]. */
function windowTap(xp: tf.Tensor4D, i: number, j: number, out: [number, number], p: PoolParams): tf.Tensor4D {
  const [n, , , c] = xp.shape;
  const [sh, sw] = p.strides;
  const r = i * p.dilations[0];
  const q = j * p.dilations[1];
  return tf.stridedSlice(xp, [0, r, q, 0], [n, r + (out[0] - 1) * sh + 1, q + (out[1] - 1) * sw + 1, c], [1, sh, sw, 1]) as tf.Tensor4D;
}

function outputSize(xp: tf.Tensor4D, p: PoolParams): [number, number] {
  const [, hp, wp] = xp.shape;
  const ek = [p.dilations[0] * (p.kernel[0] - 1) + 1, p.dilations[1] * (p.kernel[1] - 1) + 1];
  return [Math.floor((hp - ek[0]) / p.strides[0]) + 1, Math.floor((wp - ek[1]) / p.strides[1]) + 1];
}

/**
 * Max pooling (NHWC) whose gradient routes each output's gradient to the FIRST maximal element of
 * its window (PyTorch's choice), built from forward ops. The wasm backend's own MaxPoolGrad starts
 * its running maximum at the smallest positive float and so is wrong for windows of values <= 0.
 */
export function maxPool(x: tf.Tensor4D, p: PoolParams): tf.Tensor4D {
  const run = tf.customGrad((input, save) => {
    const xp = padOrCrop(input as tf.Tensor4D, p.pads, -Infinity);
    const out = outputSize(xp, p);
    const dilated = p.dilations[0] > 1 || p.dilations[1] > 1;
    const y = dilated ? maxOverTaps(xp, out, p) : tf.maxPool(xp, p.kernel, p.strides, 'valid');
    if (hasMaxPoolGradKernel()) {
      // One kernel for the whole gradient (max-pool-grad.ts); it only needs the unpadded input.
      (save as tf.GradSaveFunc)([input as tf.Tensor4D]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => maxPoolGrad(saved[0] as tf.Tensor4D, dy as tf.Tensor4D, p),
      };
    }
    // customGrad disposes what the forward pass made unless saved for the gradient.
    (save as tf.GradSaveFunc)([xp, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xp, y] = saved as tf.Tensor4D[];
        const masks = firstMaxMasks(xp, y, out, p);
        return padOrCrop(scatterTaps(masks.map((m) => tf.mul(dy, m) as tf.Tensor4D), xp.shape, p), negate(p.pads));
      },
    };
  });
  return run(x) as tf.Tensor4D;
}

/** For each window tap (i, j), row-major: 1 where that tap holds the window's first maximum. */
function firstMaxMasks(xp: tf.Tensor4D, y: tf.Tensor4D, out: [number, number], p: PoolParams): tf.Tensor4D[] {
  let taken: tf.Tensor = tf.zerosLike(y);
  const masks: tf.Tensor4D[] = [];
  for (let i = 0; i < p.kernel[0]; i++) {
    for (let j = 0; j < p.kernel[1]; j++) {
      const first = tf.mul(tf.cast(tf.equal(windowTap(xp, i, j, out, p), y), 'float32'), tf.sub(1, taken)) as tf.Tensor4D;
      taken = tf.add(taken, first);
      masks.push(first);
    }
  }
  return masks;
}

/** Sums per-tap values [N, oh, ow, C] back onto the padded input grid at each tap's positions. */
function scatterTaps(values: tf.Tensor4D[], paddedShape: number[], p: PoolParams): tf.Tensor4D {
  const [, hp, wp] = paddedShape;
  const parts = values.map((v, t) => {
    const spread = dilateSpatial(v, p.strides);
    const r = Math.floor(t / p.kernel[1]) * p.dilations[0];
    const q = (t % p.kernel[1]) * p.dilations[1];
    return padOrCrop(spread, [[r, hp - r - spread.shape[1]], [q, wp - q - spread.shape[2]]]);
  });
  return tf.addN(parts);
}

/** Padding value for max pooling whose differences must stay finite (-Infinity - -Infinity is NaN). */
const LOWEST_FLOAT32 = -3.4028234663852886e38;

/**
 * DeepLIFT Rescale for max pooling against a reference input (batch 1 or N), with exact
 * summation-to-delta: each window's output difference Δy goes to the position of x's maximum,
 * divided by that position's Δx; where that Δx vanishes, to the reference's maximum instead
 * (then Δy = ref_a − ref_b lives there); where both vanish Δy is 0 and the plain gradient is used.
 * Captum's rule (deep_lift.py `maxpool`) adds both routings and assigns instead of accumulating
 * for overlapping windows, which breaks summation-to-delta.
 */
export function maxPoolRescale(x: tf.Tensor4D, reference: tf.Tensor4D, p: PoolParams, eps: number): tf.Tensor4D {
  const run = tf.customGrad((input, save) => {
    const xp = padOrCrop(input as tf.Tensor4D, p.pads, LOWEST_FLOAT32);
    const rp = padOrCrop(reference, p.pads, LOWEST_FLOAT32);
    const out = outputSize(xp, p);
    const pool = (t: tf.Tensor4D) => (p.dilations[0] > 1 || p.dilations[1] > 1 ? maxOverTaps(t, out, p) : tf.maxPool(t, p.kernel, p.strides, 'valid'));
    const y = pool(xp);
    const yr = pool(rp);
    (save as tf.GradSaveFunc)([xp, y, rp, yr]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xp, y, rp, yr] = saved as tf.Tensor4D[];
        const masksX = firstMaxMasks(xp, y, out, p);
        const masksR = firstMaxMasks(rp, yr, out, p);
        const dxp = tf.sub(xp, rp) as tf.Tensor4D;
        const taps = masksX.map((_, t) => windowTap(dxp, Math.floor(t / p.kernel[1]), t % p.kernel[1], out, p));
        const at = (masks: tf.Tensor4D[]) => tf.addN(masks.map((m, t) => tf.mul(m, taps[t])));
        const dxA = at(masksX);
        const dxB = at(masksR);
        const useA = tf.greater(tf.abs(dxA), eps);
        const useB = tf.logicalAnd(tf.logicalNot(useA), tf.greater(tf.abs(dxB), eps));
        const contribution = tf.mul(dy, tf.sub(y, yr));
        const one = tf.onesLike(dxA);
        const weightA = tf.where(useA, tf.div(contribution, tf.where(useA, dxA, one)), tf.where(useB, tf.zerosLike(dy), dy));
        const weightB = tf.where(useB, tf.div(contribution, tf.where(useB, dxB, one)), tf.zerosLike(dy));
        const values = masksX.map((m, t) => tf.add(tf.mul(m, weightA), tf.mul(masksR[t], weightB)) as tf.Tensor4D);
        return padOrCrop(scatterTaps(values, xp.shape, p), negate(p.pads));
      },
    };
  });
  return run(x) as tf.Tensor4D;
}

function maxOverTaps(xp: tf.Tensor4D, out: [number, number], p: PoolParams): tf.Tensor4D {
  let y: tf.Tensor4D | undefined;
  for (let i = 0; i < p.kernel[0]; i++) {
    for (let j = 0; j < p.kernel[1]; j++) {
      const tap = windowTap(xp, i, j, out, p);
      y = y ? (tf.maximum(y, tap) as tf.Tensor4D) : tap;
    }
  }
  return y as tf.Tensor4D;
}

/**
 * Average pooling (NHWC). `divisorPads` says which padded positions count in the divisor: with
 * count_include_pad the explicit pads count but a ceil_mode overhang never does (PyTorch).
 */
export function averagePool(x: tf.Tensor4D, p: PoolParams, countedPads: SpatialPads): tf.Tensor4D {
  if (p.dilations[0] > 1 || p.dilations[1] > 1) throw new Error('dilated average pooling is not supported');
  const windowArea = p.kernel[0] * p.kernel[1];
  const summed = tf.mul(tf.avgPool(padOrCrop(x, p.pads), p.kernel, p.strides, 'valid'), windowArea);
  const [, h, w] = x.shape;
  const divisor = tf.tidy(() => {
    const ones = tf.ones([1, h, w, 1]) as tf.Tensor4D;
    const counted = padOrCrop(ones, countedPads, 1);
    const rest: SpatialPads = [
      [p.pads[0][0] - countedPads[0][0], p.pads[0][1] - countedPads[0][1]],
      [p.pads[1][0] - countedPads[1][0], p.pads[1][1] - countedPads[1][1]],
    ];
    return tf.mul(tf.avgPool(padOrCrop(counted, rest, 0), p.kernel, p.strides, 'valid'), windowArea);
  });
  return tf.div(summed, divisor) as tf.Tensor4D;
}

function negate(pads: SpatialPads): SpatialPads {
  return [
    [-pads[0][0], -pads[0][1]],
    [-pads[1][0], -pads[1][1]],
  ];
}
