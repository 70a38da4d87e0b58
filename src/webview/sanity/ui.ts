import type { MapMode } from '../lib/maps';

/** The similarity the curves and the grid's captions show. */
export type SanityMetric = 'spearmanAbs' | 'spearmanSigned' | 'ssim' | 'hog';

export const METRICS: { id: SanityMetric; name: string; short: string }[] = [
  { id: 'spearmanAbs', name: 'Spearman ρ of the absolute maps', short: 'ρ abs' },
  { id: 'spearmanSigned', name: 'Spearman ρ of the signed maps', short: 'ρ signed' },
  { id: 'ssim', name: 'SSIM', short: 'SSIM' },
  { id: 'hog', name: 'HOG similarity', short: 'HOG' },
];

/** The Sanity panel's display choices, kept with its state. */
export interface SanityUi {
  mode: MapMode;
  metric: SanityMetric;
  zoom: number | 'fit';
}
