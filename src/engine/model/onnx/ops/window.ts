import type { SpatialPads } from '../../../kernels/spatial';
import { nodeError, type NodeInfo } from '../op';

/** Window geometry shared by Conv, ConvTranspose and the pools, read from ONNX attributes. */
export interface WindowAttrs {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
}

export function pair(node: NodeInfo, name: string, values: number[] | undefined, fallback: number): [number, number] {
  if (!values) return [fallback, fallback];
  if (values.length !== 2) throw nodeError(node, `only 2-D windows are supported, '${name}' has ${values.length} values`);
  return [values[0], values[1]];
}

export function windowAttrs(node: NodeInfo, kernel: [number, number]): WindowAttrs {
  return {
    kernel,
    strides: pair(node, 'strides', node.attrs.ints('strides'), 1),
    dilations: pair(node, 'dilations', node.attrs.ints('dilations'), 1),
  };
}

/**
 * Explicit [[top, bottom], [left, right]] padding for input spatial size [h, w], from `pads` or
 * `auto_pad`, plus the bottom/right overhang that `ceil_mode` adds (with PyTorch's rule that the
 * last window must start inside the input or its left padding).
 */
export function spatialPads(node: NodeInfo, size: [number, number], w: WindowAttrs, ceilMode = false): SpatialPads {
  const autoPad = node.attrs.string('auto_pad', 'NOTSET');
  const result: [number, number][] = [];
  for (let d = 0; d < 2; d++) {
    const extent = w.dilations[d] * (w.kernel[d] - 1) + 1;
    let begin: number;
    let end: number;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const out = Math.ceil(size[d] / w.strides[d]);
      const total = Math.max((out - 1) * w.strides[d] + extent - size[d], 0);
      begin = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      end = total - begin;
    } else if (autoPad === 'VALID') {
      begin = 0;
      end = 0;
    } else if (autoPad === 'NOTSET') {
      const pads = node.attrs.ints('pads') ?? [0, 0, 0, 0];
      if (pads.length !== 4) throw nodeError(node, `only 2-D windows are supported, 'pads' has ${pads.length} values`);
      begin = pads[d];
      end = pads[d + 2];
    } else {
      throw nodeError(node, `unknown auto_pad '${autoPad}'`);
    }
    if (ceilMode) {
      const span = size[d] + begin + end - extent;
      let out = Math.ceil(span / w.strides[d]) + 1;
      if ((out - 1) * w.strides[d] >= size[d] + begin) out -= 1;
      end += Math.max((out - 1) * w.strides[d] + extent - (size[d] + begin + end), 0);
    }
    result.push([begin, end]);
  }
  return [result[0], result[1]];
}
