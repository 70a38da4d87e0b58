import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend';
import { loadModel } from '../src/engine/model/load';
import { loadInput } from '../src/engine/data/input';
import { attribute } from '../src/engine/attribution/registry';
import { batchSizeFor } from '../src/engine/attribution/batching';
async function main(): Promise<void> {
  console.log(await initBackend('auto'));
  const model = await loadModel('bench/out/resnet18.onnx');
  const input = await loadInput('bench/out/resnet18_input.npy', model);
  const t = tf.tidy(() => tf.argMax(model.logits(input), 1).dataSync()[0]);
  console.log('target', t, model.activationBytesPerSample / 1e6, 'MB', batchSizeFor(model, 'backward', {}, 50));
  for (const m of ['saliency', 'integrated_gradients']) {
    const s = performance.now();
    const r = await attribute(m, { model, input, target: t }, m === 'saliency' ? {} : { steps: 50 });
    console.log(m, performance.now() - s, r.delta);
    r.attribution.dispose();
  }
  console.log(process.resourceUsage().maxRSS / 1024, 'MiB');
}
void main();
