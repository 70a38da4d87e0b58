import * as path from 'node:path';
import type { LensConfig } from '../data/sidecar';
import { InputError } from '../errors';
import type { InputSpec } from './model';

/** A model's image input as the file declares it. */
export interface GraphInput {
  name: string;
  /** Dimension sizes, or the symbolic name of a dynamic dimension. */
  dims: (number | string)[];
}

/**
 * Where the image sits in the model's input: layout, channels and size from the sidecar when given,
 * else `layout` when the format fixes it (Keras and TF.js are channels last), else inferred from the
 * declared input shape (a 1- or 3-channel axis next to the batch means NCHW).
 */
export function inputSpec(
  file: string,
  input: GraphInput,
  config: LensConfig | undefined,
  layout?: 'NCHW' | 'NHWC',
): { spec: InputSpec; fixedBatch?: number } {
  const label = path.basename(file);
  const [batch, ...rest] = input.dims;
  const c = config?.input;
  const known = (d: number | string | undefined): number | undefined => (typeof d === 'number' ? d : undefined);
  const needSize = (what: string): never => {
    throw new InputError(`${label}: the input's ${what} is not fixed in the model; set "input" in ${label}.lens.json`);
  };
  let resolved: 'NCHW' | 'NHWC';
  let channels: number;
  let height: number;
  let width: number;
  let shape: number[];
  if (rest.length === 3) {
    const given = c?.layout ?? layout;
    const chw = given ? given === 'NCHW' : known(rest[0]) === 1 || known(rest[0]) === 3 || !(known(rest[2]) === 1 || known(rest[2]) === 3);
    resolved = chw ? 'NCHW' : 'NHWC';
    const [cd, hd, wd] = chw ? rest : [rest[2], rest[0], rest[1]];
    channels = known(cd) ?? c?.channels ?? needSize('channel count');
    height = known(hd) ?? c?.size?.[0] ?? needSize('height');
    width = known(wd) ?? c?.size?.[1] ?? needSize('width');
    shape = chw ? [channels, height, width] : [height, width, channels];
  } else if (rest.length === 2 || rest.length === 1) {
    // A model taking a flattened image ([N, D]) or a channel-less one ([N, H, W]).
    resolved = c?.layout ?? layout ?? 'NCHW';
    channels = c?.channels ?? 1;
    const features = rest.map((d) => known(d) ?? needSize('size'));
    const total = features.reduce((a, b) => a * b, 1);
    const side = Math.round(Math.sqrt(total / channels));
    [height, width] = rest.length === 2 ? features : (c?.size ?? (side * side * channels === total ? [side, side] : needSize('image size')));
    if (height * width * channels !== total) {
      throw new InputError(`${label}: input has ${total} features but the sidecar describes ${height}×${width}×${channels}`);
    }
    shape = features;
  } else {
    throw new InputError(`${label}: input '${input.name}' has rank ${input.dims.length}; expected an image input of rank 2 to 4`);
  }
  if (c?.size && (c.size[0] !== height || c.size[1] !== width)) {
    throw new InputError(`${label}: sidecar size ${c.size[0]}×${c.size[1]} differs from the model's input ${height}×${width}`);
  }
  for (const key of ['mean', 'std'] as const) {
    const v = c?.[key];
    if (v && v.length !== 1 && v.length !== channels) {
      throw new InputError(`${label}.lens.json: input.${key} has ${v.length} values for a ${channels}-channel input`);
    }
  }
  if (c?.channels && c.channels !== channels) {
    throw new InputError(`${label}: sidecar says ${c.channels} channels, the model's input has ${channels}`);
  }
  const spec: InputSpec = {
    name: input.name,
    shape,
    layout: resolved,
    channels,
    height,
    width,
    preprocessing: {
      scale: c?.scale ?? 1 / 255,
      mean: c?.mean ?? Array(channels).fill(0),
      std: c?.std ?? Array(channels).fill(1),
    },
  };
  return { spec, fixedBatch: known(batch) };
}
