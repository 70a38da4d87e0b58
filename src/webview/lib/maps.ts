/** Decoded views of the encoded maps and images, computed once per object. */
import { decodeBytes, decodeFloat32 } from '../../protocol/codecs';
import type { EncodedImage, EncodedMap } from '../../protocol/panels';
import { mapScale } from '../../engine/render/shade';

export type MapMode = 'signed' | 'absolute';

const values = new WeakMap<EncodedMap, { signed?: Float32Array; absolute?: Float32Array }>();
const scales = new WeakMap<EncodedMap, { signed?: number; absolute?: number }>();
const pixels = new WeakMap<EncodedImage, Uint8Array>();

export function mapValues(map: EncodedMap, mode: MapMode): Float32Array {
  let entry = values.get(map);
  if (!entry) values.set(map, (entry = {}));
  return (entry[mode] ??= decodeFloat32(map[mode]));
}

/** The map's own saturation point (Captum's 2% outlier rule). */
export function ownScale(map: EncodedMap, mode: MapMode): number {
  let entry = scales.get(map);
  if (!entry) scales.set(map, (entry = {}));
  return (entry[mode] ??= mapScale(mapValues(map, mode)));
}

/** One scale for several maps: the largest of their own, so none saturates earlier than alone. */
export function sharedScale(maps: readonly EncodedMap[], mode: MapMode): number {
  return maps.reduce((s, m) => Math.max(s, ownScale(m, mode)), 0);
}

export function imagePixels(image: EncodedImage): Uint8Array {
  let p = pixels.get(image);
  if (!p) pixels.set(image, (p = decodeBytes(image.rgba)));
  return p;
}

/** Whole-number zoom that brings the longer side to about `target` CSS pixels (crisp pixels). */
export function fitZoom(width: number, height: number, target = 196): number {
  return Math.max(1, Math.round(target / Math.max(width, height)));
}
