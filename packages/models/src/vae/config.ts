/** The VAE's configuration: what it is, its defaults, and its validation (errors name the field). */

/** Observation model p(x|z). */
export type VaeLikelihood = 'bernoulli' | 'discretized-logistic' | 'discretized-logistic-mixture' | 'gaussian';

export const VAE_LIKELIHOODS: readonly VaeLikelihood[] = ['bernoulli', 'discretized-logistic', 'discretized-logistic-mixture', 'gaussian'];

/** What `fit` maximises: the ELBO (default) or the k-sample importance-weighted bound of Burda et al. (IWAE). */
export type VaeObjective = 'elbo' | 'iwae';

/** Every {@link VaeObjective}. */
export const VAE_OBJECTIVES: readonly VaeObjective[] = ['elbo', 'iwae'];

/** Observation σ of the Gaussian likelihood when `observationStd` is not given (pixel intensities in [0, 1]). */
export const VAE_DEFAULT_OBSERVATION_STD = 0.1;

/** Importance samples of the IWAE objective when `k` is not given (Burda et al. train with k = 5 and k = 50). */
export const VAE_DEFAULT_IWAE_SAMPLES = 5;

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
 * - `'gaussian'`: x are intensities v/255 ∈ [0, 1]; the decoder outputs one mean per pixel through a sigmoid and
 *   p(x|z) = N(x; mean, σ²) with the fixed σ `observationStd`, so −log p(x|z) = ‖x − mean‖² / (2σ²) + const.
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
  /**
   * σ of the `'gaussian'` likelihood, fixed (not learnt), in intensity units of [0, 1] (default 0.1). The −ELBO is
   * then ‖x − mean‖² / (2σ²) + β·KL + D·(log σ + ½ log 2π): up to the constant and the factor 1/(2σ²), the
   * "squared error + λ·KL" loss with λ = 2βσ² for the squared error summed over the D pixels (λ = 2βσ²/D for the
   * mean over pixels). σ = 0.1 is λ = 0.02 per unit β.
   */
  observationStd?: number;
  /**
   * Weight β of the KL term in the training objective E_q[log p(x|z)] − β·KL(q ‖ p) (the β-VAE; default 1, the
   * ELBO). The reported losses stay the −ELBO. Objective `'elbo'` only.
   */
  beta?: number;
  /** The training objective (default `'elbo'`); `'iwae'` maximises the k-sample importance-weighted bound. */
  objective?: VaeObjective;
  /** Importance samples per example of the `'iwae'` objective (default 5; k = 1 is the ELBO with a Monte Carlo KL). */
  k?: number;
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
  /** σ of the Gaussian likelihood (the default 0.1 for the other likelihoods, where it is unused). */
  observationStd: number;
  beta: number;
  objective: VaeObjective;
  /** Importance samples of the IWAE objective (1 for objective `'elbo'`). */
  k: number;
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
  const observationStd = config.observationStd ?? VAE_DEFAULT_OBSERVATION_STD;
  if (typeof observationStd !== 'number' || !Number.isFinite(observationStd) || observationStd <= 0) fail('observationStd', 'a positive number', observationStd);
  if (config.observationStd !== undefined && likelihood !== 'gaussian') {
    fail('observationStd', "used only with likelihood 'gaussian' (leave it out)", config.observationStd);
  }
  const objective = config.objective ?? 'elbo';
  if (!VAE_OBJECTIVES.includes(objective)) fail('objective', `one of ${VAE_OBJECTIVES.map((o) => `'${o}'`).join(', ')}`, objective);
  const beta = config.beta ?? 1;
  if (typeof beta !== 'number' || !Number.isFinite(beta) || beta < 0) fail('beta', 'a finite number ≥ 0', beta);
  if (objective === 'iwae' && beta !== 1) {
    fail('beta', "1 with objective 'iwae' (β weights the ELBO's KL term; the importance-weighted bound has none)", beta);
  }
  const k = config.k ?? (objective === 'iwae' ? VAE_DEFAULT_IWAE_SAMPLES : 1);
  if (!isPosInt(k)) fail('k', 'a positive integer', k);
  if (config.k !== undefined && objective !== 'iwae') fail('k', "used only with objective 'iwae' (leave it out)", config.k);
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
  return { inputShape, latentDim: config.latentDim, architecture, hidden, conv, activation, likelihood, mixtureComponents, numBins, observationStd, beta, objective, k, seed };
}

/** Decoder parameters per pixel: 1 logit (Bernoulli, or the Gaussian's mean before its sigmoid), 2 (location, log-scale), or 3K (K logits, K locations, K log-scales). */
export function paramsPerPixel(c: ResolvedVaeConfig): number {
  switch (c.likelihood) {
    case 'bernoulli':
    case 'gaussian':
      return 1;
    case 'discretized-logistic':
      return 2;
    case 'discretized-logistic-mixture':
      return 3 * c.mixtureComponents;
  }
}
