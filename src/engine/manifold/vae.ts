import * as tf from '@tensorflow/tfjs-core';
import { checkpoint } from '../attribution/common';
import { InputError } from '../errors';
import { dilateSpatial } from '../kernels/spatial';
import { trainableConv2d } from '../kernels/trainable-conv2d';
import { Random } from '../random';

/**
 * A small convolutional VAE (PAPERS.md §4) whose decoder Jacobian at the encoder mean spans the
 * estimated tangent space of the data manifold. Built from tfjs-core ops and tf.Variables only;
 * its convolutions are trainableConv2d, so it trains on every backend (wasm included).
 *
 * Data space: flat NHWC vectors of length d = height·width·channels, pixels scaled to [0, 1]
 * (pixel / 255). Mapping a model's preprocessed input to this space is model-space.ts's job.
 *
 *   encoder  x → conv 4×4/2 (c1) → ELU → conv 4×4/2 (c2) → ELU → dense → (μ, log σ²) ∈ R^k × R^k
 *   decoder  z → dense → ELU → [H/4, W/4, c2] → deconv 4×4/2 (c1) → ELU → deconv 4×4/2 (C) → mean
 *
 * The decoder mean is sigmoid(output) for the Bernoulli likelihood, the output itself for the
 * Gaussian one (fixed σ = config.sigma).
 */
export interface VaeConfig {
  height: number;
  width: number;
  channels: number;
  /** Latent dimension k (the tangent space's dimension). */
  latent: number;
  /** Channels of the first and second convolution (the decoder mirrors them). */
  hidden: [number, number];
  likelihood: 'bernoulli' | 'gaussian';
  /** Gaussian likelihood: the decoder's fixed standard deviation. */
  sigma: number;
  /** Seed of the weight initialisation. */
  seed: number;
}

export const DEFAULT_VAE_CONFIG: Omit<VaeConfig, 'height' | 'width' | 'channels'> = {
  latent: 12,
  hidden: [16, 32],
  likelihood: 'bernoulli',
  sigma: 0.1,
  seed: 0,
};

export interface TrainSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Seed of the shuffling and of the reparameterisation noise. */
  seed: number;
}

export const DEFAULT_TRAIN_SETTINGS: TrainSettings = { epochs: 5, batchSize: 64, learningRate: 2e-3, seed: 0 };

export interface TrainOptions extends Partial<TrainSettings> {
  /** Steps (minibatches) done out of the total. */
  onProgress?: (done: number, total: number) => void;
  /** After each epoch: its index (0-based) and the mean negative ELBO per sample over it. */
  onEpoch?: (epoch: number, loss: number) => void;
  /** Checked before every step: a fired signal rejects with CancelledError (weights keep the steps done). */
  signal?: AbortSignal;
}

export interface TrainReport {
  /** Mean negative ELBO per sample (nats), one per epoch. */
  epochLosses: number[];
  steps: number;
  seconds: number;
}

/** What the tangent space needs from an autoencoder: flat vectors in, flat vectors out. */
export interface Autoencoder {
  readonly latentDim: number;
  readonly dataSize: number;
  /** Encoder mean μ(x) for x [N, d]: [N, k]. */
  encodeMean(x: tf.Tensor2D): tf.Tensor2D;
  /** Decoder mean for z [N, k]: [N, d]. Differentiable w.r.t. z. */
  decodeMean(z: tf.Tensor2D): tf.Tensor2D;
}

const STRIDE: [number, number] = [2, 2];
/** 4×4 kernel, stride 2, padding 1: halves H and W; the transposed one doubles them. */
const DOWN_PADS: [[number, number], [number, number]] = [[1, 1], [1, 1]];
/** Transposed convolution as a stride-1 convolution of the dilated input padded by kernel − 1 − pad = 2. */
const UP_PADS: [[number, number], [number, number]] = [[2, 2], [2, 2]];

