import { InputError } from '../errors';

/**
 * Quadrature rules for the path integral of Integrated Gradients, exactly as Captum defines
 * them (captum/attr/_utils/approximation_methods.py): `alphas` are the points in [0, 1] where
 * the gradient is evaluated, `weights` ("step sizes") multiply the gradient at each point.
 */
export const QUADRATURE_RULES = [
  'gausslegendre',
  'riemann_left',
  'riemann_right',
  'riemann_middle',
  'riemann_trapezoid',
] as const;
export type QuadratureRule = (typeof QUADRATURE_RULES)[number];

export const DEFAULT_RULE: QuadratureRule = 'gausslegendre';

export interface Quadrature {
  alphas: number[];
  weights: number[];
}

export function isQuadratureRule(rule: string): rule is QuadratureRule {
  return (QUADRATURE_RULES as readonly string[]).includes(rule);
}

/**
 * Points and weights of `rule` with `steps` points. Riemann rules need at least 2 steps (as in
 * Captum); Gauss–Legendre at least 1.
 */
export function quadrature(rule: string, steps: number): Quadrature {
  if (!isQuadratureRule(rule)) {
    throw new InputError(`unknown rule '${rule}': expected one of ${QUADRATURE_RULES.join(', ')}`);
  }
  if (!Number.isInteger(steps) || steps <= 0) {
    throw new InputError(`steps must be a positive integer, got ${String(steps)}`);
  }
  if (rule === 'gausslegendre') {
    const { nodes, weights } = gaussLegendre(steps);
    return { alphas: nodes.map((x) => 0.5 * (1 + x)), weights: weights.map((w) => 0.5 * w) };
  }
  if (steps < 2) throw new InputError(`rule ${rule} needs at least 2 steps, got ${steps}`);
  const n = steps;
  const weights = new Array<number>(n).fill(1 / n);
  let alphas: number[];
  switch (rule) {
    case 'riemann_trapezoid':
      weights[0] /= 2;
      weights[n - 1] /= 2;
      alphas = linspace(0, 1, n);
      break;
    case 'riemann_left':
      alphas = linspace(0, 1 - 1 / n, n);
      break;
    case 'riemann_middle':
      alphas = linspace(1 / (2 * n), 1 - 1 / (2 * n), n);
      break;
    case 'riemann_right':
      alphas = linspace(1 / n, 1, n);
      break;
  }
  return { alphas, weights };
}

/** numpy.linspace(start, stop, num) with endpoint=True, computed the way numpy does. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => start + i * step);
  out[num - 1] = stop;
  return out;
}

/**
 * Gauss–Legendre nodes (ascending, on [-1, 1]) and weights for m points, like
 * numpy.polynomial.legendre.leggauss: Newton's method on P_m in float64 from Tricomi's initial
 * guesses, weights 2 / ((1 - x²) P_m'(x)²), then symmetrized. Exact for polynomials of degree
 * ≤ 2m - 1.
 */
export function gaussLegendre(m: number): { nodes: number[]; weights: number[] } {
  if (!Number.isInteger(m) || m <= 0) throw new InputError(`steps must be a positive integer, got ${String(m)}`);
  const nodes = new Array<number>(m);
  const weights = new Array<number>(m);
  const half = Math.floor((m + 1) / 2);
  for (let i = 0; i < half; i++) {
    // i-th largest root; initial guess accurate to O(1/m^2).
    let x = Math.cos((Math.PI * (i + 0.75)) / (m + 0.5));
    let derivative = 0;
    for (let iter = 0; iter < 100; iter++) {
      const [p, dp] = legendre(m, x);
      derivative = dp;
      const dx = p / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break; // quadratic convergence: x is now exact to rounding
    }
    derivative = legendre(m, x)[1];
    const w = 2 / ((1 - x * x) * derivative * derivative);
    // Mirror: roots are symmetric about 0, ascending order.
    nodes[m - 1 - i] = x;
    nodes[i] = -x;
    weights[m - 1 - i] = w;
    weights[i] = w;
  }
  if (m % 2 === 1) nodes[(m - 1) / 2] = 0;
  // numpy rescales the weights to sum to exactly 2.
  const total = weights.reduce((a, b) => a + b, 0);
  return { nodes, weights: weights.map((w) => (w * 2) / total) };
}

/** P_m(x) and P_m'(x) by the three-term recurrence. */
function legendre(m: number, x: number): [number, number] {
  let p0 = 1;
  let p1 = x;
  if (m === 0) return [1, 0];
  for (let k = 2; k <= m; k++) {
    const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
    p0 = p1;
    p1 = p2;
  }
  const dp = (m * (x * p1 - p0)) / (x * x - 1);
  return [p1, dp];
}
