/**
 * Explain results persisted in the extension's storage, so they survive a window reload. Pure: no
 * `vscode` (the folder is a local path). One file per result, named by the SHA-256 of its content
 * key (model bytes' hash, input bytes' hash, methods, options); a file holds a 4-byte header
 * length, the JSON of the result with each binary buffer (PNGs, maps, the input's pixels)
 * replaced by its byte range, then those bytes.
 * Bounded by a number of files, least recently used first out (a hit touches the file's mtime).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ExplainResult } from '../../protocol/engine';

const EXT = '.lensresult';
/** 2: every ArrayBuffer stored as a byte range (explain results with 2-D maps). */
const VERSION = 2;

interface Header {
  version: number;
  key: string;
  result: unknown;
}

/** Where a buffer's bytes are in the file's body. */
interface BinaryRef {
  $bytes: [offset: number, length: number];
}

const isBinaryRef = (v: unknown): v is BinaryRef =>
  typeof v === 'object' && v !== null && Array.isArray((v as BinaryRef).$bytes) && (v as BinaryRef).$bytes.length === 2;

/** `value` with its ArrayBuffers replaced by references into `chunks`. */
function detach(value: unknown, chunks: Buffer[], offset: { n: number }): unknown {
  if (value instanceof ArrayBuffer) {
    const bytes = Buffer.from(value);
    chunks.push(bytes);
    const ref: BinaryRef = { $bytes: [offset.n, bytes.byteLength] };
    offset.n += bytes.byteLength;
    return ref;
  }
  if (Array.isArray(value)) return value.map((v) => detach(v, chunks, offset));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, detach(v, chunks, offset)]));
  }
  return value;
}

/** The inverse of detach: each reference becomes an ArrayBuffer of its own with the body's bytes. */
function attach(value: unknown, body: Buffer): unknown {
  if (isBinaryRef(value)) {
    const [offset, length] = value.$bytes;
    if (offset < 0 || offset + length > body.byteLength) throw new Error('stored result: byte range out of bounds');
    const out = new Uint8Array(length);
    out.set(body.subarray(offset, offset + length));
    return out.buffer;
  }
  if (Array.isArray(value)) return value.map((v) => attach(v, body));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, attach(v, body)]));
  }
  return value;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export class ResultStore {
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private capacity: number,
  ) {}

  setCapacity(capacity: number): void {
    this.capacity = Math.max(1, capacity);
    void this.trim().catch(() => undefined);
  }

  private fileOf(key: string): string {
    return path.join(this.dir, sha256Hex(key) + EXT);
  }

  /** The stored result for `key`, or undefined (missing, unreadable or written by another version). */
  async get(key: string): Promise<ExplainResult | undefined> {
    const file = this.fileOf(key);
    let buf: Buffer;
    try {
      buf = await fs.readFile(file);
    } catch {
      return undefined;
    }
    try {
      const headerLen = buf.readUInt32LE(0);
      const header = JSON.parse(buf.subarray(4, 4 + headerLen).toString('utf8')) as Header;
      if (header.version !== VERSION || header.key !== key) return undefined;
      const result = attach(header.result, buf.subarray(4 + headerLen)) as ExplainResult;
      const now = new Date();
      void fs.utimes(file, now, now).catch(() => undefined); // most recently used
      return result;
    } catch {
      await fs.rm(file, { force: true }).catch(() => undefined);
      return undefined;
    }
  }

  /** Stores `result` under `key` (atomically: a temp file renamed), then evicts the least recently used files. */
  put(key: string, result: ExplainResult): Promise<void> {
    const run = async (): Promise<void> => {
      const chunks: Buffer[] = [];
      const header: Header = { version: VERSION, key, result: detach(result, chunks, { n: 0 }) };
      const json = Buffer.from(JSON.stringify(header), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(json.byteLength, 0);
      await fs.mkdir(this.dir, { recursive: true });
      const file = this.fileOf(key);
      const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
      await fs.writeFile(tmp, Buffer.concat([len, json, ...chunks]));
      await fs.rename(tmp, file);
      await this.trim();
    };
    const p = this.writes.then(run, run);
    this.writes = p.catch(() => undefined);
    return p;
  }

  /** The stored files, most recently used first (tests and diagnostics). */
  async files(): Promise<string[]> {
    let names: string[];
    try {
      names = (await fs.readdir(this.dir)).filter((n) => n.endsWith(EXT));
    } catch {
      return [];
    }
    const stats = await Promise.all(
      names.map(async (n) => {
        const full = path.join(this.dir, n);
        const s = await fs.stat(full).catch(() => undefined);
        return { full, mtime: s?.mtimeMs ?? 0 };
      }),
    );
    return stats.sort((a, b) => b.mtime - a.mtime).map((s) => s.full);
  }

  private async trim(): Promise<void> {
    const files = await this.files();
    await Promise.all(files.slice(this.capacity).map((f) => fs.rm(f, { force: true }).catch(() => undefined)));
  }

  async clear(): Promise<void> {
    await Promise.all((await this.files()).map((f) => fs.rm(f, { force: true })));
  }
}
