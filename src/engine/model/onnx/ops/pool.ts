import * as tf from '@tensorflow/tfjs-core';
import { averagePool, maxPool } from '../../../kernels/pool';
import type { SpatialPads } from '../../../kernels/spatial';
import { nodeError, required, type OpDefinition, type RunContext } from '../op';
import { pair, spatialPads, windowAttrs } from './window';

function pooled(ctx: RunContext, f: (x: tf.Tensor4D, ctx: RunContext) => tf.Tensor4D): tf.Tensor {
  const x = required(ctx, 0);
  if (x.rank !== 4) throw nodeError(ctx.node, `only 2-D pooling is supported (input has rank ${x.rank})`);
  if (ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '') throw nodeError(ctx.node, 'the Indices output is not supported');
  return tf.transpose(f(tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D, ctx), [0, 3, 1, 2]);
}

function geometry(x: tf.Tensor4D, ctx: RunContext) {
  const node = ctx.node;
  const kernel = pair(node, 'kernel_shape', node.attrs.ints('kernel_shape'), NaN);
  if (Number.isNaN(kernel[0])) throw nodeError(node, "missing attribute 'kernel_shape'");
  const win = windowAttrs(node, kernel);
  const size: [number, number] = [x.shape[1], x.shape[2]];
  return { win, size, ceil: node.attrs.int('ceil_mode', 0) === 1 };
}

export const poolOps: Record<string, OpDefinition> = {
  MaxPool: {
    run: (ctx) =>
      pooled(ctx, (x) => {
        const { win, size, ceil } = geometry(x, ctx);
        const window = { ...win, pads: spatialPads(ctx.node, size, win, ceil) };
        return ctx.rule ? ctx.rule.maxPool(ctx.site!, x, window) : maxPool(x, window);
      }),
  },
  AveragePool: {
    run: (ctx) =>
      pooled(ctx, (x) => {
        const { win, size, ceil } = geometry(x, ctx);
        const explicit = spatialPads(ctx.node, size, win, false);
        const withCeil = spatialPads(ctx.node, size, win, ceil);
        const none: SpatialPads = [[0, 0], [0, 0]];
        const counted = ctx.node.attrs.int('count_include_pad', 0) === 1 ? explicit : none;
        if (win.dilations[0] > 1 || win.dilations[1] > 1) throw nodeError(ctx.node, 'dilated AveragePool is not supported');
        return averagePool(x, { ...win, pads: withCeil }, counted);
      }),
  },
  GlobalAveragePool: {
    run: (ctx) => {
      const x = required(ctx, 0);
      return tf.mean(x, [...Array(x.rank).keys()].slice(2), true);
    },
  },
};
