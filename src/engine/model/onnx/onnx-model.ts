import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { readUserFile } from '../../data/read-file';
import type { LensConfig } from '../../data/sidecar';
import { InputError } from '../../errors';
import { inputSpec } from '../input-spec';
import type { ActivationRule, ActivationTrace, InputSpec, LayerInfo, LayerSplit, Model } from '../model';
import { defaultOpset, describeUnsupported, MAX_OPSET, MIN_OPSET, OnnxGraph, unsupportedNodes } from './graph';
import { decodeModelProto, type ModelProto } from './proto';
import { hasParameters, reinitialize, trainableParameters } from './reinitialize';
import type { HostTensor } from './tensor-proto';
import type { ProgramSource } from './gradient-program';
import { NativePasses } from '../../native/native-passes';
import { nativeRuntime } from '../../native/runtime';

/** Node types worth offering as layers: parameterised layers and the activations after them. */
const LAYER_TYPES = new Set([
  'Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'BatchNormalization', 'Relu', 'LeakyRelu', 'Elu', 'Clip', 'Sigmoid', 'Tanh',
  'HardSigmoid', 'HardSwish', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Add', 'Mul', 'Concat', 'Flatten', 'ReduceMean', 'Softmax',
]);

class OnnxModel implements Model {
  readonly format = 'onnx';
  readonly layers: LayerInfo[];
  activationBytesPerSample = 0;
  numClasses = 0;

  readonly randomizableLayers: string[];
  private nativePasses?: NativePasses;

  constructor(
    readonly path: string,
    private readonly proto: ModelProto,
    private readonly graph: OnnxGraph,
    readonly input: InputSpec,
    readonly labels: readonly string[] | undefined,
    /** Batch size fixed by the export (no dynamic axis), if any. */
    private readonly fixedBatch: number | undefined,
  ) {
    this.layers = graph.nodes
      .filter((n) => LAYER_TYPES.has(n.opType))
      .map((n) => ({ name: n.name, opType: n.opType, output: n.outputs[0], params: n.inputs.filter((i) => graph.isConstant(i)) }));
    this.randomizableLayers = graph.nodes.filter((n) => hasParameters(n, (i) => graph.isConstant(i))).map((n) => n.name);
  }

  withRandomized(layers: readonly string[], seed: number): Model {
    const overrides = new Map<string, HostTensor>();
    for (const name of layers) {
      const node = this.graph.nodes.find((n) => n.name === name);
      if (!node || !this.randomizableLayers.includes(name)) {
        throw new InputError(`${path.basename(this.path)}: '${name}' is not a layer with parameters; layers: ${this.randomizableLayers.join(', ')}`);
      }
      for (const [param, value] of reinitialize(node, (n) => this.graph.constantValue(n), seed)) overrides.set(param, value);
    }
    const graph = new OnnxGraph(this.proto, this.path, this.graph.opset, overrides);
    const copy = new OnnxModel(this.path, this.proto, graph, this.input, this.labels, this.fixedBatch);
    try {
      copy.probe();
    } catch (err) {
      copy.dispose();
      throw err;
    }
    return copy;
  }

  /** See `trainableArchitecture`. */
  trainable(seed: number): TrainableArchitecture {
    const reset = new Map<string, HostTensor>();
    const names = new Set<string>();
    for (const name of this.randomizableLayers) {
      const node = this.graph.nodes.find((n) => n.name === name)!;
      for (const [param, value] of reinitialize(node, (n) => this.graph.constantValue(n), seed)) reset.set(param, value);
      for (const param of trainableParameters(node, (n) => this.graph.isConstant(n))) names.add(param);
    }
    const graph = new OnnxGraph(this.proto, this.path, this.graph.opset, reset);
    const parameters = new Map([...names].map((n) => [n, graph.constantValue(n)!]));
    return {
      parameters,
      logits: (x, params) => {
        this.checkInput(x);
        return this.perSample(x, (xi) => this.asLogits(graph.executeWithParameters({ [this.input.name]: xi }, params)[0], xi.shape[0]));
      },
      build: (trained) => {
        const overrides = new Map(reset);
        for (const [name, value] of trained) {
          if (!names.has(name)) throw new Error(`'${name}' is not a trainable parameter of ${path.basename(this.path)}`);
          overrides.set(name, value);
        }
        const built = new OnnxModel(this.path, this.proto, new OnnxGraph(this.proto, this.path, this.graph.opset, overrides), this.input, this.labels, this.fixedBatch);
        try {
          built.probe();
        } catch (err) {
          built.dispose();
          throw err;
        }
        return built;
      },
      dispose: () => graph.dispose(),
    };
  }