/** Parameter names and shapes for a config, in a fixed order (the cache's order). */
export function parameterShapes(config: VaeConfig): [string, number[]][] {
  const { height: h, width: w, channels: c, latent: k, hidden: [c1, c2] } = config;
  const flat = (h / 4) * (w / 4) * c2;
  return [
    ['enc.conv1.w', [4, 4, c, c1]],
    ['enc.conv1.b', [c1]],
    ['enc.conv2.w', [4, 4, c1, c2]],
    ['enc.conv2.b', [c2]],
    ['enc.mu.w', [flat, k]],
    ['enc.mu.b', [k]],
    ['enc.logvar.w', [flat, k]],
    ['enc.logvar.b', [k]],
    ['dec.fc.w', [k, flat]],
    ['dec.fc.b', [flat]],
    ['dec.deconv1.w', [4, 4, c2, c1]],
    ['dec.deconv1.b', [c1]],
    ['dec.deconv2.w', [4, 4, c1, c]],
    ['dec.deconv2.b', [c]],
  ];
}

function fanIn(shape: number[]): number {
  return shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
}

/** Seeded initialisation in plain JS (identical on every backend): He-normal weights, zero biases, small log σ² weights. */
function initialWeights(config: VaeConfig): Map<string, Float32Array> {
  const rng = new Random(config.seed);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of parameterShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (name.endsWith('.w')) {
      const gain = name === 'enc.logvar.w' ? 0.1 : 1;
      const std = gain * Math.sqrt(2 / fanIn(shape));
      for (let i = 0; i < size; i++) values[i] = std * rng.normal();
    }
    out.set(name, values);
  }
  return out;
}

export function validateVaeConfig(config: VaeConfig): void {
  const ints: [string, number][] = [
    ['height', config.height],
    ['width', config.width],
    ['channels', config.channels],
    ['latent', config.latent],
    ['hidden[0]', config.hidden[0]],
    ['hidden[1]', config.hidden[1]],
  ];
  for (const [name, v] of ints) {
    if (!Number.isInteger(v) || v <= 0) throw new InputError(`VAE ${name} must be a positive integer, got ${v}`);
  }
  if (config.height % 4 !== 0 || config.width % 4 !== 0) {
    throw new InputError(`the VAE needs height and width divisible by 4, got ${config.height}×${config.width}`);
  }
  if (config.likelihood !== 'bernoulli' && config.likelihood !== 'gaussian') {
    throw new InputError(`VAE likelihood must be 'bernoulli' or 'gaussian', got '${String(config.likelihood)}'`);
  }
  if (!(config.sigma > 0)) throw new InputError(`VAE sigma must be positive, got ${config.sigma}`);
}

export class Vae implements Autoencoder {
  readonly config: VaeConfig;
  readonly latentDim: number;
  readonly dataSize: number;
  private readonly params = new Map<string, tf.Variable>();

  /** A VAE with seeded initial weights, or with the given ones (by name, as parameterShapes lists them). */
  constructor(config: VaeConfig, weights?: Map<string, Float32Array>) {
    validateVaeConfig(config);
    this.config = config;
    this.latentDim = config.latent;
    this.dataSize = config.height * config.width * config.channels;
    const values = weights ?? initialWeights(config);
    for (const [name, shape] of parameterShapes(config)) {
      const v = values.get(name);
      const size = shape.reduce((a, b) => a * b, 1);
      if (!v || v.length !== size) throw new InputError(`VAE weight '${name}' missing or not of size ${size}`);
      const initial = tf.tensor(v, shape, 'float32');
      this.params.set(name, tf.variable(initial, true));
      initial.dispose();
    }
  }

  /** The trainable variables, in parameterShapes order. */
  variables(): tf.Variable[] {
    return [...this.params.values()];
  }

