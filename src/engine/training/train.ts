import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data/dataset';
import { CancelledError, InputError } from '../errors';
import { loadModel } from '../model/load';
import type { Model } from '../model/model';
import { trainableArchitecture, type TrainableArchitecture } from '../model/onnx/onnx-model';
import type { HostTensor } from '../model/onnx/tensor-proto';
import { Random } from '../random';

export interface TrainOptions {
  /** Train on the labels randomly permuted across the samples (seeded): the data-randomization test. */
  permuteLabels?: boolean;
  /** Passes over the training samples (default 5). */
  epochs?: number;
  /** Samples per Adam step (default 64). */
  batchSize?: number;
  /** Adam's learning rate (default 1e-3, PyTorch's and Keras' default). */
  learningRate?: number;
  /** Seeds the re-initialisation, the sample subset, the label permutation and the batch order (default 0). */
  seed?: number;
  /** Train on a seeded random subset of this many samples (default: all). */
  maxSamples?: number;
  signal?: AbortSignal;
  onProgress?: (progress: TrainingProgress) => void;
}

/** Reported after every batch. */
export interface TrainingProgress {
  /** 1-based. */
  epoch: number;
  epochs: number;
  /** 1-based within the epoch. */
  batch: number;
  batches: number;
  /** Mean cross-entropy of the epoch's batches so far. */
  loss: number;
  /** Fraction of the epoch's samples so far whose prediction (before the step) matched the training label. */
  accuracy: number;
}

export interface TrainingReport {
  samples: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  permuteLabels: boolean;
  /** Number of trained parameter values. */
  parameters: number;
  /** Per epoch: mean cross-entropy and accuracy over its batches (predictions before each step). */
  epochLoss: number[];
  epochAccuracy: number[];
  /** Cross-entropy of the trained model on the training samples and labels it was trained on. */
  finalLoss: number;
  /** Accuracy of the trained model on the training samples against the labels it was trained on (permuted ones if permuteLabels). */
  trainAccuracy: number;
  /** Accuracy of the trained model on the training samples against their true labels. */
  trueLabelAccuracy: number;
  seconds: number;
}

export interface TrainingResult {
  /** The trained model: an independent engine Model (every attribution method runs on it). Caller disposes. */
  model: Model;
  report: TrainingReport;
}

const DEFAULTS = { epochs: 5, batchSize: 64, learningRate: 1e-3, seed: 0 };

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InputError(`${name} must be a positive whole number, got ${value}`);
  return value;
}

/** Fisher–Yates shuffle in place with the seeded generator. */
function shuffle<T extends { length: number; [i: number]: number }>(a: T, random: Random): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random.uniform() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

/** Mean softmax cross-entropy of logits [n, k] against integer labels. */
function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  const picked = tf.sum(tf.mul(logits, tf.oneHot(labels, logits.shape[1])), 1);
  return tf.mean(tf.sub(tf.logSumExp(logits, 1), picked));
}

/**
 * Trains the architecture of `model` from scratch on `dataset` (PAPERS.md §3, data randomization):
 * every parameter is re-initialised as PyTorch's reset_parameters would (model.withRandomized's
 * initialisation, for all layers), then trained with Adam on the mean softmax cross-entropy, in
 * seeded random mini-batches, on the true labels or (permuteLabels) the labels randomly permuted
 * across the samples. Batch norms train as affine maps: scale and shift are learned, the running
 * mean and variance stay at their reset values 0 and 1 and batch statistics are never used (the
 * engine has no training-mode batch norm), so deep BN networks train less well than in PyTorch.
 * `model` may be a loaded Model (left untouched) or a model file. Nothing allocated survives the
 * call except the returned model; a fired signal rejects with CancelledError between batches.
 */
export async function trainArchitecture(model: Model | string, dataset: Dataset, options: TrainOptions = {}): Promise<TrainingResult> {
  const epochs = positiveInteger(options.epochs ?? DEFAULTS.epochs, 'epochs');
  const batchSize = positiveInteger(options.batchSize ?? DEFAULTS.batchSize, 'batch size');
  const learningRate = options.learningRate ?? DEFAULTS.learningRate;
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) throw new InputError(`learning rate must be a positive number, got ${learningRate}`);
  const seed = options.seed ?? DEFAULTS.seed;
  const permuteLabels = options.permuteLabels ?? false;
  const samples = Math.min(dataset.count, positiveInteger(options.maxSamples ?? dataset.count, 'maxSamples'));
  const { signal, onProgress } = options;

  const owned = typeof model === 'string' ? await loadModel(model) : undefined;
  const base = owned ?? (model as Model);
  try {
    if (dataset.numClasses > base.numClasses) {
      throw new InputError(`${dataset.source}: ${dataset.numClasses} classes but ${base.path} outputs ${base.numClasses}`);
    }
    const random = new Random((seed ^ 0x5eed7a1) >>> 0);
    const all = Int32Array.from({ length: dataset.count }, (_, i) => i);
    const indices = samples < dataset.count ? shuffle(all, random).slice(0, samples) : all;
    const trueLabels = Int32Array.from(indices, (i) => dataset.labels[i]);
    const labels = permuteLabels ? shuffle(Int32Array.from(trueLabels), random) : trueLabels;
    return await train(base, dataset, { indices, labels, trueLabels, epochs, batchSize, learningRate, seed, permuteLabels, random, signal, onProgress });
  } finally {
    owned?.dispose();
  }
}