  private checkInput(x: tf.Tensor): void {
    const expected = this.input.shape;
    if (x.rank !== expected.length + 1 || expected.some((d, i) => x.shape[i + 1] !== d)) {
      throw new InputError(`${path.basename(this.path)}: input of shape [${x.shape}] does not match the model's [N,${expected}]`);
    }
  }

  private asLogits(y: tf.Tensor, n: number): tf.Tensor2D {
    if (y.shape[0] !== n || y.size % n !== 0) {
      throw new InputError(`${path.basename(this.path)}: output of shape [${y.shape}] has no batch axis of size ${n}`);
    }
    return y.rank === 2 ? (y as tf.Tensor2D) : tf.reshape(y, [n, y.size / n]);
  }

  /** Exports without a dynamic batch axis take one sample per call; gradients flow through split/concat. */
  private perSample<T extends tf.Tensor>(x: tf.Tensor, f: (xi: tf.Tensor) => T): T {
    const n = x.shape[0];
    if (this.fixedBatch === undefined || n === this.fixedBatch) return f(x);
    if (this.fixedBatch !== 1) {
      throw new InputError(`${path.basename(this.path)}: the model was exported with a fixed batch of ${this.fixedBatch}`);
    }
    return tf.concat(tf.split(x, n, 0).map(f), 0) as T;
  }

  logits(x: tf.Tensor, rule?: ActivationRule): tf.Tensor2D {
    this.checkInput(x);
    return this.perSample(x, (xi) => this.asLogits(this.graph.execute({ [this.input.name]: xi }, undefined, rule)[0], xi.shape[0]));
  }

  trace(x: tf.Tensor): ActivationTrace {
    this.checkInput(x);
    const kept = this.graph.trace({ [this.input.name]: x });
    return {
      inputs: (node) => {
        const values = kept.get(node);
        if (!values) throw new Error(`no traced values for node '${node}'`);
        return values as tf.Tensor[];
      },
      dispose: () => {
        for (const values of kept.values()) values.forEach((t) => t?.dispose());
        kept.clear();
      },
    };
  }

  split(x: tf.Tensor, layer: string): LayerSplit {
    this.checkInput(x);
    const info = this.layers.find((l) => l.name === layer || l.output === layer);
    const output = info?.output ?? (this.graph.nodes.some((n) => n.outputs.includes(layer)) ? layer : undefined);
    if (!output) {
      const names = this.layers.map((l) => l.name).join(', ');
      throw new InputError(`${path.basename(this.path)}: no layer '${layer}'; layers: ${names}`);
    }
    if (this.fixedBatch !== undefined && x.shape[0] !== this.fixedBatch) {
      throw new InputError(`${path.basename(this.path)}: the model was exported with a fixed batch of ${this.fixedBatch}`);
    }
    const { activation, rest } = this.graph.splitAt({ [this.input.name]: x }, output);
    return { activation, head: (a) => this.asLogits(rest(a), a.shape[0]) };
  }

  /**
   * One batch-1 pass at load: checks that the graph runs, counts classes and measures memory. The
   * footprint is every byte the pass allocates and keeps until the scope ends (what a backward pass
   * holds on its tape), kernel intermediates such as layout transposes included: the graph's own
   * values alone undercount it about 2.5× (ResNet-18: 22 MB of values, 53 MB allocated).
   */
  probe(): void {
    const before = tf.memory().numBytes;
    tf.tidy(() => {
      const x = tf.zeros([1, ...this.input.shape]);
      const values = this.graph.executeAll({ [this.input.name]: x });
      this.activationBytesPerSample = tf.memory().numBytes - before;
      this.numClasses = this.asLogits(values.get(this.graph.outputs[0].name)!, 1).shape[1];
      for (const layer of this.layers) layer.outputShape = values.get(layer.output)?.shape.slice(1);
    });
    if (this.labels && this.labels.length !== this.numClasses) {
      throw new InputError(`${path.basename(this.path)}: sidecar has ${this.labels.length} labels but the model outputs ${this.numClasses} classes`);
    }
  }

