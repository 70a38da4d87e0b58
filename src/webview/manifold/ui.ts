import type { MapMode } from '../lib/maps';

/** The Manifold panel's display choices, kept with its state. */
export interface ManifoldUi {
  mode: MapMode;
  opacity: number;
  zoom: number | 'fit';
  /** Methods in the result's order, or by decreasing alignment. */
  order: 'given' | 'alignment';
  /** One colour scale per pair of maps (attribution and projection), or one per map. */
  scale: 'pair' | 'map';
}
