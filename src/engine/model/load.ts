import * as path from 'node:path';
import { readSidecar } from '../data/sidecar';
import { InputError } from '../errors';
import type { Model } from './model';
import { loadOnnxModel } from './onnx/onnx-model';

/** Model file formats the engine loads, by file extension. */
export const MODEL_EXTENSIONS = ['.onnx'] as const;

/** Loads a model file with its sidecar config (`<file>.lens.json`) if there is one. */
export async function loadModel(file: string): Promise<Model> {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.onnx') {
    throw new InputError(`${file}: unsupported model format '${ext || '(no extension)'}'; supported: ${MODEL_EXTENSIONS.join(', ')}`);
  }
  return loadOnnxModel(file, await readSidecar(file));
}
