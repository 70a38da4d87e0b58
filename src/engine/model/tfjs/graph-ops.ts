import * as tf from '@tensorflow/tfjs-core';
import type { SpatialPads } from '../../kernels/spatial';
import * as A from '../nhwc/activations';
import type { OpBehaviour } from '../nhwc/op-graph';
import * as ops from '../nhwc/ops';
import type { HostTensor } from '../onnx/tensor-proto';

/** TensorFlow graph ops (as the TF.js converter writes them) → channels-last graph steps. */

export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

export interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  list?: { i?: (string | number)[]; s?: string[]; f?: number[] };
  tensor?: { dtype?: string; tensorShape?: { dim?: { size?: string | number }[] }; floatVal?: number[]; intVal?: number[]; tensorContent?: string };
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
  type?: string;
}

/** A step of a node: reads `inputs` (value names; the first step only) or the previous step's output. */
export interface GraphStep {
  suffix: string;
  opType: string;
  op: OpBehaviour;
}

/** The node's inputs as the op sees them: a value of the graph, or a constant. */
export interface OpInputs {
  /** Graph values among the node's data inputs, by position (undefined where constant). */
  values: (string | undefined)[];
  constant(i: number): HostTensor | undefined;
  owned: ops.Owned;
  /** Parameter by role, registered for randomization (weights of convolutions, dense layers, batch norms). */
  param(role: string, i: number, init: 'kernel' | 'zeros' | 'ones'): HostTensor;
}

export class GraphOpError extends Error {}

const decoder = new TextDecoder();
const text = (a: TfAttr | undefined): string | undefined => (a?.s !== undefined ? decoder.decode(Buffer.from(a.s, 'base64')) : undefined);
const ints = (a: TfAttr | undefined): number[] | undefined => a?.list?.i?.map(Number);
const strings = (a: TfAttr | undefined): string[] => (a?.list?.s ?? []).map((s) => decoder.decode(Buffer.from(s, 'base64')));

function attrs(node: TfNode) {
  const at = node.attr ?? {};
  return {
    text: (k: string) => text(at[k]),
    ints: (k: string) => ints(at[k]),
    int: (k: string, d: number) => (at[k]?.i !== undefined ? Number(at[k].i) : d),
    float: (k: string, d: number) => at[k]?.f ?? d,
    bool: (k: string) => at[k]?.b === true,
    strings: (k: string) => strings(at[k]),
  };
}

function nhwc(node: TfNode): void {
  const f = attrs(node).text('data_format');
  if (f !== undefined && f !== 'NHWC') throw new GraphOpError(`data_format '${f}' is not supported (NHWC only)`);
}

/** Strides or window [1, h, w, 1] → [h, w]. */
function spatial(values: number[] | undefined, fallback: [number, number]): [number, number] {
  if (!values) return fallback;
  if (values.length !== 4 || values[0] !== 1 || values[3] !== 1) throw new GraphOpError(`[${values}] is not a 2-D NHWC window`);
  return [values[1], values[2]];
}

function padding(node: TfNode): ops.Padding {
  const a = attrs(node);
  const p = a.text('padding') ?? 'VALID';
  if (p === 'SAME') return 'same';
  if (p === 'VALID') return 'valid';
  if (p === 'EXPLICIT') {
    const e = a.ints('explicit_paddings') ?? [];
    if (e.length !== 8) throw new GraphOpError(`explicit_paddings [${e}] is not 2-D NHWC`);
    return [
      [e[2], e[3]],
      [e[4], e[5]],
    ];
  }
  throw new GraphOpError(`padding '${p}' is not supported`);
}

function activation(name: string, node: TfNode): A.Activation {
  switch (name) {
    case 'Relu':
      return A.relu();
    case 'Relu6':
      return A.clip(0, 6);
    case 'Elu':
      return A.elu(1);
    case 'Selu':
      return A.selu();
    case 'LeakyRelu':
      return A.leakyRelu(attrs(node).float('alpha', 0.2));
    case 'Sigmoid':
      return A.sigmoid();
    case 'Tanh':
      return A.tanh();
    case 'Softplus':
      return A.softplus();
    default:
      throw new GraphOpError(`fused activation '${name}' is not supported`);
  }
}

const plain = (suffix: string, opType: string, op: OpBehaviour): GraphStep => ({ suffix, opType, op });
const actStep = (suffix: string, a: A.Activation): GraphStep => ({ suffix, opType: a.opType, op: a.behaviour });

