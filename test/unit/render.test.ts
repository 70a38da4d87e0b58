import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { colormap } from '../../src/engine/render/colormap';
import { normalizeMap, renderHeatmap } from '../../src/engine/render/overlay';
import { encodePng } from '../../src/engine/render/png';
import { InputError } from '../../src/engine/errors';

/** CIELAB L* of an sRGB colour (D65), written out here independently of colormap.ts. */
function lightness([r, g, b]: number[]): number {
  const lin = (c: number) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const y = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return y > 216 / 24389 ? 116 * Math.cbrt(y) - 16 : (24389 / 27) * y;
}

function near(actual: number[], expected: number[], tolerance: number, what: string): void {
  assert.ok(actual.every((v, i) => Math.abs(v - expected[i]) <= tolerance), `${what}: ${actual} vs ${expected}`);
}

test('diverging map: Moreland cool-to-warm end points and neutral grey midpoint', () => {
  // Moreland (2009), Table: cool (59, 76, 192), white-ish (221, 221, 221), warm (180, 4, 38).
  assert.deepEqual(colormap('diverging', 0), [59, 76, 192]);
  assert.deepEqual(colormap('diverging', 1), [180, 4, 38]);
  near(colormap('diverging', 0.5), [221, 221, 221], 1, 'midpoint');
  const mid = colormap('diverging', 0.5);
  assert.ok(mid[0] === mid[1] && mid[1] === mid[2], `midpoint is a neutral grey: ${mid}`);
  // Quarter points of Moreland's table as matplotlib ships it ('coolwarm').
  near(colormap('diverging', 0.25), [141, 176, 254], 2, 't = 0.25');
  near(colormap('diverging', 0.75), [244, 152, 122], 2, 't = 0.75');
});

test('sequential map: viridis end points and midpoint', () => {
  // Published hex values: #440154, #21918c, #fde725.
  near(colormap('sequential', 0), [0x44, 0x01, 0x54], 1, 'start');
  near(colormap('sequential', 0.5), [0x21, 0x91, 0x8c], 1, 'middle');
  near(colormap('sequential', 1), [0xfd, 0xe7, 0x25], 1, 'end');
});

test('t is clamped; NaN shows as no attribution', () => {
  assert.deepEqual(colormap('diverging', -3), colormap('diverging', 0));
  assert.deepEqual(colormap('diverging', 7), colormap('diverging', 1));
  assert.deepEqual(colormap('diverging', NaN), colormap('diverging', 0.5));
  assert.deepEqual(colormap('sequential', NaN), colormap('sequential', 0));
});

test('diverging lightness falls monotonically from the neutral centre towards both ends', () => {
  // Byte rounding makes neighbouring entries wobble by < 0.1 L*; a visible reversal would be far larger.
  const fine = 128;
  const coarse = 16;
  for (const direction of [1, -1]) {
    let previous = lightness(colormap('diverging', 0.5));
    for (let i = 1; i <= fine; i++) {
      const l = lightness(colormap('diverging', 0.5 + (direction * i) / (2 * fine)));
      assert.ok(l <= previous + 0.25, `direction ${direction}, step ${i}: L* ${l} after ${previous}`);
      previous = l;
    }
    previous = Infinity;
    for (let i = 0; i <= coarse; i++) {
      const l = lightness(colormap('diverging', 0.5 + (direction * i) / (2 * coarse)));
      assert.ok(l < previous, `direction ${direction}, coarse step ${i}: L* ${l} after ${previous}`);
      previous = l;
    }
  }
  const centre = lightness(colormap('diverging', 0.5));
  assert.ok(centre - lightness(colormap('diverging', 0)) > 40, 'ends clearly darker than the centre');
  assert.ok(centre - lightness(colormap('diverging', 1)) > 40, 'ends clearly darker than the centre');
});

test('sequential lightness increases strictly', () => {
  let previous = -Infinity;
  for (let i = 0; i <= 64; i++) {
    const l = lightness(colormap('sequential', i / 64));
    assert.ok(l > previous, `step ${i}: L* ${l} after ${previous}`);
    previous = l;
  }
});

// 10×10 map with values 1..100: the ascending cumulative sum first reaches 98% of 5050 (4949)
// at 1 + ... + 99 = 4950, so Captum's threshold is 99.
const ONE_TO_HUNDRED = Float32Array.from({ length: 100 }, (_, i) => i + 1);

