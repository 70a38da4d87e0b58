import type { Random } from '../../random';

/**
 * Keras's weight initializers, for re-initialising layers as Keras would (sanity checks): the
 * layer's own kernel_initializer / bias_initializer / … from its config, Keras's defaults otherwise.
 */
export type InitSpec =
  | { kind: 'constant'; value: number }
  | { kind: 'uniform'; min: number; max: number }
  | { kind: 'normal'; mean: number; stddev: number; truncated: boolean }
  | { kind: 'varianceScaling'; scale: number; mode: 'fan_in' | 'fan_out' | 'fan_avg'; distribution: 'uniform' | 'truncated_normal' | 'normal' };

export const ZEROS: InitSpec = { kind: 'constant', value: 0 };
export const ONES: InitSpec = { kind: 'constant', value: 1 };
export const GLOROT_UNIFORM: InitSpec = { kind: 'varianceScaling', scale: 1, mode: 'fan_avg', distribution: 'uniform' };

const SCALED: Record<string, [number, 'fan_in' | 'fan_out' | 'fan_avg', 'uniform' | 'truncated_normal']> = {
  glorotuniform: [1, 'fan_avg', 'uniform'],
  glorotnormal: [1, 'fan_avg', 'truncated_normal'],
  heuniform: [2, 'fan_in', 'uniform'],
  henormal: [2, 'fan_in', 'truncated_normal'],
  lecununiform: [1, 'fan_in', 'uniform'],
  lecunnormal: [1, 'fan_in', 'truncated_normal'],
};

const num = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);

/**
 * An initializer from a Keras config entry: a name ('glorot_uniform') or {class_name, config}.
 * Initializers the engine does not know (Orthogonal, custom ones) fall back to `fallback`.
 */
export function initSpec(entry: unknown, fallback: InitSpec): InitSpec {
  let name: string;
  let config: Record<string, unknown> = {};
  if (typeof entry === 'string') name = entry;
  else if (entry && typeof entry === 'object' && typeof (entry as { class_name?: unknown }).class_name === 'string') {
    name = (entry as { class_name: string }).class_name;
    const c = (entry as { config?: unknown }).config;
    if (c && typeof c === 'object') config = c as Record<string, unknown>;
  } else return fallback;
  const key = name.toLowerCase().replace(/_/g, '');
  if (key in SCALED) {
    const [scale, mode, distribution] = SCALED[key];
    return { kind: 'varianceScaling', scale, mode, distribution };
  }
  switch (key) {
    case 'zeros':
    case 'zero':
      return ZEROS;
    case 'ones':
    case 'one':
      return ONES;
    case 'constant':
      return { kind: 'constant', value: num(config.value, 0) };
    case 'randomuniform':
      return { kind: 'uniform', min: num(config.minval, -0.05), max: num(config.maxval, 0.05) };
    case 'randomnormal':
    case 'truncatednormal':
      return { kind: 'normal', mean: num(config.mean, 0), stddev: num(config.stddev, 0.05), truncated: key === 'truncatednormal' };
    case 'variancescaling': {
      const mode = config.mode === 'fan_out' || config.mode === 'fan_avg' ? config.mode : 'fan_in';
      const d = config.distribution;
      const distribution = d === 'uniform' ? 'uniform' : d === 'untruncated_normal' || d === 'normal' ? 'normal' : 'truncated_normal';
      return { kind: 'varianceScaling', scale: num(config.scale, 1), mode, distribution };
    }
    default:
      return fallback;
  }
}

/** Keras's compute_fans: receptive field × the last two axes. */
function fans(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  if (shape.length === 2) return [shape[0], shape[1]];
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [shape[shape.length - 2] * receptive, shape[shape.length - 1] * receptive];
}

/** A normal sample redrawn outside ±2σ (TensorFlow's truncated normal). */
function truncatedNormal(random: Random): number {
  for (;;) {
    const z = random.normal();
    if (Math.abs(z) <= 2) return z;
  }
}

/** Fresh values of `shape` drawn from `spec`. */
export function initialize(spec: InitSpec, shape: readonly number[], random: Random): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  switch (spec.kind) {
    case 'constant':
      return out.fill(spec.value);
    case 'uniform':
      for (let i = 0; i < size; i++) out[i] = spec.min + (spec.max - spec.min) * random.uniform();
      return out;
    case 'normal':
      for (let i = 0; i < size; i++) out[i] = spec.mean + spec.stddev * (spec.truncated ? truncatedNormal(random) : random.normal());
      return out;
    case 'varianceScaling': {
      const [fanIn, fanOut] = fans(shape);
      const fan = spec.mode === 'fan_in' ? fanIn : spec.mode === 'fan_out' ? fanOut : (fanIn + fanOut) / 2;
      const scale = spec.scale / Math.max(1, fan);
      if (spec.distribution === 'uniform') {
        const limit = Math.sqrt(3 * scale);
        for (let i = 0; i < size; i++) out[i] = (2 * random.uniform() - 1) * limit;
      } else {
        // 0.8796…: the standard deviation of a unit normal truncated to ±2 (Keras's constant).
        const stddev = spec.distribution === 'normal' ? Math.sqrt(scale) : Math.sqrt(scale) / 0.8796256610342398;
        for (let i = 0; i < size; i++) out[i] = stddev * (spec.distribution === 'normal' ? random.normal() : truncatedNormal(random));
      }
      return out;
    }
  }
}
