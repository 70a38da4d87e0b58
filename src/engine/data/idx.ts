import { InputError } from '../errors';

/**
 * IDX files (the format of the MNIST distribution, http://yann.lecun.com/exdb/mnist/): a 4-byte
 * magic number — two zero bytes, a type code, the number of dimensions — then each dimension as
 * a big-endian uint32, then the values in C order, big-endian.
 */
export interface IdxArray {
  shape: number[];
  /** The stored type: uint8 (0x08), int8 (0x09), int16 (0x0B), int32 (0x0C), float32 (0x0D), float64 (0x0E). */
  dtype: IdxDtype;
  /** Values in C order (converted to the platform's byte order). */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

interface IdxType {
  dtype: IdxDtype;
  size: number;
  read(view: DataView, offset: number, count: number): IdxArray['data'];
}

function reader<T extends IdxArray['data']>(
  dtype: IdxDtype,
  size: number,
  make: (count: number) => T,
  get: (view: DataView, at: number) => number,
): IdxType {
  return {
    dtype,
    size,
    read(view, offset, count) {
      const out = make(count);
      for (let i = 0; i < count; i++) out[i] = get(view, offset + i * size);
      return out;
    },
  };
}

const TYPES: Record<number, IdxType> = {
  0x08: {
    dtype: 'uint8',
    size: 1,
    read: (view, offset, count) => new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count)),
  },
  0x09: reader('int8', 1, (n) => new Int8Array(n), (v, at) => v.getInt8(at)),
  0x0b: reader('int16', 2, (n) => new Int16Array(n), (v, at) => v.getInt16(at, false)),
  0x0c: reader('int32', 4, (n) => new Int32Array(n), (v, at) => v.getInt32(at, false)),
  0x0d: reader('float32', 4, (n) => new Float32Array(n), (v, at) => v.getFloat32(at, false)),
  0x0e: reader('float64', 8, (n) => new Float64Array(n), (v, at) => v.getFloat64(at, false)),
};

const hex = (v: number): string => `0x${v.toString(16).padStart(2, '0')}`;

/**
 * Parses an IDX file. Malformed input (bad magic, unknown type code, no dimensions, a zero
 * dimension count, truncated data or bytes left over) is an InputError naming `file`.
 * Gzipped files (MNIST's .gz downloads) must be decompressed first.
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new InputError(`${file}: gzip-compressed; decompress the IDX file first (gunzip)`);
  }
  if (bytes.length < 4) throw new InputError(`${file}: not an IDX file (${bytes.length} bytes, shorter than the 4-byte magic number)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new InputError(`${file}: not an IDX file (the magic number must start with two zero bytes, got ${hex(bytes[0])} ${hex(bytes[1])})`);
  }
  const type = TYPES[bytes[2]];
  if (!type) {
    throw new InputError(`${file}: unknown IDX type code ${hex(bytes[2])}; expected 0x08 (uint8), 0x09, 0x0b, 0x0c, 0x0d or 0x0e`);
  }
  const rank = bytes[3];
  if (rank === 0) throw new InputError(`${file}: IDX file with 0 dimensions`);
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) {
    throw new InputError(`${file}: truncated IDX header: ${rank} dimensions need ${headerLength} bytes, found ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerLength + count * type.size;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated data' : 'trailing bytes after the data';
    throw new InputError(
      `${file}: ${what}: shape [${shape.join(', ')}] of ${type.dtype} needs ${expected} bytes with the header, found ${bytes.length}`,
    );
  }
  return { shape, dtype: type.dtype, data: type.read(view, headerLength, count) };
}
