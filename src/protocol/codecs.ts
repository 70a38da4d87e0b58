/**
 * Base64 of raw bytes and of float32 arrays, for the panel views (protocol/panels.ts), which must
 * stay plain JSON. Runs in Node (host, CLI) and in the browser (webviews, report). Float32 bytes are
 * the platform's, little-endian on every platform VS Code and Node run on.
 */

const CHUNK = 0x8000;

export function encodeBytes(bytes: Uint8Array): string {
  if (typeof Buffer !== 'undefined') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}

export function decodeBytes(base64: string): Uint8Array {
  if (typeof Buffer !== 'undefined') {
    const b = Buffer.from(base64, 'base64');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function encodeFloat32(values: ArrayLike<number>): string {
  const f = values instanceof Float32Array ? values : Float32Array.from(values);
  return encodeBytes(new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
}

export function decodeFloat32(base64: string): Float32Array {
  const bytes = decodeBytes(base64);
  // A copy: the decoded bytes may sit at an offset that is not a multiple of 4.
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  return out;
}
