/**
 * Variational autoencoder (Kingma & Welling, 2014) with an MLP or convolutional encoder/decoder, a diagonal-Gaussian
 * posterior, an N(0, I) prior and a Bernoulli, discretized-logistic (mixture) or fixed-σ Gaussian observation model,
 * trained on the ELBO, the β-weighted ELBO (β-VAE) or the k-sample importance-weighted bound (IWAE). The
 * distributions, the ELBO and the importance-sampled log-likelihood come from @gm/metrics; this class supplies the
 * networks, the loss the one trainer minimises (`fit`), inference helpers, checkpoints and its coding model for
 * @gm/bitsback.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  checkNonNegativeNumber,
  checkPositiveInt,
  deriveSeed,
  formatShape as fmt,
  GmError,
  type CheckpointStore,
  type EvaluateOptions,
  type FitResult,
  type GaussianLatentCoding,
  type ObservationSpec,
  type InputConvention,
  type LatentVariableModel,
  type LossTerms,
  type Metric,
  type StepContext,
  type TrainingBatch,
  type TrainingData,
} from '@gm/core';
import {
  Bernoulli,
  DiscretizedLogistic,
  DiscretizedLogisticMixture,
  Normal,
  StandardNormal,
  elbo,
  importanceSampledLogLikelihood,
  klDivergence,
  type Distribution,
  type ElboOptions,
  type ElboResult,
  type ImportanceSamplingOptions,
} from '@gm/metrics';
import { fusedNetwork, portableNetwork } from '@gm/layers';
import { readCheckpoint, resolvedConfigOf } from '../io/checkpoint';
import { buildFromParts, ModelBase, type CheckpointContent } from '../model-base';
import type { TrainerDefaults, TrainerOptions } from '../train/trainer';
import { paramsPerPixel, resolveVaeConfig, type ResolvedVaeConfig, type VaeConfig, type VaeObjective } from './config';
import { buildDecoder, buildEncoder } from './networks';
import { latentModelMetrics } from '../latent-metrics';
import { roundedAccuracy } from '../autoencoders/losses';

/** Checkpoint kind written by {@link VAE.save}. */
export const VAE_CHECKPOINT_KIND = 'vae';

/**
 * Lower bound on decoder log-scales (PixelCNN++ uses the same): keeps 1/s finite and matches the bits-back codec's
 * own clamp, so the codec sees exactly the distribution the model scores.
 */
export const VAE_MIN_LOG_SCALE = -7;

/**
 * The decoder's output for a batch of codes: the parameters of p(x|z), each `[N, ...inputShape]` (mixture: `[..., K]`);
 * the Gaussian's log σ is the config's fixed `log(observationStd)`, a number.
 */
export type VaeLikelihoodParams =
  | { kind: 'bernoulli'; logits: tf.Tensor }
  | { kind: 'gaussian'; mean: tf.Tensor; logStd: number }
  | { kind: 'discretized-logistic'; loc: tf.Tensor; logScale: tf.Tensor }
  | { kind: 'discretized-logistic-mixture'; logits: tf.Tensor; locs: tf.Tensor; logScales: tf.Tensor };

/** Options of {@link VAE.fit}: the trainer's, plus a KL warm-up. */
export interface VaeFitOptions extends TrainerOptions {
  /**
   * KL warm-up: the KL term is weighted by a factor rising linearly (per step) from 0 to the config's `beta`
   * (default 1) over this many epochs, then `beta`. Default 0 (no warm-up). The reported losses are always the true
   * −ELBO (weight 1). Objective `'elbo'` only.
   */
  klWarmupEpochs?: number;
}

/**
 * The weight of the KL term at a training step: the config's β, ramped linearly from 0 over `warmupEpochs` epochs
 * of `ctx.batches` steps each when a KL warm-up is on (the step's position counts from 1, so the first step's weight
 * is already above 0 and the last warm-up step's is β).
 */
