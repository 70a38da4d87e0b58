import { InputError } from '../errors';
import { boundaryIg } from './boundary-ig';
import { boundaryNormal } from './boundary-normal';
import { deconvnet } from './deconvnet';
import { deeplift } from './deeplift';
import { gradcam } from './gradcam';
import { gradientShap } from './gradient-shap';
import { guidedBackprop } from './guided-backprop';
import { guidedGradcam } from './guided-gradcam';
import { inputXGradient } from './input-x-gradient';
import { integratedGradients } from './integrated-gradients';
import { lrpEpsilon } from './lrp-epsilon';
import { manifoldProjected } from './manifold-projected';
import type { AttributionMethod, AttributionRequest, AttributionResult, MethodOptions } from './method';
import { NOISE_OPTIONS, noiseTunnel } from './noise-tunnel';
import { occlusion } from './occlusion';
import { saliency } from './saliency';

/** Every attribution method, by id. Adding a method: its file plus one line here. */
export const METHODS: readonly AttributionMethod[] = [
  saliency,
  inputXGradient,
  integratedGradients,
  occlusion,
  gradcam,
  lrpEpsilon,
  deeplift,
  guidedBackprop,
  deconvnet,
  guidedGradcam,
  gradientShap,
  boundaryIg,
  boundaryNormal,
  manifoldProjected,
];

export function methodIds(): string[] {
  return METHODS.map((m) => m.id);
}

export function getMethod(id: string): AttributionMethod {
  const method = METHODS.find((m) => m.id === id);
  if (!method) throw new InputError(`unknown method '${id}': expected one of ${methodIds().join(', ')}`);
  return method;
}

/**
 * Rejects options the method would not read (an InputError naming the option and listing the
 * accepted ones). Options set to undefined count as absent. The noise tunnel's options
 * (noise, samples, stdev, seed) are accepted with every method, but samples and stdev only
 * together with noise.
 */
export function validateOptions(method: AttributionMethod, options: MethodOptions): void {
  const given = (Object.keys(options) as (keyof MethodOptions)[]).filter((k) => options[k] !== undefined);
  const noisy = options.noise !== undefined;
  const accepted = new Set<string>([...method.options, ...(noisy ? NOISE_OPTIONS : ['noise'])]);
  for (const key of given) {
    if (accepted.has(key)) continue;
    if ((NOISE_OPTIONS as readonly string[]).includes(key)) {
      throw new InputError(`option '${key}' only applies with a noise tunnel (noise: smoothgrad, smoothgrad_sq or vargrad)`);
    }
    throw new InputError(
      `method '${method.id}' does not take option '${key}': it takes ${[...new Set([...method.options, ...NOISE_OPTIONS])].join(', ')}`,
    );
  }
}

/**
 * Runs method `id` on the request: validates the options, then either the method itself or,
 * with options.noise, the noise tunnel around it.
 */
export async function attribute(
  id: string,
  request: AttributionRequest,
  options: MethodOptions = {},
): Promise<AttributionResult> {
  const method = getMethod(id);
  validateOptions(method, options);
  return options.noise !== undefined ? noiseTunnel(method, request, options) : method.attribute(request, options);
}
