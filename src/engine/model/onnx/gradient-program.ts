import { axis as normaliseAxis, type NodeInfo } from './op';
import type { AttributeProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './proto';
import { DataType, hostTensor, type HostTensor } from './tensor-proto';

/**
 * ONNX programs for a native runtime (src/engine/native): the model itself, and the model with its
 * input gradient appended as ONNX nodes — reverse-mode differentiation written out as a graph, so
 * a runtime without autograd (ONNX Runtime) computes d(seed · logits)/dx in one run. Every
 * backward node is the adjoint of a forward node in the graph's own opset; a node without a rule
 * here makes the model unsupported, and the engine keeps its TensorFlow.js path for it.
 */

/** What the builder reads from a loaded model. */
export interface ProgramSource {
  proto: ModelProto;
  /** The model file's folder (external initializer data is resolved against it). */
  modelDir: string;
  file: string;
  opset: number;
  /** Executable nodes in order (Constant nodes and values folded at load excluded). */
  nodes: readonly NodeInfo[];
  /** Value of a constant (initializer or folded), overrides applied. */
  constant(name: string): HostTensor | undefined;
  /** Constants replaced by re-initialised values (randomized copies of the model). */
  overrides: ReadonlyMap<string, HostTensor>;
  inputName: string;
  outputName: string;
  /** Shape of every computed value for a batch of one. */
  shapes: ReadonlyMap<string, readonly number[]>;
}

/** Names of the gradient program's extra input and its output. */
export const SEED_INPUT = 'lens_output_gradient';
export const GRADIENT_OUTPUT = 'lens_input_gradient';

/** The graph cannot be differentiated here; says which node stopped it. */
export class UnsupportedForGradient extends Error {}

const FLOAT = DataType.FLOAT;
const INT64 = DataType.INT64;

const ints = (name: string, values: readonly number[]): AttributeProto => ({ name, type: 7, ints: [...values] });
const int = (name: string, value: number): AttributeProto => ({ name, type: 2, i: value });
const float = (name: string, value: number): AttributeProto => ({ name, type: 1, f: value });

function floatTensor(name: string, values: Float32Array, dims: readonly number[]): TensorProto {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  return { name, dims: [...dims], dataType: FLOAT, rawData: bytes };
}

function valueInfo(name: string, dims: (number | string)[]): ValueInfoProto {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * The filter of a convolution's input gradient as a forward convolution: W [M, C/g, k…] becomes
 * [C, M/g, k…] with every spatial axis reversed, group by group.
 */
function flippedFilter(w: HostTensor, group: number): Float32Array {
  const [M, Cg, ...kernel] = w.shape;
  const taps = product(kernel);
  const Mg = M / group;
  const out = new Float32Array(w.values.length);
  for (let g = 0; g < group; g++) {
    for (let m = 0; m < Mg; m++) {
      for (let c = 0; c < Cg; c++) {
        const from = ((g * Mg + m) * Cg + c) * taps;
        const to = ((g * Cg + c) * Mg + m) * taps;
        for (let t = 0; t < taps; t++) out[to + t] = w.values[from + taps - 1 - t];
      }
    }
  }
  return out;
}

/**
 * Initializers of the emitted program: the model's own (external data inlined), overridden ones
 * re-encoded, values folded at load that were overridden emitted as initializers in place of the
 * nodes that computed them.
 */
function programInitializers(src: ProgramSource): { initializers: TensorProto[]; nodes: NodeProto[] } {
  const graph = src.proto.graph!;
  const initializers: TensorProto[] = [];
  const emitted = new Set<string>();
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    const override = src.overrides.get(name);
    if (override) {
      if (t.dataType !== FLOAT) throw new UnsupportedForGradient(`initializer '${name}' is not float32`);
      initializers.push(floatTensor(name, override.values as Float32Array, override.shape));
    } else if (t.dataLocation === 1) {
      const host = hostTensor(t, src.modelDir, src.file);
      if (host.dtype !== 'float32' || t.dataType !== FLOAT) throw new UnsupportedForGradient(`external initializer '${name}' is not float32`);
      initializers.push(floatTensor(name, host.values as Float32Array, host.shape));
    } else {
      initializers.push(t);
    }
    emitted.add(name);
  }
  const folded = [...src.overrides.keys()].filter((n) => !emitted.has(n));
  for (const name of folded) {
    const v = src.overrides.get(name)!;
    initializers.push(floatTensor(name, v.values as Float32Array, v.shape));
  }
  const nodes = (graph.node ?? []).filter((n) => !(n.output ?? []).some((o) => folded.includes(o)));
  return { initializers, nodes };
}

/** The graph's inputs that are not initializers; the differentiated one must be float32. */
function graphInputs(src: ProgramSource): ValueInfoProto[] {
  const graph = src.proto.graph!;
  const initialized = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((v) => !initialized.has(v.name));
  const input = inputs.find((v) => v.name === src.inputName)!;
  if ((input.type?.tensorType?.elemType ?? FLOAT) !== FLOAT) throw new UnsupportedForGradient(`input '${src.inputName}' is not float32`);
  return inputs;
}

/** The model as one ONNX program: the input, the first output, overrides applied. */
export function forwardProgram(src: ProgramSource): ModelProto {
  const inputs = graphInputs(src);
  const { initializers, nodes } = programInitializers(src);
  const output = src.proto.graph!.output!.find((v) => v.name === src.outputName)!;
  return {
    irVersion: Math.max(Number(src.proto.irVersion ?? 0), 4),
    opsetImport: src.proto.opsetImport,
    graph: { name: 'lens_forward', node: nodes, initializer: initializers, input: inputs, output: [output] },
  };
}

/**
 * The model with the gradient w.r.t. its input `inputName`: the graph's inputs and SEED_INPUT
 * ([N, classes]: the weights of the logits whose gradient is taken, reshaped to the output's
 * shape), output GRADIENT_OUTPUT (the input's shape). Throws
 * UnsupportedForGradient naming the first node without an adjoint here.
 */
export function gradientProgram(src: ProgramSource): ModelProto {
  if (src.opset < 11) throw new UnsupportedForGradient(`opset ${src.opset} (11 or later needed)`);
  const inputs = graphInputs(src);
  const { initializers, nodes } = programInitializers(src);
  const b = new BackwardBuilder(src, initializers);
  b.differentiate();
  const classes = product(src.shapes.get(src.outputName)!.slice(1));
  return {
    irVersion: Math.max(Number(src.proto.irVersion ?? 0), 4),
    opsetImport: src.proto.opsetImport,
    graph: {
      name: 'lens_gradient',
      node: [...nodes, ...b.nodes],
      initializer: initializers,
      input: [...inputs, valueInfo(SEED_INPUT, ['N', classes])],
      output: [valueInfo(GRADIENT_OUTPUT, ['N', ...src.shapes.get(src.inputName)!.slice(1)])],
    },
  };
}

class BackwardBuilder {
  readonly nodes: NodeProto[] = [];
  private counter = 0;
  /** Gradient contributions received by each value, summed when its producer is reached. */
  private readonly contributions = new Map<string, string[]>();
  private readonly dependent = new Set<string>();
  private zeroName?: string;

  constructor(
    private readonly src: ProgramSource,
    private readonly initializers: TensorProto[],
  ) {
    this.dependent.add(src.inputName);
    for (const node of src.nodes) {
      if (node.opType !== 'Shape' && node.opType !== 'Size' && node.inputs.some((i) => this.dependent.has(i))) {
        node.outputs.forEach((o) => this.dependent.add(o));
      }
    }
  }

  differentiate(): void {
    const { src } = this;
    const out = src.outputName;
    const seed = this.op('Reshape', [SEED_INPUT, this.shapeOf(out)]);
    this.contributions.set(out, [seed]);
    for (let k = src.nodes.length - 1; k >= 0; k--) {
      const node = src.nodes[k];
      const dy = this.gradientOf(node.outputs[0]);
      if (!dy || !node.inputs.some((i) => this.dependent.has(i))) continue;
      if (node.outputs.slice(1).some((o) => o !== '' && this.contributions.has(o))) this.unsupported(node, 'gradient through a secondary output');
      this.backward(node, dy);
    }
    const dx = this.gradientOf(src.inputName);
    if (dx) this.nodes.push({ opType: 'Identity', input: [dx], output: [GRADIENT_OUTPUT], name: 'lens_bw_result' });
    else this.nodes.push({ opType: 'Mul', input: [src.inputName, this.zero()], output: [GRADIENT_OUTPUT], name: 'lens_bw_result' });
  }

  private unsupported(node: NodeInfo, why: string): never {
    throw new UnsupportedForGradient(`node '${node.name}' (${node.opType}): ${why}`);
  }

  private gradientOf(value: string): string | undefined {
    const list = this.contributions.get(value);
    if (!list || list.length === 0) return undefined;
    const g = list.length === 1 ? list[0] : this.op('Sum', list);
    this.contributions.set(value, [g]);
    return g;
  }

  private contribute(value: string, g: string): void {
    if (!this.dependent.has(value)) return;
    const list = this.contributions.get(value) ?? [];
    list.push(g);
    this.contributions.set(value, list);
  }

  private op(opType: string, inputs: string[], attribute: AttributeProto[] = [], outputs = 1): string {
    return this.opMulti(opType, inputs, attribute, outputs)[0];
  }

  private opMulti(opType: string, inputs: string[], attribute: AttributeProto[], outputs: number): string[] {
    const id = this.counter++;
    const names = Array.from({ length: outputs }, (_, i) => `lens_bw_${id}_${opType}${outputs > 1 ? `_${i}` : ''}`);
    this.nodes.push({ name: `lens_bw_${id}`, opType, input: inputs, output: names, attribute });
    return names;
  }

  private constFloat(values: Float32Array, dims: readonly number[]): string {
    const name = `lens_bw_c${this.counter++}`;
    this.initializers.push(floatTensor(name, values, dims));
    return name;
  }

  private constInt64(values: readonly number[]): string {
    const name = `lens_bw_c${this.counter++}`;
    this.initializers.push({ name, dims: [values.length], dataType: INT64, int64Data: [...values] });
    return name;
  }

  private zero(): string {
    this.zeroName ??= this.constFloat(Float32Array.of(0), []);
    return this.zeroName;
  }

  private scalar(v: number): string {
    return this.constFloat(Float32Array.of(v), []);
  }

  private shapeOf(value: string): string {
    return this.op('Shape', [value]);
  }

  /** Per-sample shape of a value (batch of one). */
  private shape(value: string): readonly number[] {
    const s = this.src.shapes.get(value) ?? this.src.constant(value)?.shape;
    if (!s) throw new UnsupportedForGradient(`no shape for '${value}'`);
    return s;
  }

  /** Sums a contribution over the axes input `target` was broadcast along (same rank only; the batch axis never). */
  private unbroadcast(g: string, node: NodeInfo, target: string): string {
    const to = this.shape(target);
    const from = this.shape(node.outputs[0]);
    if (to.length === from.length && to.every((d, i) => d === from[i])) return g;
    if (to.length !== from.length) this.unsupported(node, 'broadcast across ranks');
    const axes = to.map((d, i) => (i > 0 && d === 1 && from[i] !== 1 ? i : -1)).filter((i) => i >= 0);
    if (to.some((d, i) => d !== from[i] && !axes.includes(i))) this.unsupported(node, 'broadcast along the batch axis');
    return this.reduceSum(g, axes);
  }

  private reduceSum(g: string, axes: number[]): string {
    if (this.src.opset >= 13) return this.op('ReduceSum', [g, this.constInt64(axes)], [int('keepdims', 1)]);
    return this.op('ReduceSum', [g], [ints('axes', axes), int('keepdims', 1)]);
  }

  private where(mask: string, g: string): string {
    return this.op('Where', [mask, g, this.zero()]);
  }

  private constantScalar(node: NodeInfo, i: number): number | undefined {
    const name = node.inputs[i];
    if (!name) return undefined;
    const c = this.src.constant(name);
    if (!c || c.values.length !== 1) this.unsupported(node, `input ${i} is not a constant scalar`);
    return c.values[0];
  }

  private backward(node: NodeInfo, dy: string): void {
    const [x] = node.inputs;
    const y = node.outputs[0];
    const a = node.attrs;
    switch (node.opType) {
      case 'Identity':
      case 'Dropout':
        return this.contribute(x, dy);
      case 'Cast':
        if (a.int('to') !== FLOAT) this.unsupported(node, 'cast to a non-float type');
        return this.contribute(x, dy);
      case 'Flatten':
      case 'Reshape':
      case 'Squeeze':
      case 'Unsqueeze':
        return this.contribute(x, this.op('Reshape', [dy, this.shapeOf(x)]));
      case 'Relu':
        return this.contribute(x, this.where(this.op('Greater', [x, this.zero()]), dy));
      case 'LeakyRelu': {
        const scaled = this.op('Mul', [dy, this.scalar(a.float('alpha', 0.01))]);
        return this.contribute(x, this.op('Where', [this.op('Greater', [x, this.zero()]), dy, scaled]));
      }
      case 'Clip':
        return this.contribute(x, this.clip(node, dy));
      case 'Sigmoid': {
        const slope = this.op('Mul', [y, this.op('Sub', [this.scalar(1), y])]);
        return this.contribute(x, this.op('Mul', [dy, slope]));
      }
      case 'Tanh': {
        const slope = this.op('Sub', [this.scalar(1), this.op('Mul', [y, y])]);
        return this.contribute(x, this.op('Mul', [dy, slope]));
      }
      case 'Elu': {
        const negative = this.op('Mul', [dy, this.op('Add', [y, this.scalar(a.float('alpha', 1))])]);
        return this.contribute(x, this.op('Where', [this.op('Greater', [x, this.zero()]), dy, negative]));
      }
      case 'HardSigmoid': {
        // 0 < alpha x + beta < 1 exactly where the clipped output is strictly between 0 and 1.
        const inside = this.op('And', [this.op('Greater', [y, this.zero()]), this.op('Less', [y, this.scalar(1)])]);
        return this.contribute(x, this.where(inside, this.op('Mul', [dy, this.scalar(a.float('alpha', 0.2))])));
      }
      case 'HardSwish': {
        const ramp = this.op('Add', [this.op('Mul', [x, this.scalar(1 / 3)]), this.scalar(0.5)]);
        const below = this.op('Where', [this.op('Greater', [x, this.scalar(-3)]), ramp, this.zero()]);
        const slope = this.op('Where', [this.op('Less', [x, this.scalar(3)]), below, this.scalar(1)]);
        return this.contribute(x, this.op('Mul', [dy, slope]));
      }
      case 'Softmax':
        return this.softmax(node, dy);
      case 'Slice':
        return this.slice(node, dy);
      case 'Gather':
        return this.gather(node, dy);
      case 'ConvTranspose':
        return this.convTranspose(node, dy);
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        return this.arithmetic(node, dy);
      case 'Conv':
        return this.conv(node, dy);
      case 'Gemm':
        return this.gemm(node, dy);
      case 'MatMul':
        return this.matMul(node, dy);
      case 'BatchNormalization':
        return this.batchNorm(node, dy);
      case 'MaxPool':
        return this.maxPool(node, dy);
      case 'AveragePool':
        return this.averagePool(node, dy);
      case 'GlobalAveragePool': {
        const spatial = product(this.shape(x).slice(2));
        return this.contribute(x, this.op('Expand', [this.op('Mul', [dy, this.scalar(1 / spatial)]), this.shapeOf(x)]));
      }
      case 'ReduceMean':
        return this.reduceMean(node, dy);
      case 'Concat':
        return this.concat(node, dy);
      case 'Transpose': {
        const rank = this.shape(x).length;
        const perm = a.ints('perm') ?? [...Array(rank).keys()].reverse();
        const inverse = perm.map((_, i) => perm.indexOf(i));
        return this.contribute(x, this.op('Transpose', [dy], [ints('perm', inverse)]));
      }
      case 'Pad':
        return this.pad(node, dy);
      default:
        this.unsupported(node, 'no adjoint for this operator');
    }
  }

  /** Clip's derivative is 1 strictly between the bounds (PyTorch's hardtanh), as in the engine's rules. */
  private clip(node: NodeInfo, dy: string): string {
    const x = node.inputs[0];
    const [min, max] =
      this.src.opset < 11
        ? [node.attrs.float('min', -Infinity), node.attrs.float('max', Infinity)]
        : [this.constantScalar(node, 1) ?? -Infinity, this.constantScalar(node, 2) ?? Infinity];
    const masks: string[] = [];
    if (Number.isFinite(min)) masks.push(this.op('Greater', [x, this.scalar(min)]));
    if (Number.isFinite(max)) masks.push(this.op('Less', [x, this.scalar(max)]));
    if (masks.length === 0) return dy;
    return this.where(masks.length === 1 ? masks[0] : this.op('And', masks), dy);
  }

  private arithmetic(node: NodeInfo, dy: string): void {
    const [p, q] = node.inputs;
    const y = node.outputs[0];
    const contributions: Record<string, [string | undefined, string | undefined]> = {
      Add: [dy, dy],
      Sub: [dy, this.dependent.has(q) ? this.op('Neg', [dy]) : undefined],
      Mul: [this.dependent.has(p) ? this.op('Mul', [dy, q]) : undefined, this.dependent.has(q) ? this.op('Mul', [dy, p]) : undefined],
      Div: [
        this.dependent.has(p) ? this.op('Div', [dy, q]) : undefined,
        this.dependent.has(q) ? this.op('Neg', [this.op('Div', [this.op('Mul', [dy, y]), q])]) : undefined,
      ],
    };
    const [gp, gq] = contributions[node.opType];
    if (gp && this.dependent.has(p)) this.contribute(p, this.unbroadcast(gp, node, p));
    if (gq && this.dependent.has(q)) this.contribute(q, this.unbroadcast(gq, node, q));
  }

  /** Explicit [begin…, end…] pads of a convolution or pooling window, auto_pad resolved. */
  private windowPads(node: NodeInfo, inSpatial: readonly number[], kernel: readonly number[], strides: readonly number[], dilations: readonly number[]): number[] {
    const autoPad = node.attrs.string('auto_pad', 'NOTSET');
    const r = inSpatial.length;
    if (autoPad === 'VALID') return new Array(2 * r).fill(0);
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const begin: number[] = [];
      const end: number[] = [];
      inSpatial.forEach((n, i) => {
        const out = Math.ceil(n / strides[i]);
        const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - n);
        const small = Math.floor(total / 2);
        begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
        end.push(autoPad === 'SAME_UPPER' ? total - small : small);
      });
      return [...begin, ...end];
    }
    return node.attrs.ints('pads') ?? new Array(2 * r).fill(0);
  }

  /**
   * The adjoint of a window op as a ConvTranspose with `weight` ([C_in, C_out/group, k…]):
   * strides and dilations of the forward window; end pads and output padding chosen so the result
   * has the forward input's spatial size exactly.
   */
  private transposedWindow(dy: string, weight: string, group: number, inSpatial: readonly number[], outSpatial: readonly number[], kernel: readonly number[], strides: readonly number[], dilations: readonly number[], pads: readonly number[]): string {
    const r = inSpatial.length;
    const begin = pads.slice(0, r);
    const end: number[] = [];
    const outputPadding: number[] = [];
    inSpatial.forEach((n, i) => {
      const reach = (outSpatial[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1;
      const excess = reach - begin[i] - n;
      end.push(Math.max(0, excess));
      outputPadding.push(Math.max(0, -excess));
    });
    return this.op('ConvTranspose', [dy, weight], [
      int('group', group),
      ints('kernel_shape', kernel),
      ints('strides', strides),
      ints('dilations', dilations),
      ints('pads', [...begin, ...end]),
      ints('output_padding', outputPadding),
    ]);
  }

  private conv(node: NodeInfo, dy: string): void {
    const [x, w] = node.inputs;
    if (this.dependent.has(w) || (node.inputs[2] && this.dependent.has(node.inputs[2]))) this.unsupported(node, 'input-dependent weights');
    const wShape = this.shape(w);
    const kernel = node.attrs.ints('kernel_shape') ?? wShape.slice(2);
    const r = kernel.length;
    const strides = node.attrs.ints('strides') ?? new Array(r).fill(1);
    const dilations = node.attrs.ints('dilations') ?? new Array(r).fill(1);
    const inSpatial = this.shape(x).slice(2);
    const outSpatial = this.shape(node.outputs[0]).slice(2);
    const pads = this.windowPads(node, inSpatial, kernel, strides, dilations);
    const group = node.attrs.int('group', 1);
    const weight = this.src.constant(w);
    const r2 = kernel.length;
    const fits = pads.every((p, i) => p <= (kernel[i % r2] - 1) * dilations[i % r2]);
    if (weight && strides.every((s) => s === 1) && fits) {
      // Stride 1: the adjoint is itself a convolution (flipped, transposed filter), which runtimes
      // optimise far better than ConvTranspose.
      const flipped = this.constFloat(flippedFilter(weight, group), [weight.shape[1] * group, weight.shape[0] / group, ...weight.shape.slice(2)]);
      const adjointPads = pads.map((p, i) => (kernel[i % r2] - 1) * dilations[i % r2] - p);
      const attrs = [int('group', group), ints('kernel_shape', kernel), ints('dilations', dilations), ints('pads', adjointPads)];
      return this.contribute(x, this.op('Conv', [dy, flipped], attrs));
    }
    this.contribute(x, this.transposedWindow(dy, w, group, inSpatial, outSpatial, kernel, strides, dilations, pads));
  }

  /** The adjoint of a transposed convolution is the convolution with the same filter and window. */
  private convTranspose(node: NodeInfo, dy: string): void {
    const [x, w] = node.inputs;
    if (this.dependent.has(w) || (node.inputs[2] && this.dependent.has(node.inputs[2]))) this.unsupported(node, 'input-dependent weights');
    if (node.attrs.string('auto_pad', 'NOTSET') !== 'NOTSET' || node.attrs.ints('output_shape')) this.unsupported(node, 'auto_pad or output_shape');
    const kernel = node.attrs.ints('kernel_shape') ?? this.shape(w).slice(2);
    const r = kernel.length;
    const attrs = [
      int('group', node.attrs.int('group', 1)),
      ints('kernel_shape', kernel),
      ints('strides', node.attrs.ints('strides') ?? new Array(r).fill(1)),
      ints('dilations', node.attrs.ints('dilations') ?? new Array(r).fill(1)),
      ints('pads', node.attrs.ints('pads') ?? new Array(2 * r).fill(0)),
    ];
    this.contribute(x, this.op('Conv', [dy, w], attrs));
  }

  /** y (dy − Σ dy·y) along the softmax axis (one axis: opset 13, or the last axis before it). */
  private softmax(node: NodeInfo, dy: string): void {
    const [x] = node.inputs;
    const y = node.outputs[0];
    const rank = this.shape(x).length;
    const along = normaliseAxis(node.attrs.int('axis', this.src.opset < 13 ? 1 : -1), rank);
    if (this.src.opset < 13 && along !== rank - 1) this.unsupported(node, 'softmax over several axes (opset < 13)');
    const dot = this.reduceSum(this.op('Mul', [dy, y]), [along]);
    this.contribute(x, this.op('Mul', [y, this.op('Sub', [dy, dot])]));
  }

  /**
   * The adjoint of selecting `positions` (any order, repeats allowed) out of `n` along `axis`:
   * a product with the constant 0/1 matrix E[k, positions[k]] along that axis, which sums
   * repeated picks and leaves zeros elsewhere.
   */
  private scatterAlong(g: string, along: number, rank: number, positions: readonly number[], n: number): string {
    const selection = new Float32Array(positions.length * n);
    positions.forEach((p, k) => (selection[k * n + p] = 1));
    const matrix = this.constFloat(selection, [positions.length, n]);
    if (along === rank - 1) return this.op('MatMul', [g, matrix]);
    const perm = [...Array(rank).keys()].filter((d) => d !== along).concat(along);
    const inverse = perm.map((_, d) => perm.indexOf(d));
    const moved = this.op('MatMul', [this.op('Transpose', [g], [ints('perm', perm)]), matrix]);
    return this.op('Transpose', [moved], [ints('perm', inverse)]);
  }

  /** Slices with any steps (ONNX's clamping rules); a batch-axis slice only if it keeps everything. */
  private slice(node: NodeInfo, dy: string): void {
    const [x, startsName, endsName, axesName, stepsName] = node.inputs;
    const values = (name: string | undefined) => (name ? this.src.constant(name)?.values : undefined);
    const starts = values(startsName);
    const ends = values(endsName);
    if (!starts || !ends || (axesName && !values(axesName)) || (stepsName && !values(stepsName))) this.unsupported(node, 'non-constant bounds');
    const shape = this.shape(x);
    const axes = Array.from(values(axesName) ?? starts.map((_, i) => i)).map((d) => normaliseAxis(d, shape.length));
    const steps = Array.from(values(stepsName) ?? axes.map(() => 1));
    let g = dy;
    axes.forEach((d, i) => {
      const step = steps[i];
      if (d === 0) {
        // int64 "to the end" saturates to int32 max when constants are read.
        if (starts[i] !== 0 || ends[i] < 2147483647 || step !== 1) this.unsupported(node, 'a slice of the batch axis');
        return;
      }
      const n = shape[d];
      const from = (v: number) => (v < 0 ? v + n : v);
      const positions: number[] = [];
      if (step > 0) {
        const begin = Math.min(n, Math.max(0, from(starts[i])));
        const end = Math.min(n, Math.max(0, from(ends[i])));
        for (let p = begin; p < end; p += step) positions.push(p);
      } else {
        const begin = Math.min(n - 1, Math.max(-1, from(starts[i])));
        const end = Math.min(n - 1, Math.max(-1, from(ends[i])));
        for (let p = begin; p > end; p += step) positions.push(p);
      }
      g = this.scatterAlong(g, d, shape.length, positions, n);
    });
    this.contribute(x, g);
  }

  /** Gather with constant indices (a scalar or a list) along a non-batch axis. */
  private gather(node: NodeInfo, dy: string): void {
    const [x, indicesName] = node.inputs;
    const indices = this.src.constant(indicesName);
    if (!indices || indices.shape.length > 1) this.unsupported(node, 'indices that are not a constant scalar or list');
    const shape = this.shape(x);
    const along = normaliseAxis(node.attrs.int('axis', 0), shape.length);
    if (along === 0) this.unsupported(node, 'gathering along the batch axis');
    const n = shape[along];
    const positions = Array.from(indices.values, (v) => (v < 0 ? v + n : v));
    const g = indices.shape.length === 0 ? this.unsqueeze(dy, along) : dy;
    this.contribute(x, this.scatterAlong(g, along, shape.length, positions, n));
  }

  private gemm(node: NodeInfo, dy: string): void {
    const [p, q] = node.inputs;
    if (this.dependent.has(q) || (node.inputs[2] && this.dependent.has(node.inputs[2]))) this.unsupported(node, 'input-dependent B or C');
    if (node.attrs.int('transA', 0) !== 0) this.unsupported(node, 'transA');
    const alpha = node.attrs.float('alpha', 1);
    this.contribute(p, this.op('Gemm', [dy, q], [float('alpha', alpha), int('transB', 1 - node.attrs.int('transB', 0))]));
  }

  private matMul(node: NodeInfo, dy: string): void {
    const [p, q] = node.inputs;
    if (this.dependent.has(q)) return this.matMulOfValues(node, dy);
    const weight = this.src.constant(q);
    if (this.dependent.has(q) || !weight || weight.shape.length !== 2) this.unsupported(node, 'B is not a constant matrix');
    const [rows, cols] = weight.shape;
    const transposed = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) transposed[j * rows + i] = weight.values[i * cols + j];
    this.contribute(p, this.op('MatMul', [dy, this.constFloat(transposed, [cols, rows])]));
  }

  /** A product of two computed matrices (attention): both of the same rank, batch axes equal. */
  private matMulOfValues(node: NodeInfo, dy: string): void {
    const [p, q] = node.inputs;
    const [ps, qs] = [this.shape(p), this.shape(q)];
    if (ps.length !== qs.length || ps.length < 2 || ps.slice(0, -2).some((d, i) => d !== qs[i])) this.unsupported(node, 'broadcast matrix product');
    const swap = [...Array(ps.length).keys()];
    [swap[ps.length - 2], swap[ps.length - 1]] = [swap[ps.length - 1], swap[ps.length - 2]];
    const t = (v: string) => this.op('Transpose', [v], [ints('perm', swap)]);
    this.contribute(p, this.op('MatMul', [dy, t(q)]));
    this.contribute(q, this.op('MatMul', [t(p), dy]));
  }

  private batchNorm(node: NodeInfo, dy: string): void {
    if (node.outputs.filter((o) => o !== '').length > 1 || node.attrs.int('training_mode', 0) !== 0) this.unsupported(node, 'training mode');
    const [x, scaleName, , , varName] = node.inputs;
    const scale = this.src.constant(scaleName);
    const variance = this.src.constant(varName);
    if (!scale || !variance) this.unsupported(node, 'non-constant scale or variance');
    const eps = node.attrs.float('epsilon', 1e-5);
    const k = Float32Array.from(scale.values, (s, c) => s / Math.sqrt(variance.values[c] + eps));
    const rank = this.shape(x).length;
    this.contribute(x, this.op('Mul', [dy, this.constFloat(k, [k.length, ...new Array(Math.max(0, rank - 2)).fill(1)])]));
  }

  /** Kernel, strides, dilations and explicit pads of a 2-D pooling node. */
  private poolWindow(node: NodeInfo) {
    const x = node.inputs[0];
    const shape = this.shape(x);
    if (shape.length !== 4) this.unsupported(node, 'pooling other than 2-D');
    const kernel = node.attrs.ints('kernel_shape')!;
    const strides = node.attrs.ints('strides') ?? [1, 1];
    const dilations = node.attrs.ints('dilations') ?? [1, 1];
    const inSpatial = shape.slice(2);
    const outSpatial = this.shape(node.outputs[0]).slice(2);
    const pads = this.windowPads(node, inSpatial, kernel, strides, dilations);
    return { channels: shape[1], kernel, strides, dilations, inSpatial, outSpatial, pads };
  }

  /**
   * Max pooling passes each window's gradient to its first maximum (PyTorch's rule; ONNX Runtime's
   * Indices pick the first maximum too). The indices give, for each window offset (a, b), a mask
   * of the windows whose maximum sits there; the masked gradients of all offsets go back to their
   * positions in one grouped ConvTranspose with one-hot filters, which sums overlapping windows.
   */
  private maxPool(node: NodeInfo, dy: string): void {
    if (node.outputs.filter((o) => o !== '').length > 1) this.unsupported(node, 'Indices output');
    if (node.attrs.int('storage_order', 0) !== 0) this.unsupported(node, 'column-major indices');
    const w = this.poolWindow(node);
    const [kh, kw] = w.kernel;
    const [H, W] = w.inSpatial;
    const [oh, ow] = w.outSpatial;
    const C = w.channels;
    const K = kh * kw;
    const index = `lens_bw_${this.counter++}_indices`;
    // A second MaxPool with the same window yields the indices; the runtime computes both from one node.
    const twin = { ...this.protoOf(node), name: `${node.name}_lens_indices`, output: [`${index}_values`, index] };
    this.nodes.push(twin);
    const within = this.op('Mod', [index, this.constInt64([H * W])]);
    const masked: string[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const at = new Array<number>(oh * ow);
        for (let i = 0; i < oh; i++) {
          for (let j = 0; j < ow; j++) {
            const h = i * w.strides[0] + a * w.dilations[0] - w.pads[0];
            const c = j * w.strides[1] + b * w.dilations[1] - w.pads[1];
            at[i * ow + j] = h >= 0 && h < H && c >= 0 && c < W ? h * W + c : -1;
          }
        }
        const position = this.op('Reshape', [this.constInt64(at), this.constInt64([oh, ow])]);
        const g = this.where(this.op('Equal', [within, position]), dy);
        masked.push(this.unsqueeze(g, 2));
      }
    }
    const stacked = this.op('Reshape', [this.op('Concat', masked, [int('axis', 2)]), this.constInt64([0, C * K, oh, ow])]);
    const oneHot = new Float32Array(C * K * K);
    for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) oneHot[(c * K + k) * K + k] = 1;
    const filter = this.constFloat(oneHot, [C * K, 1, kh, kw]);
    this.contribute(node.inputs[0], this.transposedWindow(stacked, filter, C, w.inSpatial, w.outSpatial, w.kernel, w.strides, w.dilations, w.pads));
  }

  private unsqueeze(g: string, axisIndex: number): string {
    if (this.src.opset >= 13) return this.op('Unsqueeze', [g, this.constInt64([axisIndex])]);
    return this.op('Unsqueeze', [g], [ints('axes', [axisIndex])]);
  }

  /** The node as it stands in the model file (for twins that add an output). */
  private protoOf(node: NodeInfo): NodeProto {
    const original = (this.src.proto.graph!.node ?? []).find((n) => (n.output ?? [])[0] === node.outputs[0]);
    if (!original) this.unsupported(node, 'not found in the model file');
    return original;
  }

  /**
   * Average pooling: each window's gradient divided by its own divisor (the window's positions
   * inside the padded input, or inside the input itself when padding is not counted; windows past
   * the padding in ceil mode are clipped as PyTorch and ONNX Runtime clip them), spread back over
   * the window by a grouped ConvTranspose with a filter of ones.
   */
  private averagePool(node: NodeInfo, dy: string): void {
    const w = this.poolWindow(node);
    const includePad = node.attrs.int('count_include_pad', 0) !== 0;
    const [oh, ow] = w.outSpatial;
    const counts = (axis: number, n: number, out: number) =>
      Array.from({ length: out }, (_, i) => {
        const low = includePad ? -w.pads[axis] : 0;
        const high = includePad ? n + w.pads[axis + 2] : n;
        let count = 0;
        for (let k = 0; k < w.kernel[axis]; k++) {
          const at = i * w.strides[axis] + k * w.dilations[axis] - w.pads[axis];
          if (at >= low && at < high) count++;
        }
        return count;
      });
    const rows = counts(0, w.inSpatial[0], oh);
    const cols = counts(1, w.inSpatial[1], ow);
    const inverse = new Float32Array(oh * ow);
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) inverse[i * ow + j] = 1 / (rows[i] * cols[j]);
    const scaled = this.op('Mul', [dy, this.constFloat(inverse, [oh, ow])]);
    const filter = this.constFloat(new Float32Array(w.channels * w.kernel[0] * w.kernel[1]).fill(1), [w.channels, 1, ...w.kernel]);
    this.contribute(node.inputs[0], this.transposedWindow(scaled, filter, w.channels, w.inSpatial, w.outSpatial, w.kernel, w.strides, w.dilations, w.pads));
  }

  private reduceMean(node: NodeInfo, dy: string): void {
    const x = node.inputs[0];
    const shape = this.shape(x);
    const given = this.src.opset >= 18 ? (node.inputs[1] ? Array.from(this.src.constant(node.inputs[1])?.values ?? []) : undefined) : node.attrs.ints('axes');
    if (this.src.opset >= 18 && node.inputs[1] && !this.src.constant(node.inputs[1])) this.unsupported(node, 'non-constant axes');
    const axes = (given && given.length > 0 ? given : [...shape.keys()]).map((d) => normaliseAxis(d, shape.length));
    if (axes.includes(0)) this.unsupported(node, 'mean over the batch axis');
    const kept = shape.map((d, i) => (i === 0 ? 0 : axes.includes(i) ? 1 : d));
    const count = product(axes.map((i) => shape[i]));
    const g = this.op('Mul', [this.op('Reshape', [dy, this.constInt64(kept)]), this.scalar(1 / count)]);
    this.contribute(x, this.op('Expand', [g, this.shapeOf(x)]));
  }

  private concat(node: NodeInfo, dy: string): void {
    const rank = this.shape(node.outputs[0]).length;
    const along = normaliseAxis(node.attrs.int('axis', 0), rank);
    if (along === 0) this.unsupported(node, 'concatenation along the batch axis');
    const sizes = node.inputs.map((i) => this.shape(i)[along]);
    const parts =
      this.src.opset >= 13
        ? this.opMulti('Split', [dy, this.constInt64(sizes)], [int('axis', along)], sizes.length)
        : this.opMulti('Split', [dy], [int('axis', along), ints('split', sizes)], sizes.length);
    node.inputs.forEach((i, k) => this.contribute(i, parts[k]));
  }

  /**
   * Constant padding: the gradient cropped back. Reflect and edge padding: every padded position
   * is a copy of an input position, so the gradient is a selection adjoint along each padded axis.
   */
  private pad(node: NodeInfo, dy: string): void {
    const x = node.inputs[0];
    const mode = node.attrs.string('mode', 'constant');
    if (mode !== 'constant' && mode !== 'reflect' && mode !== 'edge') this.unsupported(node, `mode '${mode}'`);
    if (node.inputs[3]) this.unsupported(node, 'axes input');
    const padsConstant = this.src.opset >= 11 ? this.src.constant(node.inputs[1]) : undefined;
    const pads = this.src.opset >= 11 ? (padsConstant ? Array.from(padsConstant.values) : undefined) : node.attrs.ints('pads');
    if (!pads) this.unsupported(node, 'non-constant pads');
    const shape = this.shape(x);
    const r = shape.length;
    if (pads.some((p) => p < 0) || pads[0] !== 0 || pads[r] !== 0) this.unsupported(node, 'negative pads or pads on the batch axis');
    const axes = [...Array(r).keys()].slice(1);
    if (mode === 'constant') {
      const starts = axes.map((i) => pads[i]);
      const ends = axes.map((i) => pads[i] + shape[i]);
      return this.contribute(x, this.op('Slice', [dy, this.constInt64(starts), this.constInt64(ends), this.constInt64(axes)]));
    }
    let g = dy;
    for (const d of axes.filter((i) => pads[i] > 0 || pads[r + i] > 0)) {
      const n = shape[d];
      const source = (i: number) => (mode === 'edge' ? Math.min(n - 1, Math.max(0, i)) : i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
      const positions = Array.from({ length: n + pads[d] + pads[r + d] }, (_, o) => source(o - pads[d]));
      g = this.scatterAlong(g, d, r, positions, n);
    }
    this.contribute(x, g);
  }
}
