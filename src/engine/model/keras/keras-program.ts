import * as path from 'node:path';
import type { LensConfig } from '../../data/sidecar';
import { InputError } from '../../errors';
import { inputSpec } from '../input-spec';
import type { Model } from '../model';
import type { InitSpec } from '../nhwc/initializers';
import { NhwcModel, type LayerDef, type NhwcProgram } from '../nhwc/nhwc-model';
import { OpGraph, type OpNode } from '../nhwc/op-graph';
import type { Owned } from '../nhwc/ops';
import type { HostTensor } from '../onnx/tensor-proto';
import { flattenModel, type KerasGraph } from './config';
import { isSupportedLayer, LayerConfigError, layerSteps, layerWeights } from './layers';
import { assignWeights, type WeightLookup } from './weights';

/** Unsupported layers of a flattened model, one per class: "'Lambda' (layer 'lambda')". */
export function unsupportedLayers(graph: KerasGraph): string[] {
  const seen = new Map<string, string>();
  for (const c of graph.calls) if (!isSupportedLayer(c.className) && !seen.has(c.className)) seen.set(c.className, c.key);
  return [...seen].map(([cls, key]) => `'${cls}' (layer '${key}')`);
}

/** A Keras graph with its weights as a channels-last program (see NhwcProgram). */
export function kerasProgram(graph: KerasGraph, lookup: WeightLookup, label: string, format: Model['format'], keras3: boolean): NhwcProgram {
  const unsupported = unsupportedLayers(graph);
  if (unsupported.length > 0) {
    throw new InputError(`${label}: unsupported Keras layer${unsupported.length > 1 ? 's' : ''} ${unsupported.join(', ')}`);
  }
  const params = new Map<string, HostTensor>();
  const initializers = new Map<string, InitSpec>();
  const layers: LayerDef[] = [];
  for (const call of graph.calls) {
    if (call.callIndex > 0 || layers.some((l) => l.name === call.key)) continue;
    const expected = layerWeights(call.className, call.config);
    const assigned = assignWeights(expected, expected.length > 0 ? lookup(call) : []);
    if (typeof assigned === 'string') throw new InputError(`${label}: layer '${call.key}' (${call.className}): ${assigned}`);
    const keys = expected.map((e) => `${call.key}/${e.role}`);
    expected.forEach((e, i) => {
      params.set(keys[i], assigned.get(e.role)!);
      initializers.set(keys[i], e.init);
    });
    // Normalization's statistics are not learned weights: randomization leaves them alone.
    layers.push({ name: call.key, className: call.className, output: call.output, params: call.className === 'Normalization' ? [] : keys });
  }
  const compile = (values: ReadonlyMap<string, HostTensor>) => {
    const owned: Owned = [];
    const nodes: OpNode[] = [];
    try {
      for (const call of graph.calls) {
        const base = call.callIndex > 0 ? `${call.key}#${call.callIndex}` : call.key;
        const where = `${label}: layer '${call.key}' (${call.className})`;
        let steps;
        try {
          steps = layerSteps(call.className, call.config, {
            keras3,
            inputs: call.inputs.length,
            owned,
            weight: (role) => {
              const w = values.get(`${call.key}/${role}`);
              if (!w) throw new LayerConfigError(`has no weight '${role}'`);
              return w;
            },
          });
        } catch (err) {
          if (err instanceof InputError) throw err;
          throw new InputError(`${where}: ${(err as Error).message}`);
        }
        let previous = call.inputs;
        steps.forEach((s, i) => {
          const output = i === steps.length - 1 ? call.output : `${base}${s.suffix}:out`;
          nodes.push({ name: `${base}${s.suffix}`, opType: s.opType, inputs: previous, output, op: s.op });
          previous = [output];
        });
      }
      return { graph: new OpGraph(label, graph.input.value, nodes, owned), output: graph.output };
    } catch (err) {
      owned.forEach((o) => o.dispose());
      throw err;
    }
  };
  return { format, layers, params, initializers, compile };
}

/**
 * A Keras-family model (a .keras archive, a legacy .h5, a TF.js LayersModel) from its model config
 * and weights. Pixels are fed raw (scale 1) by default when the model starts with a Rescaling layer.
 */
export function kerasModel(
  file: string,
  modelConfig: unknown,
  lookup: WeightLookup,
  format: Model['format'],
  keras3: boolean,
  config: LensConfig | undefined,
): Model {
  const label = path.basename(file);
  const graph = flattenModel(modelConfig, label);
  const program = kerasProgram(graph, lookup, label, format, keras3);
  const dims = graph.input.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 'N' : `d${i}`));
  const { spec } = inputSpec(file, { name: graph.input.name, dims }, config, 'NHWC');
  const rescales = graph.calls.some((c) => c.className === 'Rescaling' && c.inputs[0] === graph.input.value);
  if (rescales && config?.input?.scale === undefined) spec.preprocessing.scale = 1;
  return NhwcModel.create(file, program, spec, config?.labels);
}