/** The fused ops after a convolution or matmul: BiasAdd or FusedBatchNorm, then an activation. */
function fused(node: TfNode, io: OpInputs, base: number): GraphStep[] {
  const list = attrs(node).strings('fused_ops');
  const steps: GraphStep[] = [];
  for (const f of list) {
    if (f === 'BiasAdd') steps.push(plain('/bias', 'BiasAdd', ops.biasAdd(io.owned, io.param('bias', base, 'zeros'))));
    else if (f === 'FusedBatchNorm') {
      steps.push(
        plain('/batchnorm', 'BatchNormalization', ops.batchNorm(io.owned, {
          gamma: io.param('scale', base, 'ones'),
          beta: io.param('offset', base + 1, 'zeros'),
          mean: io.param('mean', base + 2, 'zeros'),
          variance: io.param('variance', base + 3, 'ones'),
          epsilon: attrs(node).float('epsilon', 1e-3),
        })),
      );
    } else steps.push(actStep('', activation(f, node)));
  }
  // The last step writes the node's own name: rename a trailing linear step.
  if (steps.length > 0 && steps.at(-1)!.suffix !== '') steps[steps.length - 1] = { ...steps.at(-1)!, suffix: '' };
  return steps;
}

function convolution(node: TfNode, io: OpInputs, depthwise: boolean): GraphStep[] {
  nhwc(node);
  const a = attrs(node);
  const filter = io.param('filter', 1, 'kernel');
  const spec = { filter, strides: spatial(a.ints('strides'), [1, 1]), dilations: spatial(a.ints('dilations'), [1, 1]), padding: padding(node) };
  const op = depthwise ? ops.depthwiseConv2d(io.owned, spec) : ops.conv2d(io.owned, spec);
  const rest = fused(node, io, 2);
  return [plain(rest.length > 0 ? '/conv' : '', depthwise ? 'DepthwiseConv2D' : 'Conv2D', op), ...rest];
}

function matmul(node: TfNode, io: OpInputs): GraphStep[] {
  const a = attrs(node);
  if (a.bool('transpose_a')) throw new GraphOpError('transpose_a is not supported');
  if (io.values[1] !== undefined) throw new GraphOpError('a product of two computed matrices is not supported');
  const op = ops.dense(io.owned, io.param('kernel', 1, 'kernel'), undefined, a.bool('transpose_b'));
  const rest = fused(node, io, 2);
  return [plain(rest.length > 0 ? '/matmul' : '', 'MatMul', op), ...rest];
}

/** A binary elementwise op: with a constant operand a plain op, between two values `both`. */
function binary(node: TfNode, io: OpInputs, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, opType: string, both: OpBehaviour['kind'] = 'plain'): GraphStep[] {
  const [c0, c1] = [io.constant(0), io.constant(1)];
  if (c0 && c1) throw new GraphOpError('both operands are constant');
  if (c0 || c1) {
    const c = ops.constant(io.owned, (c0 ?? c1)!);
    return [plain('', opType, { kind: 'plain', run: ([x]) => (c0 ? f(c, x) : f(x, c)) })];
  }
  const op: OpBehaviour = both === 'product' ? { kind: 'product', f } : { kind: 'plain', run: ([x, y]) => f(x, y) };
  return [plain('', opType, op)];
}

function needConstant(io: OpInputs, i: number, what: string): HostTensor {
  const c = io.constant(i);
  if (!c) throw new GraphOpError(`${what} must be a constant`);
  return c;
}

function pool(node: TfNode, max: boolean): GraphStep[] {
  nhwc(node);
  const a = attrs(node);
  const kernel = spatial(a.ints('ksize'), [1, 1]);
  const spec = { kernel, strides: spatial(a.ints('strides'), kernel), padding: padding(node) };
  return max ? [plain('', 'MaxPool', { kind: 'maxPool', window: ops.maxPoolWindow(spec) })] : [plain('', 'AveragePool', ops.avgPool(spec))];
}

type OpFn = (node: TfNode, io: OpInputs) => GraphStep[];

const unary = (a: () => A.Activation): OpFn => () => [actStep('', a())];

