/** The manifold paper's comparison (Bordt et al.): the raw gradient against the methods expected to align better. */
export const ALIGNMENT_METHODS = ['saliency', 'input_x_gradient', 'integrated_gradients', 'gradient_shap', 'deeplift'];
