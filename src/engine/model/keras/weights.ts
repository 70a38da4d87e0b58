import type { HostTensor } from '../onnx/tensor-proto';
import type { WeightRole } from './layers';

/** A stored weight of one layer: its name when the file keeps one ('conv2d/kernel:0'), in the file's order. */
export interface NamedWeight {
  name?: string;
  value: HostTensor;
}

/** The weights a file stores for a layer (see LayerCall's path and storePath), in order. */
export type WeightLookup = (layer: { path: string[]; storePath: string[] }) => NamedWeight[];

/** Other names a role is stored under (Keras 3 calls a depthwise kernel 'kernel'). */
const ALIASES: Record<string, string[]> = {
  depthwise_kernel: ['kernel'],
  gamma: ['scale'],
  beta: ['offset', 'center'],
};

/** 'model/conv2d/kernel:0' → 'kernel'; TF.js's de-duplicated 'kernel_1' → 'kernel' as a fallback. */
function roleName(name: string): string {
  const last = name.replace(/:\d+$/, '').split('/').pop() ?? '';
  return last;
}

/**
 * Assigns stored weights to a layer's roles: by name where every role is found once (TF.js
 * manifests list weights in any order), else by position when the counts agree (Keras keeps
 * layer.weights order; .keras files store them unnamed). Returns a message on mismatch.
 */
export function assignWeights(expected: WeightRole[], stored: NamedWeight[]): Map<string, HostTensor> | string {
  const out = new Map<string, HostTensor>();
  if (expected.length === 0) return out;
  const byName = (strip: boolean) =>
    expected.map((e) => {
      const names = [e.role, ...(ALIASES[e.role] ?? [])];
      const hits = stored.filter((w) => w.name !== undefined && names.includes(strip ? roleName(w.name).replace(/_\d+$/, '') : roleName(w.name)));
      return hits.length === 1 ? hits[0] : undefined;
    });
  for (const strip of [false, true]) {
    const found = byName(strip);
    if (found.every((w) => w !== undefined) && new Set(found).size === found.length) {
      expected.forEach((e, i) => out.set(e.role, found[i]!.value));
      return out;
    }
  }
  if (stored.length === expected.length) {
    expected.forEach((e, i) => out.set(e.role, stored[i].value));
    return out;
  }
  const have = stored.length === 0 ? 'none' : stored.map((w, i) => w.name ?? `#${i} [${w.value.shape}]`).join(', ');
  return `expected weights ${expected.map((e) => e.role).join(', ')}; the file has ${have}`;
}
