import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseIdx } from '../data/idx';
import { decodeImage } from '../data/image';
import { LUMA_WEIGHTS } from '../data/preprocess';
import { readUserFile } from '../data/read-file';
import { InputError } from '../errors';
import type { InputSpec } from '../model/model';
import { Random } from '../random';
import { loadOrTrainVae, type CachedVae } from './cache';
import { autoencoderManifold, type ManifoldModel } from './model-space';
import { DEFAULT_VAE_CONFIG, type TrainOptions } from './vae';

export interface DatasetManifoldOptions extends TrainOptions {
  /** Images the VAE is trained on (a seeded random subset when the dataset has more). */
  samples?: number;
  /** Where to cache the trained VAE (default: `.attribution-lens/` beside the dataset). */
  cacheDir?: string;
}

export interface DatasetManifold extends CachedVae {
  manifold: ManifoldModel;
}

const IMAGE_FILE = /\.(png|jpe?g)$/i;

async function imageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && !entry.name.startsWith('.')) out.push(...(await imageFiles(full)));
    else if (IMAGE_FILE.test(entry.name)) out.push(full);
  }
  return out.sort();
}

/** Pixels / 255 of `count` images, channels last, as the VAE models them; images sized and coloured as the model's input. */
async function datasetPixels(source: string, spec: InputSpec, count: number, seed: number): Promise<Float32Array> {
  const { height, width, channels } = spec;
  const size = height * width * channels;
  const stat = await fs.stat(source).catch(() => undefined);
  if (!stat) throw new InputError(`${source}: dataset not found (an IDX images file or a folder of images)`);
  if (stat.isFile()) {
    const images = parseIdx(await readUserFile(source, 'IDX images'), path.basename(source));
    const [n, h, w, c = 1] = images.shape;
    if (h !== height || w !== width || c !== channels) {
      throw new InputError(`${source}: images are ${h}×${w}×${c}, the model expects ${height}×${width}×${channels}`);
    }
    // IDX datasets are stored shuffled (MNIST, EMNIST): the first `count` images are a fair sample.
    const out = new Float32Array(Math.min(n, count) * size);
    for (let d = 0; d < out.length; d++) out[d] = Number(images.data[d]) / 255;
    return out;
  }
  const files = await imageFiles(source);
  if (files.length === 0) throw new InputError(`${source}: no PNG or JPEG images in the folder`);
  const picked = pick(files.length, count, seed);
  const out = new Float32Array(picked.length * size);
  for (const [k, i] of picked.entries()) {
    const img = decodeImage(await readUserFile(files[i], 'image'), path.basename(files[i]));
    if (img.width !== width || img.height !== height) {
      throw new InputError(`${files[i]}: image is ${img.width}×${img.height} but the model expects ${width}×${height}`);
    }
    for (let p = 0; p < width * height; p++) {
      const [r, g, b] = [img.data[4 * p], img.data[4 * p + 1], img.data[4 * p + 2]];
      if (channels === 1) out[k * size + p] = (LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b) / 255;
      else for (let c = 0; c < 3; c++) out[k * size + p * 3 + c] = img.data[4 * p + c] / 255;
    }
  }
  return out;
}

/** `count` distinct indices of 0..n−1, seeded (all of them when count ≥ n): folders are ordered by class. */
function pick(n: number, count: number, seed: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (count >= n) return all;
  const random = new Random(seed);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random.uniform() * (n - i));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, count).sort((a, b) => a - b);
}

/**
 * The data manifold of a dataset (IDX images file or folder of images) for a model's input: a
 * convolutional VAE trained on it (or loaded from its cache beside the dataset), as the
 * ManifoldModel that manifold alignment and manifold_projected use.
 */
export async function manifoldForDataset(source: string, spec: InputSpec, options: DatasetManifoldOptions = {}): Promise<DatasetManifold> {
  const { samples = 10000, cacheDir, ...training } = options;
  const data = await datasetPixels(source, spec, samples, training.seed ?? 0);
  const config = { ...DEFAULT_VAE_CONFIG, height: spec.height, width: spec.width, channels: spec.channels };
  const cached = await loadOrTrainVae(source, data, config, { epochs: 10, ...training }, cacheDir);
  return { ...cached, manifold: autoencoderManifold(cached.vae) };
}
