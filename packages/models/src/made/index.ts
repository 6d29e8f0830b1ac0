// MADE (issue 8).
export { MADE, MADE_CHECKPOINT_KIND, madeMaskPool, type MadeEvaluateOptions, type MadeCodecModel } from './made';
export { resolveMadeConfig, MADE_ACTIVATIONS, type MadeConfig, type ResolvedMadeConfig, type MadeActivation } from './config';
