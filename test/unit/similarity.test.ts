import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { compareMaps, hog, normalizeAbsolute, prepareMap, ranks, spearman, toPlane } from '../../src/engine/evaluation/similarity';
import { FIXTURES } from './helpers/fixtures';

/** scipy / scikit-image values from test/fixtures/make_similarity_references.py. */
interface Case {
  name: string;
  shape: number[];
  a: number[];
  b: number[];
  spearman_abs: number;
  spearman_signed: number;
  ssim: number;
  hog: number;
  hog_a: number[] | null;
}
const REFERENCES = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'similarity', 'references.json'), 'utf8')) as { cases: Case[] };

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
}

describe('map similarity (sanity checks)', () => {
  for (const c of REFERENCES.cases) {
    it(`matches scipy and scikit-image on '${c.name}' [${c.shape.join(', ')}]`, () => {
      const shape = [1, ...c.shape];
      const s = compareMaps(prepareMap(c.a, shape, 'NCHW'), prepareMap(c.b, shape, 'NCHW'));
      close(s.spearmanAbs, c.spearman_abs, 1e-9, 'spearman abs');
      close(s.spearmanSigned, c.spearman_signed, 1e-9, 'spearman signed');
      close(s.ssim, c.ssim, 1e-9, 'ssim');
      close(s.hog, c.hog, 1e-6, 'hog');
      if (c.hog_a) {
        const features = hog(normalizeAbsolute(toPlane(c.a, shape, 'NCHW', 'absolute')));
        assert.equal(features.length, c.hog_a.length);
        for (let i = 0; i < features.length; i++) close(features[i], c.hog_a[i], 1e-6, `hog feature ${i}`);
      }
    });
  }

  it('scores a map against itself 1 on every measure', () => {
    for (const c of REFERENCES.cases) {
      const m = prepareMap(c.a, [1, ...c.shape], 'NCHW');
      const s = compareMaps(m, m);
      for (const [k, v] of Object.entries(s)) close(v, 1, 1e-12, `${c.name} ${k}`);
    }
  });

  it('ranks ties by their average rank and reduces channels in either layout', () => {
    assert.deepEqual(Array.from(ranks([3, 1, 3, 2])), [3.5, 1, 3.5, 2]);
    assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])), 'a constant map has no rank correlation');
    // [1, 2, 2, 2] NHWC: pixel p has channels (p, -p); absolute sums 2|p|, signed sums 0.
    const values = [0, 0, 1, -1, 2, -2, 3, -3];
    assert.deepEqual(Array.from(toPlane(values, [1, 2, 2, 2], 'NHWC', 'absolute').data), [0, 2, 4, 6]);
    assert.deepEqual(Array.from(toPlane(values, [1, 2, 2, 2], 'NHWC', 'signed').data), [0, 0, 0, 0]);
    assert.deepEqual(Array.from(toPlane(values, [1, 2, 2, 2], 'NCHW', 'signed').data), [2, -2, 4, -4]);
  });

  it('rejects maps of different sizes', () => {
    assert.throws(() => compareMaps(prepareMap([1, 2, 3, 4], [1, 1, 2, 2], 'NCHW'), prepareMap([1, 2, 3], [1, 1, 1, 3], 'NCHW')), /different sizes/);
  });
});
