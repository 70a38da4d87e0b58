import { BACKENDS, initBackend, type BackendName } from '../engine/backend';
import { InputError } from '../engine/errors';
import { nativeRuntimeName } from '../engine/native/runtime';

/** "4x4" or "4" (square) -> [4, 4]. */
export function parsePair(name: string, value: string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)(?:[x×](\d+))?$/.exec(value.trim());
  if (!m) throw new InputError(`--${name} must look like HxW (e.g. 4x4), got '${value}'`);
  const h = Number(m[1]);
  const w = m[2] !== undefined ? Number(m[2]) : h;
  if (h < 1 || w < 1) throw new InputError(`--${name} must be at least 1x1, got '${value}'`);
  return [h, w];
}

export function parseNumber(name: string, value: string | undefined, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new InputError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got '${value}'`);
  }
  return n;
}

export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InputError(`--${name} must be one of ${allowed.join(', ')}, got '${value}'`);
  }
  return value as T;
}

/** "0.1,0.2,0.4" -> [0.1, 0.2, 0.4]. */
export function parseList(name: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  return value.split(',').map((part) => parseNumber(name, part.trim())!);
}

/**
 * Starts the `--backend` given (default auto) and says on stderr what runs: the TensorFlow.js
 * backend, and ONNX Runtime when the CLI enabled it and it is installed.
 */
export async function startBackend(value: string | undefined): Promise<BackendName> {
  const backend = await initBackend(oneOf('backend', value, ['auto', ...BACKENDS]) ?? 'auto');
  const native = nativeRuntimeName();
  process.stderr.write(`backend: ${backend}${native ? ` (ONNX models' plain gradients and forward passes: ${native})` : ''}\n`);
  return backend;
}
