/**
 * The engine's JSON previews (maps and images as plain numbers, engine/evaluation/map-preview.ts)
 * as the panels' base64 encodings, and the small helpers every view builder shares.
 */
import { encodeBytes, encodeFloat32 } from '../codecs';
import type { EncodedImage, EncodedMap } from '../panels';

/** A 2-D map as the engine's JSON carries it (MapPreview), row-major; null stands for NaN. */
export interface MapPreviewJson {
  height: number;
  width: number;
  signed: (number | null)[];
  absolute: (number | null)[];
}

/** 8-bit RGBA pixels as plain numbers (ImagePreview, the tangent strip's images). */
export interface RgbaJson {
  width: number;
  height: number;
  rgba: ArrayLike<number>;
}

/** A finite number, or null. */
export function finiteOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The file name of a path (either separator). */
export function baseName(file: string): string {
  return file.split(/[\\/]/).filter(Boolean).pop() ?? file;
}

function checkedDims(what: string, width: number, height: number, length: number, per: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) throw new Error(`${what}: bad size ${width}×${height}`);
  if (length !== width * height * per) throw new Error(`${what}: ${length} values for ${width}×${height}${per > 1 ? `×${per}` : ''}`);
}

/** A MapPreview as the panels' EncodedMap; undefined values (null, NaN) are drawn as no attribution. */
export function encodePreview(map: MapPreviewJson, what = 'map'): EncodedMap {
  const { height, width } = map;
  checkedDims(what, width, height, Array.isArray(map.signed) ? map.signed.length : -1, 1);
  checkedDims(`${what} (absolute)`, width, height, Array.isArray(map.absolute) ? map.absolute.length : -1, 1);
  const finite = (values: (number | null)[]): number[] => values.map((v) => finiteOrNull(v) ?? 0);
  return { height, width, signed: encodeFloat32(finite(map.signed)), absolute: encodeFloat32(finite(map.absolute)) };
}

export function encodeImage(image: RgbaJson, what = 'image'): EncodedImage {
  checkedDims(what, image.width, image.height, image.rgba.length, 4);
  return { width: image.width, height: image.height, rgba: encodeBytes(Uint8Array.from(image.rgba)) };
}
