import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { symmetricEigen, tangentStrip } from '../../src/engine/manifold/tangent-strip';
import { Vae, type Autoencoder, type VaeConfig } from '../../src/engine/manifold/vae';
import type { InputSpec } from '../../src/engine/model/model';
import { TEST_BACKENDS } from './helpers/fixtures';
import { expectTensorDelta } from './helpers/toy-models';

/** A one-channel h×w input, NCHW, preprocessed as x = (pixel/255 − 0.5) / 0.25. */
function spec(height: number, width: number): InputSpec {
  return {
    name: 'input',
    shape: [1, height, width],
    layout: 'NCHW',
    channels: 1,
    height,
    width,
    preprocessing: { scale: 1 / 255, mean: [0.5], std: [0.25] },
  };
}

/** Pixels in [0, 1] → the model's input (the preprocessing written out by hand). */
const toModel = (q: number[]) => q.map((v) => (v - 0.5) / 0.25);
/** What the model sees of pixel value p ∈ [0, 1], as an 8-bit grey level. */
const byte = (p: number) => Math.min(255, Math.max(0, Math.round(255 * p)));

/**
 * Dec(z) = A z + b with A = U diag(S) Vᵀ built from known factors, Enc_μ(x) = R x: the decoder's
 * Jacobian is A everywhere, so its singular values are S and its right singular vectors V's columns.
 */
class KnownSvdAutoencoder implements Autoencoder {
  readonly latentDim: number;
  readonly dataSize: number;
  private readonly at: tf.Tensor2D;
  private readonly bias: tf.Tensor1D;
  private readonly r: tf.Tensor2D;
  constructor(
    readonly u: number[][],
    readonly s: number[],
    readonly v: number[][],
    readonly b: number,
    readonly rows: number[][],
  ) {
    this.latentDim = s.length;
    this.dataSize = u[0].length;
    const k = this.latentDim;
    const d = this.dataSize;
    // Aᵀ[j][p] = Σ_i V[j][i] S_i U_i[p]
    const at = Array.from({ length: k }, (_, j) => Array.from({ length: d }, (_, p) => s.reduce((sum, si, i) => sum + v[j][i] * si * u[i][p], 0)));
    this.at = tf.tensor2d(at);
    this.bias = tf.fill([d], b) as tf.Tensor1D;
    this.r = tf.tensor2d(rows);
  }
  encodeMean(x: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(x, this.r);
  }
  decodeMean(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(z, this.at), this.bias));
  }
  dispose(): void {
    tf.dispose([this.at, this.bias, this.r]);
  }
}

/** The 4×4 rotation G(0,1,0.3)·G(1,2,0.7)·G(2,3,−0.4)·G(0,3,1.1): an orthogonal V with no zero entries. */
function rotation(): number[][] {
  let m = Array.from({ length: 4 }, (_, i) => Array.from({ length: 4 }, (_, j): number => (i === j ? 1 : 0)));
  for (const [p, q, angle] of [[0, 1, 0.3], [1, 2, 0.7], [2, 3, -0.4], [0, 3, 1.1]]) {
    const g = Array.from({ length: 4 }, (_, i) => Array.from({ length: 4 }, (_, j): number => (i === j ? 1 : 0)));
    g[p][p] = g[q][q] = Math.cos(angle);
    g[p][q] = -Math.sin(angle);
    g[q][p] = Math.sin(angle);
    m = m.map((row) => g[0].map((_, j) => row.reduce((sum, x, k) => sum + x * g[k][j], 0)));
  }
  return m;
}

describe('symmetricEigen', () => {
  it('finds the eigenvalues of a small symmetric matrix in decreasing order, with unit eigenvectors', () => {
    // [[2, 1, 0], [1, 2, 0], [0, 0, 5]]: eigenvalues 5 (e3), 3 ((e1 + e2)/√2), 1 ((e1 − e2)/√2).
    const { values, vectors } = symmetricEigen([2, 1, 0, 1, 2, 0, 0, 0, 5], 3);
    const expected = [[0, 0, 1], [Math.SQRT1_2, Math.SQRT1_2, 0], [Math.SQRT1_2, -Math.SQRT1_2, 0]];
    values.forEach((v, i) => assert.ok(Math.abs(v - [5, 3, 1][i]) < 1e-12, `λ${i} = ${v}`));
    vectors.forEach((vec, i) => {
      const dot = vec.reduce((s, x, j) => s + x * expected[i][j], 0);
      assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-12, `eigenvector ${i}: ${vec}`);
    });
  });
});

