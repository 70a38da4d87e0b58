/**
 * Explanations cached in two levels:
 * - in memory, by (model path+mtime+size, input path+mtime+size, methods, options): a second hover
 *   or panel for the same files is answered at once; in-flight requests are shared;
 * - on disk in the extension's storage (ResultStore), by the SHA-256 of the model's and the input's
 *   bytes, methods and options: results survive a window reload, a copy or a re-export that wrote
 *   the same bytes. A file is hashed once per (mtime, size), so hovers stay fast.
 * Both are bounded by `attributionLens.cacheSize`.
 */
import * as vscode from 'vscode';
import type { ExplainResult, MethodSettings } from '../../protocol/engine';
import { stampOf } from '../models/workspace-models';
import type { EngineHost } from './engine-host';
import type { RequestOptions } from '../../worker/engine-client';
import { optionsKey, ResultCache, resultKey, type FileStamp } from './result-cache';
import { ResultStore, sha256Hex } from './result-store';

export interface ExplainParams {
  model: string;
  input: string;
  methods: MethodSettings[];
  topK?: number;
  opacity?: number;
  target?: number;
  /** 'png' (hovers) or 'map' (panels); see the explain request. */
  output?: 'png' | 'map';
}

export interface ExplainCacheOptions {
  /** Folder of the persistent results (e.g. under `context.globalStorageUri`); none: memory only. */
  storageDir?: string;
  /** Where failures to read or write the storage are reported (they never fail a request). */
  log?: (message: string) => void;
}

/** SHA-256 of files' bytes, computed once per (path, mtime, size). */
export class FileHasher {
  private readonly hashes = new Map<string, { mtime: number; size: number; hash: Promise<string> }>();

  hashOf(stamp: FileStamp): Promise<string> {
    const known = this.hashes.get(stamp.path);
    if (known && known.mtime === stamp.mtime && known.size === stamp.size) return known.hash;
    const hash = Promise.resolve(vscode.workspace.fs.readFile(vscode.Uri.file(stamp.path))).then((bytes) => sha256Hex(bytes));
    if (this.hashes.size >= 4096) this.hashes.clear();
    this.hashes.set(stamp.path, { mtime: stamp.mtime, size: stamp.size, hash });
    hash.catch(() => {
      if (this.hashes.get(stamp.path)?.hash === hash) this.hashes.delete(stamp.path);
    });
    return hash;
  }

  forget(path: string): void {
    this.hashes.delete(path);
  }
}

export class ExplainCache {
  private readonly cache: ResultCache<ExplainResult>;
  private readonly hasher = new FileHasher();
  readonly store: ResultStore | undefined;

  constructor(
    private readonly host: Pick<EngineHost, 'request'>,
    capacity: number,
    private readonly options: ExplainCacheOptions = {},
  ) {
    this.cache = new ResultCache(capacity);
    this.store = options.storageDir ? new ResultStore(options.storageDir, capacity) : undefined;
  }

  setCapacity(n: number): void {
    this.cache.setCapacity(n);
    this.store?.setCapacity(n);
  }

  private static parts(p: ExplainParams): { method: string; options: Record<string, unknown> } {
    return { method: p.methods.map((m) => JSON.stringify(m)).join('+'), options: { topK: p.topK, opacity: p.opacity, target: p.target, output: p.output } };
  }

  private async stamps(p: ExplainParams): Promise<[FileStamp, FileStamp]> {
    return Promise.all([stampOf(p.model), stampOf(p.input)]);
  }

  async keyOf(p: ExplainParams): Promise<string> {
    const [model, input] = await this.stamps(p);
    return resultKey({ model, input, ...ExplainCache.parts(p) });
  }

  /** The persistent key: content hashes instead of paths and times. */
  async contentKeyOf(p: ExplainParams, stamps?: [FileStamp, FileStamp]): Promise<string> {
    const [model, input] = stamps ?? (await this.stamps(p));
    const [mh, ih] = await Promise.all([this.hasher.hashOf(model), this.hasher.hashOf(input)]);
    const { method, options } = ExplainCache.parts(p);
    return `sha256:${mh}|sha256:${ih}|${method}|${optionsKey(options)}`;
  }

  /** Whether a finished or running result exists in memory for these params (the hover's fast path). */
  async has(p: ExplainParams): Promise<boolean> {
    return this.cache.has(await this.keyOf(p));
  }

  async explain(p: ExplainParams, options: RequestOptions = {}): Promise<ExplainResult> {
    const stamps = await this.stamps(p);
    const key = resultKey({ model: stamps[0], input: stamps[1], ...ExplainCache.parts(p) });
    return this.cache.getOrCompute(key, () => this.compute(p, stamps, options));
  }

  private async compute(p: ExplainParams, stamps: [FileStamp, FileStamp], options: RequestOptions): Promise<ExplainResult> {
    const store = this.store;
    if (!store) return this.host.request('explain', { ...p }, options);
    let contentKey: string | undefined;
    try {
      contentKey = await this.contentKeyOf(p, stamps);
      const stored = await store.get(contentKey);
      // The same bytes may live at another path (a copy): the result names the files asked about.
      if (stored) return { ...stored, model: p.model, input: p.input };
    } catch (err) {
      this.options.log?.(`result storage: ${(err as Error).message}`);
    }
    const result = await this.host.request('explain', { ...p }, options);
    if (contentKey) {
      try {
        await store.put(contentKey, result);
      } catch (err) {
        this.options.log?.(`result storage: ${(err as Error).message}`);
      }
    }
    return result;
  }

  /** Drops results of a model or input that changed on disk (mtime keys would miss them anyway; this frees memory). */
  evictPath(path: string): void {
    this.cache.evictPath(path);
    this.hasher.forget(path);
  }

  /** Empties the memory level (the stored results stay: they are keyed by content). */
  clear(): void {
    this.cache.clear();
  }
}
