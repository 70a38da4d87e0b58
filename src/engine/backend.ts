import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { InputError } from './errors';

/** Backends in order of preference: the first one present is the default. */
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

const nodeRequire = createRequire(__filename);

/**
 * Directory holding tfjs-backend-wasm's .wasm binaries: next to the bundle (dist/) when
 * built, else inside the package (tests run from sources).
 */
function wasmDirectory(): string {
  const beside = path.join(__dirname, 'tfjs-backend-wasm-simd.wasm');
  if (fs.existsSync(beside)) return __dirname + path.sep;
  return path.dirname(nodeRequire.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + path.sep;
}

/**
 * Folders with a node_modules of their own where native bindings may be installed (the
 * extension installs them into its global storage: they cannot ship inside the .vsix).
 */
let nativeSearchPaths: readonly string[] = [];

/** Loads a native TensorFlow binding; both register themselves as tf backend 'tensorflow'. */
function tryNative(pkg: string): boolean {
  const requires = [nodeRequire, ...nativeSearchPaths.map((dir) => createRequire(path.join(dir, 'package.json')))];
  for (const load of requires) {
    try {
      load(pkg);
      return true;
    } catch {
      // not installed there
    }
  }
  return false;
}

async function activate(name: BackendName): Promise<boolean> {
  switch (name) {
    case 'tensorflow-gpu':
      return tryNative('@tensorflow/tfjs-node-gpu') && (await tf.setBackend('tensorflow'));
    case 'tensorflow':
      return tryNative('@tensorflow/tfjs-node') && (await tf.setBackend('tensorflow'));
    case 'wasm':
      setWasmPaths(wasmDirectory());
      return tf.setBackend('wasm');
    case 'cpu':
      return tf.setBackend('cpu');
  }
}

let active: BackendName | undefined;

/**
 * Activates `requested`, or with 'auto' the fastest backend present. An explicit request that
 * cannot be honoured is an error, never a silent fallback.
 */
export async function initBackend(requested: BackendName | 'auto' = 'auto', searchPaths: readonly string[] = []): Promise<BackendName> {
  nativeSearchPaths = searchPaths;
  if (requested !== 'auto' && !(BACKENDS as readonly string[]).includes(requested)) {
    throw new InputError(`unknown backend '${requested}': expected auto, ${BACKENDS.join(', ')}`);
  }
  if (requested === active) return active;
  // Production mode skips debug checks and the cpu backend's console advert for tfjs-node.
  tf.enableProdMode();
  const candidates = requested === 'auto' ? BACKENDS : [requested];
  for (const name of candidates) {
    if (await activate(name)) {
      await tf.ready();
      active = name;
      return name;
    }
  }
  throw new InputError(
    requested === 'tensorflow-gpu' || requested === 'tensorflow'
      ? `backend '${requested}' is not installed: install @tensorflow/tfjs-node${requested === 'tensorflow-gpu' ? '-gpu' : ''}`
      : `backend '${requested}' could not be initialised`,
  );
}

export function activeBackend(): BackendName | undefined {
  return active;
}
