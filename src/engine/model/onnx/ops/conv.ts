import * as tf from '@tensorflow/tfjs-core';
import { Conv2DKernel } from '../../../kernels/conv2d';
import { DepthwiseConv2DKernel } from '../../../kernels/depthwise-conv2d';
import { dilateSpatial, padOrCrop } from '../../../kernels/spatial';
import { trainableConv2d } from '../../../kernels/trainable-conv2d';
import { nodeError, required, type NodeInfo, type OpDefinition, type Prepared, type RunContext } from '../op';
import type { HostTensor } from '../tensor-proto';
import { pair, spatialPads, windowAttrs } from './window';

const toNHWC = (x: tf.Tensor) => tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D;
const toNCHW = (x: tf.Tensor) => tf.transpose(x, [0, 3, 1, 2]) as tf.Tensor4D;

/** Filters in tfjs layout, one per group, built once from the constant weight. */
class ConvWeights implements Prepared {
  constructor(
    readonly groups: (Conv2DKernel | DepthwiseConv2DKernel)[],
    readonly depthwise: boolean,
    readonly kernel: [number, number],
    readonly inChannels: number,
    readonly bias: tf.Tensor | undefined,
  ) {}

  dispose(): void {
    this.groups.forEach((g) => g.dispose());
    this.bias?.dispose();
  }
}

function constantWeight(node: NodeInfo, constant: (i: number) => HostTensor | undefined): HostTensor {
  const w = constant(1);
  if (!w) throw nodeError(node, 'weights must be constant (an initializer); computed weights are not supported');
  if (w.shape.length !== 4) throw nodeError(node, `only 2-D convolutions are supported (weight has rank ${w.shape.length})`);
  return w;
}

function biasTensor(constant: (i: number) => HostTensor | undefined, node: NodeInfo): tf.Tensor | undefined {
  if (node.inputs.length < 3 || node.inputs[2] === '') return undefined;
  const b = constant(2);
  if (!b) throw nodeError(node, 'bias must be constant (an initializer)');
  return tf.tensor(b.values as Float32Array, [b.shape[0]], 'float32');
}

/**
 * Conv weight [cout, cin/g, kh, kw]. group 1: one conv; group == cin: depthwise; otherwise one
 * conv per group on channel slices.
 */
function prepareConv(node: NodeInfo, constant: (i: number) => HostTensor | undefined): ConvWeights {
  const w = constantWeight(node, constant);
  const [cout, cinPerGroup, kh, kw] = w.shape;
  const group = node.attrs.int('group', 1);
  const dilations = pair(node, 'dilations', node.attrs.ints('dilations'), 1);
  const cin = cinPerGroup * group;
  if (cout % group !== 0) throw nodeError(node, `output channels ${cout} not divisible by group ${group}`);
  const all = tf.tensor4d(w.values as Float32Array, [cout, cinPerGroup, kh, kw]);
  let groups: (Conv2DKernel | DepthwiseConv2DKernel)[];
  const depthwise = group > 1 && cinPerGroup === 1;
  if (group === 1) {
    groups = [new Conv2DKernel(tf.transpose(all, [2, 3, 1, 0]), dilations, windowAttrs(node, [kh, kw]).strides)];
  } else if (depthwise) {
    // Output channel o = c * m + q reads input channel c: [cin*m,1,kh,kw] -> [kh,kw,cin,m].
    const m = cout / group;
    groups = [new DepthwiseConv2DKernel(tf.tidy(() => tf.transpose(tf.reshape(all, [cin, m, kh, kw]), [2, 3, 0, 1])) as tf.Tensor4D, dilations)];
  } else {
    const per = cout / group;
    groups = Array.from({ length: group }, (_, g) =>
      new Conv2DKernel(tf.tidy(() => tf.transpose(tf.slice(all, [g * per, 0, 0, 0], [per, cinPerGroup, kh, kw]), [2, 3, 1, 0])) as tf.Tensor4D, dilations),
    );
  }
  all.dispose();
  return new ConvWeights(groups, depthwise, [kh, kw], cin, biasTensor(constant, node));
}

function addBias(y: tf.Tensor4D, bias: tf.Tensor | undefined): tf.Tensor4D {
  return bias ? (tf.add(y, bias) as tf.Tensor4D) : y;
}

function runConv(ctx: RunContext, prepared: Prepared | undefined): tf.Tensor {
  const weights = prepared as ConvWeights;
  const x = required(ctx, 0);
  if (x.rank !== 4) throw nodeError(ctx.node, `only 2-D convolutions are supported (input has rank ${x.rank})`);
  if (x.shape[1] !== weights.inChannels) {
    throw nodeError(ctx.node, `input has ${x.shape[1]} channels, the weights expect ${weights.inChannels}`);
  }
  const win = windowAttrs(ctx.node, weights.kernel);
  const xh = toNHWC(x);
  const pads = spatialPads(ctx.node, [xh.shape[1], xh.shape[2]], win);
  let y: tf.Tensor4D;
  if (weights.groups.length === 1) {
    const k = weights.groups[0];
    y = k instanceof DepthwiseConv2DKernel ? k.apply(xh, win.strides, pads) : k.apply(xh, { strides: win.strides, pads });
  } else {
    const parts = tf.split(xh, weights.groups.length, 3) as tf.Tensor4D[];
    y = tf.concat(parts.map((p, g) => (weights.groups[g] as Conv2DKernel).apply(p, { strides: win.strides, pads })), 3) as tf.Tensor4D;
  }
  return toNCHW(addBias(y, weights.bias));
}

