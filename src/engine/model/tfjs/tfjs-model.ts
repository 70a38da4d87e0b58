import type { LensConfig } from '../../data/sidecar';
import { kerasModel } from '../keras/keras-program';
import type { NamedWeight, WeightLookup } from '../keras/weights';
import type { Model } from '../model';
import { graphModel } from './graph-model';
import { readModelJson, type TfjsArtifacts } from './model-json';

/** Whether the stored weight named `name` ('outer/conv1/kernel:0') belongs to the layer at `layerPath`. */
function belongsTo(name: string, layerPath: string[]): boolean {
  const owner = name.replace(/:\d+$/, '').split('/').slice(0, -1);
  if (owner.at(-1) !== layerPath.at(-1)) return false;
  // Outer scopes, where both name them, must agree (two nested models may hold same-named layers).
  const n = Math.min(owner.length, layerPath.length);
  return owner.slice(-n).every((s, i) => s === layerPath.slice(-n)[i]);
}

/** A TF.js LayersModel's weights by layer, found by their names: scoped exactly as the layer if any are, else by suffix. */
function layersLookup(artifacts: TfjsArtifacts): WeightLookup {
  return ({ path: layerPath }) => {
    const scope = layerPath.join('/');
    const exact: NamedWeight[] = [];
    const suffix: NamedWeight[] = [];
    for (const [name, value] of artifacts.weights) {
      if (name.replace(/:\d+$/, '').split('/').slice(0, -1).join('/') === scope) exact.push({ name, value });
      else if (belongsTo(name, layerPath)) suffix.push({ name, value });
    }
    return exact.length > 0 ? exact : suffix;
  };
}

/**
 * A TF.js model.json: a LayersModel (a Keras model config, tfjs-layers / Keras 2 semantics) or a
 * GraphModel (a TensorFlow graph of ops), with its weight shards.
 */
export async function tfjsModel(file: string, config: LensConfig | undefined): Promise<Model> {
  const artifacts = await readModelJson(file);
  if (artifacts.format === 'graph-model') return graphModel(file, artifacts, config);
  const topology = artifacts.modelTopology;
  const modelConfig = 'model_config' in topology ? topology.model_config : topology;
  return kerasModel(file, modelConfig, layersLookup(artifacts), 'tfjs-layers', false, config);
}
