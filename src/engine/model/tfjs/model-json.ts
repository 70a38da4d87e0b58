import * as path from 'node:path';
import { readUserFile } from '../../data/read-file';
import { InputError } from '../../errors';
import { float16ToFloat32, type HostTensor } from '../onnx/tensor-proto';

/** A TF.js model.json with its weights read from the shard files beside it (dequantized to float32). */
export interface TfjsArtifacts {
  /** 'layers-model' or 'graph-model' (older LayersModels omit it). */
  format: 'layers-model' | 'graph-model';
  modelTopology: Record<string, unknown>;
  /** Weights by manifest name, in manifest order. */
  weights: Map<string, HostTensor>;
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** One weight's values from its bytes (little-endian), dequantized as tfjs-core's io does. */
function decode(spec: WeightSpec, bytes: Uint8Array, label: string): HostTensor {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const q = spec.quantization;
  const dtype = spec.dtype === 'int32' ? 'int32' : spec.dtype === 'bool' ? 'bool' : 'float32';
  const out = dtype === 'int32' ? new Int32Array(size) : dtype === 'bool' ? new Uint8Array(size) : new Float32Array(size);
  if (q) {
    const scale = q.scale ?? 1;
    const min = q.min ?? 0;
    for (let i = 0; i < size; i++) {
      if (q.dtype === 'uint8') out[i] = view.getUint8(i) * scale + min;
      else if (q.dtype === 'uint16') out[i] = view.getUint16(i * 2, true) * scale + min;
      else if (q.dtype === 'float16') out[i] = float16ToFloat32(view.getUint16(i * 2, true));
      else throw new InputError(`${label}: weight '${spec.name}' has an unknown quantization '${q.dtype}'`);
    }
  } else if (spec.dtype === 'float32') {
    for (let i = 0; i < size; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (spec.dtype === 'int32') {
    for (let i = 0; i < size; i++) out[i] = view.getInt32(i * 4, true);
  } else if (spec.dtype === 'bool') {
    out.set(bytes.subarray(0, size));
  } else {
    throw new InputError(`${label}: weight '${spec.name}' has dtype '${spec.dtype}', which is not supported`);
  }
  return { dtype, shape: spec.shape, values: out };
}

/** Reads a TF.js model.json and its weight shards (paths relative to it). Every problem is an InputError naming a file. */
export async function readModelJson(file: string): Promise<TfjsArtifacts> {
  const label = path.basename(file);
  const text = new TextDecoder().decode(await readUserFile(file, 'model'));
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${label}: not valid JSON (${(err as Error).message})`);
  }
  const topology = json.modelTopology;
  if (typeof topology !== 'object' || topology === null) throw new InputError(`${label}: no modelTopology; not a TF.js model.json`);
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest)) throw new InputError(`${label}: no weightsManifest; not a TF.js model.json (or its weights are embedded, which is not supported)`);
  const weights = new Map<string, HostTensor>();
  const dir = path.dirname(file);
  for (const group of manifest as { paths?: unknown; weights?: unknown }[]) {
    const paths = Array.isArray(group.paths) ? (group.paths as string[]) : [];
    const specs = Array.isArray(group.weights) ? (group.weights as WeightSpec[]) : [];
    const shards = await Promise.all(paths.map((p) => readUserFile(path.resolve(dir, p), `weight shard of ${label}`)));
    const data = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
    let offset = 0;
    for (const s of shards) {
      data.set(s, offset);
      offset += s.length;
    }
    offset = 0;
    for (const spec of specs) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const bytes = size * (BYTES[spec.quantization?.dtype ?? spec.dtype] ?? NaN);
      if (!Number.isFinite(bytes)) throw new InputError(`${label}: weight '${spec.name}' has dtype '${spec.dtype}', which is not supported`);
      if (offset + bytes > data.length) {
        throw new InputError(`${label}: the weight files (${paths.join(', ')}) end before weight '${spec.name}' (${data.length} bytes)`);
      }
      weights.set(spec.name, decode(spec, data.subarray(offset, offset + bytes), label));
      offset += bytes;
    }
  }
  const format = json.format === 'graph-model' || 'node' in topology ? 'graph-model' : 'layers-model';
  return { format, modelTopology: topology as Record<string, unknown>, weights };
}
