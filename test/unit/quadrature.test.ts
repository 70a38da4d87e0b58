import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputError } from '../../src/engine/errors';
import { gaussLegendre, linspace, quadrature, QUADRATURE_RULES } from '../../src/engine/attribution/quadrature';

const integrate = (rule: string, steps: number, f: (a: number) => number): number => {
  const { alphas, weights } = quadrature(rule, steps);
  return alphas.reduce((s, a, i) => s + weights[i] * f(a), 0);
};

describe('Gauss–Legendre', () => {
  test('m = 5 matches the published nodes and weights', () => {
    const { nodes, weights } = gaussLegendre(5);
    const a = Math.sqrt(5 - 2 * Math.sqrt(10 / 7)) / 3; // 0.5384693101056831
    const b = Math.sqrt(5 + 2 * Math.sqrt(10 / 7)) / 3; // 0.9061798459386640
    const wa = (322 + 13 * Math.sqrt(70)) / 900; // 0.4786286704993665
    const wb = (322 - 13 * Math.sqrt(70)) / 900; // 0.2369268850561891
    const expectedNodes = [-b, -a, 0, a, b];
    const expectedWeights = [wb, wa, 128 / 225, wa, wb];
    nodes.forEach((x, i) => assert.ok(Math.abs(x - expectedNodes[i]) < 1e-15, `node ${i}: ${x}`));
    weights.forEach((w, i) => assert.ok(Math.abs(w - expectedWeights[i]) < 1e-15, `weight ${i}: ${w}`));
    assert.ok(Math.abs(nodes[3] - 0.5384693101056831) < 1e-15);
    assert.ok(Math.abs(weights[4] - 0.2369268850561891) < 1e-15);
  });

  test('nodes ascend like numpy.polynomial.legendre.leggauss and weights sum to 2', () => {
    for (const m of [1, 2, 3, 4, 7, 50, 64, 300]) {
      const { nodes, weights } = gaussLegendre(m);
      assert.equal(nodes.length, m);
      for (let i = 1; i < m; i++) assert.ok(nodes[i] > nodes[i - 1], `m=${m} not ascending at ${i}`);
      assert.ok(nodes.every((x) => x > -1 && x < 1));
      assert.ok(Math.abs(weights.reduce((a, b) => a + b, 0) - 2) < 1e-13);
      for (let i = 0; i < m; i++) assert.ok(Math.abs(nodes[i] + nodes[m - 1 - i]) < 1e-15, 'symmetric');
    }
    assert.deepEqual(gaussLegendre(1), { nodes: [0], weights: [2] });
  });

  test('m nodes integrate x^k exactly on [-1, 1] for k ≤ 2m - 1; for k = 2m the error is the textbook one', () => {
    const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1));
    for (let m = 1; m <= 12; m++) {
      const { nodes, weights } = gaussLegendre(m);
      for (let k = 0; k <= 2 * m; k++) {
        const approx = nodes.reduce((s, x, i) => s + weights[i] * x ** k, 0);
        const exact = k % 2 === 1 ? 0 : 2 / (k + 1);
        if (k <= 2 * m - 1) assert.ok(Math.abs(approx - exact) < 1e-13, `m=${m} k=${k}: ${approx} vs ${exact}`);
        else {
          // exact - approx = 2^(2m+1) (m!)^4 / ((2m+1) ((2m)!)^3) · f^(2m), and f^(2m) = (2m)! for x^(2m)
          const error = (2 ** (2 * m + 1) * factorial(m) ** 4) / ((2 * m + 1) * factorial(2 * m) ** 2);
          assert.ok(Math.abs(exact - approx - error) < 1e-13, `m=${m}: error ${exact - approx} vs ${error}`);
        }
      }
    }
  });

  test('rescaled to [0, 1] as Captum does: alphas = (1 + x)/2, weights = w/2', () => {
    const { alphas, weights } = quadrature('gausslegendre', 5);
    const gl = gaussLegendre(5);
    alphas.forEach((a, i) => assert.equal(a, 0.5 * (1 + gl.nodes[i])));
    weights.forEach((w, i) => assert.equal(w, 0.5 * gl.weights[i]));
    // exact for polynomials of degree ≤ 9 on [0, 1]
    for (let k = 0; k <= 9; k++) assert.ok(Math.abs(integrate('gausslegendre', 5, (a) => a ** k) - 1 / (k + 1)) < 1e-14);
    // a smooth non-polynomial integrand converges fast: ∫ cos = sin(1)
    assert.ok(Math.abs(integrate('gausslegendre', 8, Math.cos) - Math.sin(1)) < 1e-14);
    // 300 nodes: still exact
    assert.ok(Math.abs(integrate('gausslegendre', 300, (a) => a ** 10) - 1 / 11) < 1e-13);
  });
});

