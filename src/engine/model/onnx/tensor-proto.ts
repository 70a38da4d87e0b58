import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../../errors';
import type { TensorProto } from './proto';

/** ONNX TensorProto.DataType values. */
export const DataType = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;

/** Engine dtypes: float types become float32, integer types int32 (shapes and indices), bool stays bool. */
export type EngineDtype = 'float32' | 'int32' | 'bool';

export interface HostTensor {
  dtype: EngineDtype;
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);
const INT_TYPES = new Set<number>([DataType.UINT8, DataType.INT8, DataType.UINT16, DataType.INT16, DataType.INT32, DataType.INT64, DataType.UINT32, DataType.UINT64]);

export function engineDtype(onnxType: number): EngineDtype | undefined {
  if (FLOAT_TYPES.has(onnxType)) return 'float32';
  if (INT_TYPES.has(onnxType)) return 'int32';
  if (onnxType === DataType.BOOL) return 'bool';
  return undefined;
}

/** int64 values beyond int32 (INT64_MAX as "to the end" in Slice) saturate; they are only ever bounds. */
function saturate(v: number): number {
  return Math.max(-2147483648, Math.min(2147483647, v));
}

export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Reads raw little-endian bytes of `count` elements of ONNX type `type`. */
function decodeRaw(raw: Uint8Array, type: number, count: number, where: string): Float32Array | Int32Array | Uint8Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const width: Record<number, number> = {
    [DataType.FLOAT]: 4, [DataType.DOUBLE]: 8, [DataType.FLOAT16]: 2, [DataType.BFLOAT16]: 2, [DataType.UINT8]: 1,
    [DataType.INT8]: 1, [DataType.UINT16]: 2, [DataType.INT16]: 2, [DataType.INT32]: 4, [DataType.INT64]: 8,
    [DataType.UINT32]: 4, [DataType.UINT64]: 8, [DataType.BOOL]: 1,
  };
  if (raw.byteLength !== count * width[type]) {
    throw new InputError(`${where}: holds ${raw.byteLength} bytes, expected ${count * width[type]}`);
  }
  const read: Record<number, (i: number) => number> = {
    [DataType.FLOAT]: (i) => view.getFloat32(i * 4, true),
    [DataType.DOUBLE]: (i) => view.getFloat64(i * 8, true),
    [DataType.FLOAT16]: (i) => float16ToFloat32(view.getUint16(i * 2, true)),
    [DataType.BFLOAT16]: (i) => new Float32Array(new Uint32Array([view.getUint16(i * 2, true) << 16]).buffer)[0],
    [DataType.UINT8]: (i) => view.getUint8(i),
    [DataType.INT8]: (i) => view.getInt8(i),
    [DataType.UINT16]: (i) => view.getUint16(i * 2, true),
    [DataType.INT16]: (i) => view.getInt16(i * 2, true),
    [DataType.INT32]: (i) => view.getInt32(i * 4, true),
    [DataType.INT64]: (i) => saturate(Number(view.getBigInt64(i * 8, true))),
    [DataType.UINT32]: (i) => saturate(view.getUint32(i * 4, true)),
    [DataType.UINT64]: (i) => saturate(Number(view.getBigUint64(i * 8, true))),
    [DataType.BOOL]: (i) => view.getUint8(i),
  };
  if (type === DataType.FLOAT && raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, count).slice();
  const dtype = engineDtype(type)!;
  const out = dtype === 'float32' ? new Float32Array(count) : dtype === 'int32' ? new Int32Array(count) : new Uint8Array(count);
  const f = read[type];
  for (let i = 0; i < count; i++) out[i] = f(i);
  return out;
}

function externalBytes(t: TensorProto, modelDir: string, where: string): Uint8Array {
  const entry = (key: string) => t.externalData?.find((e) => e.key === key)?.value;
  const location = entry('location');
  if (!location) throw new InputError(`${where}: external data without a location`);
  const file = path.resolve(modelDir, location);
  if (!fs.existsSync(file)) throw new InputError(`${where}: external data file '${location}' not found next to the model`);
  const all = fs.readFileSync(file);
  const offset = Number(entry('offset') ?? 0);
  const length = entry('length') !== undefined ? Number(entry('length')) : all.byteLength - offset;
  if (offset + length > all.byteLength) throw new InputError(`${where}: external data '${location}' is shorter than declared`);
  return new Uint8Array(all.buffer, all.byteOffset + offset, length);
}

/** Converts an initializer or constant to host memory in the engine's dtype. */
export function hostTensor(t: TensorProto, modelDir: string, file: string): HostTensor {
  const where = `${file}: tensor '${t.name ?? ''}'`;
  const type = t.dataType ?? 0;
  const dtype = engineDtype(type);
  if (!dtype) throw new InputError(`${where}: unsupported data type ${type}`);
  const shape = (t.dims ?? []).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  let values: Float32Array | Int32Array | Uint8Array;
  if (t.dataLocation === 1) {
    values = decodeRaw(externalBytes(t, modelDir, where), type, count, where);
  } else if (t.rawData && t.rawData.byteLength > 0) {
    values = decodeRaw(t.rawData, type, count, where);
  } else {
    const list: number[] =
      (type === DataType.FLOAT || type === DataType.FLOAT16 || type === DataType.BFLOAT16 ? t.floatData : undefined) ??
      (type === DataType.DOUBLE ? t.doubleData : undefined) ??
      (type === DataType.INT64 ? t.int64Data : undefined) ??
      t.int32Data ??
      [];
    if (list.length !== count) throw new InputError(`${where}: holds ${list.length} values, expected ${count}`);
    values =
      dtype === 'float32'
        ? type === DataType.FLOAT16
          ? Float32Array.from(list, float16ToFloat32)
          : Float32Array.from(list)
        : dtype === 'int32'
          ? Int32Array.from(list, saturate)
          : Uint8Array.from(list);
  }
  return { dtype, shape, values };
}
