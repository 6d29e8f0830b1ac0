/** Configuration of the autoencoder family: types, defaults and checks with errors that name the field. */
import { ACTIVATIONS, type Activation } from '@gm/layers';
import { RECONSTRUCTION_LOSSES, type ReconstructionLoss } from './losses';

export type { Activation };

/** Input corruption of a denoising autoencoder, applied only while training. */
export interface NoiseConfig {
  /** Standard deviation of additive Gaussian noise on the inputs (0 = none). */
  gaussianStddev?: number;
  /** Probability of zeroing each input feature (inverted dropout: survivors are scaled by 1/(1 − rate)). */
  dropoutRate?: number;
}

/** The sparse autoencoder's KL penalty toward a target mean activation of the codings. */
export interface SparsityConfig {
  /** Target mean activation of each coding unit, in (0, 1) (e.g. 0.1). */
  target: number;
  /** Weight of the penalty `weight · Σ_j KL(target ‖ mean activation_j)` (≥ 0). */
  weight: number;
}

/**
 * Architecture and training objective of a dense autoencoder `inputDim → hidden[0] → … → hidden[L−1]` (the codings)
 * `→ hidden[L−2] → … → inputDim`.
 */
export interface AutoencoderConfig {
  /** Width of the inputs (e.g. 784 for flattened MNIST). */
  inputDim: number;
  /** Encoder layer widths; the last one is the size of the codings (e.g. [100, 30]). */
  hidden: number[];
  /** Activation of the hidden layers of encoder and decoder (default 'selu'). */
  activation?: Activation;
  /** Activation of the codings layer (default: `activation`). */
  codingActivation?: Activation;
  /** Activation of the reconstruction (default 'sigmoid'). */
  outputActivation?: Activation;
  /** Reconstruction loss (default 'binaryCrossentropy', which needs a sigmoid output). */
  loss?: ReconstructionLoss;
  /** Decoder layers are DenseTranspose layers tied to the encoder kernels (default false). */
  tied?: boolean;
  /** Input corruption while training (denoising). */
  noise?: NoiseConfig | null;
  /** KL sparsity penalty on the codings (needs sigmoid codings). */
  sparsity?: SparsityConfig | null;
  /**
   * Weight of an L1 activity penalty on the codings, `activityL1 · mean over the batch of Σ_j |h_j|` (Keras's
   * `ActivityRegularization(l1=…)`, Géron's other road to sparsity; 0 or absent: none).
   */
  activityL1?: number | null;
  /**
   * Weight λ of the contractive penalty `λ · mean over the batch of ‖∂h/∂x‖²_F`, the squared Frobenius norm of the
   * encoder's Jacobian (Rifai et al. 2011; 0 or absent: none).
   */
  contractive?: number | null;
  /** Seed of the weight initialisation and the default seed of training (unseeded when absent). */
  seed?: number | null;
}

/** An {@link AutoencoderConfig} with every default filled in (what a checkpoint stores). */
export interface ResolvedAutoencoderConfig {
  inputDim: number;
  hidden: number[];
  activation: Activation;
  codingActivation: Activation;
  outputActivation: Activation;
  loss: ReconstructionLoss;
  tied: boolean;
  noise: { gaussianStddev: number; dropoutRate: number } | null;
  sparsity: SparsityConfig | null;
  /** 0 when absent (older checkpoints have neither field). */
  activityL1: number;
  contractive: number;
  seed: number | null;
}

export function checkPositiveInt(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${where} must be a positive integer; got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkWidths(value: unknown, where: string, allowEmpty = false): number[] {
  if (!Array.isArray(value) || (!allowEmpty && value.length === 0)) {
    throw new Error(`${where} must be a ${allowEmpty ? '' : 'non-empty '}array of positive integers; got ${JSON.stringify(value)}`);
  }
  value.forEach((v, i) => checkPositiveInt(v, `${where}[${i}]`));
  return [...(value as number[])];
}

export function checkActivation(value: unknown, fallback: Activation, where: string): Activation {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'string' && (ACTIVATIONS as readonly string[]).includes(value)) return value as Activation;
  throw new Error(`${where} must be one of ${ACTIVATIONS.join(', ')}; got ${JSON.stringify(value)}`);
}

