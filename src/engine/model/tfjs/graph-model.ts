import * as path from 'node:path';
import type { LensConfig } from '../../data/sidecar';
import { InputError } from '../../errors';
import { inputSpec } from '../input-spec';
import type { Model } from '../model';
import { GLOROT_UNIFORM, ONES, ZEROS, type InitSpec } from '../nhwc/initializers';
import { NhwcModel, type LayerDef, type NhwcProgram } from '../nhwc/nhwc-model';
import { OpGraph, type OpNode } from '../nhwc/op-graph';
import type { Owned } from '../nhwc/ops';
import type { HostTensor } from '../onnx/tensor-proto';
import { GRAPH_OPS, GraphOpError, IDENTITY_OPS, isSupportedGraphOp, type TfAttr, type TfNode } from './graph-ops';
import type { TfjsArtifacts } from './model-json';

/** 'node:0' and 'node' name the same value; '^node' is a control dependency. */
const valueName = (input: string) => input.replace(/:0$/, '');

/** An inline Const's value (the converter usually moves them to the weights manifest). */
function inlineConstant(attr: TfAttr | undefined): HostTensor | undefined {
  const t = attr?.tensor;
  if (!t) return undefined;
  const shape = (t.tensorShape?.dim ?? []).map((d) => Number(d.size));
  const size = shape.reduce((a, b) => a * b, 1);
  const int = t.dtype === 'DT_INT32' || t.dtype === 'DT_INT64';
  let values: Float32Array | Int32Array;
  if (t.tensorContent) {
    const bytes = Buffer.from(t.tensorContent, 'base64');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    values = int ? Int32Array.from({ length: size }, (_, i) => view.getInt32(i * 4, true)) : Float32Array.from({ length: size }, (_, i) => view.getFloat32(i * 4, true));
  } else {
    const list = (int ? t.intVal : t.floatVal) ?? [];
    values = int ? new Int32Array(size) : new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = Number(list[list.length === 1 ? 0 : i] ?? 0);
  }
  return { dtype: int ? 'int32' : 'float32', shape, values };
}

const INITS: Record<'kernel' | 'zeros' | 'ones', InitSpec> = { kernel: GLOROT_UNIFORM, zeros: ZEROS, ones: ONES };

/**
 * A TF.js GraphModel: the TensorFlow graph's ops mapped to channels-last steps (fused convolutions
 * split into convolution, bias and activation so the rules see the nonlinearity). Constants that
 * feed a weighted op are its parameters, re-initialised as Keras would (Glorot-uniform kernels,
 * zero biases, identity batch norms).
 */
