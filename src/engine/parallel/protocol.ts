import type { ModelRef } from './model-source';

/** Which pass a chunk needs: the target logit's input gradient, or the target logit itself. */
export type PassKind = 'gradient' | 'forward';

/** Pool → pool worker. */
export type PoolRequest =
  | { type: 'init'; backend: string }
  | {
      type: 'chunk';
      id: number;
      model: ModelRef;
      pass: PassKind;
      target: number;
      /** Number of inputs in `inputs` (flat float32, count × the model's sample size). */
      count: number;
      inputs: Float32Array;
    }
  /** Drops the worker's cached models (of `path`, or all). */
  | { type: 'evict'; path?: string }
  /** Replies with 'memory' (tests: leaks). */
  | { type: 'memory'; id: number };

/** Pool worker → pool. */
export type PoolReply =
  | { type: 'ready'; backend: string }
  | { type: 'initError'; message: string }
  | { type: 'result'; id: number; values: Float32Array; ms: number }
  | { type: 'error'; id: number; message: string; input: boolean }
  | { type: 'memory'; id: number; numTensors: number; models: number };
