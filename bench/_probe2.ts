import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend';
import { loadModel } from '../src/engine/model/load';
import { loadInput } from '../src/engine/data/input';
import { attribute } from '../src/engine/attribution/registry';
async function main(): Promise<void> {
  await initBackend('auto');
  const bs = Number(process.argv[2]);
  const model = await loadModel('bench/out/resnet18.onnx');
  const input = await loadInput('bench/out/resnet18_input.npy', model);
  const t = tf.tidy(() => tf.argMax(model.logits(input), 1).dataSync()[0]);
  for (let k = 0; k < 2; k++) {
    const s = performance.now();
    const r = await attribute('integrated_gradients', { model, input, target: t }, { steps: 50, batchSize: bs });
    console.log(bs, performance.now() - s, r.delta, tf.memory().numBytes/1e6);
    r.attribution.dispose();
  }
  console.log(process.resourceUsage().maxRSS / 1024, 'MiB');
}
main().catch((e) => { console.error(String(e)); process.exit(1); });
