import * as tf from '@tensorflow/tfjs-core';
import { nodeError, required, type NodeInfo, type OpDefinition, type Prepared } from '../op';
import type { HostTensor } from '../tensor-proto';

/** Inference-mode batch norm folded to y = x * a + b, an affine map with an ordinary gradient. */
class Affine implements Prepared {
  constructor(
    readonly a: tf.Tensor1D,
    readonly b: tf.Tensor1D,
  ) {}

  dispose(): void {
    this.a.dispose();
    this.b.dispose();
  }
}

function prepareBatchNorm(node: NodeInfo, constant: (i: number) => HostTensor | undefined): Affine {
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => constant(i));
  if (!scale || !bias || !mean || !variance) {
    throw nodeError(node, 'scale, bias, mean and variance must be constants (inference mode)');
  }
  const epsilon = node.attrs.float('epsilon', 1e-5);
  const c = scale.values.length;
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    a[i] = scale.values[i] / Math.sqrt(variance.values[i] + epsilon);
    b[i] = bias.values[i] - mean.values[i] * a[i];
  }
  return new Affine(tf.tensor1d(a), tf.tensor1d(b));
}

export const normalizationOps: Record<string, OpDefinition> = {
  BatchNormalization: {
    prepare: prepareBatchNorm,
    run: (ctx, prepared) => {
      const x = required(ctx, 0);
      const { a, b } = prepared as Affine;
      if (x.rank < 2 || x.shape[1] !== a.shape[0]) {
        throw nodeError(ctx.node, `input shape [${x.shape}] does not have ${a.shape[0]} channels on axis 1`);
      }
      const shape = [a.shape[0], ...Array(x.rank - 2).fill(1)];
      return tf.add(tf.mul(x, tf.reshape(a, shape)), tf.reshape(b, shape));
    },
    /**
     * Training mode: the same inference-mode affine map with scale and bias (and mean, variance)
     * read from the inputs, so scale and bias can be trained; batch statistics are not used.
     */
    train: (ctx) => {
      const x = required(ctx, 0);
      const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => required(ctx, i));
      if (x.rank < 2 || x.shape[1] !== scale.shape[0]) {
        throw nodeError(ctx.node, `input shape [${x.shape}] does not have ${scale.shape[0]} channels on axis 1`);
      }
      const a = tf.div(scale, tf.sqrt(tf.add(variance, ctx.node.attrs.float('epsilon', 1e-5))));
      const b = tf.sub(bias, tf.mul(mean, a));
      const shape = [scale.shape[0], ...Array(x.rank - 2).fill(1)];
      return tf.add(tf.mul(x, tf.reshape(a, shape)), tf.reshape(b, shape));
    },
  },
};