  /** A copy of every weight, by name. */
  async weights(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.params) out.set(name, (await v.data()) as Float32Array);
    return out;
  }

  private p(name: string): tf.Tensor {
    return this.params.get(name) as tf.Variable;
  }

  /** (μ, log σ²) for x [N, d]. */
  encode(x: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    const { height: h, width: w, channels: c } = this.config;
    const img = tf.reshape(x, [-1, h, w, c]) as tf.Tensor4D;
    const a1 = tf.elu(tf.add(trainableConv2d(img, this.p('enc.conv1.w') as tf.Tensor4D, STRIDE, DOWN_PADS), this.p('enc.conv1.b'))) as tf.Tensor4D;
    const a2 = tf.elu(tf.add(trainableConv2d(a1, this.p('enc.conv2.w') as tf.Tensor4D, STRIDE, DOWN_PADS), this.p('enc.conv2.b')));
    const flat = tf.reshape(a2, [x.shape[0], -1]) as tf.Tensor2D;
    return {
      mu: tf.add(tf.matMul(flat, this.p('enc.mu.w') as tf.Tensor2D), this.p('enc.mu.b')),
      logvar: tf.add(tf.matMul(flat, this.p('enc.logvar.w') as tf.Tensor2D), this.p('enc.logvar.b')),
    };
  }

  encodeMean(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.encode(x).mu);
  }

  /** Decoder output before the likelihood's link, [N, d] (Bernoulli: logits; Gaussian: the mean). */
  decodeRaw(z: tf.Tensor2D): tf.Tensor2D {
    const { height: h, width: w, channels: c, hidden } = this.config;
    const n = z.shape[0];
    const fc = tf.elu(tf.add(tf.matMul(z, this.p('dec.fc.w') as tf.Tensor2D), this.p('dec.fc.b')));
    const img = tf.reshape(fc, [n, h / 4, w / 4, hidden[1]]) as tf.Tensor4D;
    const up1 = trainableConv2d(dilateSpatial(img, STRIDE), this.p('dec.deconv1.w') as tf.Tensor4D, [1, 1], UP_PADS);
    const a1 = tf.elu(tf.add(up1, this.p('dec.deconv1.b'))) as tf.Tensor4D;
    const up2 = trainableConv2d(dilateSpatial(a1, STRIDE), this.p('dec.deconv2.w') as tf.Tensor4D, [1, 1], UP_PADS);
    return tf.reshape(tf.add(up2, this.p('dec.deconv2.b')), [n, h * w * c]);
  }

  decodeMean(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const raw = this.decodeRaw(z);
      return this.config.likelihood === 'bernoulli' ? tf.sigmoid(raw) : raw;
    });
  }

  /**
   * Mean negative ELBO per sample: reconstruction −log p(x|z) at z = μ + σ·eps, plus KL(q(z|x) ‖ N(0, I)).
   * `eps` [N, k] is the reparameterisation noise (zeros: the deterministic reconstruction at μ).
   */
  loss(x: tf.Tensor2D, eps: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => {
      const { mu, logvar } = this.encode(x);
      const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps)) as tf.Tensor2D;
      const raw = this.decodeRaw(z);
      // Bernoulli: −log p = softplus(l) − x·l; Gaussian: ‖x − mean‖² / (2σ²) + d·log(σ√(2π)).
      const rec =
        this.config.likelihood === 'bernoulli'
          ? tf.sum(tf.sub(tf.softplus(raw), tf.mul(x, raw)), 1)
          : tf.add(
              tf.div(tf.sum(tf.square(tf.sub(x, raw)), 1), 2 * this.config.sigma ** 2),
              this.dataSize * Math.log(this.config.sigma * Math.sqrt(2 * Math.PI)),
            );
      const kl = tf.mul(-0.5, tf.sum(tf.sub(tf.add(1, logvar), tf.add(tf.square(mu), tf.exp(logvar))), 1));
      return tf.mean(tf.add(rec, kl)) as tf.Scalar;
    });
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}

/** Adam (Kingma & Ba 2015) on tf.Variables; its moment estimates are variables it disposes. */
class Adam {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private t = 0;

  constructor(
    private readonly vars: tf.Variable[],
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    const zeros = (w: tf.Variable): tf.Variable => {
      const z = tf.zerosLike(w);
      const variable = tf.variable(z, false);
      z.dispose();
      return variable;
    };
    this.m = vars.map(zeros);
    this.v = vars.map(zeros);
  }

