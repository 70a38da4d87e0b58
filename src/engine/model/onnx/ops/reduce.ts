import * as tf from '@tensorflow/tfjs-core';
import { axis, required, type OpDefinition } from '../op';

export const reduceOps: Record<string, OpDefinition> = {
  ReduceMean: {
    run: (ctx) => {
      const x = required(ctx, 0);
      const keepDims = ctx.node.attrs.int('keepdims', 1) === 1;
      // Axes are an attribute before opset 18 and an optional input from 18 on.
      const axes = ctx.node.opset >= 18 ? (ctx.inputs[1] ? ctx.ints(1) : undefined) : ctx.node.attrs.ints('axes');
      if (!axes || axes.length === 0) {
        if (ctx.node.attrs.int('noop_with_empty_axes', 0) === 1) return x;
        return tf.mean(x, undefined, keepDims);
      }
      return tf.mean(x, axes.map((a) => axis(a, x.rank)), keepDims);
    },
  },
};