  native(): NativePasses | undefined {
    const ort = nativeRuntime();
    if (!ort) return undefined;
    this.nativePasses ??= new NativePasses(ort, () => this.programSource(), this.input.shape, this.numClasses, this.fixedBatch);
    return this.nativePasses;
  }

  /** What the native programs are built from; the shapes come from one batch-1 pass. */
  private programSource(): ProgramSource {
    const shapes = new Map<string, readonly number[]>();
    tf.tidy(() => {
      const values = this.graph.executeAll({ [this.input.name]: tf.zeros([1, ...this.input.shape]) });
      for (const [name, t] of values) shapes.set(name, t.shape);
    });
    return {
      proto: this.proto,
      modelDir: path.dirname(this.path),
      file: path.basename(this.path),
      opset: this.graph.opset,
      nodes: this.graph.nodes,
      constant: (name) => this.graph.constantValue(name),
      overrides: this.graph.overrides,
      inputName: this.input.name,
      outputName: this.graph.outputs[0].name,
      shapes,
    };
  }

  dispose(): void {
    this.graph.dispose();
    void this.nativePasses?.dispose().catch(() => undefined);
  }
}

/**
 * A model's architecture with every parameter re-initialised (PyTorch's reset_parameters, as
 * withRandomized does for all layers; batch norms with running mean 0 and variance 1), for training
 * it from scratch (src/engine/training). Dispose it when done.
 */
export interface TrainableArchitecture {
  /**
   * The trainable parameters by constant name, with their re-initialised values: weights and biases
   * of Conv, ConvTranspose, Gemm and MatMul, and the scale and shift of batch norms.
   */
  readonly parameters: ReadonlyMap<string, HostTensor>;
  /** Class scores for x [N, ...input.shape] with the parameters taken from `params` (tf.Variables), differentiable w.r.t. them. */
  logits(x: tf.Tensor, params: ReadonlyMap<string, tf.Tensor>): tf.Tensor2D;
  /** An independent engine Model of the architecture with the given (trained) parameter values as constants. */
  build(trained: ReadonlyMap<string, HostTensor>): Model;
  dispose(): void;
}

/** The trainable architecture of an ONNX model (see TrainableArchitecture); `seed` seeds the re-initialisation. */
export function trainableArchitecture(model: Model, seed: number): TrainableArchitecture {
  if (!(model instanceof OnnxModel)) throw new InputError(`${path.basename(model.path)}: training supports ONNX models only`);
  return model.trainable(seed);
}

/** Loads an ONNX file into the engine's Model; every problem with the file is an InputError naming it. */
export async function loadOnnxModel(file: string, config?: LensConfig): Promise<Model> {
  const label = path.basename(file);
  const bytes = await readUserFile(file, 'model');
  const proto = decodeModelProto(bytes, label);
  const opset = defaultOpset(proto);
  if (opset === undefined) throw new InputError(`${label}: no opset for the default ONNX domain`);
  if (opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new InputError(`${label}: opset ${opset} is not supported (supported: ${MIN_OPSET}–${MAX_OPSET})`);
  }
  const unsupported = unsupportedNodes(proto);
  if (unsupported.length > 0) {
    throw new InputError(`${label}: unsupported ONNX operator${unsupported.length > 1 ? 's' : ''} ${unsupported.map(describeUnsupported).join(', ')}`);
  }
  const graph = new OnnxGraph(proto, file, opset);
  try {
    if (graph.inputs.length !== 1) {
      throw new InputError(`${label}: the model has ${graph.inputs.length} inputs (${graph.inputs.map((i) => i.name).join(', ')}); one image input is supported`);
    }
    const { spec, fixedBatch } = inputSpec(file, graph.inputs[0], config);
    const model = new OnnxModel(file, proto, graph, spec, config?.labels, fixedBatch);
    model.probe();
    return model;
  } catch (err) {
    graph.dispose();
    throw err;
  }
}
