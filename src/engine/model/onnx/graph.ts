import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { InputError } from '../../errors';
import type { GraphInput } from '../input-spec';
import { Attributes } from './attributes';
import type { ActivationRule } from '../model';
import { axis, nodeError, type NodeInfo, type Prepared, type RunContext } from './op';
import { isSupported, OPS } from './ops';
import { ACTIVATION_DERIVATIVES } from './ops/elementwise';
import type { DimProto, ModelProto, ValueInfoProto } from './proto';
import { hostTensor, type HostTensor } from './tensor-proto';

/** Opsets of the default domain the engine accepts; 11–18 are the ones tested against exports. */
export const MIN_OPSET = 9;
export const MAX_OPSET = 20;

export interface UnsupportedNode {
  opType: string;
  node: string;
  domain: string;
  opset: number;
}

export type { GraphInput };

/** Producers whose output gates another tensor: sigmoid-like gates and attention weights. */
const GATE_TYPES = new Set(['Sigmoid', 'HardSigmoid', 'Softmax']);

interface RunOptions {
  stopAt?: string;
  rule?: ActivationRule;
  observe?: (node: NodeInfo, inputs: (tf.Tensor | undefined)[]) => void;
  /** Training mode: constants fed as tensors (variables); nodes reading one run through their op's `train`. */
  params?: ReadonlyMap<string, tf.Tensor>;
}

interface Constant {
  host: HostTensor;
  tensor: tf.Tensor;
}

function dims(info: ValueInfoProto): (number | string)[] {
  const list: DimProto[] = info.type?.tensorType?.shape?.dim ?? [];
  return list.map((d, i) => (d.dimValue !== undefined && d.dimValue > 0 ? Number(d.dimValue) : (d.dimParam ?? `d${i}`)));
}

export function defaultOpset(model: ModelProto): number | undefined {
  const entry = model.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry?.version !== undefined ? Number(entry.version) : undefined;
}

/** Nodes the engine cannot run, one per distinct op type (first node of each), without loading weights. */
export function unsupportedNodes(model: ModelProto): UnsupportedNode[] {
  const opset = defaultOpset(model) ?? 0;
  const seen = new Map<string, UnsupportedNode>();
  for (const n of model.graph?.node ?? []) {
    const domain = n.domain && n.domain !== 'ai.onnx' ? n.domain : '';
    const key = `${domain}:${n.opType}`;
    if ((domain !== '' || !isSupported(n.opType)) && !seen.has(key)) {
      const version = domain === '' ? opset : Number(model.opsetImport?.find((o) => o.domain === domain)?.version ?? 0);
      seen.set(key, { opType: n.opType, node: n.name ?? '', domain, opset: version });
    }
  }
  return [...seen.values()];
}

export function describeUnsupported(u: UnsupportedNode): string {
  const op = u.domain ? `${u.domain}.${u.opType}` : u.opType;
  return `'${op}' (node '${u.node}', opset ${u.opset})`;
}

/**
 * An ONNX graph executed op by op with TensorFlow.js, differentiable w.r.t. its inputs.
 * Initializers and Constant nodes become constant tensors owned by the graph.
 */
export class OnnxGraph {
  readonly inputs: GraphInput[];
  readonly outputs: GraphInput[];
  readonly nodes: NodeInfo[];
  private readonly constants = new Map<string, Constant>();
  private readonly prepared = new Map<NodeInfo, Prepared>();
  /** Values that depend on the graph input through differentiable ops. */
  private readonly dependent = new Set<string>();
  /** Op type of the node producing each value. */
  private readonly producers = new Map<string, string>();

