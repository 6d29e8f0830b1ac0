export { Glow, GLOW_CHECKPOINT_KIND, resolveGlowConfig, type GlowConfig, type ResolvedGlowConfig } from './glow';
