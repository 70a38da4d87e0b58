import * as tf from '@tensorflow/tfjs-core';
import type { Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseIdx } from '../engine/data/idx';
import type { RgbaImage } from '../engine/data/image';
import { loadInput } from '../engine/data/input';
import { imageToInput } from '../engine/data/preprocess';
import { readUserFile } from '../engine/data/read-file';
import { CancelledError, InputError } from '../engine/errors';
import type { Model } from '../engine/model/model';
import { parseRecordFiles, summarize, summaryTable, writeSummary, type InputRecord } from './merge';
import { parseNumber } from './options';
import { progressReporter } from './progress';

/**
 * `evaluate` and `sanity` over a dataset: `--input` names an IDX images file or a folder of
 * images instead of one image; every selected input gives one JSON line (JSONL). `--limit N` keeps
 * the first N inputs, `--shard i/n` the inputs of shard i (0-based) of n: strided, input k (0-based
 * position in the dataset's order) belongs to shard k mod n. The lines of all n shards, given to
 * `merge`, give the summary of one run over every input.
 */

/** Extensions of the files a dataset folder holds (an `.npy` is fed as it is, as with --input). */
const INPUT_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.npy']);

/** A dataset of model inputs, opened lazily: nothing is decoded until `input(i)`. */
export interface InputDataset {
  /** What `--input` named. */
  readonly source: string;
  readonly kind: 'idx' | 'folder';
  /** Inputs in the dataset's fixed order. */
  readonly count: number;
  /** Stable name of input i (folder: its path relative to the folder; IDX: `file#i`). */
  id(i: number): string;
  /** The class of input i when known (IDX labels file, class subfolder named after a class). */
  label(i: number): number | undefined;
  /** Input i as [1, ...model input shape]. Caller disposes. */
  input(i: number): Promise<tf.Tensor>;
}

/**
 * Whether `--input` names a dataset: a folder, or a file starting with an IDX magic number
 * (two zero bytes; no PNG, JPEG or .npy starts so). A missing file is not: loadInput reports it.
 */