  /**
   * `overrides` replace constants by name (initializers or values folded at load): how a model
   * copy with re-initialised layers is built.
   */
  constructor(
    model: ModelProto,
    readonly file: string,
    readonly opset: number,
    readonly overrides: ReadonlyMap<string, HostTensor> = new Map(),
  ) {
    const label = path.basename(file);
    const graph = model.graph!;
    const modelDir = path.dirname(file);
    try {
      for (const init of graph.initializer ?? []) this.addConstant(init.name ?? '', hostTensor(init, modelDir, label));
      this.nodes = [];
      for (const n of graph.node ?? []) {
        const node: NodeInfo = {
          name: n.name || `${n.opType}_${this.nodes.length}`,
          opType: n.opType,
          inputs: n.input ?? [],
          outputs: n.output ?? [],
          attrs: new Attributes(n.attribute),
          opset,
          file: label,
        };
        if (node.opType === 'Constant') {
          this.addConstant(node.outputs[0], this.constantNodeValue(node, modelDir));
          continue;
        }
        if (!OPS[node.opType].prepare && node.inputs.every((i) => i === '' || this.constants.has(i))) {
          // Folded once here: exporters route weights through Identity/Cast/Reshape nodes
          // (deduplicated tensors), and ops read their weights as constants.
          this.fold(node);
          continue;
        }
        this.nodes.push(node);
        const def = OPS[node.opType];
        const prepared = def.prepare?.(node, (i) => this.constants.get(node.inputs[i])?.host);
        if (prepared) this.prepared.set(node, prepared);
      }
    } catch (err) {
      this.dispose();
      throw err;
    }
    const isConstant = (v: ValueInfoProto) => this.constants.has(v.name);
    this.inputs = (graph.input ?? []).filter((v) => !isConstant(v)).map((v) => ({ name: v.name, dims: dims(v) }));
    this.outputs = (graph.output ?? []).map((v) => ({ name: v.name, dims: dims(v) }));
    for (const i of this.inputs) this.dependent.add(i.name);
    for (const node of this.nodes) {
      for (const o of node.outputs) this.producers.set(o, node.opType);
      if (node.opType !== 'Shape' && node.inputs.some((i) => this.dependent.has(i))) node.outputs.forEach((o) => this.dependent.add(o));
    }
  }

  private fold(node: NodeInfo): void {
    const values = new Map<string, tf.Tensor>();
    for (const [name, c] of this.constants) values.set(name, c.tensor);
    this.nodes.push(node);
    const outputs = tf.tidy(() => {
      this.run(values, this.nodes.length - 1);
      return node.outputs.filter((o) => o !== '').map((o) => {
        const t = values.get(o)!;
        return { name: o, host: { dtype: t.dtype as HostTensor['dtype'], shape: t.shape, values: t.dataSync() as HostTensor['values'] } };
      });
    });
    this.nodes.pop();
    for (const o of outputs) this.addConstant(o.name, o.host);
  }

  private addConstant(name: string, given: HostTensor): void {
    const host = this.overrides.get(name) ?? given;
    const tensor = tf.tensor(host.values, host.shape, host.dtype);
    this.constants.set(name, { host, tensor: tf.keep(tensor) });
  }

  private constantNodeValue(node: NodeInfo, modelDir: string): HostTensor {
    const a = node.attrs;
    const t = a.tensor('value');
    if (t) return hostTensor(t, modelDir, node.file);
    const f = a.floats('value_floats');
    if (f) return { dtype: 'float32', shape: [f.length], values: Float32Array.from(f) };
    const i = a.ints('value_ints');
    if (i) return { dtype: 'int32', shape: [i.length], values: Int32Array.from(i) };
    if (a.has('value_float')) return { dtype: 'float32', shape: [], values: Float32Array.of(a.float('value_float', 0)) };
    if (a.has('value_int')) return { dtype: 'int32', shape: [], values: Int32Array.of(a.int('value_int', 0)) };
    throw nodeError(node, 'Constant without a supported value attribute');
  }

  isConstant(name: string): boolean {
    return this.constants.has(name);
  }

  /** Host copy of a constant (initializer or folded value). */
  constantValue(name: string): HostTensor | undefined {
    return this.constants.get(name)?.host;
  }

