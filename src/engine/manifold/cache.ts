import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';
import { parameterShapes, trainSettings, trainVae, Vae, validateVaeConfig, type TrainOptions, type TrainReport, type TrainSettings, type VaeConfig } from './vae';

/**
 * Trained VAEs cached next to their dataset: `<dataset dir>/.attribution-lens/vae-<key>.json`
 * (config, training settings, weight names and shapes) plus `vae-<key>.bin` (the weights as
 * little-endian float32, in parameterShapes order). The key hashes the training data itself
 * and every setting that changes the weights, so a different subset, architecture or seed never
 * reuses a stale model.
 */
const FORMAT = 'attribution-lens-vae';
const VERSION = 1;

interface CacheHeader {
  format: string;
  version: number;
  key: string;
  config: VaeConfig;
  training: TrainSettings;
  samples: number;
  weights: { name: string; shape: number[] }[];
  /** The binary file's name, beside the JSON. */
  data: string;
}

/** SHA-256 (first 16 hex digits) of the training data and every setting that determines the weights. */
export function vaeCacheKey(data: Float32Array, config: VaeConfig, training: TrainSettings): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ format: FORMAT, version: VERSION, config, training }));
  hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return hash.digest('hex').slice(0, 16);
}

/** `<dir of datasetFile>/.attribution-lens/vae-<key>.json`. */
export function vaeCachePath(datasetFile: string, key: string): string {
  return path.join(path.dirname(path.resolve(datasetFile)), '.attribution-lens', `vae-${key}.json`);
}

/** Writes the VAE's config and weights to `file` (.json) and its .bin sibling. */
export async function saveVae(vae: Vae, file: string, training: TrainSettings, samples: number, key = ''): Promise<void> {
  const weights = await vae.weights();
  const shapes = parameterShapes(vae.config);
  const total = shapes.reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1), 0);
  const bytes = Buffer.alloc(total * 4);
  let offset = 0;
  for (const [name] of shapes) {
    for (const v of weights.get(name) as Float32Array) {
      bytes.writeFloatLE(v, offset);
      offset += 4;
    }
  }
  const bin = path.basename(file).replace(/\.json$/, '') + '.bin';
  const header: CacheHeader = {
    format: FORMAT,
    version: VERSION,
    key,
    config: vae.config,
    training,
    samples,
    weights: shapes.map(([name, shape]) => ({ name, shape })),
    data: bin,
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Binary first, header last: a header present means a complete pair.
  fs.writeFileSync(path.join(path.dirname(file), bin), bytes);
  fs.writeFileSync(file, JSON.stringify(header, null, 2) + '\n');
}

/** Reads a VAE written by saveVae. A malformed or truncated pair is an InputError naming the file. */
export function loadVae(file: string): { vae: Vae; training: TrainSettings; samples: number } {
  let header: CacheHeader;
  try {
    header = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheHeader;
  } catch (e) {
    throw new InputError(`${file}: not a readable VAE cache file (${(e as Error).message})`);
  }
  if (header.format !== FORMAT || header.version !== VERSION) {
    throw new InputError(`${file}: not an ${FORMAT} file of version ${VERSION}`);
  }
  validateVaeConfig(header.config);
  const shapes = parameterShapes(header.config);
  const binFile = path.join(path.dirname(file), header.data);
  const bytes = fs.readFileSync(binFile);
  const total = shapes.reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1), 0);
  if (bytes.length !== total * 4) throw new InputError(`${binFile}: ${bytes.length} bytes, the config needs ${total * 4}`);
  const weights = new Map<string, Float32Array>();
  let offset = 0;
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = bytes.readFloatLE(offset + 4 * i);
    offset += 4 * size;
    weights.set(name, values);
  }
  return { vae: new Vae(header.config, weights), training: header.training, samples: header.samples };
}

export interface CachedVae {
  vae: Vae;
  /** Whether the weights came from the cache (no training ran). */
  cached: boolean;
  file: string;
  /** The training run, when one ran. */
  report?: TrainReport;
}

/**
 * The VAE for (data, config, training settings): loaded from the cache beside `datasetFile` if
 * present, else trained and saved there. `cacheDir` overrides the directory.
 */
export async function loadOrTrainVae(
  datasetFile: string,
  data: Float32Array,
  config: VaeConfig,
  options: TrainOptions = {},
  cacheDir?: string,
): Promise<CachedVae> {
  const training = trainSettings(options);
  const key = vaeCacheKey(data, config, training);
  const file = cacheDir ? path.join(cacheDir, `vae-${key}.json`) : vaeCachePath(datasetFile, key);
  if (fs.existsSync(file)) return { vae: loadVae(file).vae, cached: true, file };
  const vae = new Vae(config);
  try {
    const report = await trainVae(vae, data, { ...options, ...training });
    await saveVae(vae, file, training, data.length / vae.dataSize, key);
    return { vae, cached: false, file, report };
  } catch (e) {
    vae.dispose();
    throw e;
  }
}
