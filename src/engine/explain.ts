import * as tf from '@tensorflow/tfjs-core';
import { attribute, getMethod } from './attribution/registry';
import type { AttributionResult, MethodOptions } from './attribution/method';
import { InputError } from './errors';
import type { Model } from './model/model';

export interface Prediction {
  class: number;
  label: string;
  probability: number;
  logit: number;
}

/** One attribution (its result, as the method returned it) with the prediction it explains. */
export interface Explanation extends AttributionResult {
  method: string;
  options: MethodOptions;
  target: number;
  /** Classes by probability, highest first (at most k). */
  topK: Prediction[];
  attributionMs: number;
}

export function classLabel(model: Model, k: number): string {
  return model.labels?.[k] ?? String(k);
}

/** Softmax probabilities of the model's scores for one input, top k first. */
export function predict(model: Model, input: tf.Tensor, k = 5): Prediction[] {
  const [logits, probs] = tf.tidy(() => {
    const z = model.logits(input);
    return [z.dataSync(), tf.softmax(z).dataSync()];
  });
  return Array.from(probs, (p, i) => ({ class: i, label: classLabel(model, i), probability: p, logit: logits[i] }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k);
}

/**
 * Grad-CAM's usual choice, the last conv block: the last layer with a spatial [C, h, w] output,
 * before any pooling that follows it (the finer map of the two): ONNX MaxPool, Keras
 * MaxPooling2D, TF AvgPool… are all poolings.
 */
export function defaultGradcamLayer(model: Model): string | undefined {
  const spatial = model.layers.filter(
    (l) => l.outputShape?.length === 3 && l.outputShape[1] > 1 && l.outputShape[2] > 1 && !/pool/i.test(l.opType),
  );
  return spatial.at(-1)?.name;
}

export interface ExplainRequest {
  model: Model;
  /** [1, ...model.input.shape] */
  input: tf.Tensor;
  method: string;
  options?: MethodOptions;
  /** Class to explain; the predicted class when absent. */
  target?: number;
  topK?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Prediction plus one attribution map: what the CLI, the hover and the panels show. */
export async function explain(request: ExplainRequest): Promise<Explanation> {
  const { model, input } = request;
  const method = getMethod(request.method);
  const options = { ...request.options };
  if ((method.id === 'gradcam' || method.id === 'guided_gradcam') && options.layer === undefined) {
    options.layer = defaultGradcamLayer(model);
  }
  const topK = predict(model, input, request.topK ?? 5);
  const target = request.target ?? topK[0].class;
  if (!Number.isInteger(target) || target < 0 || target >= model.numClasses) {
    throw new InputError(`target ${target} is out of range: the model has classes 0–${model.numClasses - 1}`);
  }
  const started = performance.now();
  const result = await attribute(method.id, { model, input, target, onProgress: request.onProgress, signal: request.signal }, options);
  return { ...result, method: method.id, options, target, topK, attributionMs: performance.now() - started };
}
