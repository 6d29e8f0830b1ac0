// IAF-VAE (issue 8).
export {
  IafVae,
  IAF_VAE_CHECKPOINT_KIND,
  POSTERIOR_FLOWS,
  resolveIafVaeConfig,
  type IafVaeConfig,
  type PosteriorFlow,
  type PosteriorFlowStep,
  type ResolvedIafVaeConfig,
} from './iaf-vae';
