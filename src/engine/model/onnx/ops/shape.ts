import * as tf from '@tensorflow/tfjs-core';
import { axis, nodeError, required, type OpDefinition, type RunContext } from '../op';
import { gatherAxis } from '../../../kernels/gather';
import { stridedSlice, type AxisSlice } from '../../../kernels/strided-slice';
import { engineDtype, hostTensor } from '../tensor-proto';

/** Axes from the attribute (before `inputFrom`) or from input 1 (from that opset on). */
function axesOf(ctx: RunContext, inputFrom: number): number[] | undefined {
  return ctx.node.opset >= inputFrom ? (ctx.inputs[1] ? ctx.ints(1) : undefined) : ctx.node.attrs.ints('axes');
}

function requiredInts(ctx: RunContext, i: number, what: string): number[] {
  const v = ctx.inputs[i] ? ctx.ints(i) : undefined;
  if (!v) throw nodeError(ctx.node, `missing ${what}`);
  return v;
}

function unsqueeze(ctx: RunContext): tf.Tensor {
  const x = required(ctx, 0);
  const axes = axesOf(ctx, 13);
  if (!axes) throw nodeError(ctx.node, 'missing axes');
  const rank = x.rank + axes.length;
  const sorted = axes.map((a) => axis(a, rank)).sort((a, b) => a - b);
  const shape = [...x.shape];
  for (const a of sorted) shape.splice(a, 0, 1);
  return tf.reshape(x, shape);
}

function squeeze(ctx: RunContext): tf.Tensor {
  const x = required(ctx, 0);
  const axes = axesOf(ctx, 13);
  if (!axes) return tf.reshape(x, x.shape.filter((d) => d !== 1));
  const drop = new Set(axes.map((a) => axis(a, x.rank)));
  for (const a of drop) if (x.shape[a] !== 1) throw nodeError(ctx.node, `cannot squeeze axis ${a} of size ${x.shape[a]}`);
  return tf.reshape(x, x.shape.filter((_, i) => !drop.has(i)));
}

/** ONNX Slice (opset 10+ inputs) with numpy clamping, negative indices and steps. */
function slice(ctx: RunContext): tf.Tensor {
  const x = required(ctx, 0);
  const starts = requiredInts(ctx, 1, 'starts');
  const ends = requiredInts(ctx, 2, 'ends');
  const axes = ctx.inputs[3] ? ctx.ints(3)! : starts.map((_, i) => i);
  const steps = ctx.inputs[4] ? ctx.ints(4)! : starts.map(() => 1);
  const plan: AxisSlice[] = x.shape.map((d) => ({ start: 0, step: 1, count: d, reversed: false }));
  axes.forEach((a0, i) => {
    const a = axis(a0, x.rank);
    const dim = x.shape[a];
    const step = steps[i];
    if (step === 0) throw nodeError(ctx.node, 'slice step 0');
    let s = starts[i] < 0 ? starts[i] + dim : starts[i];
    let e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      s = Math.min(Math.max(s, 0), dim);
      e = Math.min(Math.max(e, 0), dim);
      plan[a] = { start: s, step, count: Math.max(Math.ceil((e - s) / step), 0), reversed: false };
    } else {
      s = Math.min(Math.max(s, 0), dim - 1);
      e = Math.min(Math.max(e, -1), dim - 1);
      const count = Math.max(Math.ceil((s - e) / -step), 0);
      // Taken in ascending order from the last position reached, then reversed.
      plan[a] = { start: count > 0 ? s + (count - 1) * step : 0, step: -step, count, reversed: true };
    }
  });
  if (plan.every((p) => p.step === 1 && !p.reversed)) {
    return tf.slice(x, plan.map((p) => p.start), plan.map((p) => p.count));
  }
  return stridedSlice(x, plan);
}

function gather(ctx: RunContext): tf.Tensor {
  const x = required(ctx, 0);
  const indices = required(ctx, 1);
  const a = axis(ctx.node.attrs.int('axis', 0), x.rank);
  const dim = x.shape[a];
  const values = ctx.ints(1)!.map((i) => (i < 0 ? i + dim : i));
  for (const v of values) if (v < 0 || v >= dim) throw nodeError(ctx.node, `index ${v} out of range for axis of size ${dim}`);
  const shape = indices.rank === 0 ? [1] : indices.shape;
  // Shape arithmetic (int32) needs no gradient; float data does.
  const y = x.dtype === 'float32' ? gatherAxis(x, values, shape, a) : tf.gather(x, tf.tensor(values, shape, 'int32'), a);
  return indices.rank === 0 ? tf.squeeze(y, [a]) : y;
}

function reshape(ctx: RunContext): tf.Tensor {
  const x = required(ctx, 0);
  const allowZero = ctx.node.attrs.int('allowzero', 0) === 1;
  const shape = requiredInts(ctx, 1, 'shape').map((d, i) => (d === 0 && !allowZero ? x.shape[i] : d));
  return tf.reshape(x, shape);
}

function flatten(ctx: RunContext): tf.Tensor {
  const x = required(ctx, 0);
  const a = axis(ctx.node.attrs.int('axis', 1), x.rank);
  const outer = x.shape.slice(0, a).reduce((p, q) => p * q, 1);
  return tf.reshape(x, [outer, -1]);
}

function cast(ctx: RunContext): tf.Tensor {
  const to = ctx.node.attrs.int('to', 1);
  const dtype = engineDtype(to);
  if (!dtype) throw nodeError(ctx.node, `cast to unsupported data type ${to}`);
  return tf.cast(required(ctx, 0), dtype);
}