export function klWeightAt(beta: number, warmupEpochs: number, ctx: Pick<StepContext, 'epoch' | 'batch' | 'batches'>): number {
  if (!(warmupEpochs > 0)) return beta;
  const batches = Number.isFinite(ctx.batches) ? ctx.batches : 1;
  return beta * Math.min(1, ((ctx.epoch - 1) * batches + ctx.batch + 1) / (warmupEpochs * batches));
}

/** Options of {@link VAE.negativeElbo}. */
export interface VaeEvaluateOptions {
  /** Posterior samples per example (default 1); the KL is analytic. */
  samples?: number;
  /** Seed of the posterior samples (default: the config's seed). */
  seed?: number;
  /** Examples per batch (default 500). */
  batchSize?: number;
}

function checkTensorArg(where: string, name: string, t: unknown): asserts t is tf.Tensor {
  if (!(t instanceof tf.Tensor)) throw new GmError('BAD_ARGUMENT', `${where}: "${name}"`, 'a tf.Tensor', t === null ? null : typeof t);
}


/** The config as the user would write it (no nulls, no fields of the other architecture): what checkpoints store. */
export function storedConfig(c: ResolvedVaeConfig): VaeConfig {
  const out: VaeConfig = {
    inputShape: [...c.inputShape],
    latentDim: c.latentDim,
    architecture: c.architecture,
    activation: c.activation,
    likelihood: c.likelihood,
    numBins: c.numBins,
    beta: c.beta,
    objective: c.objective,
    seed: c.seed,
  };
  if (c.likelihood === 'discretized-logistic-mixture') out.mixtureComponents = c.mixtureComponents;
  if (c.likelihood === 'gaussian') out.observationStd = c.observationStd;
  if (c.objective === 'iwae') out.k = c.k;
  if (c.architecture === 'mlp') out.hidden = [...c.hidden];
  else if (c.conv !== null) {
    out.conv = { filters: [...c.conv.filters], kernelSize: c.conv.kernelSize };
    if (c.conv.dense !== null) out.conv.dense = c.conv.dense;
  }
  return out;
}

/**
 * A variational autoencoder. It satisfies @gm/core's `LatentVariableModel` (`posterior`, `likelihood`, `prior`), so
 * @gm/metrics' `elbo(vae, x)` and `importanceSampledLogLikelihood(vae, x, k)` work on it directly, and the
 * `GenerativeModel` contract, so it trains with gm's trainer, saves to any checkpoint store and works with the CLI.
 *
 * @example
 * ```ts
 * const vae = new VAE({ inputShape: [784], hidden: [100], latentDim: 40, likelihood: 'bernoulli', seed: 1 });
 * await vae.fit(xTrain, { epochs: 10, batchSize: 100, learningRate: 1e-3, onEpochEnd: (l) => console.log(l.loss) });
 * const ll = importanceSampledLogLikelihood(vae, xTest, 1000, { seed: 2 }); // [N] nats
 * await vae.save(memoryStore());
 * ```
 */
export class VAE extends ModelBase implements LatentVariableModel {
  readonly kind = VAE_CHECKPOINT_KIND;
  /** The validated configuration, defaults filled in. */
  readonly config: ResolvedVaeConfig;
  /** x → `[mean ‖ log σ]` of q(z|x), shape `[N, 2·latentDim]`. */
  readonly encoder: tfl.LayersModel;
  /** z → parameters of p(x|z), shape `[N, ...inputShape, P]`. */
  readonly decoder: tfl.LayersModel;
  /** p(z) = N(0, I). */
  readonly prior: StandardNormal;
  /** KL warm-up of the current `fit` (epochs), read by `loss`. */
  private klWarmupEpochs = 0;
  /** `encoder.apply` / `decoder.apply`, through gm's fused dense op where the networks are MLPs. */
  private readonly runEncoder: (x: tf.Tensor) => tf.Tensor[];
  private readonly runDecoder: (z: tf.Tensor) => tf.Tensor[];

