/**
 * The model contract: what a gm model can truthfully do. Every built-in model implements it, the CLI works through
 * it only, and a user's model that implements it gets the same commands.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { InputConvention } from './dataset.js';
import type { CodingModel } from './portable.js';
import type { CheckpointStore, FitOptions, FitResult, SaveOptions, Trainable, TrainingData } from './training.js';

/** One evaluation figure. */
export interface Metric {
  /** e.g. `negElbo`, `isNll`, `nll`, `bitsPerDim`, `loss`, `roundedAccuracy`. */
  name: string;
  value: number;
  /** e.g. `nats`, `bits/dim`, `fraction`. */
  unit: string;
}

export interface EvaluateOptions {
  /** Importance samples for models with a latent variable (default 1, i.e. −ELBO only). */
  k?: number;
  seed?: number;
  batchSize?: number;
  /** Class labels `[N]` (int32) for class-conditional models: the metrics are then of p(x | label). */
  labels?: Tensor;
}

export interface GenerativeModel extends Trainable {
  /** Checkpoint kind, e.g. `'vae'`, `'made'`, `'realnvp-image'`. */
  readonly kind: string;
  /** One example's shape, without the batch axis. */
  readonly inputShape: readonly number[];
  /** What the input tensor holds. */
  readonly inputConvention: InputConvention;
  /** Size of a coding (latent dimension); 0 for models without codings. */
  readonly codingsSize: number;
  /** Class-conditional models: how many classes their labels range over (absent or 0: unconditional). Such a model
   * trains on `{ x, labels }`, evaluates with `options.labels` and samples with `options.label`. */
  readonly classes?: number;
  /** Epochs trained so far (restored on load); `fit` continues from here. */
  epochsTrained: number;
  /** One line: architecture and objective. */
  describe(): string;
  fit(data: TrainingData, options: FitOptions): Promise<FitResult>;
  /** Writes a checkpoint (config, weights, epochs; `options.files` in the same atomic write). */
  save(store: CheckpointStore, options?: SaveOptions): Promise<void>;
  /** Test figures (negative log-likelihood or its bounds, in nats and bits/dim, or reconstruction losses). */
  evaluate(x: Tensor, options?: EvaluateOptions): Metric[];
  /** log p(x) per example in nats, for models with a tractable density. */
  logProb?(x: Tensor): Tensor;
  /** New examples in the input convention. */
  sample?(n: number, options?: { seed?: number; temperature?: number; label?: number | readonly number[] }): Tensor;
  /** Codings `[N, codingsSize]` (a VAE's posterior means). */
  encode?(x: Tensor): Tensor;
  /** Inputs from codings. */
  decode?(z: Tensor): Tensor;
  /** decode(encode(x)). */
  reconstruct?(x: Tensor): Tensor;
  /** The model as the lossless coder sees it, where it has one. */
  codingModel?(): CodingModel;
  /** Frees weights and optimizer state. */
  dispose(): void;
}
