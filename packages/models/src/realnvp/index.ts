export {
  RealNVP,
  REALNVP_CHECKPOINT_KIND,
  resolveRealNvpConfig,
  type RealNvpConfig,
  type ResolvedRealNvpConfig,
  type RealNvpSampleOptions,
} from './realnvp';
export { type RealNvpFitOptions } from './shared';