export async function isDatasetInput(file: string): Promise<boolean> {
  let handle: fs.FileHandle | undefined;
  try {
    const stat = await fs.stat(file);
    if (stat.isDirectory()) return true;
    handle = await fs.open(file, 'r');
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return bytesRead === 4 && head[0] === 0 && head[1] === 0;
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

/** Opens `--input` as a dataset (after isDatasetInput said it is one). */
export async function openDataset(source: string, labelsFile: string | undefined, model: Model): Promise<InputDataset> {
  const stat = await fs.stat(source);
  if (stat.isDirectory()) {
    if (labelsFile !== undefined) throw new InputError(`--labels applies to an IDX images file; ${source} is a folder (its labels are its class subfolders)`);
    return openFolder(source, model);
  }
  return openIdx(source, labelsFile, model);
}

async function openIdx(imagesFile: string, labelsFile: string | undefined, model: Model): Promise<InputDataset> {
  const spec = model.input;
  const images = parseIdx(await readUserFile(imagesFile, 'IDX images'), imagesFile);
  if (images.dtype !== 'uint8') throw new InputError(`${imagesFile}: IDX images must be uint8 pixels, got ${images.dtype}`);
  if (images.shape.length !== 3 && images.shape.length !== 4) {
    throw new InputError(`${imagesFile}: IDX images must have shape [N, H, W] or [N, H, W, C], got [${images.shape.join(', ')}]`);
  }
  const [count, height, width, channels = 1] = images.shape;
  if (channels !== 1 && channels !== 3) throw new InputError(`${imagesFile}: IDX images have ${channels} channels; 1 or 3 are supported`);
  if (count === 0) throw new InputError(`${imagesFile}: no images`);
  if (height !== spec.height || width !== spec.width) {
    throw new InputError(`${imagesFile}: images are ${width}×${height} but the model expects ${spec.width}×${spec.height}`);
  }
  let labels: Int32Array | undefined;
  if (labelsFile !== undefined) {
    const arr = parseIdx(await readUserFile(labelsFile, 'IDX labels'), labelsFile);
    if (arr.shape.length !== 1 && !(arr.shape.length === 2 && arr.shape[1] === 1)) {
      throw new InputError(`${labelsFile}: IDX labels must have shape [N], got [${arr.shape.join(', ')}]`);
    }
    if (arr.shape[0] !== count) throw new InputError(`${labelsFile}: ${arr.shape[0]} labels for ${count} images in ${path.basename(imagesFile)}`);
    labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const v = Number(arr.data[i]);
      if (!Number.isInteger(v) || v < 0) throw new InputError(`${labelsFile}: label ${i} is ${v}; labels must be class indices ≥ 0`);
      labels[i] = v;
    }
  }
  const pixels = height * width;
  const data = images.data as Uint8Array;
  const name = path.basename(imagesFile);
  return {
    source: imagesFile,
    kind: 'idx',
    count,
    id: (i) => `${name}#${i}`,
    label: (i) => labels?.[i],
    input(i) {
      // The same preprocessing as a PNG of these pixels (gray replicated for a 3-channel model).
      const rgba: RgbaImage = { width, height, data: new Uint8Array(pixels * 4) };
      const base = i * pixels * channels;
      for (let p = 0; p < pixels; p++) {
        for (let c = 0; c < 3; c++) rgba.data[4 * p + c] = data[base + p * channels + (channels === 3 ? c : 0)];
        rgba.data[4 * p + 3] = 255;
      }
      return Promise.resolve(tf.tensor(imageToInput(rgba, spec, `${name}#${i}`), [1, ...spec.shape], 'float32'));
    },
  };
}

async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${dir}: cannot read the dataset folder (${code})`);
  }
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const natural = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true }) || byCodePoint(a, b);

/**
 * A folder of images: its own image files (no label), then one subfolder per class (torchvision's
 * ImageFolder layout), subfolders in natural order ("2" before "10"), files in code-point order.
 * A subfolder's label is the model class of that name, else its number when it is one.
 */
async function openFolder(dir: string, model: Model): Promise<InputDataset> {
  const isInput = (e: Dirent) => e.isFile() && INPUT_EXTENSIONS.has(path.extname(e.name).toLowerCase());
  const entries = await listDir(dir);
  const files: { rel: string; label: number | undefined }[] = entries
    .filter(isInput)
    .map((e) => e.name)
    .sort(byCodePoint)
    .map((rel) => ({ rel, label: undefined }));
  const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort(natural);
  for (const folder of folders) {
    const byName = model.labels?.indexOf(folder) ?? -1;
    const label = byName >= 0 ? byName : /^\d+$/.test(folder) && Number(folder) < model.numClasses ? Number(folder) : undefined;
    const names = (await listDir(path.join(dir, folder))).filter(isInput).map((e) => e.name).sort(byCodePoint);
    for (const name of names) files.push({ rel: `${folder}/${name}`, label });
  }
  if (files.length === 0) throw new InputError(`${dir}: no PNG, JPEG or .npy inputs in the folder or its subfolders`);
  return {
    source: dir,
    kind: 'folder',
    count: files.length,
    id: (i) => files[i].rel,
    label: (i) => files[i].label,
    input: (i) => loadInput(path.join(dir, files[i].rel), model),
  };
}

export interface Shard {
  index: number;
  count: number;
}

/** `--shard i/n`: 0 ≤ i < n; undefined without the flag. */
export function parseShard(value: string | undefined): Shard | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) {
    throw new InputError(`--shard must be i/n with 0 ≤ i < n (shard i of n, counted from 0, e.g. 0/4 … 3/4), got '${value}'`);
  }
  return { index, count };
}

/** The positions a run covers: the first `limit` inputs, those of the shard (k mod n = i). */
export function selectInputs(total: number, limit: number | undefined, shard: Shard | undefined): { size: number; indices: number[] } {
  const size = limit === undefined ? total : Math.min(limit, total);
  const indices: number[] = [];
  for (let k = shard?.index ?? 0; k < size; k += shard?.count ?? 1) indices.push(k);
  return { size, indices };
}

/** The dataset flags shared by evaluate and sanity, parsed; an error if given for one input. */
export interface DatasetFlags {
  labels?: string;
  limit?: number;
  shard?: Shard;
  summary?: string;
}

export const DATASET_FLAG_DECLARATIONS: Record<string, { type: 'string' }> = {
  labels: { type: 'string' },
  limit: { type: 'string' },
  shard: { type: 'string' },
  summary: { type: 'string' },
};

export const DATASET_HELP = `Datasets: --input may name an IDX images file (MNIST format) or a folder of PNG/JPEG/.npy
inputs (files, or one subfolder per class); then every input gives one JSON line (JSONL) on
stdout or in --out F.jsonl, and a summary is printed at the end.
  --labels F           IDX labels file of an IDX --input (adds the label and the accuracy)
  --limit N            only the first N inputs of the dataset
  --shard i/n          only shard i of n (0 ≤ i < n): the inputs at positions k with k mod n = i
                       (strided, deterministic); 'attribution-lens merge' joins the shards' files
  --summary F.json     also write this run's summary (the same as merge gives)
`;

export function datasetFlags(values: Record<string, unknown>, isDataset: boolean, input: string): DatasetFlags {
  const str = (k: string) => values[k] as string | undefined;
  const shard = parseShard(str('shard'));
  const limit = parseNumber('limit', str('limit'), true);
  if (limit !== undefined && limit < 1) throw new InputError(`--limit must be at least 1, got ${limit}`);
  const summary = str('summary');
  if (summary !== undefined && path.extname(summary).toLowerCase() !== '.json') throw new InputError(`${summary}: --summary must end in .json`);
  if (!isDataset) {
    for (const k of Object.keys(DATASET_FLAG_DECLARATIONS)) {
      if (values[k] !== undefined) throw new InputError(`--${k} applies to a dataset --input (an IDX images file or a folder); ${input} is one input`);
    }
  }
  return { labels: str('labels'), limit, shard, summary };
}

/** JSON with NaN/±Infinity as null, one line. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

/** Where the lines go: a file (created, truncated) or stdout. */
export async function openLineSink(out: string | undefined): Promise<{ write: (line: string) => Promise<void>; close: () => Promise<void> }> {
  if (out === undefined) {
    return {
      write: (line) =>
        new Promise<void>((resolve, reject) => {
          process.stdout.write(`${line}\n`, (err) => (err ? reject(err) : resolve()));
        }),
      close: () => Promise.resolve(),
    };
  }
  await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
  const handle = await fs.open(out, 'w');
  return {
    write: async (line) => {
      await handle.write(`${line}\n`);
    },
    close: () => handle.close(),
  };
}

/**
 * The loop of a dataset run: computes each selected input's record, writes it as one line as soon
 * as it is done, then summarises the lines — parsed back, through merge's code — on stderr and in
 * --summary. A shard's summary covers its own inputs only.
 */
export async function runLines(
  indices: readonly number[],
  out: string | undefined,
  flags: DatasetFlags,
  signal: AbortSignal,
  compute: (index: number) => Promise<InputRecord>,
): Promise<void> {
  const sink = await openLineSink(out);
  const lines: string[] = [];
  const progress = progressReporter('inputs');
  try {
    for (const [k, i] of indices.entries()) {
      if (signal.aborted) throw new CancelledError();
      const line = jsonLine(await compute(i));
      await sink.write(line);
      lines.push(line);
      progress.update(k + 1, indices.length);
    }
  } finally {
    progress.finish();
    await sink.close();
  }
  if (lines.length === 0) {
    process.stderr.write('no inputs in this shard\n');
    return;
  }
  const summary = summarize(parseRecordFiles([{ name: out ?? 'stdout', text: lines.join('\n') }]), { allowPartial: flags.shard !== undefined });
  process.stderr.write(summaryTable(summary));
  if (flags.summary !== undefined) {
    await writeSummary(summary, flags.summary);
    process.stderr.write(`summary -> ${flags.summary}\n`);
  }
  if (out !== undefined) process.stdout.write(`${lines.length} lines -> ${out}\n`);
}
