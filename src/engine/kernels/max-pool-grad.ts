import * as tf from '@tensorflow/tfjs-core';
import type { SpatialPads } from './spatial';

/**
 * The max-pooling input gradient as one kernel, registered for the wasm and cpu backends:
 * each output's gradient goes to the FIRST maximal element of its window in row-major order
 * (PyTorch's choice; positions in the padding never win). One pass over the input per window
 * tap, no intermediate tensors: the forward-op formulation it replaces (a strided slice, an
 * equality mask and a scatter per tap) cost 80 of 140 ms of an MNIST IG batch of 50 on wasm.
 * The wasm backend's own MaxPoolGrad is not used: its running maximum starts at the smallest
 * positive float, so windows of values <= 0 lose their gradient.
 *
 * Inputs: x [N,H,W,C] (unpadded NHWC input), dy [N,oh,ow,C]. Output: dx [N,H,W,C].
 */
export const MAX_POOL_GRAD_KERNEL = 'AttributionLensMaxPoolGradFirst';

export interface MaxPoolGradAttrs {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pads: SpatialPads;
}

type Float = Float32Array;

/** dx += dy routed to each window's first maximum; dx must be zero-filled. */
export function maxPoolGradInto(x: Float, dy: Float, dx: Float, xShape: readonly number[], dyShape: readonly number[], a: MaxPoolGradAttrs): void {
  const [n, h, w, c] = xShape;
  const [, oh, ow] = dyShape;
  const [kh, kw] = a.kernel;
  const [sh, sw] = a.strides;
  const [dh, dw] = a.dilations;
  const top = a.pads[0][0];
  const left = a.pads[1][0];
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    const xb = b * h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        best.fill(-Infinity);
        where.fill(-1);
        for (let i = 0; i < kh; i++) {
          const row = oy * sh - top + i * dh;
          if (row < 0 || row >= h) continue;
          for (let j = 0; j < kw; j++) {
            const col = ox * sw - left + j * dw;
            if (col < 0 || col >= w) continue;
            const base = xb + (row * w + col) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[base + ch];
              // Strictly greater: the first maximum in row-major tap order keeps the gradient.
              if (v > best[ch] || (where[ch] < 0 && v === v)) {
                best[ch] = v;
                where[ch] = base + ch;
              }
            }
          }
        }
        const g = ((b * oh + oy) * ow + ox) * c;
        for (let ch = 0; ch < c; ch++) if (where[ch] >= 0) dx[where[ch]] += dy[g + ch];
      }
    }
  }
}

interface WasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}
interface CpuLike {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

function kernelFunc({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const a = attrs as unknown as MaxPoolGradAttrs;
  if ('typedArrayFromHeap' in (backend as object)) {
    const wasm = backend as WasmLike;
    // Allocate first: growing the heap detaches earlier views of it.
    const out = wasm.makeOutput([...x.shape], 'float32');
    const dx = wasm.typedArrayFromHeap(out);
    dx.fill(0);
    maxPoolGradInto(wasm.typedArrayFromHeap(x), wasm.typedArrayFromHeap(dy), dx, x.shape, dy.shape, a);
    return out;
  }
  const cpu = backend as CpuLike;
  const dx = new Float32Array(x.shape.reduce((p, q) => p * q, 1));
  maxPoolGradInto(cpu.data.get(x.dataId).values, cpu.data.get(dy.dataId).values, dx, x.shape, dy.shape, a);
  return cpu.makeTensorInfo([...x.shape], 'float32', dx);
}

for (const backendName of ['wasm', 'cpu']) {
  if (!tf.getKernel(MAX_POOL_GRAD_KERNEL, backendName)) tf.registerKernel({ kernelName: MAX_POOL_GRAD_KERNEL, backendName, kernelFunc: kernelFunc as tf.KernelFunc });
}

/** Whether the active backend runs the kernel (otherwise callers use forward ops). */
export function hasMaxPoolGradKernel(): boolean {
  return tf.getKernel(MAX_POOL_GRAD_KERNEL, tf.getBackend()) !== undefined;
}

/** dx for x [N,H,W,C] (unpadded) and dy [N,oh,ow,C]. */
export function maxPoolGrad(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: MaxPoolGradAttrs): tf.Tensor4D {
  return tf.engine().runKernel(MAX_POOL_GRAD_KERNEL, { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
