import { Random } from '../../random';
import type { NodeInfo } from './op';
import type { HostTensor } from './tensor-proto';

/** Ops whose constant inputs are learned parameters, and which inputs those are. */
const PARAMETER_INPUTS: Record<string, number[]> = {
  Conv: [1, 2],
  ConvTranspose: [1, 2],
  Gemm: [1, 2],
  MatMul: [0, 1],
  BatchNormalization: [1, 2, 3, 4],
};

export function hasParameters(node: NodeInfo, isConstant: (name: string) => boolean): boolean {
  return (PARAMETER_INPUTS[node.opType] ?? []).some((i) => node.inputs[i] && isConstant(node.inputs[i]));
}

/**
 * The node's parameters that training updates (src/engine/training): the constant parameter inputs,
 * except a batch norm's running mean and variance, which stay at their reset values (0 and 1) so
 * the batch norm trains as an affine map (scale and shift).
 */
export function trainableParameters(node: NodeInfo, isConstant: (name: string) => boolean): string[] {
  const indices = (PARAMETER_INPUTS[node.opType] ?? []).filter((i) => !(node.opType === 'BatchNormalization' && i >= 3));
  return indices.map((i) => node.inputs[i]).filter((name) => name && isConstant(name));
}

/** A stable 32-bit hash of a layer name, so each layer draws from its own stream of the seed. */
function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/**
 * PyTorch's fan-in of a weight (torch.nn.init._calculate_fan_in_and_fan_out): dimension 1 times
 * the receptive field, i.e. in-channels per group for Conv, out-channels per group for
 * ConvTranspose, and the input features of a dense layer (stored [out, in] with transB, else [in, out]).
 */
function fanIn(node: NodeInfo, weight: HostTensor): number {
  const s = weight.shape;
  if (node.opType === 'Gemm') return node.attrs.int('transB', 0) === 1 ? s[1] : s[0];
  if (node.opType === 'MatMul') return s[0];
  return s.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * New values for the parameters of `node`, as PyTorch's reset_parameters() would set them:
 * weights and biases of convolutions and dense layers U(−1/√fan_in, 1/√fan_in) (kaiming_uniform_
 * with a = √5), batch norm scale 1, shift 0, running mean 0 and variance 1.
 */
export function reinitialize(node: NodeInfo, value: (name: string) => HostTensor | undefined, seed: number): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const random = new Random((seed ^ hash(node.name)) >>> 0);
  const inputs = (PARAMETER_INPUTS[node.opType] ?? []).filter((i) => node.inputs[i] && value(node.inputs[i]));
  if (node.opType === 'BatchNormalization') {
    inputs.forEach((i) => {
      const old = value(node.inputs[i])!;
      out.set(node.inputs[i], { ...old, values: new Float32Array(old.values.length).fill(i === 1 || i === 4 ? 1 : 0) });
    });
    return out;
  }
  const weightIndex = node.opType === 'MatMul' ? inputs[0] : 1;
  const weight = value(node.inputs[weightIndex]);
  if (!weight) return out;
  const bound = 1 / Math.sqrt(fanIn(node, weight));
  for (const i of inputs) {
    const old = value(node.inputs[i])!;
    const values = new Float32Array(old.values.length);
    for (let k = 0; k < values.length; k++) values[k] = (2 * random.uniform() - 1) * bound;
    out.set(node.inputs[i], { dtype: 'float32', shape: old.shape, values });
  }
  return out;
}