interface Plan {
  /** Dataset indices of the training samples. */
  indices: Int32Array;
  /** Training label of each sample (permuted or true), and its true label. */
  labels: Int32Array;
  trueLabels: Int32Array;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  permuteLabels: boolean;
  random: Random;
  signal?: AbortSignal;
  onProgress?: (progress: TrainingProgress) => void;
}

async function train(model: Model, dataset: Dataset, plan: Plan): Promise<TrainingResult> {
  const started = performance.now();
  const { indices, labels, epochs, batchSize } = plan;
  const n = indices.length;
  const batches = Math.ceil(n / batchSize);
  const arch = trainableArchitecture(model, plan.seed);
  const variables = new Map<string, tf.Variable>();
  const optimizer = tf.train.adam(plan.learningRate);
  try {
    for (const [name, host] of arch.parameters) {
      variables.set(name, tf.tidy(() => tf.variable(tf.tensor(host.values as Float32Array, host.shape, 'float32'))));
    }
    const varList = [...variables.values()];
    const epochLoss: number[] = [];
    const epochAccuracy: number[] = [];
    const order = Int32Array.from({ length: n }, (_, i) => i);
    for (let epoch = 1; epoch <= epochs; epoch++) {
      shuffle(order, plan.random);
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (let b = 0; b < batches; b++) {
        checkSignal(plan.signal);
        const rows = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
        const x = dataset.batch(Array.from(rows, (r) => indices[r]));
        const y = tf.tensor1d(Int32Array.from(rows, (r) => labels[r]), 'int32');
        let hits: tf.Tensor | undefined;
        const cost = optimizer.minimize(
          () => {
            const logits = arch.logits(x, variables);
            hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32')));
            return crossEntropy(logits, y);
          },
          true,
          varList,
        )!;
        const [loss, hit] = await Promise.all([cost.data(), hits!.data()]);
        tf.dispose([x, y, cost, hits!]);
        lossSum += loss[0] * rows.length;
        correct += hit[0];
        seen += rows.length;
        plan.onProgress?.({ epoch, epochs, batch: b + 1, batches, loss: lossSum / seen, accuracy: correct / seen });
        // Lets an abort (or other work) run between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
      epochLoss.push(lossSum / n);
      epochAccuracy.push(correct / n);
    }
    checkSignal(plan.signal);
    const final = await evaluate(arch, variables, dataset, plan, batchSize * 4);
    const trained = new Map<string, HostTensor>();
    for (const [name, v] of variables) trained.set(name, { dtype: 'float32', shape: v.shape, values: (await v.data()) as Float32Array });
    const result = arch.build(trained);
    const parameters = varList.reduce((s, v) => s + v.size, 0);
    return {
      model: result,
      report: {
        samples: n,
        epochs,
        batchSize,
        learningRate: plan.learningRate,
        seed: plan.seed,
        permuteLabels: plan.permuteLabels,
        parameters,
        epochLoss,
        epochAccuracy,
        ...final,
        seconds: (performance.now() - started) / 1000,
      },
    };
  } finally {
    optimizer.dispose();
    variables.forEach((v) => v.dispose());
    arch.dispose();
  }
}

/** Loss and accuracies of the trained parameters on the training samples. */
async function evaluate(
  arch: TrainableArchitecture,
  params: ReadonlyMap<string, tf.Tensor>,
  dataset: Dataset,
  plan: Plan,
  batchSize: number,
): Promise<{ finalLoss: number; trainAccuracy: number; trueLabelAccuracy: number }> {
  const { indices, labels, trueLabels } = plan;
  let loss = 0;
  let hits = 0;
  let trueHits = 0;
  for (let start = 0; start < indices.length; start += batchSize) {
    checkSignal(plan.signal);
    const end = Math.min(indices.length, start + batchSize);
    const [l, predicted] = tf.tidy(() => {
      const logits = arch.logits(dataset.batch(indices.subarray(start, end)), params);
      return [crossEntropy(logits, tf.tensor1d(labels.subarray(start, end), 'int32')), tf.argMax(logits, 1)];
    });
    const [lv, pv] = await Promise.all([l.data(), predicted.data()]);
    tf.dispose([l, predicted]);
    loss += lv[0] * (end - start);
    for (let k = 0; k < end - start; k++) {
      if (pv[k] === labels[start + k]) hits++;
      if (pv[k] === trueLabels[start + k]) trueHits++;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const n = indices.length;
  return { finalLoss: loss / n, trainAccuracy: hits / n, trueLabelAccuracy: trueHits / n };
}
