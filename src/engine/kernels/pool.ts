import * as tf from '@tensorflow/tfjs-core';
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
    // customGrad disposes what the forward pass made unless saved for the gradient.
    (save as tf.GradSaveFunc)([xp, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xp, y] = saved as tf.Tensor4D[];
        const [, hp, wp] = xp.shape;
        let taken: tf.Tensor4D = tf.zerosLike(y);
        const parts: tf.Tensor4D[] = [];
        for (let i = 0; i < p.kernel[0]; i++) {
          for (let j = 0; j < p.kernel[1]; j++) {
            const first = tf.mul(tf.cast(tf.equal(windowTap(xp, i, j, out, p), y), 'float32'), tf.sub(1, taken)) as tf.Tensor4D;
            taken = tf.add(taken, first);
            const spread = dilateSpatial(tf.mul(dy, first) as tf.Tensor4D, p.strides);
            const r = i * p.dilations[0];
            const q = j * p.dilations[1];
            parts.push(padOrCrop(spread, [[r, hp - r - spread.shape[1]], [q, wp - q - spread.shape[2]]]));
          }
        }
        return padOrCrop(tf.addN(parts), negate(p.pads));
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
