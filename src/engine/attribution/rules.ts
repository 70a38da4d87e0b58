import * as tf from '@tensorflow/tfjs-core';
import { maxPool, maxPoolRescale } from '../kernels/pool';
import type { ActivationRule, ActivationTrace, PoolWindow, RuleSite } from '../model/model';

/**
 * The modified-gradient rules of PAPERS.md §2 (Ancona et al. 2018): each replaces the derivative of
 * the model's nonlinearities during one backward pass. Linear operations keep their gradient.
 */

/** Nonlinearities that rectify (pass or block): where Guided Backprop and Deconvnet act, as Captum's ReLU hooks do. */
const RECTIFIERS = new Set(['Relu', 'LeakyRelu', 'Clip']);

/** Zero gradient: holds a value constant in the backward pass. */
const constant = tf.customGrad((t) => ({ value: tf.clone(t as tf.Tensor), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }));

/**
 * y = f(x) whose backward pass is m(x, y, dy, extras). `extras` are computed in the forward pass and
 * kept for the backward one (tensors made outside customGrad would be disposed in between).
 */
function withMultiplier(
  x: tf.Tensor,
  f: (x: tf.Tensor) => tf.Tensor,
  m: (x: tf.Tensor, y: tf.Tensor, dy: tf.Tensor, extras: tf.Tensor[]) => tf.Tensor,
  extras: () => tf.Tensor[] = () => [],
): tf.Tensor {
  return tf.customGrad((input, save) => {
    const y = f(input as tf.Tensor);
    (save as tf.GradSaveFunc)([input as tf.Tensor, y, ...extras()]);
    return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => m(saved[0], saved[1], dy, saved.slice(2)) };
  })(x);
}

/** Softmax's ordinary vector–Jacobian product over `axes`: y ⊙ (dy − Σ dy ⊙ y). */
function softmaxVjp(y: tf.Tensor, dy: tf.Tensor, axes: number[]): tf.Tensor {
  return tf.mul(y, tf.sub(dy, tf.sum(tf.mul(dy, y), axes, true)));
}

/** Holds the gate operand of a product constant: relevance goes to the signal (Arras et al. 2017). */
function gatedProduct(a: tf.Tensor, b: tf.Tensor, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, gate: 0 | 1 | undefined): tf.Tensor {
  if (gate === 0) return f(constant(a), b);
  if (gate === 1) return f(a, constant(b));
  return f(a, b);
}

/** ε-LRP: f(z) / (z + ε·sign(z)) at every nonlinearity; max pooling routes to the winner; gates are held constant. */
export class EpsilonRule implements ActivationRule {
  constructor(private readonly epsilon: number) {}

  activation(_site: RuleSite, x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
    return withMultiplier(x, f, (z, y, dy) => {
      const sign = tf.sub(tf.mul(tf.cast(tf.greaterEqual(z, 0), 'float32'), 2), 1);
      return tf.mul(dy, tf.div(y, tf.add(z, tf.mul(sign, this.epsilon))));
    });
  }

  softmax(_site: RuleSite, x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
    return f(x);
  }

  maxPool(_site: RuleSite, x: tf.Tensor4D, window: PoolWindow): tf.Tensor4D {
    return maxPool(x, window);
  }

  product(_site: RuleSite, a: tf.Tensor, b: tf.Tensor, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, gate: 0 | 1 | undefined): tf.Tensor {
    return gatedProduct(a, b, f, gate);
  }
}

/** Guided Backprop (Springenberg et al. 2015) and Deconvnet (Zeiler & Fergus 2014), as Captum's ReLU hooks. */
export class RectifierRule implements ActivationRule {
  constructor(private readonly kind: 'guided_backprop' | 'deconvnet') {}

  activation(site: RuleSite, x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor, derivative: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
    if (!RECTIFIERS.has(site.opType)) return f(x);
    return withMultiplier(x, f, (z, _y, dy) =>
      this.kind === 'guided_backprop' ? tf.relu(tf.mul(dy, derivative(z))) : tf.relu(dy),
    );
  }

  softmax(_site: RuleSite, x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
    return f(x);
  }

  maxPool(_site: RuleSite, x: tf.Tensor4D, window: PoolWindow): tf.Tensor4D {
    return maxPool(x, window);
  }

