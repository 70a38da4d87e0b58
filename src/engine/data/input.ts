import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { InputError } from '../errors';
import type { Model } from '../model/model';
import { decodeImage } from './image';
import { parseNpy, toFloat32 } from './npy';
import { readUserFile } from './read-file';
import { imageToInput } from './preprocess';

/**
 * The model input for a file, shape [1, ...model.input.shape]: a `.npy` array is taken as it is
 * (with or without the batch dimension); an image is preprocessed by the model's input spec.
 */
export async function loadInput(file: string, model: Model): Promise<tf.Tensor> {
  const bytes = await readUserFile(file, 'input');
  const label = path.basename(file);
  const expected = model.input.shape;
  if (path.extname(file).toLowerCase() === '.npy') {
    const arr = parseNpy(bytes, label);
    const shape = arr.shape.length === expected.length + 1 && arr.shape[0] === 1 ? arr.shape.slice(1) : arr.shape;
    if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
      throw new InputError(`${label}: array of shape [${arr.shape}] does not fit the model's input [${expected}] (or [1,${expected}])`);
    }
    return tf.tensor(toFloat32(arr), [1, ...expected], 'float32');
  }
  const image = decodeImage(bytes, label);
  return tf.tensor(imageToInput(image, model.input, label), [1, ...expected], 'float32');
}
