/**
 * Explain results persisted in the extension's storage, so they survive a window reload. Pure: no
 * `vscode` (the folder is a local path). One file per result, named by the SHA-256 of its content
 * key (model bytes' hash, input bytes' hash, methods, options); a file holds a 4-byte header
 * length, the JSON of the result with each PNG replaced by its byte range, then the PNG bytes.
 * Bounded by a number of files, least recently used first out (a hit touches the file's mtime).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ExplainResult, MethodResult } from '../../protocol/engine';

const EXT = '.lensresult';
const VERSION = 1;

interface StoredMethod extends Omit<MethodResult, 'png'> {
  png: { offset: number; length: number };
}
interface Header extends Omit<ExplainResult, 'methods'> {
  version: number;
  key: string;
  methods: StoredMethod[];
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
      const body = 4 + headerLen;
      const methods: MethodResult[] = header.methods.map((m) => {
        const png = new Uint8Array(m.png.length);
        png.set(buf.subarray(body + m.png.offset, body + m.png.offset + m.png.length));
        return { ...m, png: png.buffer };
      });
      const now = new Date();
      void fs.utimes(file, now, now).catch(() => undefined); // most recently used
      const { version: _v, key: _k, ...rest } = header;
      return { ...rest, methods };
    } catch {
      await fs.rm(file, { force: true }).catch(() => undefined);
      return undefined;
    }
  }

  /** Stores `result` under `key` (atomically: a temp file renamed), then evicts the least recently used files. */
  put(key: string, result: ExplainResult): Promise<void> {
    const run = async (): Promise<void> => {
      let offset = 0;
      const pngs: Buffer[] = [];
      const methods: StoredMethod[] = result.methods.map((m) => {
        const bytes = Buffer.from(m.png ?? new ArrayBuffer(0));
        pngs.push(bytes);
        const stored = { ...m, png: { offset, length: bytes.byteLength } };
        offset += bytes.byteLength;
        return stored;
      });
      const header: Header = { ...result, version: VERSION, key, methods };
      const json = Buffer.from(JSON.stringify(header), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(json.byteLength, 0);
      await fs.mkdir(this.dir, { recursive: true });
      const file = this.fileOf(key);
      const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
      await fs.writeFile(tmp, Buffer.concat([len, json, ...pngs]));
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
