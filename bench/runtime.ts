import { initBackend, type BackendName } from '../src/engine/backend';
import { nativeRuntimeFromEnvironment, nativeRuntimeName } from '../src/engine/native/runtime';

/**
 * Sets the engine up as the CLI does: the TensorFlow.js backend, plus ONNX Runtime for ONNX
 * models' plain gradients and forward passes unless LENS_NATIVE=off. Returns what runs, e.g.
 * "wasm" or "wasm + onnxruntime 1.30.0".
 */
export async function initBenchEngine(backend: string): Promise<string> {
  const active = await initBackend(backend as BackendName | 'auto');
  nativeRuntimeFromEnvironment();
  const native = nativeRuntimeName();
  return native ? `${active} + ${native}` : active;
}
