// MADE (issue 8).
export { MADE, MADE_CHECKPOINT_KIND, madeMaskPool, type MadeEvaluateOptions } from './made';
export { resolveMadeConfig, MADE_ACTIVATIONS, type MadeConfig, type ResolvedMadeConfig, type MadeActivation } from './config';
