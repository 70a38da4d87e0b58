import { createRequire } from 'node:module';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';

/**
 * ONNX Runtime (the optional dependency onnxruntime-node: its CPU build ships inside the npm
 * package) runs ONNX models' plain gradients and forward passes natively, on every core with the
 * machine's full vector width, where one wasm instance has one core and 128-bit SIMD. Off unless a
 * front end enables it (the CLI does, LENS_NATIVE=off turns it off; the extension's engine
 * process does unless attributionLens.nativeRuntime is off), so the engine's TensorFlow.js paths
 * stay what its tests exercise by default.
 *
 * Main threads only: onnxruntime-node aborts the whole process ("terminate called after throwing
 * an instance of 'Napi::Error'") when a worker thread is terminated in the middle of a run; the
 * pool's workers are threads that get terminated.
 */
export type OnnxRuntime = typeof Ort;

let enabled = false;
let searchPaths: readonly string[] = [];
let loaded: OnnxRuntime | null | undefined;

/**
 * Turns the native runtime on or off for this process; returns whether it is usable. Besides the
 * engine's own node_modules, `folders` with a node_modules of their own are searched (the
 * extension's global storage, where its installer puts native packages: a .vsix cannot ship them).
 */
export function setNativeRuntime(on: boolean, folders: readonly string[] = []): boolean {
  enabled = on;
  if (folders.join('\0') !== searchPaths.join('\0')) loaded = undefined;
  searchPaths = folders;
  return nativeRuntime() !== undefined;
}

/** From the environment: LENS_NATIVE=off (or 0, false) keeps every pass on TensorFlow.js. */
export function nativeRuntimeFromEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = (env.LENS_NATIVE ?? 'auto').toLowerCase();
  return setNativeRuntime(value !== 'off' && value !== '0' && value !== 'false');
}

/** The runtime when enabled, installed and on a main thread. */
export function nativeRuntime(): OnnxRuntime | undefined {
  if (!enabled || !isMainThread) return undefined;
  if (loaded === undefined) {
    loaded = null;
    for (const load of [createRequire(__filename), ...searchPaths.map((dir) => createRequire(path.join(dir, 'package.json')))]) {
      try {
        loaded = load('onnxruntime-node') as OnnxRuntime;
        break;
      } catch {
        // not installed there
      }
    }
  }
  return loaded ?? undefined;
}

/** "onnxruntime 1.30.0" when the runtime is in use, for logs and result summaries. */
export function nativeRuntimeName(): string | undefined {
  const ort = nativeRuntime();
  return ort ? `onnxruntime ${ort.env.versions.common}` : undefined;
}
