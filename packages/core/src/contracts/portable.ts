/**
 * Networks and coding models as plain data. Whatever feeds an entropy coder must come out bit for bit the same on
 * every machine, engine and tfjs backend, or a compressed file cannot be decoded elsewhere; so a model hands the
 * coder a description of its networks (weights and operations) and @gm/bitsback evaluates it with its own
 * deterministic arithmetic. Models produce these descriptions (`codingModel()`), the coder consumes them, and
 * neither imports the other.
 */

/** Element-wise activations a portable network may use. */
export type PortableActivation = 'linear' | 'relu' | 'elu' | 'selu' | 'tanh' | 'sigmoid' | 'softplus';

/** Element-wise operations between the current vector and a register of the same width. */
export type PortableCombination = 'add' | 'mul';

/**
 * One operation of a {@link PortableNetwork}, applied to each example's vector (the current vector) in turn.
 *
 * Besides the chain of layers, a network may keep vectors in named registers: `store` saves the current vector,
 * `load` makes a register current again, `combine` and `concat` read a register, and a dense layer's second kernel
 * may read one (`inputSlot`). A register must be stored before it is read; storing again replaces it. This is
 * enough for networks that are not a plain chain, e.g. an IAF posterior (@gm/models' `IafVae.codingModel()`).
 */
export type PortableOp =
  /**
   * `y = x·kernel + bias` with `kernel` row-major `[inputSize, units]`; with `inputKernel` a second input is
   * multiplied in too: `y = x·kernel + u·inputKernel + bias`, where `u` is the network's own input (MADE's direct
   * connection; `inputKernel` is `[networkInput, units]`) or, with `inputSlot`, register `inputSlot`'s vector
   * (`inputKernel` is `[its width, units]`; e.g. the context of a conditional MADE layer).
   */
  | {
      op: 'dense';
      inputSize: number;
      units: number;
      kernel: Float32Array;
      bias: Float32Array | null;
      inputKernel?: Float32Array;
      inputSlot?: string;
    }
  /** An element-wise activation. */
  | { op: 'activation'; fn: PortableActivation }
  /** `y = x·scale + shift` element-wise (e.g. 8-bit pixels to bin centres). */
  | { op: 'scale-shift'; scale: number; shift: number }
  /** Saves the current vector in register `slot` (the current vector is unchanged). */
  | { op: 'store'; slot: string }
  /** Makes register `slot`'s vector the current one. */
  | { op: 'load'; slot: string }
  /** `y = x + r` or `y = x ⊙ r` element-wise, `r` the vector of register `slot` (of the current width). */
  | { op: 'combine'; fn: PortableCombination; slot: string }
  /** `y = [x ‖ r]`, `r` the vector of register `slot`. */
  | { op: 'concat'; slot: string };

/** A feed-forward network over flat vectors: `inputSize` floats in, `outputSize` floats out per example. */
export interface PortableNetwork {
  readonly inputSize: number;
  readonly outputSize: number;
  readonly ops: readonly PortableOp[];
}

/** How the decoder's outputs parameterise p(x|z), per pixel (pixel-major: every pixel's parameters together). */
export type ObservationSpec =
  /** One logit per pixel; pixels are 0/1. */
  | { kind: 'bernoulli' }
  /** `[location, log-scale]` per pixel on bin centres of 8-bit pixels; log-scales clamped below at `minLogScale`. */
  | { kind: 'discretized-logistic'; minLogScale: number }
  /** `[K logits, K locations, K log-scales]` per pixel. */
  | { kind: 'discretized-logistic-mixture'; components: number; minLogScale: number };

/**
 * A latent-variable model as the bits-back coder needs it: q(z|x) a diagonal Gaussian whose `[mean ‖ log σ]` the
 * encoder computes from the pixels (0/1 or 0..255, as floats), prior N(0, I), and p(x|z) from the decoder.
 */
export interface GaussianLatentCoding {
  readonly kind: 'gaussian-latent';
  /** Pixel kind the coder sees: 0/1 (`'binary'`) or 0..255 (`'u8'`). */
  readonly pixels: 'binary' | 'u8';
  readonly pixelsPerImage: number;
  readonly latentDim: number;
  readonly encoder: PortableNetwork;
  readonly decoder: PortableNetwork;
  readonly observation: ObservationSpec;
}

/**
 * An autoregressive model of binary pixels (MADE): `network` maps a batch of 0/1 vectors to the logits of
 * p(x_d = 1 | x before d in `order`) for every d, ignoring — bit for bit — the values at and after d.
 */
export interface AutoregressiveCoding {
  readonly kind: 'autoregressive-bernoulli';
  readonly pixelsPerImage: number;
  /** `order[k]` is the pixel coded k-th. */
  readonly order: Int32Array;
  readonly network: PortableNetwork;
}

/** What a model can hand the coder. */
export type CodingModel = GaussianLatentCoding | AutoregressiveCoding;
