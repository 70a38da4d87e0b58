import { unzipSync } from 'fflate';
import * as path from 'node:path';
import { readUserFile } from '../../data/read-file';
import { InputError } from '../../errors';
import type { Json } from './config';
import { H5File } from './hdf5';
import type { NamedWeight, WeightLookup } from './weights';

/** What a Keras file holds: the model config ({class_name, config}) and its weights by layer path. */
export interface KerasFile {
  modelConfig: unknown;
  lookup: WeightLookup;
  /** Keras 3 semantics (activations whose definition changed). */
  keras3: boolean;
  /** e.g. 'Keras 3.3.3'. */
  producer: string;
  /** Number of stored weight values (read from the dataset shapes only). */
  parameters(): number;
}

function parseJson(text: string, what: string, label: string): Json {
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null) throw new Error('not an object');
    return v as Json;
  } catch (err) {
    throw new InputError(`${label}: ${what} is not valid JSON (${(err as Error).message})`);
  }
}

const byIndex = (a: string, b: string) => Number(a) - Number(b);

/**
 * A Keras 3 `.keras` archive: a zip with config.json, metadata.json and model.weights.h5, whose
 * weights sit at layers/<container>[/layers/<inner container>]/vars/<i> in the layer's variable
 * order, containers named as Keras's saving_lib names them (snake-cased class, numbered).
 */
export async function readKerasArchive(file: string): Promise<KerasFile> {
  const label = path.basename(file);
  const bytes = await readUserFile(file, 'model');
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, { filter: (f) => ['config.json', 'metadata.json', 'model.weights.h5'].includes(f.name) });
  } catch (err) {
    throw new InputError(`${label}: not a .keras archive (not a readable zip: ${(err as Error).message})`);
  }
  for (const name of ['config.json', 'model.weights.h5']) {
    if (!entries[name]) throw new InputError(`${label}: the archive has no ${name}; not a Keras 3 .keras file`);
  }
  const decoder = new TextDecoder();
  const modelConfig = parseJson(decoder.decode(entries['config.json']), 'config.json', label);
  const metadata = entries['metadata.json'] ? parseJson(decoder.decode(entries['metadata.json']), 'metadata.json', label) : {};
  const version = String(metadata.keras_version ?? '3');
  const h5 = new H5File(entries['model.weights.h5'], `${label}/model.weights.h5`);
  const lookup: WeightLookup = ({ path: names, storePath }) => {
    // Keras 3 names containers by class ('conv2d_1'); TF 2.13's .keras files by layer name under
    // '_layer_checkpoint_dependencies'.
    const candidates = [storePath.map((n) => `layers/${n}`), names.map((n) => `_layer_checkpoint_dependencies/${n}`)];
    const group = candidates.map((c) => `${c.join('/')}/vars`).find((g) => h5.has(g)) ?? '';
    return h5.keys(group).sort(byIndex).map((k) => ({ value: h5.dataset(`${group}/${k}`) }));
  };
  return { modelConfig, lookup, keras3: !version.startsWith('2'), producer: `Keras ${version}`, parameters: () => h5.size('layers') + h5.size('_layer_checkpoint_dependencies') };
}

/**
 * A legacy Keras HDF5 model (`model.save('m.h5')`): the model_config attribute and a
 * model_weights group with one group per layer listing its weights in `weight_names`. Weights of a
 * nested model's layers are in the nested model's group, named '<inner layer>/<weight>'.
 */
export async function readLegacyH5(file: string): Promise<KerasFile> {
  const label = path.basename(file);
  const h5 = new H5File(await readUserFile(file, 'model'), label);
  const configText = h5.attribute('/', 'model_config');
  if (typeof configText !== 'string') {
    const hint = h5.attribute('/', 'layer_names') !== undefined ? ' (it holds weights only, as save_weights writes them)' : '';
    throw new InputError(`${label}: no 'model_config' attribute: not a Keras model saved with model.save${hint}`);
  }
  const modelConfig = parseJson(configText, "the 'model_config' attribute", label);
  const root = h5.has('model_weights') ? 'model_weights' : '';
  const version = String(h5.attribute('/', 'keras_version') ?? '2');
  const lookup: WeightLookup = ({ path: layerPath }) => {
    const group = `${root}/${layerPath[0]}`.replace(/^\//, '');
    const names = h5.attribute(group, 'weight_names');
    const list = typeof names === 'string' ? [names] : (names ?? []);
    const inner = layerPath.at(-1)!;
    const mine = layerPath.length === 1 ? list : list.filter((n) => n.split('/').at(-2) === inner);
    return mine.map((name): NamedWeight => ({ name, value: h5.dataset(`${group}/${name}`) }));
  };
  return { modelConfig, lookup, keras3: version.startsWith('3'), producer: `Keras ${version}`, parameters: () => h5.size(root || '/') };
}
