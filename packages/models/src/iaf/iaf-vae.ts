/**
 * VAE with inverse autoregressive flow (Kingma et al., 2016, "Improved Variational Inference with Inverse
 * Autoregressive Flow"). The encoder of a plain {@link VAE} gives μ, σ of z₀ ~ N(μ, σ²) and — from the features it
 * computes before its last layer — a context h. T IAF steps follow, each a MADE over z conditioned on h that
 * outputs (m_t, s_t) autoregressively:
 *
 *   σ_t = sigmoid(s_t),  z ← σ_t ⊙ z + (1 − σ_t) ⊙ m_t,   log q(z_T|x) = log N(z₀; μ, σ²) − Σ_t Σ_d log σ_t,d
 *
 * (the Jacobian of each step is triangular with diagonal σ_t). s starts at a positive bias so the steps start near
 * the identity; the ordering is reversed between steps. The posterior knows log q only of its own samples, so it is
 * a `SampleWithLogProb` and @gm/metrics' `elbo` (Monte Carlo KL) and `importanceSampledLogLikelihood` use it as is.
 * The decoder, prior, likelihoods and config style are the VAE's: the IAF-VAE holds a VAE and adds the flow.
 */
import * as tf from '@tensorflow/tfjs-core';
import { OptimizerSlot, type OptimizerFactory } from '../train/optimizer';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerVariable, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { MaskedDense, madeDegrees, outputDegrees, registerGmLayers } from '@gm/layers';
import {
  Normal,
  elbo,
  importanceSampledLogLikelihood,
  type Distribution,
  type ElboOptions,
  type ElboResult,
  type ImportanceSamplingOptions,
  type LatentVariableModel,
  type SampleWithLogProb,
  type StandardNormal,
} from '@gm/metrics';
import { loadCheckpointPart, readCheckpointManifest, saveCheckpoint } from '../io/checkpoint';
import { type EarlyStopping, type FitCallbacks, type FitResult } from '../train/fit-loop';
import { gatherBatches, identityOrder, runModelFitLoop } from '../train/minibatches';
import { checkPositiveInt, deriveSeed, formatShape as fmt, permutation } from '@gm/core';
import { VAE } from '../vae/vae';
import { resolveVaeConfig, type VaeConfig } from '../vae/config';

/** Checkpoint kind written by {@link IafVae.save}. */
export const IAF_VAE_CHECKPOINT_KIND = 'iaf-vae';

/** An IAF-VAE: a {@link VaeConfig} (encoder, decoder, likelihood) plus the flow. */
export interface IafVaeConfig extends VaeConfig {
  /** Number T of IAF steps (default 2; 0 gives exactly the VAE's posterior). */
  flowSteps?: number;
  /** Hidden layer sizes of each step's MADE over z (default `[2 · latentDim]`). */
  flowHidden?: number[];
  /** Width of the context h (default 50): a dense ELU layer on the encoder's last hidden features. */
  contextSize?: number;
  /** Initial value of s's bias (default 2, σ = sigmoid(2) ≈ 0.88): steps start close to the identity. */
  gateBias?: number;
}

/** A config with every default filled in. */
export interface ResolvedIafVaeConfig {
  vae: VaeConfig;
  flowSteps: number;
  flowHidden: number[];
  contextSize: number;
  gateBias: number;
}

/** Options of {@link IafVae.fit}. */
export interface IafVaeFitOptions extends FitCallbacks {
  epochs: number;
  /** Examples per step (default 100). */
  batchSize?: number;
  /** Adam learning rate (default 1e-3). */
  learningRate?: number;
  /**
   * Builds the optimizer for a learning rate (default `tf.train.adam`). On wasm pass `gmAdam` from @gm/backend: the
   * same Adam, bit for bit, in one fused kernel per variable. A new factory or rate starts a new optimizer.
   */
  optimizer?: OptimizerFactory;
  /** Validation examples; their mean −ELBO (1 sample) is reported as `valLoss`. */
  validationData?: tf.Tensor;
  earlyStopping?: EarlyStopping;
  /** Seed of the batch order and the posterior noise (default: the config's seed). */
  seed?: number;
  shuffle?: boolean;
}