  /** One step with the gradients in `vars` order. Call inside tf.tidy. */
  step(grads: tf.Tensor[]): void {
    this.t += 1;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    this.vars.forEach((w, i) => {
      const g = grads[i];
      const m = tf.add(tf.mul(this.m[i], this.beta1), tf.mul(g, 1 - this.beta1));
      const v = tf.add(tf.mul(this.v[i], this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
      this.m[i].assign(m);
      this.v[i].assign(v);
      const update = tf.div(tf.mul(m, this.lr / c1), tf.add(tf.sqrt(tf.div(v, c2)), this.eps));
      w.assign(tf.sub(w, update));
    });
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

/**
 * Trains `vae` on `data` (n flat samples of vae.dataSize values in [0, 1] for the Bernoulli
 * likelihood) with Adam on the negative ELBO. Shuffling and reparameterisation noise come from
 * a seeded JS generator, so a run is reproducible; the last minibatch of an epoch may be smaller.
 */
export async function trainVae(vae: Vae, data: Float32Array, options: TrainOptions = {}): Promise<TrainReport> {
  const settings = trainSettings(options);
  const d = vae.dataSize;
  if (data.length === 0 || data.length % d !== 0) {
    throw new InputError(`VAE training data has ${data.length} values, not a positive multiple of d = ${d}`);
  }
  const n = data.length / d;
  const k = vae.latentDim;
  const rng = new Random(settings.seed);
  const stepsPerEpoch = Math.ceil(n / settings.batchSize);
  const total = stepsPerEpoch * settings.epochs;
  const adam = new Adam(vae.variables(), settings.learningRate);
  const order = Array.from({ length: n }, (_, i) => i);
  const epochLosses: number[] = [];
  const started = performance.now();
  let done = 0;
  options.onProgress?.(0, total);
  try {
    for (let epoch = 0; epoch < settings.epochs; epoch++) {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng.uniform() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      let sum = 0;
      for (let start = 0; start < n; start += settings.batchSize) {
        await checkpoint(options.signal);
        const m = Math.min(settings.batchSize, n - start);
        const xb = new Float32Array(m * d);
        for (let r = 0; r < m; r++) xb.set(data.subarray(order[start + r] * d, (order[start + r] + 1) * d), r * d);
        const eb = new Float32Array(m * k);
        for (let r = 0; r < eb.length; r++) eb[r] = rng.normal();
        const lossValue = tf.tidy(() => {
          const x = tf.tensor2d(xb, [m, d]);
          const eps = tf.tensor2d(eb, [m, k]);
          const { value, grads } = tf.variableGrads(() => vae.loss(x, eps), vae.variables());
          adam.step(vae.variables().map((v) => grads[v.name]));
          return value;
        });
        const value = (await lossValue.data())[0];
        lossValue.dispose();
        if (!Number.isFinite(value)) throw new Error(`VAE training diverged at epoch ${epoch + 1} (loss ${value})`);
        sum += value * m;
        done += 1;
        options.onProgress?.(done, total);
      }
      epochLosses.push(sum / n);
      options.onEpoch?.(epoch, sum / n);
    }
  } finally {
    adam.dispose();
  }
  return { epochLosses, steps: done, seconds: (performance.now() - started) / 1000 };
}

/** Training settings from options, defaults filled in and validated. */
export function trainSettings(options: Partial<TrainSettings>): TrainSettings {
  const s: TrainSettings = {
    epochs: options.epochs ?? DEFAULT_TRAIN_SETTINGS.epochs,
    batchSize: options.batchSize ?? DEFAULT_TRAIN_SETTINGS.batchSize,
    learningRate: options.learningRate ?? DEFAULT_TRAIN_SETTINGS.learningRate,
    seed: options.seed ?? DEFAULT_TRAIN_SETTINGS.seed,
  };
  for (const key of ['epochs', 'batchSize'] as const) {
    if (!Number.isInteger(s[key]) || s[key] <= 0) throw new InputError(`VAE ${key} must be a positive integer, got ${s[key]}`);
  }
  if (!(s.learningRate > 0)) throw new InputError(`VAE learningRate must be positive, got ${s.learningRate}`);
  if (!Number.isInteger(s.seed)) throw new InputError(`VAE seed must be an integer, got ${s.seed}`);
  return s;
}