/**
 * ConvTranspose weight [cin, cout/g, kh, kw]. A transposed convolution is a stride-1 convolution of
 * the stride-dilated, padded input with the flipped kernel, so it reuses Conv2DKernel and its
 * forward-op gradient.
 */
function prepareConvTranspose(node: NodeInfo, constant: (i: number) => HostTensor | undefined): ConvWeights {
  const w = constantWeight(node, constant);
  const [cin, coutPerGroup, kh, kw] = w.shape;
  const group = node.attrs.int('group', 1);
  const dilations = pair(node, 'dilations', node.attrs.ints('dilations'), 1);
  const per = cin / group;
  const all = tf.tensor4d(w.values as Float32Array, [cin, coutPerGroup, kh, kw]);
  const groups = Array.from({ length: group }, (_, g) =>
    new Conv2DKernel(
      tf.tidy(() => tf.reverse(tf.transpose(tf.slice(all, [g * per, 0, 0, 0], [per, coutPerGroup, kh, kw]), [2, 3, 0, 1]), [0, 1])) as tf.Tensor4D,
      dilations,
    ),
  );
  all.dispose();
  return new ConvWeights(groups, false, [kh, kw], cin, biasTensor(constant, node));
}

function runConvTranspose(ctx: RunContext, prepared: Prepared | undefined): tf.Tensor {
  const weights = prepared as ConvWeights;
  const x = required(ctx, 0);
  if (x.rank !== 4) throw nodeError(ctx.node, `only 2-D transposed convolutions are supported (input has rank ${x.rank})`);
  if (x.shape[1] !== weights.inChannels) {
    throw nodeError(ctx.node, `input has ${x.shape[1]} channels, the weights expect ${weights.inChannels}`);
  }
  const node = ctx.node;
  const win = windowAttrs(node, weights.kernel);
  const outputPadding = pair(node, 'output_padding', node.attrs.ints('output_padding'), 0);
  const size: [number, number] = [x.shape[2] as number, x.shape[3] as number];
  const extent = [0, 1].map((d) => win.dilations[d] * (win.kernel[d] - 1) + 1);
  const pads = transposePads(ctx, size, win.strides, extent, outputPadding);
  const xh = dilateSpatial(toNHWC(x), win.strides);
  const padded = padOrCrop(xh, [
    [extent[0] - 1 - pads[0][0], extent[0] - 1 - pads[0][1] + outputPadding[0]],
    [extent[1] - 1 - pads[1][0], extent[1] - 1 - pads[1][1] + outputPadding[1]],
  ]);
  const parts = weights.groups.length === 1 ? [padded] : (tf.split(padded, weights.groups.length, 3) as tf.Tensor4D[]);
  const none: [[number, number], [number, number]] = [[0, 0], [0, 0]];
  const ys = parts.map((p, g) => (weights.groups[g] as Conv2DKernel).apply(p, { strides: [1, 1], pads: none }));
  return toNCHW(addBias(ys.length === 1 ? ys[0] : (tf.concat(ys, 3) as tf.Tensor4D), weights.bias));
}

/** ConvTranspose padding from `pads`, `output_shape` or `auto_pad` (ONNX spec formulas). */
function transposePads(
  ctx: RunContext,
  size: [number, number],
  strides: [number, number],
  extent: number[],
  outputPadding: [number, number],
): [[number, number], [number, number]] {
  const node = ctx.node;
  const outputShape = node.attrs.ints('output_shape');
  const autoPad = node.attrs.string('auto_pad', 'NOTSET');
  if (outputShape || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const target = outputShape ? outputShape.slice(-2) : [size[0] * strides[0], size[1] * strides[1]];
    const result = [0, 1].map((d) => {
      const total = Math.max(strides[d] * (size[d] - 1) + outputPadding[d] + extent[d] - target[d], 0);
      const upper = autoPad !== 'SAME_LOWER';
      const begin = upper ? Math.floor(total / 2) : total - Math.floor(total / 2);
      return [begin, total - begin] as [number, number];
    });
    return [result[0], result[1]];
  }
  const pads = node.attrs.ints('pads') ?? [0, 0, 0, 0];
  if (pads.length !== 4) throw nodeError(node, `only 2-D windows are supported, 'pads' has ${pads.length} values`);
  return [
    [pads[0], pads[2]],
    [pads[1], pads[3]],
  ];
}

/**
 * Training mode: a filter [kh, kw, ci, co] computed from the weight tensor, with the dilation
 * materialised (zeros between taps, done with differentiable reshape and pad), since
 * trainableConv2d has no dilation.
 */
