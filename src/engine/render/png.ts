import { PNG } from 'pngjs';
import type { RgbaImage } from '../data/image';

/** An 8-bit RGBA PNG file of the image. */
export function encodePng(img: RgbaImage): Uint8Array {
  if (img.data.length !== img.width * img.height * 4) {
    throw new Error(`encodePng: ${img.data.length} bytes for a ${img.width}×${img.height} RGBA image`);
  }
  const data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  // PNG.sync.write reads only width, height and data, so no PNG instance (and its pixel copy) is needed.
  return PNG.sync.write({ width: img.width, height: img.height, data } as PNG);
}
