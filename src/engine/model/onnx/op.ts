import type * as tf from '@tensorflow/tfjs-core';
import type { ActivationRule, RuleSite } from '../model';
import { InputError } from '../../errors';
import type { Attributes } from './attributes';
import type { HostTensor } from './tensor-proto';

/** A node as the executor sees it. */
export interface NodeInfo {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Attributes;
  /** Opset version of the default domain. */
  opset: number;
  /** The model file, for error messages. */
  file: string;
}

/** State an op prepares once at load from its constant inputs (e.g. conv filters in tfjs layout). */
export interface Prepared {
  dispose(): void;
}

export interface RunContext {
  node: NodeInfo;
  /** Input tensors by position; undefined where the input is omitted (''). */
  inputs: (tf.Tensor | undefined)[];
  /** Host copy of input i if it is an initializer or Constant (never read back from the device). */
  constant(i: number): HostTensor | undefined;
  /** Integer values of input i (shapes, axes, pads), read from the constant or from the device. */
  ints(i: number): number[] | undefined;
  /** Float values of input i (scalars such as Clip's bounds). */
  floats(i: number): number[] | undefined;
  /** A modified-gradient rule for ops that apply it themselves (MaxPool, which knows its window). */
  rule?: ActivationRule;
  site?: RuleSite;
}

export interface OpDefinition {
  /** Called at load for nodes whose needed inputs are constants; the result lives as long as the model. */
  prepare?(node: NodeInfo, constant: (i: number) => HostTensor | undefined): Prepared | undefined;
  run(ctx: RunContext, prepared: Prepared | undefined): tf.Tensor | tf.Tensor[];
  /**
   * Training mode (src/engine/training): runs the node with its parameters taken from ctx.inputs
   * (variables fed in place of the constants), differentiable w.r.t. them, for ops whose `run` uses
   * state prepared from constant weights.
   */
  train?(ctx: RunContext): tf.Tensor | tf.Tensor[];
}

/** An error about a node of the user's model: names the file, node, op and opset. */
export function nodeError(node: NodeInfo, problem: string): InputError {
  return new InputError(`${node.file}: node '${node.name}' (${node.opType}, opset ${node.opset}): ${problem}`);
}

/** The i-th input, which the op requires. */
export function required(ctx: RunContext, i: number): tf.Tensor {
  const t = ctx.inputs[i];
  if (!t) throw nodeError(ctx.node, `input ${i} is required`);
  return t;
}

/** Normalises a possibly negative axis against rank. */
export function axis(a: number, rank: number): number {
  return a < 0 ? a + rank : a;
}