function fail(field: string, expected: string, got: unknown): never {
  throw new Error(`IAF-VAE config: "${field}" must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Validates an IAF-VAE config (the VAE part by the VAE's own rules) and fills in the defaults. */
export function resolveIafVaeConfig(config: IafVaeConfig): ResolvedIafVaeConfig {
  if (config === null || typeof config !== 'object') fail('config', 'an object', config);
  const { flowSteps = 2, flowHidden, contextSize = 50, gateBias = 2, ...vaePart } = config;
  const resolved = resolveVaeConfig(vaePart);
  if (!Number.isInteger(flowSteps) || flowSteps < 0) fail('flowSteps', 'a non-negative integer', flowSteps);
  const hidden = flowHidden ?? [2 * resolved.latentDim];
  if (!Array.isArray(hidden) || hidden.length === 0 || !hidden.every(isPosInt)) fail('flowHidden', 'a non-empty array of positive integers', hidden);
  if (!isPosInt(contextSize)) fail('contextSize', 'a positive integer', contextSize);
  if (typeof gateBias !== 'number' || !Number.isFinite(gateBias)) fail('gateBias', 'a finite number', gateBias);
  if (flowSteps > 0 && resolved.latentDim < 2) fail('latentDim', 'at least 2 when flowSteps > 0 (a MADE needs 2 inputs)', resolved.latentDim);
  return { vae: { ...vaePart }, flowSteps, flowHidden: [...hidden], contextSize, gateBias };
}

function checkPosInt(where: string, name: string, v: unknown): asserts v is number {
  checkPositiveInt(`${where}: "${name}"`, v);
}

/** The encoder seen with two outputs: `[μ ‖ log σ]` and the features its last layer reads (shared weights). */
function featureView(encoder: tfl.LayersModel): { model: tfl.LayersModel; width: number } {
  const last = encoder.layers[encoder.layers.length - 1];
  const feat = last?.input;
  if (last === undefined || feat === undefined || Array.isArray(feat) || feat.shape.length !== 2 || typeof feat.shape[1] !== 'number') {
    throw new Error('IAF-VAE: the encoder must end in a dense layer reading rank-2 features');
  }
  const out = encoder.outputs[0] as SymbolicTensor;
  return { model: tfl.model({ inputs: encoder.inputs, outputs: [out, feat], name: 'iaf_encoder_view' }), width: feat.shape[1] };
}

/** The context layer and the T steps' MaskedDense stacks, collected in one LayersModel (what the checkpoint saves). */
function buildFlow(c: ResolvedIafVaeConfig, latentDim: number, featureWidth: number): tfl.LayersModel {
  const seed = resolveVaeConfig(c.vae).seed;
  const z = tfl.input({ shape: [latentDim], name: 'iaf_z' });
  const feat = tfl.input({ shape: [featureWidth], name: 'iaf_features' });
  const ctx = tfl.layers
    .dense({
      units: c.contextSize,
      activation: 'elu',
      name: 'iaf_context',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: deriveSeed(seed, 30) % 2 ** 30 }),
    })
    .apply(feat) as SymbolicTensor;
  const outputs: SymbolicTensor[] = [ctx];
  for (let t = 0; t < c.flowSteps; t++) {
    const deg = madeDegrees({ inputSize: latentDim, hiddenSizes: c.flowHidden, ordering: t % 2 === 0 ? 'natural' : 'reversed' });
    let h: SymbolicTensor = z;
    c.flowHidden.forEach((units, l) => {
      h = new MaskedDense({
        units,
        inputDegrees: deg[l] as number[],
        outputDegrees: deg[l + 1] as number[],
        contextSize: c.contextSize,
        activation: 'elu',
        seed: deriveSeed(seed, 31, t, l) % 2 ** 30,
        name: `iaf_step${t}_hidden${l}`,
      }).apply([h, ctx]) as SymbolicTensor;
    });
    const out = new MaskedDense({
      units: 2 * latentDim,
      inputDegrees: deg[c.flowHidden.length] as number[],
      outputDegrees: outputDegrees(deg[0] as number[], 2),
      maskType: 'output',
      contextSize: c.contextSize,
      seed: deriveSeed(seed, 32, t) % 2 ** 30,
      name: `iaf_step${t}_out`,
    });
    outputs.push(out.apply([h, ctx]) as SymbolicTensor);
    // Small initial (m, s) weights and s's bias at gateBias: σ ≈ sigmoid(gateBias), the step near the identity.
    for (const w of out.weights as LayerVariable[]) {
      const name = w.name.split('/').pop() ?? '';
      const value = w.read();
      if (/^bias/.test(name)) {
        w.write(tf.tidy(() => tf.concat([tf.zeros([latentDim]), tf.fill([latentDim], c.gateBias)])));
      } else if (/^(kernel|context_kernel)/.test(name)) {
        w.write(tf.tidy(() => tf.mul(value, 0.1)));
      }
    }
  }
  return tfl.model({ inputs: [z, feat], outputs, name: 'iaf_flow' });
}

/**
 * A VAE whose posterior is refined by T inverse autoregressive flow steps. Satisfies @gm/metrics'
 * `LatentVariableModel`: `posterior(x)` is a `SampleWithLogProb`.
 *
 * @example
 * ```ts
 * const model = new IafVae({ inputShape: [784], hidden: [100], latentDim: 40, flowSteps: 2, contextSize: 50, seed: 1 });
 * model.fit(xTrain, { epochs: 10, batchSize: 100 });
 * const negElbo = model.negativeElbo(xTest);                                  // nats, Monte Carlo KL
 * const ll = importanceSampledLogLikelihood(model, xTest, 1000, { seed: 2 }); // [N] nats
 * await model.save('checkpoints/iaf-vae');
 * ```
 */
export class IafVae implements LatentVariableModel {
  /** The validated configuration. */
  readonly config: ResolvedIafVaeConfig;
  /** The underlying VAE: encoder (μ, log σ), decoder, prior and likelihood. */
  readonly vae: VAE;
  /** The context layer and the flow steps (one output per step: `[m ‖ s]` of width 2·latentDim, after the context). */
  readonly flow: tfl.LayersModel;
  /** Epochs trained so far. */
  epochsTrained = 0;
  private readonly view: tfl.LayersModel;
  private readonly contextLayer: tfl.layers.Layer;
  private readonly steps: { hidden: MaskedDense[]; out: MaskedDense }[];
  private readonly optimizerSlot = new OptimizerSlot();
  private disposed = false;

  /** Builds an IAF-VAE with seeded weights. The second argument is internal ({@link IafVae.load}). */
  constructor(config: IafVaeConfig, parts?: { vae: VAE; flow: tfl.LayersModel }) {
    this.config = resolveIafVaeConfig(config);
    this.vae = parts?.vae ?? new VAE(this.config.vae);
    const view = featureView(this.vae.encoder);
    this.view = view.model;
    this.flow = parts?.flow ?? buildFlow(this.config, this.vae.latentDim, view.width);
    const byName = (name: string): tfl.layers.Layer => {
      try {
        return this.flow.getLayer(name);
      } catch {
        throw new Error(`IAF-VAE: the flow model has no layer "${name}" (does it match the config?)`);
      }
    };
    this.contextLayer = byName('iaf_context');
    this.steps = [];
    for (let t = 0; t < this.config.flowSteps; t++) {
      const hidden = this.config.flowHidden.map((_, l) => byName(`iaf_step${t}_hidden${l}`) as MaskedDense);
      this.steps.push({ hidden, out: byName(`iaf_step${t}_out`) as MaskedDense });
    }
  }

  /** Dimension of z. */
  get latentDim(): number {
    return this.vae.latentDim;
  }

  /** p(z) = N(0, I) (the VAE's). */
  get prior(): StandardNormal {
    return this.vae.prior;
  }

  private live(where: string): void {
    if (this.disposed) throw new Error(`IafVae.${where}: this IAF-VAE has been disposed`);
  }

  private checkX(where: string, x: unknown): asserts x is tf.Tensor {
    this.live(where);
    if (!(x instanceof tf.Tensor)) throw new Error(`IafVae.${where}: "x" must be a tf.Tensor`);
    const want = this.vae.config.inputShape;
    if (x.rank !== want.length + 1 || want.some((d, i) => x.shape[i + 1] !== d) || x.shape[0] === 0) {
      throw new Error(`IafVae.${where}: x has shape ${fmt(x.shape)}, expected [batch, ${want.join(', ')}] with batch ≥ 1`);
    }
  }

  /** μ, log σ of z₀ and the context h, each `[N, ·]`. */
  posteriorParams(x: tf.Tensor): { mean: tf.Tensor; logStd: tf.Tensor; context: tf.Tensor } {
    this.checkX('posteriorParams', x);
    const L = this.latentDim;
    return tf.tidy(() => {
      const [p, feat] = this.view.apply(x) as [tf.Tensor, tf.Tensor];
      const [mean, logStd] = tf.split(p, [L, L], 1) as [tf.Tensor, tf.Tensor];
      return { mean, logStd, context: this.contextLayer.apply(feat) as tf.Tensor };
    });
  }

  /**
   * Runs the T flow steps on `z` `[M, L]` with context `[M, C]`: the final z and Σ_t Σ_d log σ_t,d (the log-det of
   * the whole flow), `[M]`. Step `t` alone with `steps: [t]`.
   */
  flowForward(z: tf.Tensor, context: tf.Tensor, options: { steps?: number[] } = {}): { z: tf.Tensor; logDet: tf.Tensor } {
    this.live('flowForward');
    const L = this.latentDim;
    const which = options.steps ?? this.steps.map((_, t) => t);
    return tf.tidy(() => {
      let cur = z;
      let logDet: tf.Tensor = tf.zeros([z.shape[0] as number]);
      for (const t of which) {
        const step = this.steps[t];
        if (step === undefined) throw new Error(`IafVae.flowForward: step ${t} does not exist (flowSteps = ${this.steps.length})`);
        let h: tf.Tensor = cur;
        for (const layer of step.hidden) h = layer.apply([h, context]) as tf.Tensor;
        const out = step.out.apply([h, context]) as tf.Tensor;
        const [m, s] = tf.split(out, [L, L], 1) as [tf.Tensor, tf.Tensor];
        const gate = tf.sigmoid(s);
        cur = tf.add(tf.mul(gate, cur), tf.mul(tf.sub(1, gate), m));
        logDet = tf.add(logDet, tf.sum(tf.neg(tf.softplus(tf.neg(s))), 1)); // Σ log sigmoid(s), stably
      }
      return { z: cur, logDet };
    });
  }

  /**
   * q(z_T|x) as samples with their log density: z₀ = μ + σ ⊙ ε (the VAE's own Normal sampler, so T = 0 draws exactly
   * what the VAE draws), then the flow; log q = log N(z₀; μ, σ²) − log-det. Samples `[n, B, L]`, log q `[n, B]`.
   */
  posterior(x: tf.Tensor): SampleWithLogProb {
    const { mean, logStd, context } = this.posteriorParams(x);
    const base = new Normal(mean, logStd, { eventRank: 1 });
    const B = x.shape[0] as number;
    const L = this.latentDim;
    return {
      sampleWithLogProb: (n: number, seed?: number) =>
        tf.tidy(() => {
          const z0 = base.sample(n, seed);
          const logq0 = base.logProb(z0);
          if (this.steps.length === 0) return { sample: z0, logProb: logq0 };
          const ctx = n === 1 ? context : tf.concat(new Array<tf.Tensor>(n).fill(context), 0);
          const { z, logDet } = this.flowForward(tf.reshape(z0, [n * B, L]), ctx);
          return { sample: tf.reshape(z, [n, B, L]), logProb: tf.sub(logq0, tf.reshape(logDet, [n, B])) };
        }),
    };
  }

  /** p(x|z) (the VAE's decoder and likelihood). */
  likelihood(z: tf.Tensor): Distribution {
    this.live('likelihood');
    return this.vae.likelihood(z);
  }

  /** Per-example ELBO terms with the flow posterior (Monte Carlo KL), each `[N]` nats. */
  elbo(x: tf.Tensor, options: Omit<ElboOptions, 'kl'> = {}): ElboResult {
    this.checkX('elbo', x);
    return elbo(this, x, { ...options, kl: 'mc' });
  }

  /** Importance-sampled log p(x) with k samples from the flow posterior, `[N]` nats. */
  logLikelihood(x: tf.Tensor, k: number, options: ImportanceSamplingOptions = {}): tf.Tensor {
    this.checkX('logLikelihood', x);
    return importanceSampledLogLikelihood(this, x, k, options);
  }

  /** Mean −ELBO over `x` in nats (`samples` flow-posterior samples per example), batched. */
  negativeElbo(x: tf.Tensor, options: { samples?: number; seed?: number; batchSize?: number } = {}): number {
    this.checkX('negativeElbo', x);
    const samples = options.samples ?? 1;
    checkPosInt('IafVae.negativeElbo', 'samples', samples);
    const batchSize = options.batchSize ?? 500;
    checkPosInt('IafVae.negativeElbo', 'batchSize', batchSize);
    const seed = options.seed ?? this.vae.config.seed;
    const N = x.shape[0] as number;
    let total = 0;
    for (let start = 0, b = 0; start < N; start += batchSize, b++) {
      const size = Math.min(batchSize, N - start);
      const sum = tf.tidy(() => tf.sum(elbo(this, size === N ? x : tf.slice(x, start, size), { samples, seed: deriveSeed(seed, b), kl: 'mc' }).elbo));
      total -= sum.dataSync()[0] as number;
      sum.dispose();
    }
    return total / N;
  }

  /** Trainable variables: the VAE's, then the flow's (context layer and steps; masks are not trainable). */
  trainableVariables(): tf.Variable[] {
    return [...this.vae.trainableVariables(), ...this.flow.trainableWeights.map((w) => w.read() as tf.Variable)];
  }

  /**
   * Trains with Adam on the negative ELBO (one reparameterised flow-posterior sample per example, Monte Carlo KL)
   * through the shared fit loop. Seeded: same seed, data and backend → same weights.
   */
  fit(data: tf.Tensor, options: IafVaeFitOptions): FitResult {
    this.checkX('fit', data);
    const where = 'IafVae.fit';
    if (options === null || typeof options !== 'object') throw new Error(`${where}: options must be an object with "epochs"`);
    const batchSize = options.batchSize ?? 100;
    checkPosInt(where, 'batchSize', batchSize);
    const lr = options.learningRate ?? 1e-3;
    if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)) throw new Error(`${where}: "learningRate" must be a positive number, got ${String(lr)}`);
    const seed = options.seed ?? this.vae.config.seed;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new Error(`${where}: "seed" must be a finite number, got ${String(seed)}`);
    const validation = options.validationData;
    if (validation !== undefined) this.checkX('fit (validationData)', validation);
    if (options.earlyStopping !== undefined && validation === undefined) throw new Error(`${where}: "earlyStopping" needs "validationData" to watch`);
    if (this.vae.config.architecture === 'conv') {
      const backend = tf.getBackend();
      for (const kernel of ['Conv2DBackpropFilter', 'Conv2DBackpropInput']) {
        if (tf.getKernel(kernel, backend) === undefined) {
          throw new Error(`${where}: training the convolutional encoder needs the ${kernel} kernel, which the "${backend}" backend lacks; call initBackend() from @gm/backend (it registers gm's on wasm) or train on cpu, webgl or node`);
        }
      }
    }
    const optimizer = this.optimizerSlot.get(lr, options.optimizer);
    const variables = this.trainableVariables();
    const N = data.shape[0] as number;
    const batches = Math.ceil(N / batchSize);
    const shuffle = options.shuffle ?? true;
    const trainEpoch = function* (this: IafVae, epoch: number): Generator<{ loss: number; size: number }> {
      const order = shuffle ? permutation(N, deriveSeed(seed, epoch, 1)) : identityOrder(N);
      for (const { index: b, rows, xb } of gatherBatches(data, order, batchSize)) {
        const cost = optimizer.minimize(
          () => tf.neg(tf.mean(elbo(this, xb, { seed: deriveSeed(seed, epoch, 2, b), kl: 'mc' }).elbo)) as tf.Scalar,
          true,
          variables,
        );
        const loss = (cost as tf.Scalar).dataSync()[0] as number;
        cost?.dispose();
        yield { loss, size: rows.length };
      }
    };
    const validate = validation === undefined ? undefined : (): number => this.negativeElbo(validation, { seed: deriveSeed(seed, 0, 3) });
    return runModelFitLoop(this, options, { variables, batchesPerEpoch: batches, trainEpoch: (epoch) => trainEpoch.call(this, epoch), validate });
  }

  /** `n` samples from the model: z ~ N(0, I) through the VAE's decoder (the flow only shapes the posterior). */
  sample(n: number, options: { seed?: number; fromLikelihood?: boolean } = {}): tf.Tensor {
    this.live('sample');
    return this.vae.sample(n, options);
  }

  /** Saves a gm checkpoint of kind `'iaf-vae'`: the config, and the parts `encoder`, `decoder` and `flow`. */
  async save(dir: string): Promise<void> {
    this.live('save');
    const { vae, ...flow } = this.config;
    await saveCheckpoint<IafVaeConfig>(
      dir,
      { kind: IAF_VAE_CHECKPOINT_KIND, config: { ...vae, ...flow }, extra: { epochsTrained: this.epochsTrained } },
      { encoder: this.vae.encoder, decoder: this.vae.decoder, flow: this.flow },
    );
  }

  /** Loads an IAF-VAE saved by {@link IafVae.save} (registers gm's layers first). */
  static async load(dir: string): Promise<IafVae> {
    registerGmLayers();
    const manifest = await readCheckpointManifest<IafVaeConfig>(dir, IAF_VAE_CHECKPOINT_KIND);
    for (const part of ['encoder', 'decoder', 'flow']) {
      if (!manifest.parts.includes(part)) throw new Error(`${dir}: the IAF-VAE checkpoint has no "${part}" part (parts: ${manifest.parts.join(', ')})`);
    }
    let config: ResolvedIafVaeConfig;
    try {
      config = resolveIafVaeConfig(manifest.config);
    } catch (error) {
      throw new Error(`${dir}: the checkpoint's config is invalid: ${(error as Error).message}`);
    }
    const encoder = await loadCheckpointPart(dir, 'encoder');
    const decoder = await loadCheckpointPart(dir, 'decoder');
    const flow = await loadCheckpointPart(dir, 'flow');
    const L = resolveVaeConfig(config.vae).latentDim;
    const flowOuts = flow.outputs.map((o) => o.shape[1]);
    if (flowOuts.length !== config.flowSteps + 1 || flowOuts.slice(1).some((w) => w !== 2 * L) || flowOuts[0] !== config.contextSize) {
      tf.dispose([encoder, decoder, flow].flatMap((m) => m.weights.map((w) => w.read())));
      throw new Error(`${dir}: the flow part has outputs of widths [${flowOuts.join(', ')}] but the config implies a context of ${config.contextSize} and ${config.flowSteps} steps of ${2 * L}`);
    }
    const vae = new VAE(config.vae, { encoder, decoder });
    const model = new IafVae({ ...config.vae, flowSteps: config.flowSteps, flowHidden: config.flowHidden, contextSize: config.contextSize, gateBias: config.gateBias }, { vae, flow });
    const epochs = manifest.extra?.['epochsTrained'];
    model.epochsTrained = typeof epochs === 'number' && Number.isInteger(epochs) && epochs >= 0 ? epochs : 0;
    return model;
  }

  /** Frees the weights and the optimizer state. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizerSlot.dispose();
    this.vae.dispose();
    this.flow.dispose();
  }
}
