import * as tf from '@tensorflow/tfjs-core';
import type { Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { InputError } from '../errors';
import type { InputSpec } from '../model/model';
import { parseIdx } from './idx';
import { decodeImage, type RgbaImage } from './image';
import { imageToInput } from './preprocess';
import { readUserFile } from './read-file';

/**
 * Labelled images for training (the data-randomization sanity check), preprocessed for one
 * model's input spec: x = (pixel · scale − mean[c]) / std[c], as a single image input is.
 */
export interface Dataset {
  /** Where the data came from, for messages and reports. */
  readonly source: string;
  readonly count: number;
  /** Class index of every sample. */
  readonly labels: Int32Array;
  /** Number of classes: the largest label + 1 (IDX), or the number of class folders. */
  readonly numClasses: number;
  /** Class names when the source has them (folder names). */
  readonly classNames?: readonly string[];
  /** Samples `indices` as one tensor [n, ...spec.shape] in the spec's layout. Caller disposes. */
  batch(indices: ArrayLike<number>): tf.Tensor;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

function checkIndex(i: number, count: number, source: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= count) throw new RangeError(`${source}: sample ${i} out of range 0..${count - 1}`);
}

/** One preprocessed input per sample, stacked. */
function stack(indices: ArrayLike<number>, spec: InputSpec, count: number, source: string, sample: (i: number) => Float32Array): tf.Tensor {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    checkIndex(indices[k], count, source);
    out.set(sample(indices[k]), k * size);
  }
  return tf.tensor(out, [indices.length, ...spec.shape], 'float32');
}

/**
 * A dataset in IDX files (MNIST, Fashion-MNIST, EMNIST): images [N, H, W] or [N, H, W, C] of uint8
 * and labels [N] of integers. Images are preprocessed on demand by the model's sidecar settings,
 * exactly as a PNG of the same pixels would be (gray images replicated for a 3-channel model).
 */
export async function loadIdxDataset(imagesFile: string, labelsFile: string, spec: InputSpec): Promise<Dataset> {
  const images = parseIdx(await readUserFile(imagesFile, 'IDX images'), imagesFile);
  const labelArray = parseIdx(await readUserFile(labelsFile, 'IDX labels'), labelsFile);
  if (images.dtype !== 'uint8') throw new InputError(`${imagesFile}: IDX images must be uint8 pixels, got ${images.dtype}`);
  if (images.shape.length !== 3 && images.shape.length !== 4) {
    throw new InputError(`${imagesFile}: IDX images must have shape [N, H, W] or [N, H, W, C], got [${images.shape.join(', ')}]`);
  }
  const [count, height, width, channels = 1] = images.shape;
  if (channels !== 1 && channels !== 3) throw new InputError(`${imagesFile}: IDX images have ${channels} channels; 1 or 3 are supported`);
  if (labelArray.shape.length !== 1 && !(labelArray.shape.length === 2 && labelArray.shape[1] === 1)) {
    throw new InputError(`${labelsFile}: IDX labels must have shape [N], got [${labelArray.shape.join(', ')}]`);
  }
  if (labelArray.shape[0] !== count) {
    throw new InputError(`${labelsFile}: ${labelArray.shape[0]} labels for ${count} images in ${path.basename(imagesFile)}`);
  }
  if (count === 0) throw new InputError(`${imagesFile}: no images`);
  if (height !== spec.height || width !== spec.width) {
    throw new InputError(`${imagesFile}: images are ${width}×${height} but the model expects ${spec.width}×${spec.height}`);
  }
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = Number(labelArray.data[i]);
    if (!Number.isInteger(v) || v < 0) throw new InputError(`${labelsFile}: label ${i} is ${v}; labels must be class indices ≥ 0`);
    labels[i] = v;
  }
  const pixels = height * width;
  const data = images.data as Uint8Array;
  const rgba: RgbaImage = { width, height, data: new Uint8Array(pixels * 4) };
  const sample = (i: number): Float32Array => {
    const base = i * pixels * channels;
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < 3; c++) rgba.data[4 * p + c] = data[base + p * channels + (channels === 3 ? c : 0)];
      rgba.data[4 * p + 3] = 255;
    }
    return imageToInput(rgba, spec, imagesFile);
  };
  return {
    source: imagesFile,
    count,
    labels,
    numClasses: labels.reduce((m, v) => Math.max(m, v), 0) + 1,
    batch: (indices) => stack(indices, spec, count, imagesFile, sample),
  };
}

export interface ImageFolderOptions {
  /**
   * Class names in class-index order (the model's labels): every subfolder must be one of them.
   * Without them, subfolders are classes in natural order ("2" before "10").
   */
  classNames?: readonly string[];
}

/**
 * A folder with one subfolder of PNG/JPEG images per class (torchvision's ImageFolder layout).
 * Images are decoded and preprocessed once at load, so every image must have the model's size.
 */
export async function loadImageFolder(dir: string, spec: InputSpec, options: ImageFolderOptions = {}): Promise<Dataset> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${dir}: cannot read the dataset folder (${code === 'ENOENT' ? 'not found' : code === 'ENOTDIR' ? 'not a folder' : code})`);
  }
  const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  folders.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (folders.length === 0) throw new InputError(`${dir}: no class subfolders; expected one folder of images per class`);
  const classNames = options.classNames ?? folders;
  const inputs: Float32Array[] = [];
  const labels: number[] = [];
  for (const folder of folders) {
    const label = classNames.indexOf(folder);
    if (label < 0) throw new InputError(`${path.join(dir, folder)}: '${folder}' is not a class of the model (classes: ${classNames.join(', ')})`);
    const files = (await fs.readdir(path.join(dir, folder), { withFileTypes: true }))
      .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort();
    for (const name of files) {
      const file = path.join(dir, folder, name);
      inputs.push(imageToInput(decodeImage(await readUserFile(file, 'image'), file), spec, file));
      labels.push(label);
    }
  }
  if (inputs.length === 0) throw new InputError(`${dir}: no PNG or JPEG images in the class folders (${folders.join(', ')})`);
  return {
    source: dir,
    count: inputs.length,
    labels: Int32Array.from(labels),
    numClasses: classNames.length,
    classNames,
    batch: (indices) => stack(indices, spec, inputs.length, dir, (i) => inputs[i]),
  };
}
