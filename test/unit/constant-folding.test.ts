import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { OnnxGraph } from '../../src/engine/model/onnx/graph';
import { decodeModelProto } from '../../src/engine/model/onnx/proto';
import { encodeModel as encode, floatTensor } from './helpers/onnx-builder';

/**
 * Exporters route deduplicated weights through Identity nodes (seen in torchvision's
 * MobileNetV3, SqueezeNet, DenseNet and EfficientNet exports): a Conv whose bias and a
 * BatchNormalization whose statistics come from such nodes must still load and compute.
 */
describe('constant folding at load', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('a 1×1 Conv whose bias is Identity(initializer) computes w·x + b', () => {
    const bytes = encode(
      [
        { name: 'dedup', opType: 'Identity', input: ['B0'], output: ['B'] },
        { name: 'conv', opType: 'Conv', input: ['X', 'W', 'B'], output: ['Y'], attribute: [{ name: 'kernel_shape', type: 7, ints: [1, 1] }] },
      ],
      [floatTensor('W', [2, 1, 1, 1], [2, -3]), floatTensor('B0', [2], [0.5, 1.5])],
      [1, 1, 2, 2],
    );
    const graph = new OnnxGraph(decodeModelProto(bytes, 'm.onnx'), 'm.onnx', 13);
    const x = [1, 2, 3, 4];
    const y = tf.tidy(() => graph.execute({ X: tf.tensor(x, [1, 1, 2, 2]) })[0].dataSync());
    const expected = [...x.map((v) => 2 * v + 0.5), ...x.map((v) => -3 * v + 1.5)];
    assert.deepEqual(Array.from(y), expected);
    assert.equal(graph.nodes.length, 1, 'the Identity was folded away');
    graph.dispose();
  });

  it('BatchNormalization with statistics behind Identity nodes is the affine map of its definition', () => {
    const bytes = encode(
      [
        { name: 'id_mean', opType: 'Identity', input: ['M0'], output: ['M'] },
        { name: 'id_var', opType: 'Identity', input: ['V0'], output: ['V'] },
        { name: 'bn', opType: 'BatchNormalization', input: ['X', 'S', 'Bias', 'M', 'V'], output: ['Y'], attribute: [{ name: 'epsilon', type: 1, f: 0 }] },
      ],
      [floatTensor('S', [1], [3]), floatTensor('Bias', [1], [1]), floatTensor('M0', [1], [2]), floatTensor('V0', [1], [4])],
      [1, 1, 1, 2],
    );
    const graph = new OnnxGraph(decodeModelProto(bytes, 'm.onnx'), 'm.onnx', 13);
    const y = tf.tidy(() => graph.execute({ X: tf.tensor([4, 6], [1, 1, 1, 2]) })[0].dataSync());
    // (x - 2) / sqrt(4) * 3 + 1
    assert.deepEqual(Array.from(y), [4, 7]);
    graph.dispose();
  });
});
