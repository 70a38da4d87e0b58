import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { evaluateTargets, inputGradients } from '../../src/engine/attribution/passes';
import { initBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/load';
import { GRADIENT_OUTPUT, gradientProgram, SEED_INPUT, UnsupportedForGradient, type ProgramSource } from '../../src/engine/model/onnx/gradient-program';
import { defaultOpset, OnnxGraph } from '../../src/engine/model/onnx/graph';
import { decodeModelProto, encodeModelProto } from '../../src/engine/model/onnx/proto';
import { setNativeRuntime } from '../../src/engine/native/runtime';
import { FIXTURES, npyTensor, relativeL2 } from './helpers/fixtures';
import { closeToReference, OP_CASES, OPS_DIR, type OpCase } from './helpers/op-cases';

/**
 * The gradient programs run by ONNX Runtime (src/engine/model/onnx/gradient-program.ts) against
 * references computed by PyTorch autograd in float64: the vector–Jacobian products of the
 * one-operator cases (test/fixtures/make_op_cases.py) and the attributions of the exported
 * reference models (test/fixtures/make_models.py).
 */

const REFERENCE = path.join(FIXTURES, 'reference');
const cases = OP_CASES.filter((c) => c.grad);

/** Operators the gradient program has an adjoint for: each must be checked by at least one case. */
const DIFFERENTIATED = [
  'Add', 'AveragePool', 'BatchNormalization', 'Cast', 'Clip', 'Concat', 'Conv', 'ConvTranspose', 'Div', 'Dropout', 'Elu',
  'Flatten', 'Gather', 'Gemm', 'GlobalAveragePool', 'HardSigmoid', 'HardSwish', 'Identity', 'LeakyRelu', 'MatMul', 'MaxPool', 'Mul',
  'Pad', 'ReduceMean', 'Relu', 'Reshape', 'Sigmoid', 'Slice', 'Softmax', 'Squeeze', 'Sub', 'Tanh', 'Transpose', 'Unsqueeze',
];

function opCaseSource(c: OpCase): ProgramSource {
  const file = path.join(OPS_DIR, c.model);
  const proto = decodeModelProto(fs.readFileSync(file), c.model);
  const graph = new OnnxGraph(proto, file, defaultOpset(proto)!);
  const shapes = new Map<string, number[]>();
  tf.tidy(() => {
    const feeds = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, tf.tensor(v.data, v.shape, 'float32')]));
    for (const [name, t] of graph.executeAll(feeds)) shapes.set(name, t.shape);
  });
  const constants = new Map(graph.nodes.flatMap((n) => n.inputs).filter((i) => graph.isConstant(i)).map((i) => [i, graph.constantValue(i)!]));
  graph.dispose();
  return {
    proto,
    modelDir: OPS_DIR,
    file: c.model,
    opset: defaultOpset(proto)!,
    nodes: graph.nodes,
    constant: (name) => constants.get(name),
    overrides: new Map(),
    inputName: c.grad!.wrt,
    outputName: Object.keys(c.outputs)[0],
    shapes,
  };
}

describe('gradient programs of single operators on ONNX Runtime', () => {
  const checked = new Set<string>();
  const refused: string[] = [];

  before(async () => {
    await initBackend('cpu');
  });

  for (const c of cases) {
    it(`${c.name} (${c.op}, opset ${c.opset}): PyTorch's vector-Jacobian product, or a named refusal`, async () => {
      const src = opCaseSource(c);
      let bytes: Uint8Array;
      try {
        bytes = encodeModelProto(gradientProgram(src));
      } catch (err) {
        assert.ok(err instanceof UnsupportedForGradient, String(err));
        assert.match(err.message, /node '.*' \(\w+\)|opset|input/);
        refused.push(`${c.name}: ${err.message}`);
        return;
      }
      const session = await ort.InferenceSession.create(bytes);
      try {
        const { cotangent, value } = c.grad!;
        const feeds: Record<string, ort.Tensor> = {};
        for (const [name, v] of Object.entries(c.inputs)) feeds[name] = new ort.Tensor('float32', Float32Array.from(v.data), v.shape);
        const n = cotangent.shape[0] ?? 1;
        feeds[SEED_INPUT] = new ort.Tensor('float32', Float32Array.from(cotangent.data), [n, cotangent.data.length / n]);
        const result = await session.run(feeds);
        const g = result[GRADIENT_OUTPUT];
        assert.deepEqual([...g.dims], value.shape);
        assert.ok(closeToReference(g.data as Float32Array, value.data), `relative L2 ${relativeL2(g.data as Float32Array, value.data)}`);
        checked.add(c.op);
      } finally {
        await session.release();
      }
    });
  }

  it('checked every adjoint of the program against PyTorch (runs after the cases)', () => {
    // Refusals are the batch-axis, broadcast and non-constant-padding cases left to TensorFlow.js.
    const unchecked = DIFFERENTIATED.filter((op) => !checked.has(op));
    assert.deepEqual(unchecked, [], `refused: ${refused.join('; ')}`);
  });
});