  /**
   * Runs nodes from `start`; stops after the node producing `opts.stopAt` and returns its index.
   * With a rule, nonlinear nodes on the input's gradient path run through it; `observe` sees every
   * node's inputs.
   */
  private run(values: Map<string, tf.Tensor>, start: number, opts: RunOptions = {}): number {
    const { stopAt, rule, observe, params } = opts;
    for (let k = start; k < this.nodes.length; k++) {
      const node = this.nodes[k];
      const inputs = node.inputs.map((name) => {
        if (name === '') return undefined;
        const v = values.get(name);
        if (!v) throw nodeError(node, `input '${name}' is not produced by any earlier node`);
        return v;
      });
      const ctx: RunContext = {
        node,
        inputs,
        constant: (i) => this.constants.get(node.inputs[i])?.host,
        ints: (i) => {
          const c = this.constants.get(node.inputs[i]);
          if (c) return Array.from(c.host.values);
          const t = inputs[i];
          return t ? Array.from(t.dataSync()) : undefined;
        },
        floats: (i) => {
          const c = this.constants.get(node.inputs[i]);
          if (c) return Array.from(c.host.values);
          const t = inputs[i];
          return t ? Array.from(t.dataSync()) : undefined;
        },
      };
      observe?.(node, inputs);
      let result: tf.Tensor | tf.Tensor[];
      try {
        const train = params && OPS[node.opType].train;
        if (train && node.inputs.some((i) => params.has(i))) result = train(ctx);
        else result = rule && this.onGradientPath(node) ? this.runWithRule(rule, ctx) : OPS[node.opType].run(ctx, this.prepared.get(node));
      } catch (err) {
        if (err instanceof InputError) throw err;
        throw nodeError(node, (err as Error).message);
      }
      const outs = Array.isArray(result) ? result : [result];
      node.outputs.forEach((name, i) => {
        if (name !== '' && outs[i]) values.set(name, outs[i]);
      });
      if (stopAt !== undefined && node.outputs.includes(stopAt)) return k;
    }
    if (stopAt !== undefined) throw new InputError(`${path.basename(this.file)}: no node produces '${stopAt}'`);
    return this.nodes.length - 1;
  }

  private initialValues(feeds: Record<string, tf.Tensor>): Map<string, tf.Tensor> {
    const values = new Map<string, tf.Tensor>();
    for (const [name, c] of this.constants) values.set(name, c.tensor);
    for (const input of this.inputs) {
      const t = feeds[input.name];
      if (!t) throw new InputError(`${path.basename(this.file)}: no value given for input '${input.name}'`);
      values.set(input.name, t);
    }
    return values;
  }

  /**
   * Evaluates the graph. Intermediate tensors are not disposed here: run inside tf.tidy (or tf.grad,
   * whose tape needs them).
   */
  execute(feeds: Record<string, tf.Tensor>, outputs = this.outputs.map((o) => o.name), rule?: ActivationRule): tf.Tensor[] {
    const values = this.initialValues(feeds);
    this.run(values, 0, { rule });
    return outputs.map((name) => {
      const v = values.get(name);
      if (!v) throw new InputError(`${path.basename(this.file)}: output '${name}' was not computed`);
      return v;
    });
  }

  /**
   * Training mode: evaluates the graph with the constants named in `params` replaced by the given
   * tensors (tf.Variables), differentiable w.r.t. them. Inside tf.tidy or an optimizer's minimize.
   */
  executeWithParameters(feeds: Record<string, tf.Tensor>, params: ReadonlyMap<string, tf.Tensor>, outputs = this.outputs.map((o) => o.name)): tf.Tensor[] {
    const values = this.initialValues(feeds);
    for (const [name, t] of params) {
      if (!this.constants.has(name)) throw new Error(`'${name}' is not a constant of the graph`);
      values.set(name, t);
    }
    this.run(values, 0, { params });
    return outputs.map((name) => {
      const v = values.get(name);
      if (!v) throw new InputError(`${path.basename(this.file)}: output '${name}' was not computed`);
      return v;
    });
  }

