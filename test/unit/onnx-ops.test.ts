import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { defaultOpset, OnnxGraph } from '../../src/engine/model/onnx/graph';
import { decodeModelProto } from '../../src/engine/model/onnx/proto';
import { OPS } from '../../src/engine/model/onnx/ops';
import { relativeL2, TEST_BACKENDS } from './helpers/fixtures';
import { closeToReference, OP_CASES, OPS_DIR, type OpCase } from './helpers/op-cases';

const cases = OP_CASES;

function loadGraph(file: string): OnnxGraph {
  const proto = decodeModelProto(fs.readFileSync(file), path.basename(file));
  return new OnnxGraph(proto, file, defaultOpset(proto)!);
}

function feedsOf(c: OpCase): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, tf.tensor(v.data, v.shape, 'float32')]));
}

describe('every supported operator has a case', () => {
  it('covers each op of the registry and Constant', () => {
    const covered = new Set(cases.map((c) => c.op));
    const shapeChain = cases.some((c) => c.name.includes('shape') && fs.readFileSync(path.join(OPS_DIR, c.model)).includes('Gather'));
    if (shapeChain) covered.add('Gather');
    const missing = [...Object.keys(OPS), 'Constant'].filter((op) => !covered.has(op));
    assert.deepEqual(missing, []);
  });
});

for (const backend of TEST_BACKENDS) {
  describe(`ONNX operators on ${backend}`, () => {
    before(async () => {
      await initBackend(backend);
    });

    for (const c of cases) {
      it(`${c.name} (${c.op}, opset ${c.opset})`, () => {
        const graph = loadGraph(path.join(OPS_DIR, c.model));
        const before = tf.memory().numTensors;
        const feeds = feedsOf(c);
        const names = Object.keys(c.outputs);
        const outputs = tf.tidy(() => graph.execute(feeds, names).map((t) => ({ shape: t.shape, data: Array.from(t.dataSync()) })));
        names.forEach((name, i) => {
          assert.deepEqual(outputs[i].shape, c.outputs[name].shape, `${name} shape`);
          assert.ok(closeToReference(outputs[i].data, c.outputs[name].data), `${name}: relative L2 ${relativeL2(outputs[i].data, c.outputs[name].data)}`);
        });
        if (c.grad) {
          const { wrt, cotangent, value } = c.grad;
          const g = tf.tidy(() => {
            const dy = tf.tensor(cotangent.data, cotangent.shape, 'float32');
            const f = (x: tf.Tensor) => tf.sum(tf.mul(graph.execute({ ...feeds, [wrt]: x }, [names[0]])[0], dy));
            return tf.grad(f)(feeds[wrt]);
          });
          assert.deepEqual(g.shape, value.shape);
          const data = g.dataSync();
          g.dispose();
          assert.ok(closeToReference(data, value.data), `gradient w.r.t. ${wrt}: relative L2 ${relativeL2(data, value.data)}`);
        }
        Object.values(feeds).forEach((t) => t.dispose());
        assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
        graph.dispose();
      });
    }
  });
}
