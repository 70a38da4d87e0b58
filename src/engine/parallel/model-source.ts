import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Model } from '../model/model';

/**
 * Where a model came from, so that another thread can build the same model: its file, the
 * file's stamp when it was loaded, and the randomizations applied since (sanity checks).
 * A pool worker rebuilds exactly this model (same file version, same seeded re-initialisations).
 */
export interface ModelRef {
  /** Absolute path of the model file. */
  path: string;
  /** modelStamp(path) when the model was loaded. */
  stamp: string;
  /** withRandomized calls applied in order, each on the result of the previous. */
  randomized: { layers: string[]; seed: number }[];
}

function statStamp(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return '-';
  }
}

/**
 * The version of a model file as the engine sees it: the file's and its sidecar config's
 * (`<file>.lens.json`) mtime and size. A model loaded under another stamp is out of date.
 */
export function modelStamp(file: string): string {
  return `${statStamp(file)}|${statStamp(`${file}.lens.json`)}`;
}

const sources = new WeakMap<Model, ModelRef>();

/**
 * Marks `model` as loaded from `file` (as loadModel(file) builds it), with `stamp` taken before
 * loading: pool workers may then evaluate it. Randomized copies made from it afterwards with
 * model.withRandomized are marked too. Returns the model. Models never registered (built in
 * memory, trained, from another source) always run on the calling thread.
 */
export function registerModelSource(model: Model, file: string, stamp: string = modelStamp(path.resolve(file))): Model {
  track(model, { path: path.resolve(file), stamp, randomized: [] });
  return model;
}

function track(model: Model, ref: ModelRef): void {
  if (sources.has(model)) return;
  sources.set(model, ref);
  const original = model.withRandomized;
  // An own property shadowing the method: the copy is registered with one more randomization.
  // (A frozen model keeps its method: its randomized copies then run on the calling thread.)
  if (!Object.isExtensible(model)) return;
  Object.defineProperty(model, 'withRandomized', {
    configurable: true,
    writable: true,
    value: (layers: readonly string[], seed: number): Model => {
      const copy = original.call(model, layers, seed);
      track(copy, { ...ref, randomized: [...ref.randomized, { layers: [...layers], seed }] });
      return copy;
    },
  });
}

/** The source of a registered model, or undefined. */
export function modelRef(model: Model): ModelRef | undefined {
  return sources.get(model);
}

/** A key naming a model version and its randomizations (for caches). */
export function modelKey(ref: ModelRef): string {
  return JSON.stringify([ref.path, ref.stamp, ref.randomized]);
}
