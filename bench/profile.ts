/**
 * Per-kernel profile of one attribution (tf.profile: every kernel the engine runs, gradient
 * kernels included, timed one by one):
 *
 *   node --import tsx bench/profile.ts --model bench/out/resnet18.onnx --input bench/out/resnet18_input.npy
 *        [--method integrated_gradients] [--steps 16] [--backend auto] [--top 5] [--out FILE.json]
 *
 * One untimed warm-up call, then one profiled call (IG: all steps in one batch, --batch-size
 * defaults to --steps). Prints the top kernels by total time and one line of JSON (last line).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { attribute } from '../src/engine/attribution/registry';
import type { MethodOptions } from '../src/engine/attribution/method';
import { initBackend, type BackendName } from '../src/engine/backend';
import { loadInput } from '../src/engine/data/input';
import { loadModel } from '../src/engine/model/load';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'bench/out/resnet18.onnx' },
    input: { type: 'string', default: 'bench/out/resnet18_input.npy' },
    method: { type: 'string', default: 'integrated_gradients' },
    steps: { type: 'string', default: '16' },
    'batch-size': { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    top: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});

async function main(): Promise<void> {
  const backend = await initBackend(args.backend as BackendName | 'auto');
  const model = await loadModel(args.model!);
  const input = await loadInput(args.input!, model);
  const target = tf.tidy(() => tf.argMax(model.logits(input), 1).dataSync()[0]);
  const steps = Number(args.steps);
  const options: MethodOptions = args.method === 'integrated_gradients' ? { steps, batchSize: Number(args['batch-size'] ?? steps) } : {};
  const call = async () => {
    const { attribution } = await attribute(args.method!, { model, input, target }, options);
    await attribution.data();
    attribution.dispose();
  };
  await call();
  let t0 = performance.now();
  await call();
  const plainMs = performance.now() - t0;
  t0 = performance.now();
  const info = await tf.profile(call);
  const profiledMs = performance.now() - t0;
  const byKernel = new Map<string, { ms: number; calls: number }>();
  // tf.profile also lists tf.customGrad scopes ('forward', 'unnamed scope') whose time includes
  // their kernels': count registered kernels only (and this repository's own, max-pool-grad.ts).
  for (const k of info.kernels.filter((x) => tf.getKernel(x.name, backend) !== undefined)) {
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    e.calls += 1;
    byKernel.set(k.name, e);
  }
  const kernels = [...byKernel.entries()].map(([name, e]) => ({ name, ms: e.ms, calls: e.calls })).sort((a, b) => b.ms - a.ms);
  const totalKernelMs = kernels.reduce((s, k) => s + k.ms, 0);
  console.log(`${args.model} ${args.method}${args.method === 'integrated_gradients' ? `-${steps}` : ''} on ${backend}: ${plainMs.toFixed(0)} ms unprofiled, kernels ${totalKernelMs.toFixed(0)} ms in ${info.kernels.length} calls, peak ${(info.peakBytes / 2 ** 20).toFixed(0)} MiB`);
  for (const k of kernels.slice(0, Number(args.top))) {
    console.log(`  ${k.name.padEnd(28)} ${k.ms.toFixed(0).padStart(7)} ms  ${((100 * k.ms) / totalKernelMs).toFixed(1).padStart(5)} %  ${String(k.calls).padStart(5)} calls`);
  }
  const report = { model: args.model, method: args.method, steps, backend, plain_ms: plainMs, profiled_ms: profiledMs, kernel_ms: totalKernelMs, peak_bytes: info.peakBytes, kernels };
  if (args.out) fs.writeFileSync(args.out, JSON.stringify(report, null, 2) + '\n');
  console.log(JSON.stringify({ ...report, kernels: kernels.slice(0, Number(args.top)) }));
  input.dispose();
  model.dispose();
}

main().catch((err: unknown) => {
  console.log(JSON.stringify({ error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
  process.exitCode = 1;
});
