import { VIRIDIS } from './viridis';

/** 'diverging' for signed maps (0.5 is neutral), 'sequential' for magnitudes. */
export type ColormapName = 'diverging' | 'sequential';
export type Rgb = [number, number, number];

// sRGB <-> CIELAB under D65, as Moreland (2009) computes them.
const WHITE = [0.95047, 1.0, 1.08883];
const DELTA = 6 / 29;

function toLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function fromLinear(c: number): number {
  return c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
}

function labF(t: number): number {
  return t > DELTA ** 3 ? Math.cbrt(t) : t / (3 * DELTA * DELTA) + 4 / 29;
}

function labFInverse(u: number): number {
  return u > DELTA ? u ** 3 : 3 * DELTA * DELTA * (u - 4 / 29);
}

/** sRGB bytes to [M, s, h]: Lab in polar form, magnitude M, saturation angle s, hue h. */
function rgbToMsh([r8, g8, b8]: Rgb): Rgb {
  const [r, g, b] = [r8, g8, b8].map((v) => toLinear(v / 255));
  const x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / WHITE[0];
  const y = (0.2126729 * r + 0.7151522 * g + 0.072175 * b) / WHITE[1];
  const z = (0.0193339 * r + 0.119192 * g + 0.9503041 * b) / WHITE[2];
  const L = 116 * labF(y) - 16;
  const A = 500 * (labF(x) - labF(y));
  const B = 200 * (labF(y) - labF(z));
  const m = Math.hypot(L, A, B);
  return [m, m === 0 ? 0 : Math.acos(L / m), Math.atan2(B, A)];
}

function mshToRgb([m, s, h]: Rgb): Rgb {
  const L = m * Math.cos(s);
  const A = m * Math.sin(s) * Math.cos(h);
  const B = m * Math.sin(s) * Math.sin(h);
  const fy = (L + 16) / 116;
  const x = WHITE[0] * labFInverse(fy + A / 500);
  const y = WHITE[1] * labFInverse(fy);
  const z = WHITE[2] * labFInverse(fy - B / 200);
  const r = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z;
  const g = -0.969266 * x + 1.8760108 * y + 0.041556 * z;
  const b = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z;
  return [r, g, b].map((v) => Math.round(255 * Math.min(1, Math.max(0, fromLinear(v))))) as Rgb;
}

/** Moreland's hue spin: an unsaturated end takes a hue that keeps the ramp perceptually even. */
function adjustHue([mSat, sSat, hSat]: Rgb, mUnsat: number): number {
  if (mSat >= mUnsat) return hSat;
  const spin = (sSat * Math.sqrt(mUnsat * mUnsat - mSat * mSat)) / (mSat * Math.sin(sSat));
  return hSat > -Math.PI / 3 ? hSat + spin : hSat - spin;
}

/**
 * Moreland's diverging interpolation ("Diverging Color Maps for Scientific Visualization",
 * ISVC 2009): through a neutral white of magnitude max(M1, M2, 88) when the end hues differ
 * by more than 60°, linear in Msh on each half.
 */
function interpolateMsh(rgb1: Rgb, rgb2: Rgb, t: number): Rgb {
  let a = rgbToMsh(rgb1);
  let b = rgbToMsh(rgb2);
  let u = t;
  if (a[1] > 0.05 && b[1] > 0.05 && Math.abs(a[2] - b[2]) > Math.PI / 3) {
    const mMid = Math.max(a[0], b[0], 88);
    if (u < 0.5) {
      b = [mMid, 0, 0];
      u *= 2;
    } else {
      a = [mMid, 0, 0];
      u = 2 * u - 1;
    }
  }
  if (a[1] < 0.05 && b[1] > 0.05) a = [a[0], a[1], adjustHue(b, a[0])];
  else if (b[1] < 0.05 && a[1] > 0.05) b = [b[0], b[1], adjustHue(a, b[0])];
  return mshToRgb([0, 1, 2].map((i) => (1 - u) * a[i] + u * b[i]) as Rgb);
}

/** Moreland's "cool to warm" end points. */
const COOL: Rgb = [59, 76, 192];
const WARM: Rgb = [180, 4, 38];
// An odd size puts an entry exactly at 0.5, so a zero attribution gets the neutral colour.
const DIVERGING_SIZE = 257;

const LUTS: Record<ColormapName, Rgb[]> = {
  diverging: Array.from({ length: DIVERGING_SIZE }, (_, i) => interpolateMsh(COOL, WARM, i / (DIVERGING_SIZE - 1))),
  sequential: VIRIDIS.map((c) => c.map((v) => Math.round(255 * v)) as Rgb),
};
/** Where each map shows "no attribution"; NaN is drawn there. */
const ZERO: Record<ColormapName, number> = { diverging: 0.5, sequential: 0 };

/**
 * Colour of t in [0, 1] (clamped) as sRGB bytes: the nearest entry of a lookup table, so
 * equal t gives equal colours in every view. Diverging runs blue (0) through a light neutral
 * grey (0.5) to red (1); sequential is viridis, dark purple (0) to yellow (1).
 */
export function colormap(name: ColormapName, t: number): Rgb {
  const lut = LUTS[name];
  const x = Number.isNaN(t) ? ZERO[name] : Math.min(1, Math.max(0, t));
  const entry = lut[Math.round(x * (lut.length - 1))];
  return [entry[0], entry[1], entry[2]];
}
