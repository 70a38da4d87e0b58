import * as A from '../nhwc/activations';
import type { OpBehaviour } from '../nhwc/op-graph';

/** A Keras activation as one graph step; undefined for 'linear'. */
export interface ActivationStep {
  opType: string;
  op: OpBehaviour;
}

/** The activation's name from a config entry: 'relu', or Keras 3's {class_name: 'function', config: 'relu'}. */
export function activationName(entry: unknown): string | undefined {
  if (entry === undefined || entry === null) return 'linear';
  if (typeof entry === 'string') return entry;
  if (typeof entry === 'object') {
    const e = entry as { config?: unknown; registered_name?: unknown; class_name?: unknown };
    if (typeof e.config === 'string') return e.config;
    if (typeof e.registered_name === 'string') return e.registered_name;
    if (typeof e.class_name === 'string' && e.class_name !== 'function') return e.class_name;
  }
  return undefined;
}

/**
 * Keras's (and TF.js Layers') activations by name, or undefined when unknown. `keras3` picks the
 * Keras 3 definitions where they changed (hard_sigmoid: relu6(x + 3)/6 instead of clip(0.2x + 0.5);
 * leaky_relu's default slope 0.2).
 */
export function activationStep(name: string, keras3: boolean): ActivationStep | null | undefined {
  const key = name.toLowerCase().replace(/_/g, '');
  const act = (a: A.Activation): ActivationStep => ({ opType: a.opType, op: a.behaviour });
  switch (key) {
    case 'linear':
    case 'identity':
      return null;
    case 'relu':
      return act(A.relu());
    case 'relu6':
      return act(A.clip(0, 6));
    case 'leakyrelu':
      return act(A.leakyRelu(keras3 ? 0.2 : 0.3));
    case 'elu':
      return act(A.elu(1));
    case 'selu':
      return act(A.selu());
    case 'sigmoid':
      return act(A.sigmoid());
    case 'hardsigmoid':
      return act(keras3 ? A.hardSigmoid(1 / 6) : A.hardSigmoid(0.2));
    case 'hardsilu':
    case 'hardswish':
      return act(A.hardSwish());
    case 'tanh':
      return act(A.tanh());
    case 'softplus':
      return act(A.softplus());
    case 'softsign':
      return act(A.softsign());
    case 'swish':
    case 'silu':
      return act(A.swish());
    case 'gelu':
      return act(A.gelu(false));
    case 'exponential':
      return act(A.exponential());
    case 'mish':
      return act(A.mish());
    case 'softmax':
      return { opType: 'Softmax', op: { kind: 'softmax', axis: -1 } };
    default:
      return undefined;
  }
}
