/**
 * Engine side of the benchmark (bench/run.mjs calls it once per workload and backend):
 *
 *   node --import tsx bench/engine.ts --model M.onnx --input X.npy
 *     --method saliency|integrated_gradients|smoothgrad|occlusion
 *     [--steps 50] [--backend auto|wasm|cpu] [--warmup 1] [--repeats 5] [--batch-size N] [--reference R.npy]
 *
 * smoothgrad: saliency under a SmoothGrad noise tunnel, --steps samples (σ = 0.15 of the range);
 * occlusion: 4×4 window, stride 2, zero baseline.
 *
 * Times `repeats` calls of the engine's attribute() after `warmup` untimed ones (target: the
 * predicted class), compares the last map with PyTorch's (--reference) and prints one line of
 * JSON. Without --batch-size the engine sizes its batches itself (reported as batch_size).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { batchSizeFor, nativeBatchSize } from '../src/engine/attribution/batching';
import { attribute } from '../src/engine/attribution/registry';
import type { MethodOptions } from '../src/engine/attribution/method';
import { initBenchEngine } from './runtime';
import { loadInput } from '../src/engine/data/input';
import { parseNpy, toFloat32 } from '../src/engine/data/npy';
import { loadModel } from '../src/engine/model/load';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    input: { type: 'string' },
    method: { type: 'string' },
    steps: { type: 'string', default: '50' },
    backend: { type: 'string', default: 'auto' },
    warmup: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '5' },
    'batch-size': { type: 'string' },
    reference: { type: 'string' },
  },
});

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** ||a - ref|| / ||ref|| */
function relativeL2(a: Float32Array, ref: Float32Array): number {
  if (a.length !== ref.length) throw new Error(`map sizes differ: engine ${a.length}, reference ${ref.length}`);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - ref[i]) ** 2;
    norm += ref[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

const report: Record<string, unknown> = {};

async function main(): Promise<void> {
  if (!args.model || !args.input || !args.method) throw new Error('--model, --input and --method are required');
  report.backend = await initBenchEngine(args.backend!);
  const model = await loadModel(args.model);
  const input = await loadInput(args.input, model);
  const target = tf.tidy(() => tf.argMax(model.logits(input), 1).dataSync()[0]);
  report.target = target;

  const steps = Number(args.steps);
  const method = args.method === 'smoothgrad' ? 'saliency' : args.method;
  const options: MethodOptions =
    args.method === 'integrated_gradients'
      ? { steps }
      : args.method === 'smoothgrad'
        ? { noise: 'smoothgrad', samples: steps, seed: 0 }
        : args.method === 'occlusion'
          ? { window: [4, 4], stride: [2, 2] }
          : {};
  if (args['batch-size'] !== undefined) options.batchSize = Number(args['batch-size']);
  const evaluations = args.method === 'integrated_gradients' || args.method === 'smoothgrad' ? steps : args.method === 'occlusion' ? 169 : 1;
  const kind = args.method === 'occlusion' ? 'forward' : 'backward';
  const planned = batchSizeFor(model, kind, options, evaluations);
  const native = model.native?.();
  if (native) report.native_gradients = (await native.gradientReady()) || native.gradientUnsupported;
  report.batch_size = native && (kind === 'forward' || report.native_gradients === true) ? nativeBatchSize(model, kind, planned, evaluations) : planned;
  report.activation_bytes_per_sample = model.activationBytesPerSample;
  report.batch_size_auto = options.batchSize === undefined;

  const warmup = Number(args.warmup);
  const times: number[] = [];
  let map: Float32Array | undefined;
  for (let i = 0; i < warmup + Number(args.repeats); i++) {
    const start = performance.now();
    const { attribution, delta } = await attribute(method, { model, input, target }, options);
    const elapsed = performance.now() - start;
    if (i >= warmup) times.push(elapsed);
    map = (await attribution.data()) as Float32Array;
    report.delta = delta ?? null;
    attribution.dispose();
  }
  report.median_ms = median(times);
  report.times_ms = times;
  if (args.reference && map) report.rel_l2 = relativeL2(map, toFloat32(parseNpy(fs.readFileSync(args.reference), args.reference)));
  input.dispose();
  model.dispose();
}

main()
  .catch((err: unknown) => {
    report.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    process.exitCode = 1;
  })
  .finally(() => {
    report.max_rss_mib = process.resourceUsage().maxRSS / 1024;
    // The wasm heap only grows: its size at the end is the peak the run needed (limit 4 GiB).
    const heap = (tf.engine().backendName === 'wasm' ? (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length : undefined);
    if (heap !== undefined) report.wasm_heap_mib = heap / 2 ** 20;
    console.log(JSON.stringify(report));
  });
