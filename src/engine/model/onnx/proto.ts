import * as protobuf from 'protobufjs';
import { ONNX_PROTO } from './onnx-proto';
import { InputError } from '../../errors';

/** The parts of ONNX's protobuf messages the engine reads, with int64 fields as numbers. */
export interface TensorProto {
  name?: string;
  dims?: number[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  rawData?: Uint8Array;
  dataLocation?: number;
  externalData?: { key: string; value: string }[];
}

export interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}

export interface NodeProto {
  name?: string;
  opType: string;
  domain?: string;
  input?: string[];
  output?: string[];
  attribute?: AttributeProto[];
}

export interface DimProto {
  dimValue?: number;
  dimParam?: string;
}

export interface ValueInfoProto {
  name: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: DimProto[] } } };
}

export interface GraphProto {
  name?: string;
  node?: NodeProto[];
  initializer?: TensorProto[];
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
}

export interface ModelProto {
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  opsetImport?: { domain?: string; version?: number }[];
  graph?: GraphProto;
}

let modelType: protobuf.Type | undefined;

function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: false }).root.lookupType('onnx.ModelProto');
  return modelType;
}

/** Decodes an ONNX file's bytes; anything that is not a well-formed ModelProto is an InputError. */
export function decodeModelProto(bytes: Uint8Array, file: string): ModelProto {
  let decoded: protobuf.Message;
  try {
    decoded = onnxModelType().decode(bytes);
  } catch (err) {
    throw new InputError(`${file}: not a valid ONNX model (${(err as Error).message})`);
  }
  const model = onnxModelType().toObject(decoded, { longs: Number, enums: Number, defaults: false }) as ModelProto;
  if (!model.graph || !model.graph.node || model.graph.node.length === 0) {
    throw new InputError(`${file}: not a valid ONNX model (no graph or no nodes)`);
  }
  return model;
}

/** Encodes a ModelProto built by the engine (src/engine/native's gradient and forward programs). */
export function encodeModelProto(model: ModelProto): Uint8Array {
  const type = onnxModelType();
  return type.encode(type.fromObject(model)).finish();
}
