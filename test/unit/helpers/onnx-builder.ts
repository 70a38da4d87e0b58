import * as protobuf from 'protobufjs';
import { ONNX_PROTO } from '../../../src/engine/model/onnx/onnx-proto';

/** Small ONNX models written in tests, encoded with the same onnx.proto the loader reads. */
const modelType = protobuf.parse(ONNX_PROTO).root.lookupType('onnx.ModelProto');

export function floatTensor(name: string, dims: number[], values: number[]) {
  return { name, dims, dataType: 1, floatData: values };
}

export function ints(name: string, values: number[]) {
  return { name, type: 7, ints: values };
}

export function node(name: string, opType: string, input: string[], output: string[], attribute: object[] = []) {
  return { name, opType, input, output, attribute };
}

/** A graph with one float input X of `input` dims (use 0 for a dynamic batch) and one output Y. */
export function encodeModel(nodes: object[], initializers: object[], input: number[], opset = 13): Uint8Array {
  const dim = (d: number) => (d === 0 ? { dimParam: 'batch' } : { dimValue: d });
  const valueInfo = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map(dim) } } },
  });
  const model = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'g', node: nodes, initializer: initializers, input: [valueInfo('X', input)], output: [valueInfo('Y', [])] },
  };
  return modelType.encode(modelType.fromObject(model)).finish();
}
