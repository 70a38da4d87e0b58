import { InputError } from '../../errors';

/**
 * A Keras model config (Keras 2 / tf.keras, Keras 3, TF.js Layers; Sequential and Functional,
 * nested models inlined) flattened into layer calls in topological order.
 */

export type Json = Record<string, unknown>;

/** One call of a layer on its inputs. */
export interface LayerCall {
  /** Names from the outermost model down to the layer (nested models), e.g. ['mobilenetv2', 'Conv1']. */
  path: string[];
  /** path joined by '/': the layer's identity (its weights, its parameters). */
  key: string;
  /**
   * Where Keras 3 stores the layer's variables: per model level the snake-cased class name,
   * numbered by order among the model's layers of that class ('conv2d', 'conv2d_1', …).
   */
  storePath: string[];
  className: string;
  config: Json;
  /** Which call of the layer this is (shared layers are called more than once). */
  callIndex: number;
  inputs: string[];
  output: string;
}

export interface KerasGraph {
  input: { name: string; value: string; shape: (number | null)[] };
  calls: LayerCall[];
  output: string;
}

const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

/** Keras's naming.to_snake_case: 'DepthwiseConv2D' → 'depthwise_conv2d', 'ReLU' → 're_lu'. */
export function snakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** Keras 3's container names: a class's first layer 'conv2d', its next ones 'conv2d_1', 'conv2d_2', … */
class StoreNames {
  private readonly used = new Map<string, number>();

  next(className: string): string {
    const base = snakeCase(className);
    const n = this.used.get(base);
    this.used.set(base, n === undefined ? 0 : n + 1);
    return n === undefined ? base : `${base}_${n + 1}`;
  }
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A tensor reference [layer, nodeIndex, tensorIndex]. */
type Ref = [string, number, number];

function asRef(v: unknown): Ref | undefined {
  if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'number' && typeof v[2] === 'number') return [v[0], v[1], v[2]];
  return undefined;
}

/** The tensors a serialized call reads: Keras 2 `[[name, node, tensor, kwargs], …]` or Keras 3 `{args, kwargs}`. */
function inboundRefs(node: unknown): Ref[] {
  if (isObject(node) && 'args' in node) {
    const refs: Ref[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (isObject(v) && v.class_name === '__keras_tensor__' && isObject(v.config)) {
        const ref = asRef(v.config.keras_history);
        if (ref) refs.push(ref);
      }
    };
    walk(node.args);
    return refs;
  }
  if (Array.isArray(node)) {
    const single = asRef(node);
    if (single) return [single];
    return node.map(asRef).filter((r): r is Ref => r !== undefined);
  }
  return [];
}

/** input_layers / output_layers: a list of refs, or (Keras 3, single tensor) one ref. */
function refList(v: unknown): Ref[] {
  const single = asRef(v);
  if (single) return [single];
  return Array.isArray(v) ? v.map(asRef).filter((r): r is Ref => r !== undefined) : [];
}

/** The batch input shape an InputLayer or a first layer declares (Keras 2, 3 and TF.js spellings). */
function declaredShape(config: Json): (number | null)[] | undefined {
  const s = config.batch_input_shape ?? config.batch_shape ?? config.batchInputShape;
  return Array.isArray(s) ? (s as (number | null)[]) : undefined;
}

class Flattener {
  readonly calls: LayerCall[] = [];
  readonly inputs: { name: string; value: string; shape: (number | null)[] }[] = [];
  private readonly aliases = new Map<string, string>();

  constructor(private readonly label: string) {}

  resolve(value: string): string {
    let v = value;
    while (this.aliases.has(v)) v = this.aliases.get(v)!;
    return v;
  }

  private fail(problem: string): never {
    throw new InputError(`${this.label}: ${problem}`);
  }

  /**
   * Adds the calls of a model config under `prefix`; `fed` are the outer values its inputs receive
   * (none at the top level, where its input layers become the graph inputs). Returns its outputs.
   */
  model(className: string, config: unknown, prefix: string[], fed: string[] | undefined, store: string[] = []): string[] {
    if (className === 'Sequential') return this.sequential(config, prefix, fed, store);
    const names = new StoreNames();
    if (!isObject(config) || !Array.isArray(config.layers)) this.fail(`model config '${className}' has no layer list`);
    const layers = config.layers as Json[];
    const valueOf = (ref: Ref): string => {
      const [name, node, tensor] = ref;
      return `${[...prefix, name].join('/')}#${node}${tensor > 0 ? `:${tensor}` : ''}`;
    };
    const inputRefs = refList(config.input_layers);
    const outputRefs = refList(config.output_layers);
    if (fed && fed.length !== inputRefs.length) this.fail(`nested model '${prefix.join('/')}' takes ${inputRefs.length} inputs, called with ${fed.length}`);
    for (const layer of layers) {
      const name = String(layer.name ?? (isObject(layer.config) ? layer.config.name : ''));
      const cls = String(layer.class_name);
      const cfg = isObject(layer.config) ? layer.config : {};
      const path = [...prefix, name];
      const storePath = [...store, names.next(cls)];
      if (cls === 'InputLayer') {
        const i = inputRefs.findIndex((r) => r[0] === name);
        const value = valueOf([name, 0, 0]);
        if (fed) this.aliases.set(value, fed[i]);
        else this.inputs.push({ name, value, shape: declaredShape(cfg) ?? [] });
        continue;
      }
      const inbound = Array.isArray(layer.inbound_nodes) ? layer.inbound_nodes : [];
      inbound.forEach((node, k) => {
        const inputs = inboundRefs(node).map(valueOf);
        const output = valueOf([name, k, 0]);
        if (MODEL_CLASSES.has(cls)) {
          const inner = this.model(cls, cfg, k === 0 ? path : [...prefix, `${name}#${k}`], inputs, storePath);
          if (inner.length !== 1) this.fail(`nested model '${path.join('/')}' has ${inner.length} outputs; one is supported`);
          this.aliases.set(output, inner[0]);
        } else {
          this.calls.push({ path, key: path.join('/'), storePath, className: cls, config: cfg, callIndex: k, inputs, output });
        }
      });
    }
    return outputRefs.map(valueOf);
  }