  /**
   * Builds a VAE with freshly (seeded) initialised weights. The second argument is internal (used by
   * {@link VAE.load}).
   */
  constructor(config: VaeConfig, parts?: { encoder: tfl.LayersModel; decoder: tfl.LayersModel }) {
    super();
    this.config = resolveVaeConfig(config);
    this.encoder = parts?.encoder ?? buildEncoder(this.config);
    this.decoder = parts?.decoder ?? buildDecoder(this.config);
    this.runEncoder = fusedNetwork(this.encoder);
    this.runDecoder = fusedNetwork(this.decoder);
    this.prior = new StandardNormal([this.config.latentDim]);
  }

  /**
   * Switches the training objective of this VAE — `'elbo'` (with `beta`) or `'iwae'` (with `k`) — keeping its networks,
   * epochs trained and optimizer state: to fine-tune a checkpoint trained on the ELBO with the importance-weighted bound
   * (the bound that BB-CIS codes at), say. Checkpoints saved afterwards store the new objective.
   */
  setObjective(o: { objective: VaeObjective; k?: number; beta?: number }): void {
    this.live('setObjective');
    const { k: _k, beta: _beta, ...rest } = storedConfig(this.config);
    const config = resolveVaeConfig({ ...rest, objective: o.objective, ...(o.k === undefined ? {} : { k: o.k }), ...(o.beta === undefined ? {} : { beta: o.beta }) });
    (this as { config: ResolvedVaeConfig }).config = config;
  }

  /** Dimension of z. */
  get latentDim(): number {
    return this.config.latentDim;
  }

  get codingsSize(): number {
    return this.config.latentDim;
  }

  get inputShape(): readonly number[] {
    return this.config.inputShape;
  }

  /** 0/1 pixels for a Bernoulli decoder, bin centres for the discretized likelihoods, [0, 1] intensities for a Gaussian. */
  get inputConvention(): InputConvention {
    const l = this.config.likelihood;
    return l === 'bernoulli' ? 'binary' : l === 'gaussian' ? 'unit' : 'bin-centres';
  }

  /** Number of values per example (the product of `inputShape`). */
  get dataSize(): number {
    return this.config.inputShape.reduce((a, b) => a * b, 1);
  }

  describe(): string {
    const c = this.config;
    const net = c.architecture === 'mlp' ? `MLP ${[this.dataSize, ...c.hidden, c.latentDim].join('-')}` : `conv [${c.conv?.filters.join(', ')}] → ${c.latentDim}`;
    const likelihood = c.likelihood === 'discretized-logistic-mixture' ? ` (${c.mixtureComponents} components)` : c.likelihood === 'gaussian' ? ` (σ ${c.observationStd})` : '';
    const objective = c.objective === 'iwae' ? `, trained on the IWAE bound (k = ${c.k})` : c.beta !== 1 ? `, trained as a β-VAE (β = ${c.beta})` : '';
    return `VAE, ${net}, ${c.activation}, ${c.likelihood} likelihood${likelihood}, N(0, I) prior${objective}`;
  }

  private checkX(where: string, x: unknown): asserts x is tf.Tensor {
    this.live(where);
    checkTensorArg(`VAE.${where}`, 'x', x);
    const want = this.config.inputShape;
    if (x.rank !== want.length + 1 || want.some((d, i) => x.shape[i + 1] !== d) || x.shape[0] === 0) {
      throw new GmError('BAD_SHAPE', `VAE.${where}`, `x has shape ${fmt(x.shape)}, expected [batch, ${want.join(', ')}] with batch ≥ 1`);
    }
  }

  private checkZ(where: string, z: unknown): asserts z is tf.Tensor {
    this.live(where);
    checkTensorArg(`VAE.${where}`, 'z', z);
    if (z.rank !== 2 || z.shape[1] !== this.latentDim || z.shape[0] === 0) {
      throw new GmError('BAD_SHAPE', `VAE.${where}`, `z has shape ${fmt(z.shape)}, expected [batch, ${this.latentDim}] with batch ≥ 1`);
    }
  }
  /** The posterior's parameters `{ mean, logStd }`, each `[N, latentDim]`. */
  posteriorParams(x: tf.Tensor): { mean: tf.Tensor; logStd: tf.Tensor } {
    this.checkX('posteriorParams', x);
    const L = this.latentDim;
    return tf.tidy(() => {
      const [p] = this.runEncoder(x) as [tf.Tensor];
      const [mean, logStd] = tf.split(p, [L, L], 1) as [tf.Tensor, tf.Tensor];
      return { mean, logStd };
    });
  }

