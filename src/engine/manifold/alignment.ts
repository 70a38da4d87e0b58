import { InputError } from '../errors';
import { dot, type TangentBasis } from './tangent';

export interface Alignment {
  /** ‖P_T a‖ / ‖a‖ ∈ [0, 1] (0 for a zero attribution). */
  alignment: number;
  /** sqrt(k/d): the expected alignment of a random direction (its root mean square). */
  randomBaseline: number;
}

function checkLength(a: ArrayLike<number>, basis: TangentBasis): void {
  if (a.length !== basis.d) throw new InputError(`the attribution has ${a.length} values, the tangent space lives in d = ${basis.d}`);
}

/** The coordinates Qa of `a` in the basis (k values). */
export function coordinates(a: ArrayLike<number>, basis: TangentBasis): Float64Array {
  checkLength(a, basis);
  return Float64Array.from({ length: basis.k }, (_, i) => dot(basis.vectors, i * basis.d, a, 0, basis.d));
}

/** P_T a = Qᵀ Q a: the orthogonal projection of `a` onto the tangent space. */
export function projected(a: ArrayLike<number>, basis: TangentBasis): Float64Array {
  const c = coordinates(a, basis);
  const out = new Float64Array(basis.d);
  for (let i = 0; i < basis.k; i++) {
    const off = i * basis.d;
    for (let p = 0; p < basis.d; p++) out[p] += c[i] * basis.vectors[off + p];
  }
  return out;
}

/** sqrt(k/d), the alignment a uniformly random direction has in root mean square (E‖P_T u‖² = k/d). */
export function randomBaseline(basis: TangentBasis): number {
  return Math.sqrt(basis.k / basis.d);
}

/**
 * The fraction of an attribution in the tangent space, ‖P_T a‖ / ‖a‖ (Bordt et al. 2022), with
 * the random baseline. ‖P_T a‖ = ‖Q a‖ since Q's rows are orthonormal.
 */
export function alignment(a: ArrayLike<number>, basis: TangentBasis): Alignment {
  const c = coordinates(a, basis);
  const norm = Math.sqrt(dot(a, 0, a, 0, basis.d));
  const inside = Math.sqrt(dot(c, 0, c, 0, basis.k));
  return { alignment: norm === 0 ? 0 : Math.min(1, inside / norm), randomBaseline: randomBaseline(basis) };
}
