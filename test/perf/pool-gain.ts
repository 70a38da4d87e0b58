/**
 * Wall time of attribution workloads serial vs on an EnginePool (src/engine/parallel), on one
 * backend: `node --import tsx test/perf/pool-gain.ts [model] [input] [workers] [repeats]`.
 * Prints one JSON line per workload: medians of `repeats` runs after a warm-up (which also pays the
 * workers' startup and model load, reported separately).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'node:os';
import * as path from 'node:path';
import { attribute } from '../../src/engine/attribution/registry';
import type { MethodOptions } from '../../src/engine/attribution/method';
import { initBackend } from '../../src/engine/backend';
import { loadInput } from '../../src/engine/data/input';
import { loadModel } from '../../src/engine/model/load';
import { registerModelSource } from '../../src/engine/parallel/model-source';
import { EnginePool } from '../../src/engine/parallel/pool';

const REPO = path.resolve(__dirname, '..', '..');
const modelFile = process.argv[2] ?? path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx');
const inputFile = process.argv[3] ?? path.join(REPO, 'examples', 'mnist', 'samples', 'digit_7.png');
const workers = Number(process.argv[4] ?? 2);
const repeats = Number(process.argv[5] ?? 5);
const workloads: [string, string, MethodOptions][] = JSON.parse(
  process.env.WORKLOADS ??
    JSON.stringify([
      ['IG-50', 'integrated_gradients', { steps: 50 }],
      ['SmoothGrad-25', 'saliency', { noise: 'smoothgrad', samples: 25 }],
      ['occlusion 4x4/2', 'occlusion', { window: [4, 4], stride: [2, 2] }],
    ]),
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const backend = await initBackend((process.env.BACKEND as 'wasm') ?? 'wasm');
  const model = registerModelSource(await loadModel(modelFile), modelFile);
  const input = await loadInput(inputFile, model);
  const target = tf.tidy(() => tf.argMax(model.logits(input), 1).dataSync()[0]);
  let t = performance.now();
  const pool = new EnginePool({ size: workers });
  await pool.start();
  const startMs = performance.now() - t;
  const time = async (id: string, options: MethodOptions, p: EnginePool | null) => {
    const s = performance.now();
    const r = await attribute(id, { model, input, target, pool: p }, options);
    await r.attribution.data();
    r.attribution.dispose();
    return performance.now() - s;
  };
  for (const [name, id, options] of workloads) {
    t = performance.now();
    await time(id, options, pool); // warm-up: loads the model in the workers
    const firstPoolMs = performance.now() - t;
    await time(id, options, null);
    const serial: number[] = [];
    const pooled: number[] = [];
    const busyBefore = pool.busyMsPerWorker.reduce((a, b) => a + b, 0);
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < repeats; i++) {
      serial.push(await time(id, options, null));
      pooled.push(await time(id, options, pool));
    }
    const workerBusyMs = (pool.busyMsPerWorker.reduce((a, b) => a + b, 0) - busyBefore) / repeats;
    const cpu = process.cpuUsage(cpuBefore);
    const s = median(serial);
    const p = median(pooled);
    console.log(JSON.stringify({ model: path.basename(modelFile), backend, workload: name, workers, serialMs: +s.toFixed(1), poolMs: +p.toFixed(1), speedup: +(s / p).toFixed(2), poolStartMs: Math.round(startMs), firstPoolRunMs: Math.round(firstPoolMs), workerBusyMsPerRun: Math.round(workerBusyMs), mainCpuMsAll: Math.round((cpu.user + cpu.system) / 1000), load: os.loadavg()[0].toFixed(1) }));
  }
  input.dispose();
  model.dispose();
  await pool.dispose();
}

void main();
