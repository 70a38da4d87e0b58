import type { MapMode } from '../lib/maps';

/** The Explain panel's display choices, kept with its state. */
export interface ExplainUi {
  mode: MapMode;
  shared: boolean;
  opacity: number;
  zoom: number | 'fit';
}
