import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../../errors';
import { maxPool } from '../../kernels/pool';
import type { ActivationRule, PoolWindow, RuleSite } from '../model';

/**
 * What a node does, as far as the modified-gradient rules care: plain (linear or shape) ops keep
 * their gradient; elementwise activations, softmaxes, max poolings and products of two
 * input-dependent tensors go through the rule when one is given.
 */
export type OpBehaviour =
  | { kind: 'plain'; run: (inputs: tf.Tensor[]) => tf.Tensor }
  | { kind: 'activation'; f: (x: tf.Tensor) => tf.Tensor; derivative: (x: tf.Tensor) => tf.Tensor }
  | { kind: 'softmax'; axis: number }
  | { kind: 'maxPool'; window: (x: tf.Tensor4D) => PoolWindow }
  | { kind: 'product'; f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor };

/** One node of a channels-last graph: Keras layers and TF.js graph ops both compile to these. */
export interface OpNode {
  /** Unique; the rule site and the key of traced inputs. */
  name: string;
  /** Rule-facing op type ('Relu', 'Clip', 'Sigmoid', 'Conv2D', …): rules.ts keys rectifiers on it. */
  opType: string;
  /** Value names read, in order. */
  inputs: string[];
  /** Value name written. */
  output: string;
  op: OpBehaviour;
}

/** Producers whose output gates another tensor (as in the ONNX executor). */
const GATE_TYPES = new Set(['Sigmoid', 'HardSigmoid', 'Softmax']);

/** Softmax over one axis of any rank (tf.softmax works on the last one). */
export function softmaxAlong(x: tf.Tensor, axis: number): tf.Tensor {
  const a = axis < 0 ? axis + x.rank : axis;
  if (a === x.rank - 1) return tf.softmax(x);
  const perm = [...Array(x.rank).keys()].filter((d) => d !== a).concat(a);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return tf.transpose(tf.softmax(tf.transpose(x, perm)), inverse);
}

/**
 * A channels-last graph of OpNodes in topological order with one input, executed with tfjs-core
 * ops (the engine's own gradient kernels for convolutions and max pooling), differentiable w.r.t.
 * the input. Weights are captured by the nodes' closures; `owned` releases them.
 */
export class OpGraph {
  private readonly producers = new Map<string, OpNode>();

  constructor(
    /** The model file's name, for errors. */
    readonly label: string,
    readonly input: string,
    readonly nodes: readonly OpNode[],
    private readonly owned: { dispose(): void }[],
  ) {
    for (const n of nodes) this.producers.set(n.output, n);
  }

  producer(value: string): OpNode | undefined {
    return this.producers.get(value);
  }

  /** Index of the node producing `value` (-1 for the input). */
  indexOf(value: string): number {
    if (value === this.input) return -1;
    const i = this.nodes.findIndex((n) => n.output === value);
    if (i < 0) throw new Error(`no node produces '${value}'`);
    return i;
  }

  private site(node: OpNode): RuleSite {
    return { node: node.name, opType: node.opType, channelsLast: true };
  }

  private runNode(node: OpNode, inputs: tf.Tensor[], rule: ActivationRule | undefined): tf.Tensor {
    const op = node.op;
    switch (op.kind) {
      case 'plain':
        return op.run(inputs);
      case 'activation':
        return rule ? rule.activation(this.site(node), inputs[0], op.f, op.derivative) : op.f(inputs[0]);
      case 'softmax': {
        const f = (t: tf.Tensor) => softmaxAlong(t, op.axis);
        const axis = op.axis < 0 ? op.axis + inputs[0].rank : op.axis;
        return rule ? rule.softmax(this.site(node), inputs[0], f, [axis]) : f(inputs[0]);
      }
      case 'maxPool': {
        const x = inputs[0] as tf.Tensor4D;
        const window = op.window(x);
        return rule ? rule.maxPool(this.site(node), x, window) : maxPool(x, window);
      }
      case 'product': {
        if (!rule) return op.f(inputs[0], inputs[1]);
        const gate = node.inputs.findIndex((i) => GATE_TYPES.has(this.producers.get(i)?.opType ?? ''));
        return rule.product(this.site(node), inputs[0], inputs[1], op.f, gate === -1 ? undefined : (gate as 0 | 1));
      }
    }
  }

  /**
   * Runs nodes [start, end) over `values`, which holds the input (and anything computed before
   * `start`). Intermediates are not disposed: call inside tf.tidy or a gradient.
   */
  run(values: Map<string, tf.Tensor>, start: number, end: number, rule?: ActivationRule, observe?: (node: OpNode, inputs: tf.Tensor[]) => void): void {
    for (let k = start; k < end; k++) {
      const node = this.nodes[k];
      const inputs = node.inputs.map((name) => {
        const v = values.get(name);
        if (!v) throw new InputError(`${this.label}: node '${node.name}' (${node.opType}): input '${name}' is not computed before it`);
        return v;
      });
      observe?.(node, inputs);
      try {
        values.set(node.output, this.runNode(node, inputs, rule));
      } catch (err) {
        if (err instanceof InputError) throw err;
        throw new InputError(`${this.label}: node '${node.name}' (${node.opType}): ${(err as Error).message}`);
      }
    }
  }

  /** The value `output` for input x; intermediates belong to the caller's scope. */
  evaluate(x: tf.Tensor, output: string, rule?: ActivationRule): tf.Tensor {
    const values = new Map([[this.input, x]]);
    this.run(values, 0, this.indexOf(output) + 1, rule);
    return values.get(output)!;
  }

  /** Every value for input x (for shapes and memory estimates); inside tf.tidy. */
  evaluateAll(x: tf.Tensor): Map<string, tf.Tensor> {
    const values = new Map([[this.input, x]]);
    this.run(values, 0, this.nodes.length);
    return values;
  }

  /**
   * Runs up to the node producing `at`; `rest(a)` runs the nodes after it up to `output` with `a`
   * in place of that value, reusing what was computed before.
   */
  splitAt(x: tf.Tensor, at: string, output: string): { activation: tf.Tensor; rest: (a: tf.Tensor) => tf.Tensor } {
    const values = new Map([[this.input, x]]);
    const index = this.indexOf(at);
    const end = this.indexOf(output) + 1;
    if (index >= end) throw new Error(`'${at}' does not come before the output`);
    this.run(values, 0, index + 1);
    return {
      activation: values.get(at)!,
      rest: (a) => {
        const resumed = new Map(values);
        resumed.set(at, a);
        this.run(resumed, index + 1, end);
        return resumed.get(output)!;
      },
    };
  }

  /**
   * The inputs of every rule site (nodes that are not plain) on one pass up to `output`, as fresh
   * handles the caller disposes.
   */
  trace(x: tf.Tensor, output: string): Map<string, tf.Tensor[]> {
    const kept = new Map<string, tf.Tensor[]>();
    tf.tidy(() => {
      const values = new Map([[this.input, x]]);
      this.run(values, 0, this.indexOf(output) + 1, undefined, (node, inputs) => {
        if (node.op.kind !== 'plain') kept.set(node.name, inputs.map((t) => tf.keep(tf.clone(t))));
      });
    });
    return kept;
  }

  dispose(): void {
    for (const o of this.owned) o.dispose();
    this.owned.length = 0;
  }
}