function trainingFilter(filter: tf.Tensor4D, dilations: [number, number]): tf.Tensor4D {
  if (dilations[0] === 1 && dilations[1] === 1) return filter;
  // [kh, kw, ci, co] -> [co, kh, kw, ci] (spatial axes in NHWC position) -> dilate -> back.
  const spatial = tf.transpose(filter, [3, 0, 1, 2]) as tf.Tensor4D;
  return tf.transpose(dilateSpatial(spatial, dilations), [1, 2, 3, 0]) as tf.Tensor4D;
}

function trainingWeights(ctx: RunContext): { w: tf.Tensor4D; bias: tf.Tensor | undefined } {
  const w = required(ctx, 1);
  if (w.rank !== 4) throw nodeError(ctx.node, `only 2-D convolutions are supported (weight has rank ${w.rank})`);
  return { w: w as tf.Tensor4D, bias: ctx.inputs[2] };
}

/** Conv with its weight and bias as inputs (variables), differentiable w.r.t. them (trainableConv2d). */
function trainConv(ctx: RunContext): tf.Tensor {
  const x = required(ctx, 0);
  const { w, bias } = trainingWeights(ctx);
  const [cout, cinPerGroup, kh, kw] = w.shape;
  const group = ctx.node.attrs.int('group', 1);
  if (x.rank !== 4 || x.shape[1] !== cinPerGroup * group) {
    throw nodeError(ctx.node, `input of shape [${x.shape}] does not have ${cinPerGroup * group} channels on axis 1`);
  }
  const dilations = pair(ctx.node, 'dilations', ctx.node.attrs.ints('dilations'), 1);
  const win = windowAttrs(ctx.node, [kh, kw]);
  const xh = toNHWC(x);
  const pads = spatialPads(ctx.node, [xh.shape[1], xh.shape[2]], win);
  const per = cout / group;
  const parts = group === 1 ? [xh] : (tf.split(xh, group, 3) as tf.Tensor4D[]);
  const ys = parts.map((p, g) => {
    const wg = group === 1 ? w : tf.slice(w, [g * per, 0, 0, 0], [per, cinPerGroup, kh, kw]);
    const filter = trainingFilter(tf.transpose(wg, [2, 3, 1, 0]) as tf.Tensor4D, dilations);
    return trainableConv2d(p, filter, win.strides, pads);
  });
  return toNCHW(addBias(ys.length === 1 ? ys[0] : (tf.concat(ys, 3) as tf.Tensor4D), bias));
}

/** ConvTranspose with its weight and bias as inputs (variables): runConvTranspose's construction with trainableConv2d. */
function trainConvTranspose(ctx: RunContext): tf.Tensor {
  const x = required(ctx, 0);
  const { w, bias } = trainingWeights(ctx);
  const [cin, coutPerGroup, kh, kw] = w.shape;
  const node = ctx.node;
  const group = node.attrs.int('group', 1);
  if (x.rank !== 4 || x.shape[1] !== cin) throw nodeError(node, `input of shape [${x.shape}] does not have ${cin} channels on axis 1`);
  const dilations = pair(node, 'dilations', node.attrs.ints('dilations'), 1);
  const win = windowAttrs(node, [kh, kw]);
  const outputPadding = pair(node, 'output_padding', node.attrs.ints('output_padding'), 0);
  const size: [number, number] = [x.shape[2] as number, x.shape[3] as number];
  const extent = [0, 1].map((d) => win.dilations[d] * (win.kernel[d] - 1) + 1);
  const pads = transposePads(ctx, size, win.strides, extent, outputPadding);
  const padded = padOrCrop(dilateSpatial(toNHWC(x), win.strides), [
    [extent[0] - 1 - pads[0][0], extent[0] - 1 - pads[0][1] + outputPadding[0]],
    [extent[1] - 1 - pads[1][0], extent[1] - 1 - pads[1][1] + outputPadding[1]],
  ]);
  const per = cin / group;
  const parts = group === 1 ? [padded] : (tf.split(padded, group, 3) as tf.Tensor4D[]);
  const none: [[number, number], [number, number]] = [[0, 0], [0, 0]];
  const ys = parts.map((p, g) => {
    const wg = group === 1 ? w : tf.slice(w, [g * per, 0, 0, 0], [per, coutPerGroup, kh, kw]);
    const filter = trainingFilter(tf.reverse(tf.transpose(wg, [2, 3, 0, 1]), [0, 1]) as tf.Tensor4D, dilations);
    return trainableConv2d(p, filter, [1, 1], none);
  });
  return toNCHW(addBias(ys.length === 1 ? ys[0] : (tf.concat(ys, 3) as tf.Tensor4D), bias));
}

export const convOps: Record<string, OpDefinition> = {
  Conv: { prepare: prepareConv, run: runConv, train: trainConv },
  ConvTranspose: { prepare: prepareConvTranspose, run: runConvTranspose, train: trainConvTranspose },
};