  /** q(z|x) = N(mean, σ²) with batch shape `[N]` and event shape `[latentDim]` (the caller owns its tensors). */
  posterior(x: tf.Tensor): Normal {
    const { mean, logStd } = this.posteriorParams(x);
    return new Normal(mean, logStd, { eventRank: 1 });
  }

  /** The parameters of p(x|z) for codes `z` of shape `[N, latentDim]`. */
  likelihoodParams(z: tf.Tensor): VaeLikelihoodParams {
    this.checkZ('likelihoodParams', z);
    const c = this.config;
    const N = z.shape[0] as number;
    return tf.tidy(() => {
      const [out] = this.runDecoder(z) as [tf.Tensor];
      switch (c.likelihood) {
        case 'bernoulli':
          return { kind: 'bernoulli', logits: tf.reshape(out, [N, ...c.inputShape]) };
        case 'gaussian':
          return { kind: 'gaussian', mean: tf.sigmoid(tf.reshape(out, [N, ...c.inputShape])), logStd: Math.log(c.observationStd) };
        case 'discretized-logistic': {
          const [loc, raw] = tf.split(out, 2, -1) as [tf.Tensor, tf.Tensor];
          return {
            kind: 'discretized-logistic',
            loc: tf.reshape(loc, [N, ...c.inputShape]),
            logScale: tf.reshape(tf.maximum(raw, VAE_MIN_LOG_SCALE), [N, ...c.inputShape]),
          };
        }
        case 'discretized-logistic-mixture': {
          const K = c.mixtureComponents;
          const [logits, locs, raw] = tf.split(out, [K, K, K], -1) as [tf.Tensor, tf.Tensor, tf.Tensor];
          return { kind: 'discretized-logistic-mixture', logits, locs, logScales: tf.maximum(raw, VAE_MIN_LOG_SCALE) };
        }
      }
    }) as VaeLikelihoodParams;
  }

  /**
   * p(x|z) for codes `z` of shape `[N, latentDim]`: batch shape `[N]`, event shape `inputShape`. The Gaussian is
   * @gm/metrics' `Normal` with the fixed log σ as a scalar tensor (the caller owns it, like the decoder outputs).
   */
  likelihood(z: tf.Tensor): Distribution {
    const p = this.likelihoodParams(z);
    const eventRank = this.config.inputShape.length;
    const numBins = this.config.numBins;
    switch (p.kind) {
      case 'bernoulli':
        return new Bernoulli(p.logits, { eventRank });
      case 'gaussian':
        return new Normal(p.mean, tf.scalar(p.logStd), { eventRank });
      case 'discretized-logistic':
        return new DiscretizedLogistic(p.loc, p.logScale, { eventRank, numBins });
      case 'discretized-logistic-mixture':
        return new DiscretizedLogisticMixture(p.logits, p.locs, p.logScales, { eventRank, numBins });
    }
  }

  /** Each example's coding: the posterior mean, `[N, latentDim]` (`posteriorParams` gives the scale too). */
  encode(x: tf.Tensor): tf.Tensor {
    const { mean, logStd } = this.posteriorParams(x);
    logStd.dispose();
    return mean;
  }

  /**
   * The mean of p(x|z) in data units, `[N, ...inputShape]`: pixel probabilities for a Bernoulli decoder, the
   * (mixture-weighted) location clipped to [−1, 1] for a discretized logistic, the Gaussian's mean in [0, 1].
   */
  decode(z: tf.Tensor): tf.Tensor {
    // likelihoodParams inside the tidy: its decoder outputs are intermediates here and must not outlive the call.
    return tf.tidy(() => {
      const p = this.likelihoodParams(z);
      switch (p.kind) {
        case 'bernoulli':
          return tf.sigmoid(p.logits);
        case 'gaussian':
          return p.mean;
        case 'discretized-logistic':
          return tf.clipByValue(p.loc, -1, 1);
        case 'discretized-logistic-mixture':
          return tf.clipByValue(tf.sum(tf.mul(tf.softmax(p.logits, -1), p.locs), -1), -1, 1);
      }
    });
  }

