import type * as Ort from 'onnxruntime-node';
import { encodeModelProto } from '../model/onnx/proto';
import { forwardProgram, GRADIENT_OUTPUT, gradientProgram, SEED_INPUT, UnsupportedForGradient, type ProgramSource } from '../model/onnx/gradient-program';
import type { OnnxRuntime } from './runtime';

/**
 * An ONNX model's batched passes on ONNX Runtime: target logits (forward program) and their input
 * gradients (gradient program, src/engine/model/onnx/gradient-program.ts). Both programs are built
 * and their sessions created on first use; a model whose graph has no gradient program keeps its
 * gradients on TensorFlow.js (`gradientUnsupported` says why) while its forward passes run here.
 */
export class NativePasses {
  private forwardSession?: Promise<Ort.InferenceSession>;
  private gradientSession?: Promise<Ort.InferenceSession | undefined>;
  /** Why the gradient program could not be built, once tried. */
  gradientUnsupported?: string;

  constructor(
    private readonly ort: OnnxRuntime,
    private readonly source: () => ProgramSource,
    readonly inputShape: readonly number[],
    readonly classes: number,
    /** Batch size fixed by the export, if any: batches then run one sample at a time. */
    private readonly fixedBatch: number | undefined,
  ) {}

  private create(bytes: Uint8Array): Promise<Ort.InferenceSession> {
    return this.ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', executionMode: 'sequential' });
  }

  /** Whether batches of n can run (an export with a fixed batch other than 1 takes only that batch). */
  accepts(n: number): boolean {
    return this.fixedBatch === undefined || this.fixedBatch === 1 || n === this.fixedBatch;
  }

  /** The gradient session, or undefined when the graph has no gradient program. */
  async gradientReady(): Promise<boolean> {
    this.gradientSession ??= (async () => {
      let bytes: Uint8Array;
      try {
        bytes = encodeModelProto(gradientProgram(this.source()));
      } catch (err) {
        if (!(err instanceof UnsupportedForGradient)) throw err;
        this.gradientUnsupported = err.message;
        return undefined;
      }
      return this.create(bytes);
    })();
    return (await this.gradientSession) !== undefined;
  }

  /** logits[:, target] for n samples (flat). */
  async forward(x: Float32Array, n: number, target: number): Promise<Float32Array> {
    this.forwardSession ??= this.create(encodeModelProto(forwardProgram(this.source())));
    const session = await this.forwardSession;
    const out = new Float32Array(n);
    await this.perBatch(n, async (start, end) => {
      const feeds = { [session.inputNames[0]]: this.tensor(x, start, end) };
      const result = await session.run(feeds);
      const logits = result[session.outputNames[0]];
      const data = logits.data as Float32Array;
      for (let i = start; i < end; i++) out[i] = data[(i - start) * this.classes + target];
      disposeAll(result);
    });
    return out;
  }

  /** d logits[i, target] / d x[i] for n samples (flat, same layout as x). */
  async gradient(x: Float32Array, n: number, target: number): Promise<Float32Array> {
    if (!(await this.gradientReady())) throw new Error(`no gradient program: ${this.gradientUnsupported}`);
    const session = (await this.gradientSession)!;
    const size = x.length / n;
    const out = new Float32Array(x.length);
    await this.perBatch(n, async (start, end) => {
      const seed = new Float32Array((end - start) * this.classes);
      for (let i = 0; i < end - start; i++) seed[i * this.classes + target] = 1;
      const inputName = session.inputNames.find((name) => name !== SEED_INPUT)!;
      const feeds = {
        [inputName]: this.tensor(x, start, end),
        [SEED_INPUT]: new this.ort.Tensor('float32', seed, [end - start, this.classes]),
      };
      const result = await session.run(feeds);
      out.set(result[GRADIENT_OUTPUT].data as Float32Array, start * size);
      disposeAll(result);
    });
    return out;
  }

  private tensor(x: Float32Array, start: number, end: number): Ort.Tensor {
    const size = this.inputShape.reduce((a, b) => a * b, 1);
    return new this.ort.Tensor('float32', x.subarray(start * size, end * size), [end - start, ...this.inputShape]);
  }

  /** Runs [start, end) ranges: the whole batch, or one sample at a time for fixed-batch-1 exports. */
  private async perBatch(n: number, run: (start: number, end: number) => Promise<void>): Promise<void> {
    if (this.fixedBatch === 1) {
      for (let i = 0; i < n; i++) await run(i, i + 1);
    } else {
      await run(0, n);
    }
  }

  async dispose(): Promise<void> {
    const sessions = await Promise.allSettled([this.forwardSession, this.gradientSession]);
    for (const s of sessions) if (s.status === 'fulfilled' && s.value) await s.value.release();
  }
}

function disposeAll(result: Ort.InferenceSession.OnnxValueMapType): void {
  for (const v of Object.values(result)) (v as Ort.Tensor).dispose?.();
}
