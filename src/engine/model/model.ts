import type * as tf from '@tensorflow/tfjs-core';

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
  /** Shape of the layer's output without the batch dimension, when known. */
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

/** One differentiable model, whatever file format it came from. */
export interface Model {
  /** File the model was loaded from. */
  readonly path: string;
  readonly format: 'onnx';
  readonly input: InputSpec;
  readonly numClasses: number;
  readonly labels: readonly string[] | undefined;
  readonly layers: readonly LayerInfo[];
  /** Estimated bytes of activations per sample for one forward pass, for sizing batches. */
  readonly activationBytesPerSample: number;
  /** Class scores [N, numClasses] for a batch x of shape [N, ...input.shape]; differentiable w.r.t. x. */
  logits(x: tf.Tensor): tf.Tensor2D;
  /** Runs x up to `layer` (a layer name or output name) and returns the split at it. */
  split(x: tf.Tensor, layer: string): LayerSplit;
  dispose(): void;
}
