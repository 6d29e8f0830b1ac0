export {
  RealNVP,
  REALNVP_CHECKPOINT_KIND,
  resolveRealNvpConfig,
  type RealNvpConfig,
  type ResolvedRealNvpConfig,
  type RealNvpSampleOptions,
} from './realnvp';
export { type RealNvpFitOptions } from './shared';
export {
  RealNVPImage,
  REALNVP_IMAGE_CHECKPOINT_KIND,
  resolveRealNvpImageConfig,
  type RealNvpImageConfig,
  type ResolvedRealNvpImageConfig,
  type RealNvpBitsOptions,
} from './realnvp-image';
export { ImageFlow, resolveImageFlowFields, type ImageFlowConfig, type ImageFlowSampleOptions, type ImageFlowBitsOptions } from './image-flow';
