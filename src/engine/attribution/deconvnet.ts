import { attributeOne } from './common';
import { rectifiedGradients } from './guided-backprop';
import type { AttributionMethod } from './method';

/**
 * Deconvnet (Zeiler & Fergus 2014), as Captum's Deconvolution: at every rectifier the upstream
 * gradient is rectified, ignoring where the forward input was positive.
 */
export const deconvnet: AttributionMethod = {
  id: 'deconvnet',
  label: 'Deconvnet',
  multipliesByInput: false,
  hasDelta: false,
  options: ['batchSize'],
  attribute: (request, options) => attributeOne((r, o) => rectifiedGradients('deconvnet', r, o), request, options),
  attributeBatch: (request, options) => rectifiedGradients('deconvnet', request, options),
};