  product(_site: RuleSite, a: tf.Tensor, b: tf.Tensor, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): tf.Tensor {
    return f(a, b);
  }
}

/** Differences below this are treated as zero, where DeepLIFT falls back to the gradient (Captum's eps). */
const DEEPLIFT_EPS = 1e-10;

/** Sums a broadcast gradient back to an operand's shape. */
function sumToShape(g: tf.Tensor, shape: number[]): tf.Tensor {
  const lead = g.rank - shape.length;
  const axes = g.shape.map((d, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1));
  const summed = axes.length > 0 ? tf.sum(g, axes, true) : g;
  return tf.reshape(summed, shape);
}

const swapLast = (t: tf.Tensor) => tf.transpose(t, [...Array(t.rank - 2).keys(), t.rank - 1, t.rank - 2]);

/**
 * DeepLIFT Rescale (Shrikumar et al. 2017; Ancona et al.'s form): (f(x) − f(x̄)) / (x − x̄) at every
 * nonlinearity, x̄ its input on the baseline. Multi-input nonlinearities get exact rules too, so
 * that Σ attributions = F(x) − F(baseline) holds on every graph: max pooling (see maxPoolRescale),
 * softmax (the secant Δx·(dy·Δy)/‖Δx‖² over its axis), and products of two input-dependent
 * tensors (the Shapley split Δ(ab) = Δa·(b + b̄)/2 + (a + ā)/2·Δb, exact for Mul and MatMul).
 */
export class DeepLiftRule implements ActivationRule {
  constructor(private readonly reference: ActivationTrace) {}

  private ref(site: RuleSite, i = 0): tf.Tensor {
    return this.reference.inputs(site.node)[i];
  }

  activation(site: RuleSite, x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor, derivative: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
    const xr = this.ref(site);
    return withMultiplier(x, f, (z, y, dy, [yr]) => {
      const dz = tf.sub(z, xr);
      const big = tf.greater(tf.abs(dz), DEEPLIFT_EPS);
      const secant = tf.div(tf.sub(y, yr), tf.where(big, dz, tf.onesLike(dz)));
      return tf.mul(dy, tf.where(big, secant, derivative(z)));
    }, () => [f(xr)]);
  }

  softmax(site: RuleSite, x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor, axes: number[]): tf.Tensor {
    const xr = this.ref(site);
    return withMultiplier(x, f, (z, y, dy, [yr]) => {
      const dz = tf.sub(z, xr);
      const norm = tf.sum(tf.square(dz), axes, true);
      const big = tf.greater(norm, DEEPLIFT_EPS);
      const secant = tf.mul(dz, tf.div(tf.sum(tf.mul(dy, tf.sub(y, yr)), axes, true), tf.where(big, norm, tf.onesLike(norm))));
      return tf.where(tf.broadcastTo(big, z.shape), secant, softmaxVjp(y, dy, axes));
    }, () => [f(xr)]);
  }

  maxPool(site: RuleSite, x: tf.Tensor4D, window: PoolWindow): tf.Tensor4D {
    const traced = this.ref(site);
    const reference = (site.channelsLast ? traced : tf.transpose(traced, [0, 2, 3, 1])) as tf.Tensor4D;
    return maxPoolRescale(x, reference, window, DEEPLIFT_EPS);
  }

  product(site: RuleSite, a: tf.Tensor, b: tf.Tensor, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): tf.Tensor {
    const [ar, br] = [this.ref(site, 0), this.ref(site, 1)];
    return tf.customGrad((ta, tb, save) => {
      const [av, bv] = [ta as tf.Tensor, tb as tf.Tensor];
      (save as tf.GradSaveFunc)([av, bv]);
      return {
        value: f(av, bv),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const aMid = tf.div(tf.add(saved[0], ar), 2);
          const bMid = tf.div(tf.add(saved[1], br), 2);
          if (site.opType === 'Mul') {
            return [sumToShape(tf.mul(dy, bMid), av.shape), sumToShape(tf.mul(dy, aMid), bv.shape)];
          }
          return [sumToShape(tf.matMul(dy, swapLast(bMid)), av.shape), sumToShape(tf.matMul(swapLast(aMid), dy), bv.shape)];
        },
      };
    })(a, b);
  }
}