  private sequential(config: unknown, prefix: string[], fed: string[] | undefined, store: string[]): string[] {
    const names = new StoreNames();
    const layers = (Array.isArray(config) ? config : isObject(config) && Array.isArray(config.layers) ? config.layers : undefined) as Json[] | undefined;
    if (!layers) this.fail(`Sequential model '${prefix.join('/') || 'model'}' has no layer list`);
    let current: string;
    const first = layers[0];
    const firstConfig = first && isObject(first.config) ? first.config : {};
    const inputName = first?.class_name === 'InputLayer' ? String(firstConfig.name ?? 'input') : `${prefix.join('/') || 'sequential'}_input`;
    if (fed) {
      if (fed.length !== 1) this.fail(`nested Sequential '${prefix.join('/')}' called with ${fed.length} inputs`);
      current = fed[0];
    } else {
      const shape = declaredShape(firstConfig) ?? (isObject(config) && Array.isArray(config.build_input_shape) ? (config.build_input_shape as (number | null)[]) : undefined);
      if (!shape) this.fail('the Sequential model declares no input shape (no InputLayer, batch_input_shape or build_input_shape)');
      current = [...prefix, inputName].join('/') + '#0';
      this.inputs.push({ name: inputName, value: current, shape });
    }
    for (const layer of layers) {
      const cls = String(layer.class_name);
      if (cls === 'InputLayer') continue;
      const cfg = isObject(layer.config) ? layer.config : {};
      const name = String(cfg.name ?? layer.name ?? `${cls}_${this.calls.length}`);
      const path = [...prefix, name];
      const storePath = [...store, names.next(cls)];
      const output = `${path.join('/')}#0`;
      if (MODEL_CLASSES.has(cls)) {
        const inner = this.model(cls, cfg, path, [current], storePath);
        if (inner.length !== 1) this.fail(`nested model '${path.join('/')}' has ${inner.length} outputs; one is supported`);
        this.aliases.set(output, inner[0]);
      } else {
        this.calls.push({ path, key: path.join('/'), storePath, className: cls, config: cfg, callIndex: 0, inputs: [current], output });
      }
      current = output;
    }
    return [current];
  }
}

/** Orders calls so that every input is computed first (shared layers' later calls may be listed early). */
function topological(calls: LayerCall[], available: Set<string>, label: string): LayerCall[] {
  const out: LayerCall[] = [];
  const pending = [...calls];
  while (pending.length > 0) {
    const i = pending.findIndex((c) => c.inputs.every((v) => available.has(v)));
    if (i < 0) {
      const c = pending[0];
      throw new InputError(`${label}: layer '${c.key}' reads ${c.inputs.filter((v) => !available.has(v)).join(', ')}, which no layer produces`);
    }
    const [call] = pending.splice(i, 1);
    out.push(call);
    available.add(call.output);
  }
  return out;
}

/** Flattens a model config ({class_name, config}) with one image input and one output. */
export function flattenModel(modelConfig: unknown, label: string): KerasGraph {
  if (!isObject(modelConfig) || typeof modelConfig.class_name !== 'string') {
    throw new InputError(`${label}: no Keras model config (expected {"class_name": …, "config": …})`);
  }
  const cls = modelConfig.class_name;
  if (!MODEL_CLASSES.has(cls)) throw new InputError(`${label}: the model is a '${cls}'; Sequential and Functional models are supported`);
  const f = new Flattener(label);
  const outputs = f.model(cls, modelConfig.config, [], undefined);
  if (f.inputs.length !== 1) {
    throw new InputError(`${label}: the model has ${f.inputs.length} inputs (${f.inputs.map((i) => i.name).join(', ')}); one image input is supported`);
  }
  if (outputs.length !== 1) throw new InputError(`${label}: the model has ${outputs.length} outputs; one is supported`);
  const calls = f.calls.map((c) => ({ ...c, inputs: c.inputs.map((v) => f.resolve(v)) }));
  const input = f.inputs[0];
  return { input, calls: topological(calls, new Set([input.value]), label), output: f.resolve(outputs[0]) };
}
