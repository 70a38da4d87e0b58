/**
 * Keys and a small LRU for engine results (hover overlays, explain panels). Pure: no `vscode`.
 *
 * A key names the model and input by path plus mtime and size: cheap to get from a `stat`, and it
 * changes whenever a file is re-exported or edited. This is the in-memory level; the persistent
 * level (ResultStore, via ExplainCache) keys by the files' content hashes.
 */

export interface FileStamp {
  path: string;
  mtime: number;
  size: number;
}

export interface ResultKeyParts {
  model: FileStamp;
  input: FileStamp;
  /** Method id, or several joined by the caller. */
  method: string;
  /** Any other options that change the result (opacity, top-k, target, steps …). */
  options?: Record<string, unknown>;
}

const stamp = (f: FileStamp): string => `${f.path}@${f.mtime}:${f.size}`;

/** A stable string key: option keys sorted, undefined options dropped. */
export function resultKey(parts: ResultKeyParts): string {
  return `${stamp(parts.model)}|${stamp(parts.input)}|${parts.method}|${optionsKey(parts.options)}`;
}

/** Options as a stable string: keys sorted, undefined values dropped. */
export function optionsKey(opts: Record<string, unknown> = {}): string {
  return Object.keys(opts)
    .filter((k) => opts[k] !== undefined)
    .sort()
    .map((k) => `${k}=${JSON.stringify(opts[k])}`)
    .join('&');
}

/**
 * A least-recently-used map of promises: a second request for the same key while the first runs
 * shares it; a rejected promise is dropped so the next request retries.
 */
export class ResultCache<T> {
  private readonly entries = new Map<string, Promise<T>>();

  constructor(private capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  setCapacity(capacity: number): void {
    this.capacity = Math.max(1, capacity);
    this.trim();
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The cached value's promise, or `compute()`'s, cached. */
  getOrCompute(key: string, compute: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const p = compute();
    this.entries.set(key, p);
    p.catch(() => {
      if (this.entries.get(key) === p) this.entries.delete(key);
    });
    this.trim();
    return p;
  }

  /** Drops every entry whose key mentions `path` (a model or input that changed). */
  evictPath(path: string): void {
    for (const k of [...this.entries.keys()]) if (k.includes(`${path}@`)) this.entries.delete(k);
  }

  clear(): void {
    this.entries.clear();
  }

  private trim(): void {
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
