import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { InputError } from '../errors';

/** 8-bit RGBA pixels, row-major, 4 bytes per pixel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export type DecodedImage = RgbaImage;

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];
/** A 4096×4096 RGBA image needs 64 MB; beyond this a file is more likely hostile than a model input. */
const JPEG_MAX_MEMORY_MB = 256;

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((m, i) => bytes[i] === m);
}

/** Decoder messages can span lines; the CLI prints one. */
function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}

/** Decodes a PNG (any bit depth or colour type) or a baseline/progressive JPEG into RGBA, detected by content. */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  if (startsWith(bytes, PNG_MAGIC)) {
    try {
      // pngjs expands gray, gray+alpha and palette to RGBA and rescales 16-bit samples to 8 bits.
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data) };
    } catch (e) {
      throw new InputError(`${file}: cannot decode PNG: ${oneLine(e)}`);
    }
  }
  if (startsWith(bytes, JPEG_MAGIC)) {
    try {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: JPEG_MAX_MEMORY_MB });
      return { width: img.width, height: img.height, data: img.data };
    } catch (e) {
      throw new InputError(`${file}: cannot decode JPEG: ${oneLine(e)}`);
    }
  }
  throw new InputError(`${file}: not a PNG or JPEG image (unrecognised file signature)`);
}
