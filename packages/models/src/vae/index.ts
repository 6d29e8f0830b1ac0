// The VAE family (issue 5): owned by the VAE engineer.
export {
  VAE,
  VAE_CHECKPOINT_KIND,
  VAE_MIN_LOG_SCALE,
  type VaeLikelihoodParams,
  type VaeFitOptions,
  type VaeEvaluateOptions,
} from './vae';
export {
  resolveVaeConfig,
  VAE_LIKELIHOODS,
  VAE_OBJECTIVES,
  VAE_DEFAULT_OBSERVATION_STD,
  VAE_DEFAULT_IWAE_SAMPLES,
  type VaeObjective,
  type VaeConfig,
  type VaeConvSpec,
  type VaeLikelihood,
  type ResolvedVaeConfig,
} from './config';
export { createVaeReplica, vaeReplica, vaeReplicaConfig, type VaeReplica, type VaeReplicaConfig } from './replica';
