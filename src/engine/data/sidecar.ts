import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { InputError } from '../errors';

/** The `input` section of a sidecar: what the model file itself does not say about its images. */
export interface LensInputConfig {
  /** [height, width] in pixels. */
  size?: [number, number];
  channels?: 1 | 3;
  layout?: 'NCHW' | 'NHWC';
  /** Multiplies raw pixels (0..255) before mean and std, e.g. 1/255. */
  scale?: number;
  mean?: number[];
  std?: number[];
}

/** A validated `<model file>.lens.json`. Every field is optional; the model loader fills in defaults. */
export interface LensConfig {
  /** Path of the sidecar file itself, for messages. */
  file: string;
  input?: LensInputConfig;
  /** Class names, index = class id; read from the labels file when the sidecar names one. */
  labels?: string[];
  /** Absolute path of the folder of sample inputs. */
  samples?: string;
}

const TOP_FIELDS = ['input', 'labels', 'samples'];
const INPUT_FIELDS = ['size', 'channels', 'layout', 'scale', 'mean', 'std'];

/** Reads and validates `<modelPath>.lens.json`; undefined when the model has no sidecar. */
export async function readSidecar(modelPath: string): Promise<LensConfig | undefined> {
  const file = `${modelPath}.lens.json`;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(`${file}: cannot read: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  return validate(json, file);
}

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rejectUnknown(obj: Record<string, unknown>, known: string[], prefix: string, file: string): void {
  const unknown = Object.keys(obj).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    const names = unknown.map((k) => `'${prefix}${k}'`).join(', ');
    throw new InputError(`${file}: unknown field${unknown.length > 1 ? 's' : ''} ${names}; expected ${known.map((k) => prefix + k).join(', ')}`);
  }
}

async function validate(json: unknown, file: string): Promise<LensConfig> {
  if (!isObject(json)) throw new InputError(`${file}: expected a JSON object, got ${describe(json)}`);
  rejectUnknown(json, TOP_FIELDS, '', file);
  const config: LensConfig = { file };
  const dir = path.dirname(file);
  if (json.input !== undefined) config.input = validateInput(json.input, file);
  if (json.labels !== undefined) config.labels = await validateLabels(json.labels, dir, file);
  if (json.samples !== undefined) config.samples = await validateSamples(json.samples, dir, file);
  return config;
}

function validateInput(input: unknown, file: string): LensInputConfig {
  if (!isObject(input)) throw new InputError(`${file}: input must be an object, got ${describe(input)}`);
  rejectUnknown(input, INPUT_FIELDS, 'input.', file);
  const out: LensInputConfig = {};
  const { size, channels, layout, scale, mean, std } = input;

  if (size !== undefined) {
    if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v > 0)) {
      throw new InputError(`${file}: input.size must be [height, width] in positive whole pixels, got ${describe(size)}`);
    }
    out.size = [size[0], size[1]];
  }
  if (channels !== undefined) {
    if (channels !== 1 && channels !== 3) throw new InputError(`${file}: input.channels must be 1 or 3, got ${describe(channels)}`);
    out.channels = channels;
  }
  if (layout !== undefined) {
    if (layout !== 'NCHW' && layout !== 'NHWC') {
      throw new InputError(`${file}: input.layout must be "NCHW" or "NHWC", got ${describe(layout)}`);
    }
    out.layout = layout;
  }
  if (scale !== undefined) out.scale = parseScale(scale, file);
  if (mean !== undefined) out.mean = numberList(mean, 'input.mean', file, (v) => Number.isFinite(v));
  if (std !== undefined) out.std = numberList(std, 'input.std', file, (v) => Number.isFinite(v) && v > 0, 'positive numbers');

  // One value per channel; without input.channels the model's own channel count decides later.
  const count = (n: number) => `${n} value${n === 1 ? '' : 's'}`;
  for (const [name, list] of [['input.mean', out.mean], ['input.std', out.std]] as const) {
    if (list === undefined) continue;
    if (out.channels !== undefined && list.length !== out.channels) {
      throw new InputError(`${file}: ${name} has ${count(list.length)} but input.channels is ${out.channels}`);
    }
    if (list.length !== 1 && list.length !== 3) {
      throw new InputError(`${file}: ${name} must have 1 or 3 values (one per channel), got ${list.length}`);
    }
  }
  if (out.mean && out.std && out.mean.length !== out.std.length) {
    throw new InputError(`${file}: input.mean has ${count(out.mean.length)} but input.std has ${count(out.std.length)}`);
  }
  return out;
}

/** A number, or a fraction written as a string ("1/255") since JSON has no expressions. */
function parseScale(scale: unknown, file: string): number {
  let value = NaN;
  if (typeof scale === 'number') value = scale;
  else if (typeof scale === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)\s*$/.exec(scale);
    if (m) value = Number(m[1]) / Number(m[2]);
  }
  if (!Number.isFinite(value) || value <= 0) {
    throw new InputError(`${file}: input.scale must be a positive number or a fraction like "1/255", got ${describe(scale)}`);
  }
  return value;
}

function numberList(value: unknown, name: string, file: string, ok: (v: number) => boolean, what = 'numbers'): number[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && ok(v))) {
    throw new InputError(`${file}: ${name} must be a list of ${what}, got ${describe(value)}`);
  }
  return value as number[];
}

async function validateLabels(labels: unknown, dir: string, file: string): Promise<string[]> {
  if (Array.isArray(labels)) {
    if (labels.length === 0 || !labels.every((l) => typeof l === 'string')) {
      throw new InputError(`${file}: labels must be a non-empty list of strings or the path of a labels file, got ${describe(labels)}`);
    }
    return labels as string[];
  }
  if (typeof labels !== 'string' || labels.trim() === '') {
    throw new InputError(`${file}: labels must be a list of strings or the path of a labels file, got ${describe(labels)}`);
  }
  let text: string;
  try {
    text = await readFile(path.resolve(dir, labels), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a folder' : (e as Error).message;
    throw new InputError(`${file}: labels file '${labels}' ${why}`);
  }
  // One label per line; the final newline most editors add is not a class.
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new InputError(`${file}: labels file '${labels}' is empty`);
  return lines;
}

async function validateSamples(samples: unknown, dir: string, file: string): Promise<string> {
  if (typeof samples !== 'string' || samples.trim() === '') {
    throw new InputError(`${file}: samples must be the path of a folder, got ${describe(samples)}`);
  }
  const resolved = path.resolve(dir, samples);
  const info = await stat(resolved).catch(() => undefined);
  if (!info) throw new InputError(`${file}: samples folder '${samples}' not found`);
  if (!info.isDirectory()) throw new InputError(`${file}: samples '${samples}' is not a folder`);
  return resolved;
}
