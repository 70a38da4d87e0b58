import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { readSidecar } from '../../src/engine/data/sidecar';
import { InputError } from '../../src/engine/errors';

let dir: string;
let model: string;
let sidecar: string;

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lens-sidecar-'));
  mkdirSync(path.join(dir, 'data', 'samples'), { recursive: true });
  writeFileSync(path.join(dir, 'labels.txt'), 'zero\r\none\r\ntwo words \n\n');
  writeFileSync(path.join(dir, 'empty.txt'), '\n');
  model = path.join(dir, 'net.onnx');
  sidecar = `${model}.lens.json`;
});

after(() => rmSync(dir, { recursive: true, force: true }));

function write(config: unknown): void {
  writeFileSync(sidecar, typeof config === 'string' ? config : JSON.stringify(config));
}

test('no sidecar: undefined', async () => {
  assert.equal(await readSidecar(path.join(dir, 'other.onnx')), undefined);
});

test('a full, valid sidecar', async () => {
  write({
    input: { size: [28, 32], channels: 3, layout: 'NHWC', scale: 0.5, mean: [0.1, 0.2, 0.3], std: [1, 2, 3] },
    labels: ['cat', 'dog'],
    samples: 'data/samples',
  });
  assert.deepEqual(await readSidecar(model), {
    file: sidecar,
    input: { size: [28, 32], channels: 3, layout: 'NHWC', scale: 0.5, mean: [0.1, 0.2, 0.3], std: [1, 2, 3] },
    labels: ['cat', 'dog'],
    samples: path.join(dir, 'data', 'samples'),
  });
});

test('empty object and partial input are valid', async () => {
  write({});
  assert.deepEqual(await readSidecar(model), { file: sidecar });
  write({ input: { channels: 1 } });
  assert.deepEqual(await readSidecar(model), { file: sidecar, input: { channels: 1 } });
});

test('labels from a file relative to the sidecar, one per line', async () => {
  write({ labels: 'labels.txt' });
  assert.deepEqual((await readSidecar(model))?.labels, ['zero', 'one', 'two words']);
});

test('scale may be written as a fraction string', async () => {
  write({ input: { scale: '1/255' } });
  assert.equal((await readSidecar(model))?.input?.scale, 1 / 255);
});

test('mean and std without channels: 1 or 3 values, equal lengths', async () => {
  write({ input: { mean: [0.5], std: [0.25] } });
  assert.deepEqual((await readSidecar(model))?.input, { mean: [0.5], std: [0.25] });
});

async function rejects(config: unknown, pattern: RegExp): Promise<void> {
  write(config);
  await assert.rejects(readSidecar(model), (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${e}`);
    assert.ok(e.message.startsWith(`${sidecar}: `), e.message);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  }, `${JSON.stringify(config)} should fail with ${pattern}`);
}

test('malformed JSON and non-object tops', async () => {
  await rejects('{ "input": { "scale": 1/255 } }', /invalid JSON/);
  await rejects([1, 2], /expected a JSON object, got \[1,2\]/);
  await rejects(null, /expected a JSON object, got null/);
});

test('unknown fields are named (typos)', async () => {
  await rejects({ label: ['a'] }, /unknown field 'label'; expected input, labels, samples/);
  await rejects({ input: { chanels: 3, sise: [1, 1] } }, /unknown fields 'input\.chanels', 'input\.sise'/);
  await rejects({ input: 'NCHW' }, /input must be an object, got "NCHW"/);
});

test('invalid input fields', async () => {
  await rejects({ input: { size: [28] } }, /input\.size must be \[height, width\]/);
  await rejects({ input: { size: [28, 0] } }, /input\.size must be \[height, width\] in positive whole pixels, got \[28,0\]/);
  await rejects({ input: { size: [28, 2.5] } }, /input\.size/);
  await rejects({ input: { size: '28x28' } }, /input\.size/);
  await rejects({ input: { channels: 2 } }, /input\.channels must be 1 or 3, got 2/);
  await rejects({ input: { channels: '3' } }, /input\.channels must be 1 or 3, got "3"/);
  await rejects({ input: { layout: 'NWHC' } }, /input\.layout must be "NCHW" or "NHWC", got "NWHC"/);
  await rejects({ input: { scale: 0 } }, /input\.scale must be a positive number/);
  await rejects({ input: { scale: -1 } }, /input\.scale/);
  await rejects({ input: { scale: '1 over 255' } }, /input\.scale .* got "1 over 255"/);
  await rejects({ input: { mean: [0.5, 'a', 0.5] } }, /input\.mean must be a list of numbers/);
  await rejects({ input: { mean: 0.5 } }, /input\.mean must be a list of numbers, got 0\.5/);
  await rejects({ input: { std: [1, 0, 1] } }, /input\.std must be a list of positive numbers, got \[1,0,1\]/);
  await rejects({ input: { std: [-1] } }, /input\.std must be a list of positive numbers/);
});

test('mean and std lengths must match the channels', async () => {
  await rejects({ input: { channels: 3, mean: [0.5] } }, /input\.mean has 1 value but input\.channels is 3/);
  await rejects({ input: { channels: 1, std: [1, 1, 1] } }, /input\.std has 3 values but input\.channels is 1/);
  await rejects({ input: { mean: [0.5, 0.5] } }, /input\.mean must have 1 or 3 values \(one per channel\), got 2/);
  await rejects({ input: { mean: [0.1, 0.2, 0.3], std: [1] } }, /input\.mean has 3 values but input\.std has 1 value/);
});

test('invalid labels', async () => {
  await rejects({ labels: [] }, /labels must be a non-empty list of strings/);
  await rejects({ labels: ['a', 2] }, /labels must be a non-empty list of strings .* got \["a",2\]/);
  await rejects({ labels: 10 }, /labels must be a list of strings or the path of a labels file, got 10/);
  await rejects({ labels: 'missing.txt' }, /labels file 'missing\.txt' not found/);
  await rejects({ labels: 'data' }, /labels file 'data' is a folder/);
  await rejects({ labels: 'empty.txt' }, /labels file 'empty\.txt' is empty/);
});

test('invalid samples', async () => {
  await rejects({ samples: 'data/missing' }, /samples folder 'data\/missing' not found/);
  await rejects({ samples: 'labels.txt' }, /samples 'labels\.txt' is not a folder/);
  await rejects({ samples: ['data'] }, /samples must be the path of a folder, got \["data"\]/);
});
