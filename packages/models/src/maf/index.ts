export { MAF, MAF_CHECKPOINT_KIND, resolveMafConfig, type MafConfig, type ResolvedMafConfig } from './maf';
