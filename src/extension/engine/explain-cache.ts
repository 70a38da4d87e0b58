/**
 * Explanations cached by (model path+mtime+size, input path+mtime+size, methods, options): a second
 * hover or panel for the same files is answered from memory. In-flight requests are shared.
 */
import type { ExplainResult, MethodSettings } from '../../protocol/engine';
import { stampOf } from '../models/workspace-models';
import type { EngineHost } from './engine-host';
import type { RequestOptions } from '../../worker/engine-client';
import { ResultCache, resultKey } from './result-cache';

export interface ExplainParams {
  model: string;
  input: string;
  methods: MethodSettings[];
  topK?: number;
  opacity?: number;
  target?: number;
}

export class ExplainCache {
  private readonly cache: ResultCache<ExplainResult>;

  constructor(
    private readonly host: EngineHost,
    capacity: number,
  ) {
    this.cache = new ResultCache(capacity);
  }

  setCapacity(n: number): void {
    this.cache.setCapacity(n);
  }

  async keyOf(p: ExplainParams): Promise<string> {
    const [model, input] = await Promise.all([stampOf(p.model), stampOf(p.input)]);
    return resultKey({
      model,
      input,
      method: p.methods.map((m) => JSON.stringify(m)).join('+'),
      options: { topK: p.topK, opacity: p.opacity, target: p.target },
    });
  }

  /** Whether a finished or running result exists for these params (the hover's fast path). */
  async has(p: ExplainParams): Promise<boolean> {
    return this.cache.has(await this.keyOf(p));
  }

  async explain(p: ExplainParams, options: RequestOptions = {}): Promise<ExplainResult> {
    const key = await this.keyOf(p);
    return this.cache.getOrCompute(key, () => this.host.request('explain', { ...p }, options));
  }

  /** Drops results of a model or input that changed on disk (mtime keys would miss them anyway; this frees memory). */
  evictPath(path: string): void {
    this.cache.evictPath(path);
  }

  clear(): void {
    this.cache.clear();
  }
}