export const GRAPH_OPS: Record<string, OpFn> = {
  Conv2D: (n, io) => convolution(n, io, false),
  _FusedConv2D: (n, io) => convolution(n, io, false),
  DepthwiseConv2dNative: (n, io) => convolution(n, io, true),
  FusedDepthwiseConv2dNative: (n, io) => convolution(n, io, true),
  MatMul: matmul,
  _FusedMatMul: matmul,
  BiasAdd: (n, io) => {
    nhwc(n);
    return [plain('', 'BiasAdd', ops.biasAdd(io.owned, io.param('bias', 1, 'zeros')))];
  },
  FusedBatchNorm: (n, io) => batchNormOp(n, io),
  FusedBatchNormV2: (n, io) => batchNormOp(n, io),
  FusedBatchNormV3: (n, io) => batchNormOp(n, io),
  Add: (n, io) => binary(n, io, tf.add, 'Add'),
  AddV2: (n, io) => binary(n, io, tf.add, 'Add'),
  Sub: (n, io) => binary(n, io, tf.sub, 'Sub'),
  Mul: (n, io) => binary(n, io, tf.mul, 'Mul', 'product'),
  RealDiv: (n, io) => {
    if (!io.constant(1)) throw new GraphOpError('division by a computed value is not supported');
    return binary(n, io, tf.div, 'Div');
  },
  Relu: unary(A.relu),
  Relu6: unary(() => A.clip(0, 6)),
  Elu: unary(() => A.elu(1)),
  Selu: unary(A.selu),
  Sigmoid: unary(A.sigmoid),
  Tanh: unary(A.tanh),
  Softplus: unary(A.softplus),
  LeakyRelu: (n) => [actStep('', A.leakyRelu(attrs(n).float('alpha', 0.2)))],
  Softmax: () => [plain('', 'Softmax', { kind: 'softmax', axis: -1 })],
  MaxPool: (n) => pool(n, true),
  AvgPool: (n) => pool(n, false),
  Mean: (n, io) => {
    const axes = Array.from(needConstant(io, 1, 'the reduction axes').values);
    const keep = attrs(n).bool('keep_dims');
    return [plain('', 'ReduceMean', { kind: 'plain', run: ([x]) => tf.mean(x, axes.map((a) => (a < 0 ? a + x.rank : a)), keep) })];
  },
  Reshape: (_n, io) => {
    const shape = Array.from(needConstant(io, 1, 'the target shape').values);
    return [plain('', 'Reshape', { kind: 'plain', run: ([x]) => tf.reshape(x, shape) })];
  },
  Squeeze: (n) => {
    const dims = attrs(n).ints('squeeze_dims');
    return [plain('', 'Squeeze', { kind: 'plain', run: ([x]) => tf.squeeze(x, dims && dims.length > 0 ? dims : undefined) })];
  },
  ExpandDims: (_n, io) => {
    const axis = Number(needConstant(io, 1, 'the axis').values[0]);
    return [plain('', 'ExpandDims', { kind: 'plain', run: ([x]) => tf.expandDims(x, axis) })];
  },
  ConcatV2: (n, io) => {
    const last = (n.input ?? []).filter((i) => !i.startsWith('^')).length - 1;
    const axis = Number(needConstant(io, last, 'the concatenation axis').values[0]);
    if (io.values.slice(0, last).some((v) => v === undefined)) throw new GraphOpError('concatenating constants is not supported');
    return [plain('', 'Concat', ops.concat(axis))];
  },
  Pad: (_n, io) => padOp(io),
  PadV2: (_n, io) => padOp(io),
};

function batchNormOp(node: TfNode, io: OpInputs): GraphStep[] {
  nhwc(node);
  const op = ops.batchNorm(io.owned, {
    gamma: io.param('scale', 1, 'ones'),
    beta: io.param('offset', 2, 'zeros'),
    mean: io.param('mean', 3, 'zeros'),
    variance: io.param('variance', 4, 'ones'),
    epsilon: attrs(node).float('epsilon', 1e-3),
  });
  return [plain('', 'BatchNormalization', op)];
}

function padOp(io: OpInputs): GraphStep[] {
  const p = Array.from(needConstant(io, 1, 'the paddings').values);
  const value = io.constant(2)?.values[0] ?? 0;
  if (p.length !== 8 || p[0] !== 0 || p[1] !== 0 || p[6] !== 0 || p[7] !== 0 || value !== 0) {
    throw new GraphOpError(`padding [${p}] (value ${value}) is not a zero padding of the spatial axes`);
  }
  const pads: SpatialPads = [
    [p[2], p[3]],
    [p[4], p[5]],
  ];
  return [plain('', 'Pad', ops.padSpatial(pads))];
}

/** Ops that pass their input through. */
export const IDENTITY_OPS = new Set(['Identity', 'Snapshot', 'NoOp']);

export function isSupportedGraphOp(op: string): boolean {
  return op in GRAPH_OPS || IDENTITY_OPS.has(op) || op === 'Const' || op === 'Placeholder';
}