describe('Riemann rules (Captum definitions)', () => {
  test('points and step sizes for n = 4', () => {
    assert.deepEqual(quadrature('riemann_left', 4), { alphas: [0, 0.25, 0.5, 0.75], weights: [0.25, 0.25, 0.25, 0.25] });
    assert.deepEqual(quadrature('riemann_right', 4), { alphas: [0.25, 0.5, 0.75, 1], weights: [0.25, 0.25, 0.25, 0.25] });
    assert.deepEqual(quadrature('riemann_middle', 4), {
      alphas: [0.125, 0.375, 0.625, 0.875],
      weights: [0.25, 0.25, 0.25, 0.25],
    });
    // Captum's trapezoid: linspace(0, 1, n) with step sizes 1/n, halved at both ends (sum (n-1)/n).
    const t = quadrature('riemann_trapezoid', 4);
    t.alphas.forEach((a, i) => assert.ok(Math.abs(a - i / 3) < 1e-16));
    assert.deepEqual(t.weights, [0.125, 0.25, 0.25, 0.125]);
  });

  test('closed forms for ∫ 1, ∫ a and ∫ a² with n steps', () => {
    for (const n of [2, 3, 10, 51]) {
      const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-13, `${what} n=${n}: ${a} vs ${b}`);
      for (const rule of ['riemann_left', 'riemann_right', 'riemann_middle']) close(integrate(rule, n, () => 1), 1, rule);
      close(integrate('riemann_left', n, (a) => a), (n - 1) / (2 * n), 'left ∫a');
      close(integrate('riemann_right', n, (a) => a), (n + 1) / (2 * n), 'right ∫a');
      close(integrate('riemann_middle', n, (a) => a), 0.5, 'middle ∫a');
      close(integrate('riemann_middle', n, (a) => a * a), 1 / 3 - 1 / (12 * n * n), 'middle ∫a²');
      close(integrate('riemann_left', n, (a) => a * a), ((n - 1) * (2 * n - 1)) / (6 * n * n), 'left ∫a²');
      close(integrate('riemann_right', n, (a) => a * a), ((n + 1) * (2 * n + 1)) / (6 * n * n), 'right ∫a²');
      // Captum's trapezoid step sizes sum to (n-1)/n; Σ w·a = (n-1)/(2n).
      close(integrate('riemann_trapezoid', n, () => 1), (n - 1) / n, 'trapezoid ∫1');
      close(integrate('riemann_trapezoid', n, (a) => a), (n - 1) / (2 * n), 'trapezoid ∫a');
    }
  });

  test('linspace matches numpy (endpoint included, last value exact)', () => {
    assert.deepEqual(linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(linspace(2, 2, 1), [2]);
    assert.equal(linspace(0.1, 0.7, 7)[6], 0.7);
  });
});

describe('bad rules and steps', () => {
  const throwsInput = (fn: () => unknown, message: string): void =>
    assert.throws(fn, (e: unknown) => e instanceof InputError && e.message === message);

  test('messages', () => {
    throwsInput(
      () => quadrature('simpson', 10),
      `unknown rule 'simpson': expected one of ${QUADRATURE_RULES.join(', ')}`,
    );
    throwsInput(() => quadrature('gausslegendre', 0), 'steps must be a positive integer, got 0');
    throwsInput(() => quadrature('riemann_left', -3), 'steps must be a positive integer, got -3');
    throwsInput(() => quadrature('gausslegendre', 2.5), 'steps must be a positive integer, got 2.5');
    throwsInput(() => quadrature('riemann_middle', 1), 'rule riemann_middle needs at least 2 steps, got 1');
    assert.equal(quadrature('gausslegendre', 1).alphas[0], 0.5);
  });
});