test('normalisation follows Captum: scale by the cumulative-sum percentile, clip', () => {
  const abs = normalizeMap(ONE_TO_HUNDRED, false);
  assert.ok(Math.abs(abs[0] - 1 / 99) < 1e-6);
  assert.ok(Math.abs(abs[97] - 98 / 99) < 1e-6);
  assert.equal(abs[98], 1);
  assert.equal(abs[99], 1);

  const signed = Float32Array.from(ONE_TO_HUNDRED, (v) => (v === 100 ? -100 : v));
  const s = normalizeMap(signed, true);
  assert.equal(s[99], -1);
  assert.ok(Math.abs(s[49] - 50 / 99) < 1e-6);

  const noOutliers = normalizeMap(ONE_TO_HUNDRED, false, 0);
  assert.ok(Math.abs(noOutliers[49] - 0.5) < 1e-6, 'outlier 0: scaled by the maximum');
  assert.deepEqual(Array.from(normalizeMap(new Float32Array(4), true)), [0, 0, 0, 0]);
  assert.throws(() => normalizeMap(ONE_TO_HUNDRED, false, 101), InputError);
});

function pixels(img: { data: Uint8Array }): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < img.data.length; i += 4) out.push(Array.from(img.data.subarray(i, i + 4)));
  return out;
}

test('heatmap colours: diverging for signed maps, zero at the neutral colour', () => {
  const map = Float32Array.from([-2, 0, 1, 2]);
  const img = renderHeatmap(map, { height: 2, width: 2 }, { signed: true, outlierPercentile: 0 });
  assert.equal(img.width, 2);
  assert.equal(img.height, 2);
  // Threshold = 2 (no outliers): normalised [-1, 0, 0.5, 1] -> t = (v + 1) / 2.
  assert.deepEqual(pixels(img), [
    [...colormap('diverging', 0), 255],
    [...colormap('diverging', 0.5), 255],
    [...colormap('diverging', 0.75), 255],
    [...colormap('diverging', 1), 255],
  ]);
});

test('pixels without attribution show the background, dimmed', () => {
  const background = { width: 2, height: 1, data: Uint8Array.from([100, 150, 200, 255, 0, 0, 0, 255]) };
  const img = renderHeatmap(Float32Array.from([0, 1]), { height: 1, width: 2 }, { signed: true, background, opacity: 0.5 });
  const top = colormap('diverging', 1);
  assert.deepEqual(pixels(img), [
    [70, 70, 70, 255],
    [...top.map((c) => Math.round(0.5 * c)), 255],
  ]);
});

test('blends over the background shown in grayscale', () => {
  const background = { width: 2, height: 1, data: Uint8Array.from([100, 150, 200, 255, 0, 0, 0, 255]) };
  const map = Float32Array.from([1, 1]);
  const img = renderHeatmap(map, { height: 1, width: 2 }, { signed: false, background, opacity: 0.25 });
  const top = colormap('sequential', 1);
  // Background luma: 0.299*100 + 0.587*150 + 0.114*200 = 140.75, and 0.
  assert.deepEqual(pixels(img), [
    [...top.map((c) => Math.round(0.75 * 0.5 * 140.75 + 0.25 * c)), 255],
    [...top.map((c) => Math.round(0.25 * c)), 255],
  ]);
});

test('integer upscale repeats each pixel as a crisp block', () => {
  const map = Float32Array.from([-1, 1]);
  const shape = { height: 1, width: 2 };
  const small = pixels(renderHeatmap(map, shape, { signed: true }));
  const big = renderHeatmap(map, shape, { signed: true, upscale: 3 });
  assert.equal(big.width, 6);
  assert.equal(big.height, 3);
  const all = pixels(big);
  for (let y = 0; y < 3; y++) {
    for (let x = 0; x < 6; x++) assert.deepEqual(all[y * 6 + x], small[Math.floor(x / 3)], `(${x}, ${y})`);
  }
});

test('invalid options are InputErrors', () => {
  const shape = { height: 1, width: 2 };
  const map = Float32Array.from([1, 2]);
  assert.throws(() => renderHeatmap(map, shape, { signed: true, opacity: 1.5 }), (e: unknown) => e instanceof InputError && /opacity/.test(e.message));
  assert.throws(() => renderHeatmap(map, shape, { signed: true, upscale: 1.5 }), (e: unknown) => e instanceof InputError && /upscale/.test(e.message));
  assert.throws(() => renderHeatmap(map, shape, { signed: true, outlierPercentile: -1 }), (e: unknown) => e instanceof InputError && /outlier/.test(e.message));
});

test('PNG round trip through pngjs gives the same pixels', () => {
  const width = 3;
  const height = 2;
  const backing = new Uint8Array(1 + width * height * 4);
  const data = backing.subarray(1); // unaligned view, as a slice of a larger buffer would be
  data.forEach((_, i) => (data[i] = (i * 37) % 256));
  const png = PNG.sync.read(Buffer.from(encodePng({ width, height, data })));
  assert.equal(png.width, width);
  assert.equal(png.height, height);
  assert.deepEqual(Array.from(png.data), Array.from(data));
});