  /**
   * `n` new examples: z ~ N(0, I), then the decoder's mean (default) or a draw from p(x|z) (`fromLikelihood`).
   * Seeded calls are reproducible.
   */
  sample(n: number, options: { seed?: number; fromLikelihood?: boolean } = {}): tf.Tensor {
    this.live('sample');
    checkPositiveInt(`VAE.sample: "n"`, n);
    const seed = options.seed ?? this.config.seed;
    return tf.tidy(() => {
      const z = this.prior.sample(n, deriveSeed(seed, 1));
      if (options.fromLikelihood !== true) return this.decode(z);
      return this.likelihood(z).sample(undefined, deriveSeed(seed, 2));
    });
  }

  /** Decoder mean at the posterior mean: x → E[x | z = E[z|x]], `[N, ...inputShape]`. */
  reconstruct(x: tf.Tensor): tf.Tensor {
    const { mean, logStd } = this.posteriorParams(x);
    logStd.dispose();
    const out = this.decode(mean);
    mean.dispose();
    return out;
  }

  /**
   * Semantic interpolation: encodes `x1` and `x2` (one example each, with or without the batch axis) to their
   * posterior means, walks the straight line between the two codings in `steps` points (ends included) and decodes
   * each point. Returns `[steps, ...inputShape]`.
   */
  interpolate(x1: tf.Tensor, x2: tf.Tensor, steps: number): tf.Tensor {
    this.live('interpolate');
    checkPositiveInt(`VAE.interpolate: "steps"`, steps);
    if (steps < 2) throw new Error(`VAE.interpolate: "steps" must be at least 2 (both ends are included), got ${steps}`);
    const one = (t: unknown, name: string): tf.Tensor => {
      checkTensorArg('VAE.interpolate', name, t);
      const want = this.config.inputShape;
      const batched = t.rank === want.length + 1 && t.shape[0] === 1;
      if (!batched && (t.rank !== want.length || want.some((d, i) => t.shape[i] !== d))) {
        throw new Error(`VAE.interpolate: "${name}" has shape ${fmt(t.shape)}, expected ${fmt(want)} or [1, ${want.join(', ')}]`);
      }
      return batched ? t : tf.expandDims(t, 0);
    };
    return tf.tidy(() => {
      const x = tf.concat([one(x1, 'x1'), one(x2, 'x2')], 0);
      const { mean } = this.posteriorParams(x);
      const [a, b] = tf.split(mean, 2, 0) as [tf.Tensor, tf.Tensor];
      const t = tf.reshape(tf.linspace(0, 1, steps), [steps, 1]);
      const z = tf.add(tf.mul(tf.sub(1, t), a), tf.mul(t, b));
      return this.decode(z);
    });
  }

  /** Per-example ELBO terms (@gm/metrics `elbo` on this model), each `[N]`, in nats. */
  elbo(x: tf.Tensor, options: ElboOptions = {}): ElboResult {
    this.checkX('elbo', x);
    return elbo(this, x, options);
  }

  /** Importance-sampled log p(x) with k samples (@gm/metrics), `[N]` nats. */
  logLikelihood(x: tf.Tensor, k: number, options: ImportanceSamplingOptions = {}): tf.Tensor {
    this.checkX('logLikelihood', x);
    return importanceSampledLogLikelihood(this, x, k, options);
  }

