import { InputError } from '../errors';

/** An array read from a .npy file, in C order. */
export interface NpyArray {
  shape: number[];
  /** numpy's name for the stored dtype: float32, float64, uint8, int32, int64 or bool. */
  dtype: string;
  /** int64 is widened to float64 (exact up to 2^53); bool is 0/1 bytes. */
  data: Float32Array | Float64Array | Uint8Array | Int32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const SUPPORTED = 'expected little-endian float32, float64, int32, int64, uint8 or bool';

interface DtypeReader {
  name: string;
  itemSize: number;
  read(bytes: Uint8Array): NpyArray['data'];
}

/** A copy with its own aligned buffer (a header need not end on an 8-byte boundary, and a Buffer may be a pool slice). */
const own = (b: Uint8Array): ArrayBuffer => new Uint8Array(b).buffer;

const READERS: Record<string, DtypeReader> = {
  f4: { name: 'float32', itemSize: 4, read: (b) => new Float32Array(own(b)) },
  f8: { name: 'float64', itemSize: 8, read: (b) => new Float64Array(own(b)) },
  i4: { name: 'int32', itemSize: 4, read: (b) => new Int32Array(own(b)) },
  i8: { name: 'int64', itemSize: 8, read: (b) => Float64Array.from(new BigInt64Array(own(b)), Number) },
  u1: { name: 'uint8', itemSize: 1, read: (b) => new Uint8Array(b) },
  b1: { name: 'bool', itemSize: 1, read: (b) => Uint8Array.from(b, (v) => (v === 0 ? 0 : 1)) },
};

/** Parses a .npy file (format versions 1.0, 2.0 and 3.0). */
export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new InputError(`${file}: not a .npy file (missing the \\x93NUMPY magic string)`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new InputError(`${file}: truncated .npy header`);
    headerStart = 12;
    headerLength = view.getUint32(8, true);
  } else {
    throw new InputError(`${file}: unsupported .npy format version ${major}.${bytes[7]}; expected 1.0, 2.0 or 3.0`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw new InputError(`${file}: truncated .npy header`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const { descr, fortranOrder, shape } = parseHeader(header, file);
  if (fortranOrder) {
    throw new InputError(`${file}: fortran_order arrays are not supported; save it with np.ascontiguousarray first`);
  }
  const reader = dtypeReader(descr, file);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataLength = count * reader.itemSize;
  const available = bytes.length - dataStart;
  if (available < dataLength) {
    throw new InputError(`${file}: truncated data: shape (${shape.join(', ')}) needs ${dataLength} bytes, found ${available}`);
  }
  return { shape, dtype: reader.name, data: reader.read(bytes.subarray(dataStart, dataStart + dataLength)) };
}

/** The header is a Python dict literal; only its three keys matter, so they are matched rather than evaluated. */
function parseHeader(header: string, file: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const malformed = (what: string) => new InputError(`${file}: malformed .npy header (${what}): ${header.trim().replace(/\s+/g, ' ')}`);
  if (/['"]descr['"]\s*:\s*\[/.test(header)) throw new InputError(`${file}: unsupported structured dtype; ${SUPPORTED}`);
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header);
  if (!descr) throw malformed("no 'descr'");
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  if (!fortran) throw malformed("no 'fortran_order'");
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!shapeMatch) throw malformed("no 'shape'");
  const dims = shapeMatch[1].split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (!dims.every((d) => /^\d+$/.test(d))) throw malformed('bad shape');
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims.map((d) => parseInt(d, 10)) };
}

function dtypeReader(descr: string, file: string): DtypeReader {
  if (/^[<>|=]?O\d*$/.test(descr)) {
    throw new InputError(`${file}: unsupported object dtype (pickled Python objects); ${SUPPORTED}`);
  }
  const match = /^([<>|=])([a-z])(\d+)$/.exec(descr);
  const reader = match ? READERS[match[2] + match[3]] : undefined;
  if (!match || !reader) throw new InputError(`${file}: unsupported dtype '${descr}'; ${SUPPORTED}`);
  // Byte order only matters for multi-byte items; '=' is native, which numpy never writes to files.
  if (reader.itemSize > 1 && match[1] !== '<') {
    const why = match[1] === '>' ? 'big-endian' : 'native byte order';
    throw new InputError(`${file}: unsupported dtype '${descr}' (${why}); ${SUPPORTED}`);
  }
  return reader;
}

/** The array's values as float32 (no copy when they already are). */
export function toFloat32(arr: NpyArray): Float32Array {
  return arr.data instanceof Float32Array ? arr.data : Float32Array.from(arr.data);
}

/** A float32 C-order .npy file (format 1.0) with the header padded to 64 bytes, byte for byte as np.save writes it. */
export function encodeNpy(data: Float32Array, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new Error(`encodeNpy: shape (${shape.join(', ')}) holds ${count} values but data has ${data.length}`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const preamble = MAGIC.length + 4;
  const padded = Math.ceil((preamble + dict.length + 1) / 64) * 64 - preamble;
  const header = dict.padEnd(padded - 1, ' ') + '\n';

  const out = new Uint8Array(preamble + padded + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, padded, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), preamble + padded);
  return out;
}
