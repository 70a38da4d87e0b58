import * as hdf5 from 'jsfive';
import { InputError } from '../../errors';
import type { HostTensor } from '../onnx/tensor-proto';

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Fixed-length HDF5 strings come back NUL-padded. */
const clean = (s: string): string => s.replace(/\0+$/, '');

/**
 * A read-only HDF5 file (jsfive: pure JavaScript, no native or wasm code): the groups, attributes
 * and float datasets Keras writes. Every problem is an InputError naming the file.
 */
export class H5File {
  private readonly file: hdf5.File;

  constructor(
    bytes: Uint8Array,
    readonly label: string,
  ) {
    try {
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      this.file = new hdf5.File(buffer, label);
    } catch (err) {
      throw new InputError(`${label}: not a readable HDF5 file (${message(err)})`);
    }
  }

  private node(path: string): hdf5.Group | hdf5.Dataset | undefined {
    try {
      return this.file.get(path) ?? undefined;
    } catch {
      return undefined;
    }
  }

  has(path: string): boolean {
    return this.node(path) !== undefined;
  }

  group(path: string): hdf5.Group | undefined {
    const n = this.node(path);
    return n instanceof hdf5.Group ? n : undefined;
  }

  /** Member names of a group (empty when there is none). */
  keys(path: string): string[] {
    return this.group(path)?.keys ?? [];
  }

  /** A string attribute (or the strings of an array attribute), NUL padding removed. */
  attribute(path: string, name: string): string | string[] | undefined {
    let attrs: Record<string, unknown>;
    try {
      attrs = (path === '' || path === '/' ? this.file : this.node(path))?.attrs ?? {};
    } catch (err) {
      throw new InputError(`${this.label}: cannot read the attributes of '${path}' (${message(err)})`);
    }
    const v = attrs[name];
    if (typeof v === 'string') return clean(v);
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v.map(clean);
    if (v instanceof Uint8Array) return clean(new TextDecoder().decode(v));
    return undefined;
  }

  /** Number of values in every dataset under `path` (without reading them). */
  size(path: string): number {
    const n = this.node(path);
    if (n instanceof hdf5.Dataset) return n.shape.reduce((a, b) => a * b, 1);
    if (!(n instanceof hdf5.Group)) return 0;
    return n.keys.reduce((total, k) => total + this.size(`${path}/${k}`), 0);
  }

  /** A numeric dataset as float32. */
  dataset(path: string): HostTensor {
    const n = this.node(path);
    if (!(n instanceof hdf5.Dataset)) throw new InputError(`${this.label}: no dataset '${path}'`);
    let values: ArrayLike<number | bigint>;
    try {
      values = n.value;
    } catch (err) {
      throw new InputError(`${this.label}: cannot read dataset '${path}' (${message(err)})`);
    }
    if (typeof n.dtype !== 'string' || !/^[<>|=]?[fiu]\d$/.test(n.dtype)) {
      throw new InputError(`${this.label}: dataset '${path}' has type ${JSON.stringify(n.dtype)}; numeric weights are expected`);
    }
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
    return { dtype: 'float32', shape: [...n.shape], values: out };
  }
}