  /** Mean −ELBO over `x` in nats (analytic KL, `samples` posterior samples per example), batched to bound memory. */
  negativeElbo(x: tf.Tensor, options: VaeEvaluateOptions = {}): number {
    this.checkX('negativeElbo', x);
    const samples = options.samples ?? 1;
    checkPositiveInt(`VAE.negativeElbo: "samples"`, samples);
    const batchSize = options.batchSize ?? 500;
    checkPositiveInt(`VAE.negativeElbo: "batchSize"`, batchSize);
    const seed = options.seed ?? this.config.seed;
    const N = x.shape[0] as number;
    let total = 0;
    for (let start = 0, b = 0; start < N; start += batchSize, b++) {
      const size = Math.min(batchSize, N - start);
      const sum = tf.tidy(() => {
        const xb = size === N ? x : tf.slice(x, start, size);
        return tf.sum(elbo(this, xb, { samples, seed: deriveSeed(seed, b), kl: 'analytic' }).elbo);
      });
      total -= sum.dataSync()[0] as number;
      sum.dispose();
    }
    return total / N;
  }

  /** The trainable variables of encoder and decoder (what `fit` optimises). */
  trainableVariables(): tf.Variable[] {
    return [...this.encoder.trainableWeights, ...this.decoder.trainableWeights].map((w) => w.read() as tf.Variable);
  }

  /**
   * The training loss on a batch, by the config's `objective`:
   * - `'elbo'`: {@link elboObjective} with the config's β as the KL weight (ramped up from 0 during a KL warm-up, see
   *   {@link klWeightAt}); the reported loss is the true −ELBO (weight 1).
   * - `'iwae'`: {@link iwaeObjective}, both optimised and reported.
   * Each is the mean over the batch, in nats, its noise seeded by the step's seed.
   */
  loss(batch: TrainingBatch, ctx: StepContext): LossTerms {
    if (this.config.objective === 'iwae') {
      const bound = this.iwaeObjective(batch.x, ctx.seed);
      return { objective: bound, reported: bound };
    }
    return this.elboObjective(batch.x, ctx.seed, klWeightAt(this.config.beta, this.klWarmupEpochs, ctx));
  }

  /**
   * The batch's mean −ELBO with one reparameterised posterior sample (seeded by `seed`, each example's noise its own
   * stream, so a data-parallel shard draws what one thread draws) and the analytic KL: `objective`
   * −(E_q[log p(x|z)] − w·KL(q ‖ p)) with w = `klWeight`, and `reported`, the true −ELBO (w = 1).
   */
  elboObjective(x: tf.Tensor, seed: number, klWeight: number): LossTerms {
    return tf.tidy(() => {
      const q = this.posterior(x);
      const rec = tf.mean(this.likelihood(q.sample(undefined, seed)).logProb(x));
      const kl = tf.mean(klDivergence(q, this.prior));
      const reported = tf.sub(kl, rec) as tf.Scalar;
      return { objective: klWeight === 1 ? reported : (tf.neg(tf.sub(rec, tf.mul(kl, klWeight))) as tf.Scalar), reported };
    });
  }

  /**
   * The mean negative k-sample importance-weighted bound of the batch `x` (k: the config's),
   * −log (1/k) Σᵢ p(x, zᵢ) / q(zᵢ|x) with k reparameterised posterior samples zᵢ per example — @gm/metrics'
   * `importanceSampledLogLikelihood`, differentiable (Burda et al., 2016), seeded by `seed` (each example's samples
   * its own stream): the IWAE objective and, for objective `'iwae'`, the validation loss. Training draws the k samples
   * as one chunk, so that a data-parallel shard draws what one thread draws (chunk sizes would follow the batch size);
   * `bounded` (validation, no gradients) lets the memory bound of `importanceSampledLogLikelihood` chunk them.
   */
  iwaeObjective(x: tf.Tensor, seed: number, bounded = false): tf.Scalar {
    const k = this.config.k;
    const options = { seed, batchSize: x.shape[0] as number, ...(bounded ? {} : { chunkSize: k }) };
    return tf.tidy(() => tf.neg(tf.mean(importanceSampledLogLikelihood(this, x, k, options))) as tf.Scalar);
  }