function constantOfShape(ctx: RunContext): tf.Tensor {
  const shape = requiredInts(ctx, 0, 'shape');
  const valueProto = ctx.node.attrs.tensor('value');
  const value = valueProto ? hostTensor(valueProto, '', ctx.node.file) : { dtype: 'float32' as const, values: new Float32Array([0]) };
  return tf.fill(shape, value.values[0], value.dtype === 'bool' ? 'bool' : value.dtype);
}

/** ONNX pads [b1..bn, e1..en]; modes constant / reflect / edge; negative pads crop. */
function pad(ctx: RunContext): tf.Tensor {
  const x = required(ctx, 0);
  const node = ctx.node;
  const mode = node.attrs.string('mode', 'constant');
  let pads = node.opset >= 11 ? requiredInts(ctx, 1, 'pads') : node.attrs.ints('pads');
  if (!pads) throw nodeError(node, 'missing pads');
  const value = node.opset >= 11 ? (ctx.inputs[2] ? ctx.floats(2)![0] : 0) : node.attrs.float('value', 0);
  if (node.opset >= 18 && ctx.inputs[3]) {
    const axes = ctx.ints(3)!.map((a) => axis(a, x.rank));
    const full = Array(2 * x.rank).fill(0);
    axes.forEach((a, i) => {
      full[a] = pads![i];
      full[a + x.rank] = pads![i + axes.length];
    });
    pads = full;
  }
  if (pads.length !== 2 * x.rank) throw nodeError(node, `pads has ${pads.length} values for a rank-${x.rank} input`);
  const pairs = x.shape.map((_, i) => [pads![i], pads![i + x.rank]] as [number, number]);
  let y = x;
  if (pairs.some(([b, e]) => b < 0 || e < 0)) {
    const begin = pairs.map(([b]) => Math.max(-b, 0));
    const size = y.shape.map((d, i) => d - begin[i] - Math.max(-pairs[i][1], 0));
    y = tf.slice(y, begin, size);
  }
  const grow = pairs.map(([b, e]) => [Math.max(b, 0), Math.max(e, 0)] as [number, number]);
  if (grow.every(([b, e]) => b === 0 && e === 0)) return y;
  if (mode === 'constant') return tf.pad(y, grow, value);
  if (mode === 'reflect') {
    grow.forEach(([b, e], i) => {
      if (b >= y.shape[i] || e >= y.shape[i]) throw nodeError(node, `reflect padding ${Math.max(b, e)} is not smaller than axis ${i} of size ${y.shape[i]}`);
    });
    return reflectPad(y, grow);
  }
  if (mode === 'edge') return edgePad(y, grow);
  throw nodeError(node, `unsupported pad mode '${mode}'`);
}

/** Reflect padding from slice, reverse and concat: tfjs's MirrorPad gradient is wrong (tested). */
function reflectPad(x: tf.Tensor, grow: [number, number][]): tf.Tensor {
  let y = x;
  grow.forEach(([b, e], a) => {
    if (b === 0 && e === 0) return;
    const part = (from: number, count: number) => {
      const begin = y.shape.map((_, i) => (i === a ? from : 0));
      const size = y.shape.map((d, i) => (i === a ? count : d));
      return tf.reverse(tf.slice(y, begin, size), [a]);
    };
    const parts: tf.Tensor[] = [];
    if (b > 0) parts.push(part(1, b));
    parts.push(y);
    if (e > 0) parts.push(part(y.shape[a] - 1 - e, e));
    y = tf.concat(parts, a);
  });
  return y;
}

function edgePad(x: tf.Tensor, grow: [number, number][]): tf.Tensor {
  let y = x;
  grow.forEach(([b, e], a) => {
    if (b === 0 && e === 0) return;
    const size = [...y.shape];
    size[a] = 1;
    const reps = y.shape.map(() => 1);
    const parts: tf.Tensor[] = [];
    if (b > 0) parts.push(tf.tile(tf.slice(y, y.shape.map(() => 0), size), reps.map((r, i) => (i === a ? b : r))));
    parts.push(y);
    if (e > 0) {
      const begin = y.shape.map((_, i) => (i === a ? y.shape[a] - 1 : 0));
      parts.push(tf.tile(tf.slice(y, begin, size), reps.map((r, i) => (i === a ? e : r))));
    }
    y = tf.concat(parts, a);
  });
  return y;
}

export const shapeOps: Record<string, OpDefinition> = {
  Shape: {
    run: (ctx) => {
      const shape = required(ctx, 0).shape;
      const rank = shape.length;
      const clampAxis = (a: number) => Math.min(Math.max(a < 0 ? a + rank : a, 0), rank);
      const start = clampAxis(ctx.node.attrs.int('start', 0));
      const end = clampAxis(ctx.node.attrs.int('end', rank));
      return tf.tensor1d(shape.slice(start, end), 'int32');
    },
  },
  Gather: { run: gather },
  Unsqueeze: { run: unsqueeze },
  Squeeze: { run: squeeze },
  Slice: { run: slice },
  Cast: { run: cast },
  ConstantOfShape: { run: constantOfShape },
  Reshape: { run: reshape },
  Flatten: { run: flatten },
  Concat: {
    run: (ctx) => {
      const xs = ctx.inputs.filter((t): t is tf.Tensor => t !== undefined);
      return tf.concat(xs, axis(ctx.node.attrs.int('axis', 0), xs[0].rank));
    },
  },
  Transpose: {
    run: (ctx) => {
      const x = required(ctx, 0);
      return tf.transpose(x, ctx.node.attrs.ints('perm') ?? [...Array(x.rank).keys()].reverse());
    },
  },
  Pad: { run: pad },
};
