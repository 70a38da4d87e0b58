import type * as tf from '@tensorflow/tfjs-core';
import type { NativePasses } from '../native/native-passes';

/** How raw pixels (0..255) become the model's input: x = (pixel * scale - mean[c]) / std[c]. */
export interface Preprocessing {
  scale: number;
  mean: number[];
  std: number[];
}

/** The model's image input, without the batch dimension. */
export interface InputSpec {
  /** Input tensor name in the model file. */
  name: string;
  /** Shape without batch, in the model's own layout, e.g. [1, 28, 28] for NCHW. */
  shape: number[];
  layout: 'NCHW' | 'NHWC';
  channels: number;
  height: number;
  width: number;
  preprocessing: Preprocessing;
}

/** A named layer: a node with parameters or a point in the graph whose activation can be read. */
export interface LayerInfo {
  /** Node name as the exporter wrote it (e.g. "/features/features.3/Conv"). */
  name: string;
  opType: string;
  /** Name of the tensor the layer produces; Grad-CAM reads this activation. */
  output: string;
  /** Names of the layer's parameters (initializers). */
  params: string[];
  /** Shape of the layer's output without the batch dimension, when known; channels first ([C, h, w]) for spatial layers of any format, as `split` gives them. */
  outputShape?: number[];
}

/**
 * The activation of a layer together with the rest of the network as a function of it,
 * so gradients can be taken w.r.t. the activation (Grad-CAM). Tensors it holds belong to
 * the caller's tf.tidy scope.
 */
export interface LayerSplit {
  activation: tf.Tensor;
  head(activation: tf.Tensor): tf.Tensor2D;
}

/** Where a rule applies: the node (by name) and its op type. */
export interface RuleSite {
  node: string;
  opType: string;
  /** The node's traced 4-D inputs are channels-last (Keras, TF.js); ONNX sites are channels-first. */
  channelsLast?: boolean;
}

/** Window geometry of a max pooling, in the NHWC layout the kernels use. */
export interface PoolWindow {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pads: [[number, number], [number, number]];
}

/**
 * A modified backward pass (PAPERS.md §2): the model runs its forward pass unchanged and asks the
 * rule for every nonlinear operation, so the rule decides the derivative that backpropagation
 * uses there. Linear operations (convolutions, dense layers, batch norm, average pooling, sums)
 * keep their ordinary gradient. Rules act through tf.customGrad inside one call: nothing global
 * changes, so concurrent requests cannot interfere.
 */
export interface ActivationRule {
  /** Elementwise nonlinearity y = f(x); `derivative(x)` is f'(x). */
  activation(site: RuleSite, x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor, derivative: (x: tf.Tensor) => tf.Tensor): tf.Tensor;
  /** Softmax of x over `axes` (computed by f). */
  softmax(site: RuleSite, x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor, axes: number[]): tf.Tensor;
  /** Max pooling of x (NHWC) with the given window. */
  maxPool(site: RuleSite, x: tf.Tensor4D, window: PoolWindow): tf.Tensor4D;
  /**
   * Product f(a, b) of two input-dependent tensors (elementwise Mul or MatMul). `gate` is the
   * operand produced by a sigmoid-like gate or a softmax (attention), if one is.
   */
  product(site: RuleSite, a: tf.Tensor, b: tf.Tensor, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, gate: 0 | 1 | undefined): tf.Tensor;
}

/** The inputs every node received on one forward pass (DeepLIFT's reference activations). Owned by the caller. */
export interface ActivationTrace {
  inputs(node: string): tf.Tensor[];
  dispose(): void;
}

/** One differentiable model, whatever file format it came from. */
export interface Model {
  /** File the model was loaded from. */
  readonly path: string;
  readonly format: 'onnx' | 'keras' | 'tfjs-layers' | 'tfjs-graph';
  readonly input: InputSpec;
  readonly numClasses: number;
  readonly labels: readonly string[] | undefined;
  readonly layers: readonly LayerInfo[];
  /** Estimated bytes of activations per sample for one forward pass, for sizing batches. */
  readonly activationBytesPerSample: number;
  /**
   * Class scores [N, numClasses] for a batch x of shape [N, ...input.shape]; differentiable w.r.t.
   * x, with the backward pass of every nonlinearity given by `rule` when one is passed.
   */
  logits(x: tf.Tensor, rule?: ActivationRule): tf.Tensor2D;
  /** Runs x (batch 1) and keeps the inputs of every node, for rules that compare with a reference. */
  trace(x: tf.Tensor): ActivationTrace;
  /**
   * Layers whose parameters can be re-initialised (convolutions, dense layers, batch norms), in
   * graph order: the order of the sanity checks' randomization, reversed for the cascading one.
   */
  readonly randomizableLayers: readonly string[];
  /**
   * A copy of the model with the parameters of `layers` re-initialised as the exporting framework
   * would (PyTorch's reset_parameters: Kaiming-uniform weights and biases, batch norm reset), each
   * layer from its own stream of `seed`, so a layer gets the same weights in every combination.
   * The copy is independent: dispose it separately.
   */
  withRandomized(layers: readonly string[], seed: number): Model;
  /**
   * The model's plain-gradient and forward passes on the native runtime (src/engine/native), when
   * it is enabled and runs this model; undefined otherwise.
   */
  native?(): NativePasses | undefined;
  /** Runs x up to `layer` (a layer name or output name) and returns the split at it; a 4-D activation is channels first ([N, C, h, w]) whatever the model's layout. */
  split(x: tf.Tensor, layer: string): LayerSplit;
  dispose(): void;
}