  /**
   * Validation: the mean −ELBO (one seeded posterior sample, analytic KL); for objective `'iwae'` the mean negative
   * k-sample bound the training reports (seeded).
   */
  validationLoss(batch: TrainingBatch, ctx: { seed: number }): tf.Scalar {
    if (this.config.objective === 'iwae') return this.iwaeObjective(batch.x, ctx.seed, true);
    return tf.tidy(() => tf.neg(tf.mean(elbo(this, batch.x, { seed: ctx.seed, kl: 'analytic' }).elbo)) as tf.Scalar);
  }

  protected fitDefaults(): TrainerDefaults {
    return { where: 'VAE.fit', batchSize: 100, seed: this.config.seed, learningRate: 1e-3 };
  }

  /**
   * Trains on `data` (`[N, ...inputShape]` in the likelihood's convention, or an image dataset) with Adam on the
   * config's objective through gm's trainer (see {@link VAE.loss} and {@link VaeFitOptions}). Seeded: the same seed,
   * data and backend give bit-identical weights.
   */
  override async fit(data: TrainingData, options: VaeFitOptions): Promise<FitResult> {
    const warmup = options?.klWarmupEpochs ?? 0;
    checkNonNegativeNumber('VAE.fit: klWarmupEpochs', warmup);
    if (warmup > 0 && this.config.objective === 'iwae') {
      throw new GmError('BAD_ARGUMENT', 'VAE.fit: klWarmupEpochs', "0 with objective 'iwae' (a warm-up weights the ELBO's KL term; the importance-weighted bound has none)", warmup);
    }
    this.klWarmupEpochs = warmup;
    return super.fit(data, options);
  }

  protected override beforeFit(data: TrainingData): void {
    if (data instanceof tf.Tensor) this.checkX('fit', data);
    if (this.config.architecture === 'conv') {
      const backend = tf.getBackend();
      for (const kernel of ['Conv2DBackpropFilter', 'Conv2DBackpropInput']) {
        if (tf.getKernel(kernel, backend) === undefined) {
          throw new GmError(
            'UNSUPPORTED',
            'VAE.fit',
            `training the convolutional VAE needs the ${kernel} kernel, which the "${backend}" backend lacks ` +
              `(tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter): call initBackend() from @gm/backend, which registers gm's, or train on ` +
              `the cpu, webgl or node backend — inference works here`,
          );
        }
      }
    }
  }

  /**
   * Test figures: the mean −ELBO (nats and bits/dim) and, with `k` > 1, the importance-sampled −log p(x) with `k`
   * samples. A Gaussian VAE's nats are of its density on [0, 1] intensities; its bits/dim are of the density in
   * pixel units 0..255 (nats + D·ln 255, over D·ln 2): about the code length of the Gaussian discretised to the 256
   * pixel levels, as σ·255 ≫ 1. Bernoulli and Gaussian VAEs add the rounded accuracy of their reconstructions
   * (decoder mean at the posterior mean), the autoencoders' figure.
   */
  evaluate(x: tf.Tensor, options: EvaluateOptions = {}): Metric[] {
    this.checkX('evaluate', x);
    const metrics = latentModelMetrics(this, x, this.dataSize, options.seed ?? this.config.seed, options, this.config.likelihood === 'gaussian' ? { levels: 255 } : {});
    if (this.config.likelihood !== 'bernoulli' && this.config.likelihood !== 'gaussian') return metrics;
    // Intensities in [0, 1]: the autoencoders' figure too, so a VAE compares with them (Géron's table).
    const batch = options.batchSize ?? 256;
    const n = x.shape[0] as number;
    let sum = 0;
    for (let start = 0; start < n; start += batch) {
      const size = Math.min(batch, n - start);
      const acc = tf.tidy(() => {
        const xb = tf.slice(x, [start], [size]);
        return roundedAccuracy(xb, this.reconstruct(xb));
      });
      sum += (acc.dataSync()[0] as number) * size;
      acc.dispose();
    }
    return [...metrics, { name: 'roundedAccuracy', value: sum / n, unit: 'fraction' }];
  }

  protected checkpointContent(): CheckpointContent {
    return { config: storedConfig(this.config), parts: { encoder: this.encoder, decoder: this.decoder } };
  }

