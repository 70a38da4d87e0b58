import * as path from 'node:path';
import { readSidecar } from '../data/sidecar';
import { InputError } from '../errors';
import { MODEL_EXTENSIONS } from './formats';
import { kerasModel } from './keras/keras-program';
import { readKerasArchive, readLegacyH5 } from './keras/keras-files';
import type { Model } from './model';
import { loadOnnxModel } from './onnx/onnx-model';
import { tfjsModel } from './tfjs/tfjs-model';
import { modelStamp, registerModelSource } from '../parallel/model-source';

export { MODEL_EXTENSIONS };

/**
 * Loads a model file with its sidecar config (`<file>.lens.json`) if there is one: ONNX (.onnx),
 * Keras 3 (.keras), legacy Keras HDF5 (.h5, .hdf5) and TF.js (model.json, LayersModel or GraphModel).
 */
export async function loadModel(file: string): Promise<Model> {
  // The stamp is taken before reading, so a file changing while it loads is loaded again later.
  const stamp = modelStamp(path.resolve(file));
  // Registered: pool workers (src/engine/parallel) may evaluate it by loading the same file.
  return registerModelSource(await loadModelFile(file), file, stamp);
}

async function loadModelFile(file: string): Promise<Model> {
  const ext = path.extname(file).toLowerCase();
  if (!(MODEL_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new InputError(`${file}: unsupported model format '${ext || '(no extension)'}'; supported: ${MODEL_EXTENSIONS.join(', ')}`);
  }
  const sidecar = await readSidecar(file);
  switch (ext) {
    case '.onnx':
      return loadOnnxModel(file, sidecar);
    case '.keras': {
      const k = await readKerasArchive(file);
      return kerasModel(file, k.modelConfig, k.lookup, 'keras', k.keras3, sidecar);
    }
    case '.h5':
    case '.hdf5': {
      const k = await readLegacyH5(file);
      return kerasModel(file, k.modelConfig, k.lookup, 'keras', k.keras3, sidecar);
    }
    default:
      return tfjsModel(file, sidecar);
  }
}