export function graphModel(file: string, artifacts: TfjsArtifacts, config: LensConfig | undefined): Model {
  const label = path.basename(file);
  const nodes = (artifacts.modelTopology.node ?? []) as TfNode[];
  const unsupported = new Map<string, string>();
  for (const n of nodes) if (!isSupportedGraphOp(n.op) && !unsupported.has(n.op)) unsupported.set(n.op, n.name);
  if (unsupported.size > 0) {
    const list = [...unsupported].map(([op, name]) => `'${op}' (node '${name}')`);
    throw new InputError(`${label}: unsupported TensorFlow op${list.length > 1 ? 's' : ''} ${list.join(', ')}`);
  }
  const constants = new Map<string, HostTensor>();
  const aliases = new Map<string, string>();
  const resolve = (v: string): string => {
    let name = valueName(v);
    while (aliases.has(name)) name = aliases.get(name)!;
    return name;
  };
  const placeholders = nodes.filter((n) => n.op === 'Placeholder');
  if (placeholders.length !== 1) {
    throw new InputError(`${label}: the graph has ${placeholders.length} inputs (${placeholders.map((p) => p.name).join(', ')}); one image input is supported`);
  }
  const input = placeholders[0];
  const consumed = new Set<string>();
  const compute: TfNode[] = [];
  for (const n of nodes) {
    const inputs = (n.input ?? []).filter((i) => !i.startsWith('^'));
    inputs.forEach((i) => consumed.add(valueName(i)));
    if (n.op === 'Const') {
      const value = artifacts.weights.get(n.name) ?? inlineConstant(n.attr?.value);
      if (!value) throw new InputError(`${label}: constant '${n.name}' has no value in the weights manifest`);
      constants.set(n.name, value);
    } else if (IDENTITY_OPS.has(n.op)) {
      if (inputs.length > 0) aliases.set(n.name, resolve(inputs[0]));
    } else if (n.op !== 'Placeholder') {
      if (inputs.every((i) => constants.has(resolve(i)))) throw new InputError(`${label}: node '${n.name}' (${n.op}) computes a constant, which is not supported`);
      compute.push(n);
    }
  }
  // Outputs: the values nothing reads (through any Identity after them).
  const outputs = [...new Set(nodes.filter((n) => n.op !== 'Const' && n.op !== 'Placeholder' && !consumed.has(n.name)).map((n) => resolve(n.name)))];
  if (outputs.length !== 1) throw new InputError(`${label}: the graph has ${outputs.length} outputs (${outputs.join(', ')}); one is supported`);

  // Parameters: constants read by weighted ops, keyed by the constant's name.
  const params = new Map<string, HostTensor>();
  const initializers = new Map<string, InitSpec>();
  const layers: LayerDef[] = [];
  for (const n of compute) layers.push({ name: n.name, className: n.op, output: n.name, params: [] });

  const compile = (values: ReadonlyMap<string, HostTensor>) => {
    const owned: Owned = [];
    const graphNodes: OpNode[] = [];
    try {
      for (const [k, n] of compute.entries()) {
        const inputs = (n.input ?? []).filter((i) => !i.startsWith('^')).map(resolve);
        const where = `${label}: node '${n.name}' (${n.op})`;
        const layer = layers[k];
        let steps;
        try {
          steps = GRAPH_OPS[n.op](n, {
            values: inputs.map((i) => (constants.has(i) ? undefined : i)),
            constant: (i) => (inputs[i] !== undefined ? constants.get(inputs[i]) : undefined),
            owned,
            param: (role, i, init) => {
              const name = inputs[i];
              const value = name !== undefined ? (values.get(name) ?? constants.get(name)) : undefined;
              if (!value) throw new GraphOpError(`input ${i} (${role}) must be a constant`);
              if (!params.has(name)) {
                params.set(name, value);
                initializers.set(name, INITS[init]);
              }
              if (!layer.params.includes(name)) layer.params.push(name);
              return value;
            },
          });
        } catch (err) {
          if (err instanceof InputError) throw err;
          throw new InputError(`${where}: ${(err as Error).message}`);
        }
        const dataInputs = inputs.filter((i) => !constants.has(i));
        let previous = dataInputs.map((i) => (i === input.name ? input.name : i));
        steps.forEach((s, i) => {
          const output = i === steps.length - 1 ? n.name : `${n.name}${s.suffix}:out`;
          graphNodes.push({ name: `${n.name}${s.suffix}`, opType: s.opType, inputs: previous, output, op: s.op });
          previous = [output];
        });
      }
      return { graph: new OpGraph(label, input.name, graphNodes, owned), output: outputs[0] };
    } catch (err) {
      owned.forEach((o) => o.dispose());
      throw err;
    }
  };
  // One compilation registers the parameters; the model compiles again from them.
  compile(new Map()).graph.dispose();
  const program: NhwcProgram = { format: 'tfjs-graph', layers, params, initializers, compile };
  const dims = (input.attr?.shape?.shape?.dim ?? []).map((d, i) => {
    const size = Number(d.size);
    return size > 0 ? size : i === 0 ? 'N' : `d${i}`;
  });
  const { spec } = inputSpec(file, { name: input.name, dims }, config, 'NHWC');
  return NhwcModel.create(file, program, spec, config?.labels);
}
