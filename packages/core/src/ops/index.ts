/**
 * @gm/core/ops — gm's fused ops: a whole dense layer (`fusedDense`), an IAF step's gated update (`gatedUpdate`), a
 * Bernoulli log-likelihood by logits (`bernoulliLogProb`), a reparameterised Normal draw with its log-density
 * (`normalSample`) and the standard-normal log-density (`standardNormalLogProb`), each one kernel each way where a backend registers them
 * (@gm/backend on wasm), the same tfjs ops elsewhere. The kernel names, inputs and gradients are defined here, once,
 * for the layers that call the ops and the backends that implement them. A subpath of its own: unlike the main entry it imports `@tensorflow/tfjs-core` at run time.
 */
export {
  fusedDense,
  composedDense,
  applyDenseActivation,
  fusedDenseLayout,
  fusedDenseActivationCode,
  fusedDenseGradConfig,
  FUSED_DENSE_KERNEL,
  FUSED_DENSE_INPUT_GRAD_KERNEL,
  FUSED_DENSE_WEIGHT_GRAD_KERNEL,
  FUSED_DENSE_ACTIVATION_GRAD_KERNEL,
  FUSED_DENSE_ACTIVATIONS,
  type DenseTerm,
  type FusedDenseOptions,
  type FusedDenseAttrs,
  type FusedDenseSlot,
  type FusedDenseActivation,
} from './fused-dense.js';
export {
  bernoulliLogProb,
  composedBernoulliLogProb,
  bernoulliLogProbGradConfig,
  BERNOULLI_LOG_PROB_KERNEL,
  BERNOULLI_LOG_PROB_GRAD_KERNEL,
} from './bernoulli-log-prob.js';
export { gatedUpdate, composedGatedUpdate, gatedUpdateGradConfig, GATED_UPDATE_KERNEL, GATED_UPDATE_GRAD_KERNEL } from './gated-update.js';
export {
  normalSample,
  composedNormalSample,
  normalSampleGradConfig,
  standardNormalLogProb,
  composedStandardNormalLogProb,
  standardNormalLogProbGradConfig,
  NORMAL_SAMPLE_KERNEL,
  NORMAL_SAMPLE_GRAD_KERNEL,
  STANDARD_NORMAL_LOG_PROB_KERNEL,
  STANDARD_NORMAL_LOG_PROB_GRAD_KERNEL,
} from './normal.js';
export { LOG_2PI, sumEvent } from './event.js';
