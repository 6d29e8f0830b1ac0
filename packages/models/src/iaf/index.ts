// IAF-VAE (issue 8).
export {
  IafVae,
  IAF_VAE_CHECKPOINT_KIND,
  resolveIafVaeConfig,
  type IafVaeConfig,
  type ResolvedIafVaeConfig,
} from './iaf-vae';