export function checkSeed(value: unknown, where: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new Error(`${where} must be an integer; got ${JSON.stringify(value)}`);
  return value;
}

function checkRange(value: unknown, where: string, lo: number, hi: number, hiOpen: boolean, loOpen = false): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (loOpen ? value > lo : value >= lo) &&
    (hiOpen ? value < hi : value <= hi);
  if (!ok) {
    throw new Error(`${where} must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}; got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/** Checks a config and fills in its defaults; `where` prefixes error messages (e.g. "SparseAutoencoder: config"). */
export function resolveAutoencoderConfig(config: AutoencoderConfig, where: string): ResolvedAutoencoderConfig {
  if (typeof config !== 'object' || config === null) throw new Error(`${where} must be an object with "inputDim" and "hidden"`);
  const inputDim = checkPositiveInt(config.inputDim, `${where}.inputDim`);
  const hidden = checkWidths(config.hidden, `${where}.hidden`);
  const activation = checkActivation(config.activation, 'selu', `${where}.activation`);
  const codingActivation = checkActivation(config.codingActivation, activation, `${where}.codingActivation`);
  const outputActivation = checkActivation(config.outputActivation, 'sigmoid', `${where}.outputActivation`);
  const loss = config.loss ?? 'binaryCrossentropy';
  if (!RECONSTRUCTION_LOSSES.includes(loss)) {
    throw new Error(`${where}.loss must be one of ${RECONSTRUCTION_LOSSES.join(', ')}; got ${JSON.stringify(loss)}`);
  }
  if (loss === 'binaryCrossentropy' && outputActivation !== 'sigmoid') {
    throw new Error(
      `${where}.outputActivation must be 'sigmoid' with loss 'binaryCrossentropy' (reconstructions must lie in (0, 1)); got '${outputActivation}'`,
    );
  }
  const tied = config.tied ?? false;
  if (typeof tied !== 'boolean') throw new Error(`${where}.tied must be a boolean; got ${JSON.stringify(tied)}`);
  let noise: ResolvedAutoencoderConfig['noise'] = null;
  if (config.noise !== undefined && config.noise !== null) {
    if (typeof config.noise !== 'object') throw new Error(`${where}.noise must be an object; got ${JSON.stringify(config.noise)}`);
    const gaussianStddev = checkRange(config.noise.gaussianStddev ?? 0, `${where}.noise.gaussianStddev`, 0, Infinity, true);
    const dropoutRate = checkRange(config.noise.dropoutRate ?? 0, `${where}.noise.dropoutRate`, 0, 1, true);
    noise = { gaussianStddev, dropoutRate };
  }
  let sparsity: SparsityConfig | null = null;
  if (config.sparsity !== undefined && config.sparsity !== null) {
    if (typeof config.sparsity !== 'object') {
      throw new Error(`${where}.sparsity must be an object { target, weight }; got ${JSON.stringify(config.sparsity)}`);
    }
    const target = checkRange(config.sparsity.target, `${where}.sparsity.target`, 0, 1, true, true);
    const weight = checkRange(config.sparsity.weight, `${where}.sparsity.weight`, 0, Infinity, true);
    if (codingActivation !== 'sigmoid') {
      throw new Error(
        `${where}.codingActivation must be 'sigmoid' with a sparsity penalty (codings must lie in (0, 1)); got '${codingActivation}'`,
      );
    }
    sparsity = { target, weight };
  }
  const activityL1 = checkRange(config.activityL1 ?? 0, `${where}.activityL1`, 0, Infinity, true);
  const contractive = checkRange(config.contractive ?? 0, `${where}.contractive`, 0, Infinity, true);
  if (contractive > 0) {
    for (const [field, value] of [['activation', activation], ['codingActivation', codingActivation]] as const) {
      if (value === 'softmax') throw new Error(`${where}.${field} must be element-wise with a contractive penalty (the Jacobian is taken through it); got 'softmax'`);
    }
  }
  const seed = checkSeed(config.seed, `${where}.seed`);
  return { inputDim, hidden, activation, codingActivation, outputActivation, loss, tied, noise, sparsity, activityL1, contractive, seed };
}