for (const backend of TEST_BACKENDS) {
  describe(`tangentStrip (${backend})`, () => {
    before(async () => {
      await initBackend(backend);
    });

    it('follows the right singular vectors of a known decoder Jacobian, by decreasing singular value', async () => {
      const h = 8;
      const w = 8;
      const d = h * w;
      // U: four unit columns on disjoint 16-pixel bands (entries 1/4); S deliberately unsorted.
      const u = [0, 1, 2, 3].map((i) => Array.from({ length: d }, (_, p) => (Math.floor(p / 16) === i ? 0.25 : 0)));
      const c = 0.05;
      const s = [1, 3, 0.5, 2].map((x) => c * x);
      const v = rotation();
      const rows = Array.from({ length: d }, (_, p) => Array.from({ length: 4 }, (_, j) => 0.01 * Math.sin(p + 3 * j)));
      const ae = new KnownSvdAutoencoder(u, s, v, 0.5, rows);
      const q = Array.from({ length: d }, (_, p) => (p % 7) / 7);
      const input = tf.tensor(toModel(q), [1, 1, h, w]);

      const strip = await expectTensorDelta(0, () => tangentStrip(ae, spec(h, w), input));
      assert.deepEqual(strip.offsets, [-2, -1, 0, 1, 2]);
      assert.equal(strip.directions.length, 3);
      // Largest three of S, in order: 3c, 2c, c — from columns 1, 3, 0 of U and V.
      const order = [1, 3, 0];
      strip.directions.forEach((dir, i) => assert.ok(Math.abs(dir.singularValue - s[order[i]]) < 1e-5, `σ${i} = ${dir.singularValue}`));

      // Hand reference: z = Rᵀq (the encoder on the pixels), Dec(z) = Az + b.
      const z = [0, 1, 2, 3].map((j) => q.reduce((sum, x, p) => sum + x * rows[p][j], 0));
      const dec = (latent: number[]) =>
        Array.from({ length: d }, (_, p) => 0.5 + [0, 1, 2, 3].reduce((sum, j) => sum + latent[j] * s.reduce((t, si, i) => t + v[j][i] * si * u[i][p], 0), 0));
      strip.directions.forEach((dir, i) => {
        const column = v.map((row) => row[order[i]]);
        // The sign convention: the latent component of largest magnitude is positive.
        const largest = column.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0);
        const direction = largest < 0 ? column.map((x) => -x) : column;
        assert.equal(dir.images.length, 5);
        dir.images.forEach((img, o) => {
          const t = strip.offsets[o];
          assert.equal(img.width, w);
          assert.equal(img.height, h);
          const expected = dec(z.map((zj, j) => zj + t * direction[j]));
          for (let p = 0; p < d; p++) {
            for (let k = 0; k < 3; k++) assert.ok(Math.abs(img.rgba[4 * p + k] - byte(expected[p])) <= 1, `direction ${i}, offset ${t}, pixel ${p}`);
            assert.equal(img.rgba[4 * p + 3], 255);
          }
        });
        // Along direction i only U's band order[i] changes: Dec(z ± t v) − Dec(z) = ±t σ u (± the sign convention's).
        const sign = direction[0] / column[0];
        const far = dir.images[4].rgba;
        const mid = dir.images[2].rgba;
        for (let p = 0; p < d; p++) {
          const change = far[4 * p] - mid[4 * p];
          const inBand = Math.floor(p / 16) === order[i];
          assert.ok(Math.abs(change - (inBand ? sign * 255 * 2 * s[order[i]] * 0.25 : 0)) <= 1.5, `direction ${i}, pixel ${p}: ${change}`);
        }
      });
      input.dispose();
      ae.dispose();
    });

    it("the middle image (offset 0) is the VAE's reconstruction of the input; no tensor leaked", async () => {
      const config: VaeConfig = { height: 8, width: 8, channels: 1, latent: 4, hidden: [4, 8], likelihood: 'bernoulli', sigma: 0.1, seed: 3 };
      const vae = new Vae(config);
      const q = Array.from({ length: 64 }, (_, p) => ((p * 37) % 64) / 63);
      const input = tf.tensor(toModel(q), [1, 1, 8, 8]);
      const strip = await expectTensorDelta(0, () => tangentStrip(vae, spec(8, 8), input, { directions: 4, offsets: [-1, 0, 1] }));
      // Independently: Dec(μ(q)) through the VAE itself.
      const recon = tf.tidy(() => vae.decodeMean(vae.encodeMean(tf.tensor2d(q, [1, 64]))));
      const expected = Array.from(await recon.data(), byte);
      recon.dispose();
      assert.equal(strip.directions.length, 4);
      for (const dir of strip.directions) {
        const middle = dir.images[1].rgba;
        for (let p = 0; p < 64; p++) assert.ok(Math.abs(middle[4 * p] - expected[p]) <= 1, `pixel ${p}: ${middle[4 * p]} vs ${expected[p]}`);
      }
      const sigmas = strip.directions.map((x) => x.singularValue);
      assert.ok(sigmas.every((x, i) => x > 0 && (i === 0 || x <= sigmas[i - 1])), `decreasing: ${sigmas}`);
      input.dispose();
      vae.dispose();
    });
  });
}
