/** The VAE's configuration: what it is, its defaults, and its validation (errors name the field). */

/** Observation model p(x|z). */
export type VaeLikelihood = 'bernoulli' | 'discretized-logistic' | 'discretized-logistic-mixture';

export const VAE_LIKELIHOODS: readonly VaeLikelihood[] = ['bernoulli', 'discretized-logistic', 'discretized-logistic-mixture'];

/** Convolutional encoder/decoder: stride-2 'same' convolutions down, mirrored stride-2 transposed convolutions up. */
export interface VaeConvSpec {
  /** Filters of each stride-2 convolution of the encoder (the decoder mirrors them), e.g. `[32, 64]`. */
  filters: number[];
  /** Square kernel size (default 3). */
  kernelSize?: number;
  /** Optional dense layer between the flattened feature map and the latent parameters (and back in the decoder). */
  dense?: number;
}

/**
 * How to build a {@link VAE}. Data conventions follow the likelihood:
 * - `'bernoulli'`: x ∈ {0, 1} (binarized pixels); the decoder outputs logits.
 * - `'discretized-logistic'` (`-mixture`): x are bin centres 2v/(K−1) − 1 ∈ [−1, 1] of pixel levels v ∈ {0..K−1}
 *   (use `toBinCenters` from `@gm/metrics`); the decoder outputs per-pixel location and log-scale (and mixture
 *   logits, K components per pixel).
 */
export interface VaeConfig {
  /** Shape of one example, without the batch axis: `[784]` or `[28, 28, 1]` (the conv variant needs `[H, W, C]`). */
  inputShape: number[];
  /** Dimension of the latent code z (prior N(0, I)). */
  latentDim: number;
  /** `'mlp'` (default) or `'conv'`. */
  architecture?: 'mlp' | 'conv';
  /** Hidden layer sizes of the MLP encoder; the decoder mirrors them (default `[100]`). */
  hidden?: number[];
  /** Convolutional spec (required when `architecture` is `'conv'`). */
  conv?: VaeConvSpec;
  /** Hidden-layer activation (default `'relu'`). */
  activation?: 'relu' | 'elu' | 'tanh' | 'selu' | 'softplus';
  /** Observation model (default `'bernoulli'`). */
  likelihood?: VaeLikelihood;
  /** Mixture components per pixel for `'discretized-logistic-mixture'` (default 5). */
  mixtureComponents?: number;
  /** Pixel levels of the discretized likelihoods (default 256). */
  numBins?: number;
  /** Seed of the weight initialisation (and the default seed of `fit` and sampling); default 0. */
  seed?: number;
}

/** A config with every default filled in (what checkpoints store). */
export interface ResolvedVaeConfig {
  inputShape: number[];
  latentDim: number;
  architecture: 'mlp' | 'conv';
  hidden: number[];
  conv: Required<Omit<VaeConvSpec, 'dense'>> & { dense: number | null } | null;
  activation: 'relu' | 'elu' | 'tanh' | 'selu' | 'softplus';
  likelihood: VaeLikelihood;
  mixtureComponents: number;
  numBins: number;
  seed: number;
}

const ACTIVATIONS = ['relu', 'elu', 'tanh', 'selu', 'softplus'] as const;

function fail(field: string, expected: string, got: unknown): never {
  throw new Error(`VAE config: "${field}" must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

function posIntArray(field: string, v: unknown, allowEmpty: boolean): number[] {
  if (!Array.isArray(v) || (!allowEmpty && v.length === 0) || !v.every(isPosInt)) {
    fail(field, `${allowEmpty ? 'an' : 'a non-empty'} array of positive integers`, v);
  }
  return [...(v as number[])];
}

/** Validates a config and fills in the defaults; throws an Error naming the bad field and what was expected. */
export function resolveVaeConfig(config: VaeConfig): ResolvedVaeConfig {
  if (config === null || typeof config !== 'object') fail('config', 'an object', config);
  const inputShape = posIntArray('inputShape', config.inputShape, false);
  if (!isPosInt(config.latentDim)) fail('latentDim', 'a positive integer', config.latentDim);
  const architecture = config.architecture ?? 'mlp';
  if (architecture !== 'mlp' && architecture !== 'conv') fail('architecture', "'mlp' or 'conv'", architecture);
  const activation = config.activation ?? 'relu';
  if (!(ACTIVATIONS as readonly string[]).includes(activation)) fail('activation', `one of ${ACTIVATIONS.join(', ')}`, activation);
  const likelihood = config.likelihood ?? 'bernoulli';
  if (!VAE_LIKELIHOODS.includes(likelihood)) fail('likelihood', `one of ${VAE_LIKELIHOODS.map((l) => `'${l}'`).join(', ')}`, likelihood);
  const mixtureComponents = config.mixtureComponents ?? 5;
  if (!isPosInt(mixtureComponents)) fail('mixtureComponents', 'a positive integer', mixtureComponents);
  if (config.mixtureComponents !== undefined && likelihood !== 'discretized-logistic-mixture') {
    fail('mixtureComponents', "used only with likelihood 'discretized-logistic-mixture' (leave it out)", config.mixtureComponents);
  }
  const numBins = config.numBins ?? 256;
  if (!Number.isInteger(numBins) || numBins < 2) fail('numBins', 'an integer ≥ 2', numBins);
  const seed = config.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) fail('seed', 'a finite number', seed);

  let hidden: number[] = [];
  let conv: ResolvedVaeConfig['conv'] = null;
  if (architecture === 'mlp') {
    if (config.conv !== undefined) fail('conv', "used only with architecture 'conv' (leave it out)", config.conv);
    hidden = posIntArray('hidden', config.hidden ?? [100], true);
  } else {
    if (config.hidden !== undefined) fail('hidden', "used only with architecture 'mlp' (use conv.dense)", config.hidden);
    if (config.conv === undefined || config.conv === null || typeof config.conv !== 'object') {
      fail('conv', "an object { filters, kernelSize?, dense? } when architecture is 'conv'", config.conv);
    }
    if (inputShape.length !== 3) fail('inputShape', "[height, width, channels] for architecture 'conv'", inputShape);
    const filters = posIntArray('conv.filters', config.conv.filters, false);
    const kernelSize = config.conv.kernelSize ?? 3;
    if (!isPosInt(kernelSize)) fail('conv.kernelSize', 'a positive integer', kernelSize);
    const dense = config.conv.dense ?? null;
    if (dense !== null && !isPosInt(dense)) fail('conv.dense', 'a positive integer', dense);
    const factor = 2 ** filters.length;
    const [h, w] = inputShape as [number, number, number];
    if (h % factor !== 0 || w % factor !== 0) {
      fail('inputShape', `height and width divisible by 2^${filters.length} = ${factor} (one halving per conv.filters entry)`, inputShape);
    }
    conv = { filters, kernelSize, dense };
  }
  return { inputShape, latentDim: config.latentDim, architecture, hidden, conv, activation, likelihood, mixtureComponents, numBins, seed };
}

/** Decoder parameters per pixel: 1 logit, 2 (location, log-scale), or 3K (K logits, K locations, K log-scales). */
export function paramsPerPixel(c: ResolvedVaeConfig): number {
  switch (c.likelihood) {
    case 'bernoulli':
      return 1;
    case 'discretized-logistic':
      return 2;
    case 'discretized-logistic-mixture':
      return 3 * c.mixtureComponents;
  }
}
