import * as path from 'node:path';

/** Model file extensions the engine loads; TF.js models are JSON files (see isModelFileName). */
export const MODEL_EXTENSIONS = ['.onnx', '.keras', '.h5', '.hdf5', '.json'] as const;

/** Extensions listed as models whatever the file's name. */
const ALWAYS = new Set(['.onnx', '.keras', '.h5', '.hdf5']);

/**
 * Whether a file name looks like a model when scanning folders: ONNX, Keras (.keras, .h5, .hdf5),
 * and TF.js's model.json (any other .json file still loads when given explicitly).
 */
export function isModelFileName(file: string): boolean {
  const base = path.basename(file).toLowerCase();
  return ALWAYS.has(path.extname(base)) || base === 'model.json' || base.endsWith('.model.json');
}
