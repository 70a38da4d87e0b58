import * as path from 'node:path';
import { readUserFile } from '../../data/read-file';
import { defaultOpset, describeUnsupported, unsupportedNodes } from './graph';
import { decodeModelProto, type ValueInfoProto } from './proto';

export interface OnnxSummary {
  file: string;
  producer: string;
  opset: number | undefined;
  inputs: { name: string; shape: (number | string)[] }[];
  outputs: { name: string; shape: (number | string)[] }[];
  nodes: number;
  parameters: number;
  /** Unsupported operators, e.g. "'FancyOp' (node 'x', opset 13)". */
  unsupported: string[];
}

function shapeOf(v: ValueInfoProto): (number | string)[] {
  return (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue ? Number(d.dimValue) : (d.dimParam ?? '?')));
}

/** What a model file declares, without building it: for listings and for explaining why it won't load. */
export async function inspectOnnx(file: string): Promise<OnnxSummary> {
  const bytes = await readUserFile(file, 'model');
  const proto = decodeModelProto(bytes, path.basename(file));
  const graph = proto.graph!;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const parameters = (graph.initializer ?? []).reduce((n, t) => n + (t.dims ?? []).reduce((a, b) => a * Number(b), 1), 0);
  return {
    file,
    producer: [proto.producerName, proto.producerVersion].filter(Boolean).join(' '),
    opset: defaultOpset(proto),
    inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name)).map((v) => ({ name: v.name, shape: shapeOf(v) })),
    outputs: (graph.output ?? []).map((v) => ({ name: v.name, shape: shapeOf(v) })),
    nodes: graph.node?.length ?? 0,
    parameters,
    unsupported: unsupportedNodes(proto).map(describeUnsupported),
  };
}
