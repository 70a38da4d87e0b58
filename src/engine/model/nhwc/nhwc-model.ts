import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { InputError } from '../../errors';
import { Random } from '../../random';
import type { ActivationRule, ActivationTrace, InputSpec, LayerInfo, LayerSplit, Model } from '../model';
import type { HostTensor } from '../onnx/tensor-proto';
import { initialize, type InitSpec } from './initializers';
import type { OpGraph } from './op-graph';

/** A user-facing layer of a channels-last model: a Keras layer, or a TF graph op with weights. */
export interface LayerDef {
  name: string;
  /** Keras class name or TF op type. */
  className: string;
  /** Value name of the layer's output (after its fused activation). */
  output: string;
  /** Keys of its parameters in the program's parameter map. */
  params: string[];
}

/**
 * A channels-last model as loaded from its file: the layers, their parameters, and how to compile
 * them into an OpGraph for given parameter values (how randomized copies are made).
 */
export interface NhwcProgram {
  format: Model['format'];
  layers: LayerDef[];
  params: ReadonlyMap<string, HostTensor>;
  /** How each parameter is re-initialised (Keras's initializer for it). */
  initializers: ReadonlyMap<string, InitSpec>;
  /** The graph (input value = the model input's name) and the value holding the model's output. Throws InputError. */
  compile(params: ReadonlyMap<string, HostTensor>): { graph: OpGraph; output: string };
}

/** A stable 32-bit hash of a layer name, so each layer draws from its own stream of the seed. */
function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

const toNCHW = (t: tf.Tensor) => (t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : t);
const toNHWC = (t: tf.Tensor) => (t.rank === 4 ? tf.transpose(t, [0, 2, 3, 1]) : t);

/**
 * The engine's Model over a channels-last OpGraph (Keras and TF.js models). A final softmax is
 * left out of `logits`: its input is what the model calls logits, and softmax(logits) gives back
 * the model's own output, so predictions agree with the framework's and attributions explain the
 * logit as they do for ONNX classifiers.
 */
export class NhwcModel implements Model {
  readonly format: Model['format'];
  readonly layers: LayerInfo[];
  readonly randomizableLayers: string[];
  activationBytesPerSample = 0;
  numClasses = 0;
  /** The value logits are read from: the model output, or the input of its final softmax. */
  private readonly logitsValue: string;

  private constructor(
    readonly path: string,
    private readonly program: NhwcProgram,
    private readonly graph: OpGraph,
    output: string,
    readonly input: InputSpec,
    readonly labels: readonly string[] | undefined,
  ) {
    this.format = program.format;
    const last = graph.producer(output);
    const finalSoftmax = last?.op.kind === 'softmax' && (last.op.axis === -1 || last.op.axis === 1);
    this.logitsValue = finalSoftmax ? last!.inputs[0] : output;
    this.layers = program.layers.map((l) => ({ name: l.name, opType: l.className, output: l.output, params: [...l.params] }));
    this.randomizableLayers = program.layers.filter((l) => l.params.length > 0).map((l) => l.name);
  }

  /** Compiles the program, runs one probe pass and returns the model; disposes what it made on failure. */
  static create(file: string, program: NhwcProgram, input: InputSpec, labels: readonly string[] | undefined, params = program.params): NhwcModel {
    const { graph, output } = program.compile(params);
    try {
      const model = new NhwcModel(file, { ...program, params }, graph, output, input, labels);
      model.probe();
      return model;
    } catch (err) {
      graph.dispose();
      throw err;
    }
  }

  private get label(): string {
    return path.basename(this.path);
  }

  private checkInput(x: tf.Tensor): void {
    const expected = this.input.shape;
    if (x.rank !== expected.length + 1 || expected.some((d, i) => x.shape[i + 1] !== d)) {
      throw new InputError(`${this.label}: input of shape [${x.shape}] does not match the model's [N,${expected}]`);
    }
  }

  private asLogits(y: tf.Tensor, n: number): tf.Tensor2D {
    if (y.shape[0] !== n || y.size % n !== 0) {
      throw new InputError(`${this.label}: output of shape [${y.shape}] has no batch axis of size ${n}`);
    }
    return y.rank === 2 ? (y as tf.Tensor2D) : tf.reshape(y, [n, y.size / n]);
  }

  logits(x: tf.Tensor, rule?: ActivationRule): tf.Tensor2D {
    this.checkInput(x);
    return this.asLogits(this.graph.evaluate(x, this.logitsValue, rule), x.shape[0]);
  }

  trace(x: tf.Tensor): ActivationTrace {
    this.checkInput(x);
    const kept = this.graph.trace(x, this.logitsValue);
    return {
      inputs: (node) => {
        const values = kept.get(node);
        if (!values) throw new Error(`no traced values for node '${node}'`);
        return values;
      },
      dispose: () => {
        for (const values of kept.values()) values.forEach((t) => t.dispose());
        kept.clear();
      },
    };
  }

  split(x: tf.Tensor, layer: string): LayerSplit {
    this.checkInput(x);
    const info = this.layers.find((l) => l.name === layer || l.output === layer);
    const value = info?.output ?? (this.graph.producer(layer) ? layer : undefined);
    if (!value || this.graph.indexOf(value) >= this.graph.indexOf(this.logitsValue)) {
      throw new InputError(`${this.label}: no layer '${layer}' before the logits; layers: ${this.layers.map((l) => l.name).join(', ')}`);
    }
    const { activation, rest } = this.graph.splitAt(x, value, this.logitsValue);
    return { activation: toNCHW(activation), head: (a) => this.asLogits(rest(toNHWC(a)), a.shape[0]) };
  }

  withRandomized(layers: readonly string[], seed: number): Model {
    const params = new Map(this.program.params);
    for (const name of layers) {
      const layer = this.program.layers.find((l) => l.name === name);
      if (!layer || layer.params.length === 0) {
        throw new InputError(`${this.label}: '${name}' is not a layer with parameters; layers: ${this.randomizableLayers.join(', ')}`);
      }
      const random = new Random((seed ^ hash(name)) >>> 0);
      for (const key of layer.params) {
        const old = this.program.params.get(key)!;
        const spec = this.program.initializers.get(key)!;
        params.set(key, { dtype: 'float32', shape: old.shape, values: initialize(spec, old.shape, random) });
      }
    }
    return NhwcModel.create(this.path, this.program, this.input, this.labels, params);
  }

  /** One batch-1 pass: checks that the graph runs, counts classes, measures memory (as the ONNX model does). */
  private probe(): void {
    const before = tf.memory().numBytes;
    tf.tidy(() => {
      const values = this.graph.evaluateAll(tf.zeros([1, ...this.input.shape]));
      this.activationBytesPerSample = tf.memory().numBytes - before;
      this.numClasses = this.asLogits(values.get(this.logitsValue)!, 1).shape[1];
      for (const layer of this.layers) {
        const shape = values.get(layer.output)?.shape.slice(1);
        layer.outputShape = shape?.length === 3 ? [shape[2], shape[0], shape[1]] : shape;
      }
    });
    if (this.labels && this.labels.length !== this.numClasses) {
      throw new InputError(`${this.label}: sidecar has ${this.labels.length} labels but the model outputs ${this.numClasses} classes`);
    }
  }

  dispose(): void {
    this.graph.dispose();
  }
}