describe('models on ONNX Runtime against the same models on TensorFlow.js', () => {
  const meta = (name: string) => JSON.parse(fs.readFileSync(path.join(REFERENCE, name, 'meta.json'), 'utf8')) as { model: string; target: number };
  const load = (name: string) => loadModel(path.resolve(REFERENCE, name, meta(name).model));
  /** The reference input and a few perturbed copies of it, flat. */
  const inputs = (name: string, n: number): Float32Array => {
    const x = npyTensor(path.join(REFERENCE, name, 'input.npy'));
    const base = x.dataSync() as Float32Array;
    x.dispose();
    const out = new Float32Array(n * base.length);
    for (let k = 0; k < n; k++) for (let i = 0; i < base.length; i++) out[k * base.length + i] = base[i] * (1 - 0.1 * k) + 0.01 * Math.sin(i + k);
    return out;
  };

  before(async () => {
    await initBackend('wasm');
  });

  it('gives the gradients of a model with re-initialised layers (the sanity checks\' copies)', async () => {
    setNativeRuntime(false);
    const model = await load('digit_cnn');
    const randomized = model.withRandomized(model.randomizableLayers.slice(-2), 7);
    const x = inputs('digit_cnn', 3);
    const ctx = { model: randomized, target: meta('digit_cnn').target, pool: null };
    const before = tf.memory().numTensors;
    const expected = await inputGradients(ctx, x, 3, 3);
    setNativeRuntime(true);
    assert.ok(await randomized.native!()!.gradientReady());
    const actual = await inputGradients(ctx, x, 3, 3);
    const original = await inputGradients({ ...ctx, model }, x, 3, 3);
    assert.equal(tf.memory().numTensors, before);
    assert.ok(relativeL2(actual, expected) < 1e-4, `relative L2 ${relativeL2(actual, expected)}`);
    assert.ok(relativeL2(original, expected) > 0.1, 'the copy differs from the model it came from');
    randomized.dispose();
    model.dispose();
    setNativeRuntime(false);
  });

  for (const name of ['digit_cnn', 'convnet_bn', 'branchy', 'mlp']) {
    it(`${name}: forward passes give the engine's target logits within 1e-4`, async () => {
      const model = await load(name);
      const x = inputs(name, 4);
      const ctx = { model, target: meta(name).target, pool: null };
      setNativeRuntime(false);
      const expected = await evaluateTargets(ctx, x, 4, 4);
      setNativeRuntime(true);
      const before = tf.memory().numTensors;
      const actual = await evaluateTargets(ctx, x, 4, 2);
      assert.equal(tf.memory().numTensors, before);
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-4 * Math.max(1, Math.abs(expected[i])), `${actual[i]} vs ${expected[i]}`);
      model.dispose();
      setNativeRuntime(false);
    });
  }

  it('falls back to TensorFlow.js for a model without a gradient program, with the same result', async () => {
    // Opset 10 (the gradient programs need 11): x [N,1,4,4] -> Relu -> Flatten -> 16 logits.
    const tensor = (name: string, dims: (number | string)[]) => ({
      name,
      type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
    });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lens-native-')), 'opset10.onnx');
    fs.writeFileSync(
      file,
      encodeModelProto({
        irVersion: 5,
        opsetImport: [{ domain: '', version: 10 }],
        graph: {
          name: 'opset10',
          node: [
            { name: 'relu', opType: 'Relu', input: ['x'], output: ['r'] },
            { name: 'flatten', opType: 'Flatten', input: ['r'], output: ['y'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
          ],
          input: [tensor('x', ['N', 1, 4, 4])],
          output: [tensor('y', ['N', 16])],
        },
      }),
    );
    const model = await loadModel(file);
    const x = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
    const ctx = { model, target: 5, pool: null };
    setNativeRuntime(false);
    const expected = await inputGradients(ctx, x, 2, 2);
    setNativeRuntime(true);
    const actual = await inputGradients(ctx, x, 2, 2);
    assert.equal(await model.native!()!.gradientReady(), false);
    assert.match(model.native!()!.gradientUnsupported!, /opset 10/);
    assert.deepEqual(actual, expected);
    assert.deepEqual(Array.from(expected, (v, i) => (i % 16 === 5 && Math.sin(i) > 0 ? 1 : 0)), Array.from(expected));
    model.dispose();
    setNativeRuntime(false);
  });
});
