import * as path from 'node:path';
import { InputError } from '../errors';
import { flattenModel, type KerasGraph } from './keras/config';
import { unsupportedLayers } from './keras/keras-program';
import { readKerasArchive, readLegacyH5 } from './keras/keras-files';
import type { Model } from './model';
import { inspectOnnx, type OnnxSummary } from './onnx/inspect';
import { isSupportedGraphOp, type TfNode } from './tfjs/graph-ops';
import { readModelJson } from './tfjs/model-json';

/** What a model file declares, for listings: inputs, outputs, size and what the engine cannot run. */
export interface ModelSummary extends OnnxSummary {
  format: Model['format'];
}

const shapeOf = (dims: (number | null)[]) => dims.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 'N' : '?'));

/** A Keras graph's summary: nodes are layer calls; an output's shape is known when it is a Dense layer. */
function kerasSummary(file: string, graph: KerasGraph, format: Model['format'], producer: string, parameters: number): ModelSummary {
  const last = graph.calls.find((c) => c.output === graph.output);
  const units = last?.className === 'Dense' ? Number(last.config.units) : undefined;
  return {
    file,
    format,
    producer,
    opset: undefined,
    inputs: [{ name: graph.input.name, shape: shapeOf(graph.input.shape) }],
    outputs: [{ name: last?.key ?? graph.output, shape: units ? ['N', units] : ['?'] }],
    nodes: graph.calls.length,
    parameters,
    unsupported: unsupportedLayers(graph),
  };
}

/** Summarises any model file the engine loads, without building it. Problems are InputErrors naming the file. */
export async function inspectModel(file: string): Promise<ModelSummary> {
  const ext = path.extname(file).toLowerCase();
  const label = path.basename(file);
  if (ext === '.onnx') return { ...(await inspectOnnx(file)), format: 'onnx' };
  if (ext === '.keras' || ext === '.h5' || ext === '.hdf5') {
    const k = ext === '.keras' ? await readKerasArchive(file) : await readLegacyH5(file);
    return kerasSummary(file, flattenModel(k.modelConfig, label), 'keras', k.producer, k.parameters());
  }
  if (ext !== '.json') throw new InputError(`${file}: unsupported model format '${ext || '(no extension)'}'`);
  const artifacts = await readModelJson(file);
  const parameters = [...artifacts.weights.values()].reduce((n, w) => n + w.values.length, 0);
  const topology = artifacts.modelTopology;
  if (artifacts.format === 'layers-model') {
    const modelConfig = 'model_config' in topology ? topology.model_config : topology;
    const version = typeof topology.keras_version === 'string' ? ` (${topology.keras_version})` : '';
    return kerasSummary(file, flattenModel(modelConfig, label), 'tfjs-layers', `TF.js LayersModel${version}`, parameters);
  }
  const nodes = (topology.node ?? []) as TfNode[];
  const unsupported = new Map<string, string>();
  for (const n of nodes) if (!isSupportedGraphOp(n.op) && !unsupported.has(n.op)) unsupported.set(n.op, n.name);
  const consumed = new Set(nodes.flatMap((n) => (n.input ?? []).map((i) => i.replace(/^\^/, '').replace(/:\d+$/, ''))));
  return {
    file,
    format: 'tfjs-graph',
    producer: 'TF.js GraphModel',
    opset: undefined,
    inputs: nodes
      .filter((n) => n.op === 'Placeholder')
      .map((n) => ({ name: n.name, shape: (n.attr?.shape?.shape?.dim ?? []).map((d, i) => (Number(d.size) > 0 ? Number(d.size) : i === 0 ? 'N' : '?')) })),
    outputs: nodes.filter((n) => n.op !== 'Const' && !consumed.has(n.name)).map((n) => ({ name: n.name, shape: ['?'] })),
    nodes: nodes.filter((n) => n.op !== 'Const').length,
    parameters,
    unsupported: [...unsupported].map(([op, name]) => `'${op}' (node '${name}')`),
  };
}