  /**
   * The VAE as the lossless coder sees it (@gm/core's `GaussianLatentCoding`): its encoder and decoder as portable
   * networks that @gm/bitsback evaluates with its own deterministic arithmetic, so a file decodes on any machine.
   * The encoder reads pixels as the coder holds them (0/1, or 0..255 turned into bin centres by a first op). MLP
   * VAEs only: convolutions have no portable form yet.
   */
  codingModel(): GaussianLatentCoding {
    this.live('codingModel');
    const c = this.config;
    if (c.architecture !== 'mlp') throw new GmError('UNSUPPORTED', 'VAE.codingModel', 'the convolutional VAE has no portable coding path yet (its networks are convolutions); train an MLP VAE to compress');
    if (c.likelihood === 'gaussian') {
      throw new GmError('UNSUPPORTED', 'VAE.codingModel', "a Gaussian VAE models continuous intensities, and lossless coding needs a probability for each pixel value: train one with likelihood 'bernoulli' or 'discretized-logistic' to compress");
    }
    if (c.likelihood !== 'bernoulli' && c.numBins !== 256) throw new GmError('UNSUPPORTED', 'VAE.codingModel', `the logistic coder is for 8-bit pixels; this VAE has numBins ${c.numBins}`);
    const encoder = portableNetwork(this.encoder, 'VAE encoder');
    const decoder = portableNetwork(this.decoder, 'VAE decoder');
    const observation: ObservationSpec =
      c.likelihood === 'bernoulli'
        ? { kind: 'bernoulli' }
        : c.likelihood === 'discretized-logistic'
          ? { kind: 'discretized-logistic', minLogScale: VAE_MIN_LOG_SCALE }
          : { kind: 'discretized-logistic-mixture', components: c.mixtureComponents, minLogScale: VAE_MIN_LOG_SCALE };
    return {
      kind: 'gaussian-latent',
      pixels: c.likelihood === 'bernoulli' ? 'binary' : 'u8',
      pixelsPerImage: this.dataSize,
      latentDim: c.latentDim,
      encoder: c.likelihood === 'bernoulli' ? encoder : { ...encoder, ops: [{ op: 'scale-shift', scale: 2 / (c.numBins - 1), shift: -1 }, ...encoder.ops] },
      decoder,
      observation,
    };
  }

  /** Loads a VAE saved by {@link VAE.save}; a checkpoint of another kind, or whose weights disagree with its config, is an error. */
  static async load(store: CheckpointStore): Promise<VAE> {
    const reader = await readCheckpoint<VaeConfig>(store, VAE_CHECKPOINT_KIND);
    const where = store.label;
    const config: ResolvedVaeConfig = resolvedConfigOf(reader, resolveVaeConfig);
    const shapeOf = (s: tfl.SymbolicTensor['shape'] | undefined): (number | null)[] => s ?? [];
    const expectShape = (what: string, got: readonly (number | null)[], want: (number | null)[]): void => {
      if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
        throw new GmError('CORRUPT', where, `the ${what} has shape ${fmt(got)} but the config implies ${fmt(want)}`);
      }
    };
    return buildFromParts(reader, ['encoder', 'decoder'], ({ encoder, decoder }) => {
      expectShape('encoder input', shapeOf(encoder.inputs[0]?.shape), [null, ...config.inputShape]);
      expectShape('encoder output', shapeOf(encoder.outputs[0]?.shape), [null, 2 * config.latentDim]);
      expectShape('decoder input', shapeOf(decoder.inputs[0]?.shape), [null, config.latentDim]);
      expectShape('decoder output', shapeOf(decoder.outputs[0]?.shape), [null, ...config.inputShape, paramsPerPixel(config)]);
      VAE.checkStoredParts(where, storedConfig(config), { encoder, decoder });
      return new VAE(storedConfig(config), { encoder, decoder });
    });
  }

  protected disposeModel(): void {
    this.encoder.dispose();
    this.decoder.dispose();
  }
}
