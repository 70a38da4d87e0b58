import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { readSidecar } from '../engine/data/sidecar';
import { InputError } from '../engine/errors';
import { findModelFiles } from '../engine/model/discover';
import { inspectModel, type ModelSummary } from '../engine/model/inspect';
import * as fs from 'node:fs/promises';

export const MODELS_HELP = `Usage: attribution-lens models [DIR] [--json]

Lists the model files under DIR (default: the current directory) — ONNX (.onnx), Keras
(.keras, .h5) and TF.js (model.json) — with their inputs, outputs, size, sidecar settings and any
operators or layers the engine does not support.

  --json       machine-readable output
  -h, --help   this help
`;

interface Listing {
  file: string;
  summary?: ModelSummary;
  sidecar?: { size?: [number, number]; channels?: number; labels?: number; samples?: string };
  error?: string;
}

const shape = (s: (number | string)[]) => `[${s.join(',')}]`;

async function describe(file: string): Promise<Listing> {
  const listing: Listing = { file };
  try {
    listing.summary = await inspectModel(file);
    const sidecar = await readSidecar(file);
    if (sidecar) {
      listing.sidecar = { size: sidecar.input?.size, channels: sidecar.input?.channels, labels: sidecar.labels?.length, samples: sidecar.samples };
    }
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    listing.error = err.message;
  }
  return listing;
}

function format(l: Listing, root: string): string {
  const lines = [path.relative(root, l.file) || l.file];
  if (l.error) return [...lines, `  error: ${l.error}`].join('\n');
  const s = l.summary!;
  for (const i of s.inputs) lines.push(`  input    ${i.name} ${shape(i.shape)}`);
  for (const o of s.outputs) lines.push(`  output   ${o.name} ${shape(o.shape)}`);
  const size = `${s.parameters.toLocaleString('en-US')} parameters${s.producer ? ` · ${s.producer}` : ''}`;
  if (s.format === 'onnx') lines.push(`  opset ${s.opset ?? '?'} · ${s.nodes} nodes · ${size}`);
  else lines.push(`  ${s.format} · ${s.nodes} ${s.format === 'tfjs-graph' ? 'ops' : 'layers'} · ${size}`);
  if (l.sidecar) {
    const c = l.sidecar;
    const parts = [c.size && `${c.size[0]}×${c.size[1]}`, c.channels && `${c.channels} channel${c.channels > 1 ? 's' : ''}`, c.labels && `${c.labels} labels`, c.samples && `samples in ${path.relative(root, c.samples)}`];
    lines.push(`  sidecar  ${parts.filter(Boolean).join(', ')}`);
  }
  const what = s.format === 'keras' || s.format === 'tfjs-layers' ? 'layers' : 'operators';
  lines.push(`  unsupported ${what}: ${s.unsupported.length ? s.unsupported.join(', ') : 'none'}`);
  return lines.join('\n');
}

export async function runModels(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(MODELS_HELP);
    return;
  }
  if (positionals.length > 1) throw new InputError('models: give at most one directory');
  const root = path.resolve(positionals[0] ?? '.');
  const stat = await fs.stat(root).catch(() => undefined);
  if (!stat?.isDirectory()) throw new InputError(`${positionals[0] ?? '.'}: not a directory`);
  const listings = await Promise.all((await findModelFiles(root)).map(describe));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(listings, null, 2)}\n`);
  } else if (listings.length === 0) {
    process.stdout.write(`no model files under ${root}\n`);
  } else {
    process.stdout.write(`${listings.map((l) => format(l, root)).join('\n\n')}\n`);
  }
}