  /** Every value the graph computes for `feeds` (for activation-size estimates); inside tf.tidy. */
  executeAll(feeds: Record<string, tf.Tensor>): Map<string, tf.Tensor> {
    const values = this.initialValues(feeds);
    this.run(values, 0);
    for (const name of this.constants.keys()) values.delete(name);
    return values;
  }

  /**
   * Runs up to the node producing `output`; `rest(a)` runs the remaining nodes with `a` in place of
   * that value, reusing everything computed before it.
   */
  splitAt(feeds: Record<string, tf.Tensor>, output: string, resultName = this.outputs[0].name) {
    const values = this.initialValues(feeds);
    const index = this.run(values, 0, { stopAt: output });
    return {
      activation: values.get(output)!,
      rest: (a: tf.Tensor): tf.Tensor => {
        const resumed = new Map(values);
        resumed.set(output, a);
        this.run(resumed, index + 1);
        return resumed.get(resultName)!;
      },
    };
  }

  /** Whether gradients w.r.t. the graph input pass through this node (Shape outputs carry none). */
  private onGradientPath(node: NodeInfo): boolean {
    return this.dependent.has(node.outputs[0]);
  }

  private runWithRule(rule: ActivationRule, ctx: RunContext): tf.Tensor | tf.Tensor[] {
    const { node } = ctx;
    const def = OPS[node.opType];
    const prepared = this.prepared.get(node);
    const site = { node: node.name, opType: node.opType };
    const x = ctx.inputs[0]!;
    const derivative = ACTIVATION_DERIVATIVES[node.opType];
    if (derivative) {
      const f = (t: tf.Tensor) => def.run({ ...ctx, inputs: [t, ...ctx.inputs.slice(1)] }, prepared) as tf.Tensor;
      return rule.activation(site, x, f, (t) => derivative(t, ctx));
    }
    if (node.opType === 'Softmax') {
      const f = (t: tf.Tensor) => def.run({ ...ctx, inputs: [t] }, prepared) as tf.Tensor;
      const a = axis(node.attrs.int('axis', node.opset < 13 ? 1 : -1), x.rank);
      const axes = node.opset < 13 ? [...Array(x.rank).keys()].slice(a) : [a];
      return rule.softmax(site, x, f, axes);
    }
    if ((node.opType === 'Mul' || node.opType === 'MatMul') && node.inputs.every((i) => this.dependent.has(i))) {
      const f = (a: tf.Tensor, b: tf.Tensor) => def.run({ ...ctx, inputs: [a, b] }, prepared) as tf.Tensor;
      const gate = node.inputs.findIndex((i) => GATE_TYPES.has(this.producers.get(i) ?? ''));
      return rule.product(site, x, ctx.inputs[1]!, f, gate === -1 ? undefined : (gate as 0 | 1));
    }
    return def.run({ ...ctx, rule, site }, prepared);
  }

  /**
   * Runs the graph and keeps the non-constant inputs of every node (for rules that need a
   * reference pass); constants are left out (undefined). Every kept tensor is a fresh handle the
   * caller disposes.
   */
  trace(feeds: Record<string, tf.Tensor>): Map<string, (tf.Tensor | undefined)[]> {
    const kept = new Map<string, (tf.Tensor | undefined)[]>();
    tf.tidy(() => {
      const values = this.initialValues(feeds);
      this.run(values, 0, {
        observe: (node, inputs) =>
          kept.set(
            node.name,
            inputs.map((t, i) => (t && !this.constants.has(node.inputs[i]) ? tf.keep(tf.clone(t)) : undefined)),
          ),
      });
    });
    return kept;
  }

  dispose(): void {
    for (const c of this.constants.values()) c.tensor.dispose();
    for (const p of this.prepared.values()) p.dispose();
    this.constants.clear();
    this.prepared.clear();
  }
}
