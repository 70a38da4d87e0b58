/**
 * Runs nsfwjs itself (with @tensorflow/tfjs, its peer dependency, on the cpu backend) on raw RGB
 * pixels and prints its class probabilities as JSON: the reference the engine's predictions are
 * compared with. Run in a child process so that tfjs's own registrations stay out of the tests.
 *
 *   node --import tsx test/unit/helpers/nsfwjs-classify.ts MobileNetV2 pixels.bin 224 cpu|wasm
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as nsfwjs from 'nsfwjs';

async function main(): Promise<void> {
  const [name, pixelsFile, sizeText, backend] = process.argv.slice(2);
  const size = Number(sizeText);
  if (backend === 'wasm') setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + path.sep);
  await tf.setBackend(backend);
  const console_ = console.info;
  console.info = () => {}; // nsfwjs announces the model it uses
  const model = await nsfwjs.load(name as 'MobileNetV2', name === 'InceptionV3' ? { size } : undefined);
  console.info = console_;
  const pixels = new Uint8Array(fs.readFileSync(pixelsFile));
  const image = tf.tensor3d(pixels, [size, size, 3], 'int32');
  const probabilities = model.infer(image as tf.Tensor3D);
  process.stdout.write(JSON.stringify(Array.from(await probabilities.data())));
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
