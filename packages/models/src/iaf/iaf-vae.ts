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
 *
 * `flow: 'planar' | 'radial'` replaces the IAF steps by K = `flowSteps` planar or radial steps (Rezende & Mohamed,
 * 2015) with amortized parameters: each step's parameters are a linear function of the context h (one dense layer
 * per step), so every example has its own flow, as in the paper's variational setting. The constraints that keep
 * the steps invertible (planar wᵀû ≥ −1, radial β̂ ≥ −α) are @gm/layers' `AmortizedPlanarFlow` /
 * `AmortizedRadialFlow`; log q(z_K|x) = log N(z₀; μ, σ²) − Σ_k log|det ∂z_k/∂z_{k−1}|.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerVariable, SymbolicTensor } from '@tensorflow/tfjs-layers';
import {
  AmortizedPlanarFlow,
  AmortizedRadialFlow,
  Chain,
  GatedIafStep,
  fusedDenseLayer,
  fusedNetwork,
  MaskedDense,
  TransformedDistribution,
  madeDegrees,
  outputDegrees,
  planarParameterSize,
  portableDenseColumns,
  portableNetwork,
  radialParameterSize,
  registerGmLayers,
} from '@gm/layers';
import {
  Normal,
  elbo,
  importanceSampledLogLikelihood,
  type Distribution,
  type ElboOptions,
  type ElboResult,
  type ImportanceSamplingOptions,
  type SampleWithLogProb,
  type StandardNormal,
} from '@gm/metrics';
import type { GaussianLatentCoding, LatentVariableModel, PortableOp } from '@gm/core';
import { readCheckpoint, resolvedConfigOf } from '../io/checkpoint';
import { buildFromParts, ModelBase, type CheckpointContent } from '../model-base';
import type { TrainerDefaults } from '../train/trainer';
import {
  checkPositiveInt,
  deriveSeed,
  mulberry32,
  formatShape as fmt,
  GmError,
  type CheckpointStore,
  type EvaluateOptions,
  type InputConvention,
  type Metric,
  type StepContext,
  type TrainingBatch,
  type TrainingData,
} from '@gm/core';
import { VAE } from '../vae/vae';
import { resolveVaeConfig, type VaeConfig } from '../vae/config';
import { latentModelMetrics } from '../latent-metrics';

/** Checkpoint kind written by {@link IafVae.save}. */
export const IAF_VAE_CHECKPOINT_KIND = 'iaf-vae';

/** The flows the posterior can use: inverse autoregressive (Kingma et al., 2016), planar or radial (Rezende & Mohamed, 2015). */
export type PosteriorFlow = 'iaf' | 'planar' | 'radial';

/** Every {@link PosteriorFlow}, in the order the CLI lists them. */
export const POSTERIOR_FLOWS: readonly PosteriorFlow[] = ['iaf', 'planar', 'radial'];

/** An IAF-VAE: a {@link VaeConfig} (encoder, decoder, likelihood) plus the flow. */
export interface IafVaeConfig extends VaeConfig {
  /**
   * The posterior's flow (default `'iaf'`): gated IAF steps, or amortized planar / radial steps whose parameters
   * are computed from the context h of each example. A config without the field is an IAF.
   */
  flow?: PosteriorFlow;
  /** Number T of flow steps (default 2; 0 gives exactly the VAE's posterior). */
  flowSteps?: number;
  /** IAF only: hidden layer sizes of each step's MADE over z (default `[2 · latentDim]`). */
  flowHidden?: number[];
  /** Width of the context h (default 50): a dense ELU layer on the encoder's last hidden features. */
  contextSize?: number;
  /** IAF only: initial value of s's bias (default 2, σ = sigmoid(2) ≈ 0.88): steps start close to the identity. */
  gateBias?: number;
}

/** A config with every default filled in (`flowHidden` is `[]` and `gateBias` 0 for planar and radial flows). */
export interface ResolvedIafVaeConfig {
  vae: VaeConfig;
  flow: PosteriorFlow;
  flowSteps: number;
  flowHidden: number[];
  contextSize: number;
  gateBias: number;
}

/** A flow step of the posterior: a gated IAF step, or an amortized planar or radial step. */
export type PosteriorFlowStep = GatedIafStep | AmortizedPlanarFlow | AmortizedRadialFlow;

function fail(field: string, expected: string, got: unknown): never {
  throw new Error(`IAF-VAE config: "${field}" must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Validates an IAF-VAE config (the VAE part by the VAE's own rules) and fills in the defaults. */
export function resolveIafVaeConfig(config: IafVaeConfig): ResolvedIafVaeConfig {
  if (config === null || typeof config !== 'object') fail('config', 'an object', config);
  const { flow = 'iaf', flowSteps = 2, flowHidden, contextSize = 50, gateBias, ...vaePart } = config;
  if (!POSTERIOR_FLOWS.includes(flow)) fail('flow', `one of ${POSTERIOR_FLOWS.map((f) => `'${f}'`).join(', ')}`, flow);
  const resolved = resolveVaeConfig(vaePart);
  // The IAF-VAE trains on its own −ELBO (Monte Carlo KL through the flow): the VAE's other objectives are not its.
  if (resolved.beta !== 1) fail('beta', "1 (the IAF-VAE trains on the ELBO; the β-VAE is the VAE's option)", vaePart.beta);
  if (resolved.objective !== 'elbo') fail('objective', "'elbo' (the IAF-VAE trains on the ELBO; the IWAE objective is the VAE's option)", vaePart.objective);
  if (!Number.isInteger(flowSteps) || flowSteps < 0) fail('flowSteps', 'a non-negative integer', flowSteps);
  if (!isPosInt(contextSize)) fail('contextSize', 'a positive integer', contextSize);
  if (flow !== 'iaf') {
    if (flowHidden !== undefined) fail('flowHidden', `used only with flow 'iaf' (a ${flow} step has no MADE; leave it out)`, flowHidden);
    if (gateBias !== undefined) fail('gateBias', `used only with flow 'iaf' (leave it out)`, gateBias);
    return { vae: { ...vaePart }, flow, flowSteps, flowHidden: [], contextSize, gateBias: 0 };
  }
  const hidden = flowHidden ?? [2 * resolved.latentDim];
  if (!Array.isArray(hidden) || hidden.length === 0 || !hidden.every(isPosInt)) fail('flowHidden', 'a non-empty array of positive integers', hidden);
  const bias = gateBias ?? 2;
  if (typeof bias !== 'number' || !Number.isFinite(bias)) fail('gateBias', 'a finite number', bias);
  if (flowSteps > 0 && resolved.latentDim < 2) fail('latentDim', 'at least 2 when flowSteps > 0 (a MADE needs 2 inputs)', resolved.latentDim);
  return { vae: { ...vaePart }, flow, flowSteps, flowHidden: [...hidden], contextSize, gateBias: bias };
}

/**
 * The config as a user writes it (and a checkpoint stores it): an IAF's has no `flow` field — exactly the config
 * IAF-VAE checkpoints had before planar and radial flows — and planar / radial ones no IAF-only fields.
 */
function configOf(c: ResolvedIafVaeConfig): IafVaeConfig {
  const common = { ...c.vae, flowSteps: c.flowSteps };
  return c.flow === 'iaf'
    ? { ...common, flowHidden: [...c.flowHidden], contextSize: c.contextSize, gateBias: c.gateBias }
    : { ...common, flow: c.flow, contextSize: c.contextSize };
}

/** Width of step t's output in the flow model: `[m ‖ s]` of an IAF step, or the raw planar / radial parameters. */
function stepWidth(flow: PosteriorFlow, latentDim: number): number {
  return flow === 'iaf' ? 2 * latentDim : flow === 'planar' ? planarParameterSize(latentDim) : radialParameterSize(latentDim);
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

/** The MADE degrees of step t: the ordering alternates natural / reversed between steps. */
function stepDegrees(c: ResolvedIafVaeConfig, latentDim: number, t: number): number[][] {
  return madeDegrees({ inputSize: latentDim, hiddenSizes: c.flowHidden, ordering: t % 2 === 0 ? 'natural' : 'reversed' });
}

/**
 * Planar / radial: the context layer and one dense layer per step (context → raw parameters), in one LayersModel.
 * Kernels start at a tenth of Glorot's; biases so the steps start near the identity yet train at once: planar
 * u = 0 with a seeded w of norm ≈ 1 (so û's gradient, tanh(wᵀz + b), is not small), radial α′ = β′ = 0 (β̂ = 0).
 */
function buildAmortizedFlow(c: ResolvedIafVaeConfig, latentDim: number, feat: SymbolicTensor, ctx: SymbolicTensor, seed: number): tfl.LayersModel {
  const L = latentDim;
  const width = stepWidth(c.flow, L);
  const outputs: SymbolicTensor[] = [ctx];
  for (let t = 0; t < c.flowSteps; t++) {
    const layer = tfl.layers.dense({
      units: width,
      name: `${c.flow}_step${t}`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: deriveSeed(seed, 33, t) % 2 ** 30 }),
    });
    outputs.push(layer.apply(ctx) as SymbolicTensor);
    const [kernel] = layer.getWeights();
    const w = seededNormal(L, deriveSeed(seed, 34, t), 1 / Math.sqrt(L));
    const biasValue = c.flow === 'planar' ? [...new Array<number>(L).fill(0), ...w, 0] : new Array<number>(width).fill(0);
    const next = [tf.tidy(() => tf.mul(kernel as tf.Tensor, 0.1)), tf.tensor1d(biasValue)];
    layer.setWeights(next);
    tf.dispose(next);
  }
  return tfl.model({ inputs: feat, outputs, name: 'iaf_flow' });
}

/** n seeded N(0, std²) draws (Box–Muller on @gm/core's PRNG). */
function seededNormal(n: number, seed: number, std: number): number[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => std * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
}

/**
 * The context layer and the T steps (an IAF step's MaskedDense stack, or a planar / radial step's parameter layer),
 * collected in one LayersModel (what the checkpoint saves).
 */
function buildFlow(c: ResolvedIafVaeConfig, latentDim: number, featureWidth: number): tfl.LayersModel {
  const seed = resolveVaeConfig(c.vae).seed;
  // (Created in this order, as before planar and radial flows existed: an IAF's topology is unchanged.)
  const z = c.flow === 'iaf' ? tfl.input({ shape: [latentDim], name: 'iaf_z' }) : undefined;
  const feat = tfl.input({ shape: [featureWidth], name: 'iaf_features' });
  const ctx = tfl.layers
    .dense({
      units: c.contextSize,
      activation: 'elu',
      name: 'iaf_context',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: deriveSeed(seed, 30) % 2 ** 30 }),
    })
    .apply(feat) as SymbolicTensor;
  if (z === undefined) return buildAmortizedFlow(c, latentDim, feat, ctx, seed);
  const outputs: SymbolicTensor[] = [ctx];
  for (let t = 0; t < c.flowSteps; t++) {
    const deg = stepDegrees(c, latentDim, t);
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
      // write() copies into the variable: the new value is ours to dispose.
      const next = /^bias/.test(name)
        ? tf.tidy(() => tf.concat([tf.zeros([latentDim]), tf.fill([latentDim], c.gateBias)]))
        : /^(kernel|context_kernel)/.test(name)
          ? tf.tidy(() => tf.mul(value, 0.1))
          : undefined;
      if (next !== undefined) {
        w.write(next);
        next.dispose();
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
 * await model.fit(xTrain, { epochs: 10, batchSize: 100 });
 * const negElbo = model.negativeElbo(xTest);                                  // nats, Monte Carlo KL
 * const ll = importanceSampledLogLikelihood(model, xTest, 1000, { seed: 2 }); // [N] nats
 * await model.save(fileStore('checkpoints/iaf-vae')); // fileStore from '@gm/models/node'
 * ```
 */
export class IafVae extends ModelBase implements LatentVariableModel {
  readonly kind = IAF_VAE_CHECKPOINT_KIND;
  /** The validated configuration. */
  readonly config: ResolvedIafVaeConfig;
  /** The underlying VAE: encoder (μ, log σ), decoder, prior and likelihood. */
  readonly vae: VAE;
  /** The context layer and the flow steps (one output per step: `[m ‖ s]` of width 2·latentDim, after the context). */
  readonly flow: tfl.LayersModel;
  private readonly view: tfl.LayersModel;
  private readonly contextLayer: tfl.layers.Layer;
  /** `view.apply` / `contextLayer.apply` through gm's fused dense op. */
  private readonly runView: (x: tf.Tensor) => tf.Tensor[];
  private readonly runContext: (feat: tf.Tensor) => tf.Tensor;
  /**
   * The T flow steps, in sampling order (z₀ → z_T); each a conditional bijector reading the context: @gm/layers'
   * `GatedIafStep`, or `AmortizedPlanarFlow` / `AmortizedRadialFlow` for `flow: 'planar' | 'radial'`.
   */
  readonly flowSteps: readonly PosteriorFlowStep[];
  /**
   * The posterior's flow as one bijector in gm's normalizing direction (z_T → z₀; its `inverse` samples), or null
   * when T = 0.
   */
  readonly posteriorFlow: Chain | null;

  /** Builds an IAF-VAE with seeded weights. The second argument is internal ({@link IafVae.load}). */
  constructor(config: IafVaeConfig, parts?: { vae: VAE; flow: tfl.LayersModel }) {
    super();
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
    this.runView = fusedNetwork(this.view);
    this.runContext = fusedDenseLayer(this.contextLayer);
    const L = this.vae.latentDim;
    const flow = this.config.flow;
    this.flowSteps = Array.from({ length: this.config.flowSteps }, (_, t): PosteriorFlowStep => {
      if (flow === 'planar') return new AmortizedPlanarFlow({ dim: L, parameters: byName(`planar_step${t}`) });
      if (flow === 'radial') return new AmortizedRadialFlow({ dim: L, parameters: byName(`radial_step${t}`) });
      const hidden = this.config.flowHidden.map((_, l) => byName(`iaf_step${t}_hidden${l}`) as MaskedDense);
      return new GatedIafStep({ hidden, out: byName(`iaf_step${t}_out`) as MaskedDense, latentDim: L, inputDegrees: stepDegrees(this.config, L, t)[0] as number[] });
    });
    // A chain's inverse runs its last step first: list the steps from z_T back to z₀.
    this.posteriorFlow = this.flowSteps.length === 0 ? null : new Chain([...this.flowSteps].reverse());
  }

  /** Dimension of z. */
  get latentDim(): number {
    return this.vae.latentDim;
  }

  get codingsSize(): number {
    return this.vae.latentDim;
  }

  get inputShape(): readonly number[] {
    return this.vae.inputShape;
  }

  get inputConvention(): InputConvention {
    return this.vae.inputConvention;
  }

  describe(): string {
    const c = this.vae.config;
    const f = this.config;
    const steps = f.flow === 'iaf' ? `${f.flowSteps} IAF steps (MADE ${f.flowHidden.join('-')}, context ${f.contextSize})` : `${f.flowSteps} ${f.flow} steps (amortized from a context of ${f.contextSize})`;
    return `IAF-VAE, MLP ${[this.vae.dataSize, ...c.hidden, c.latentDim].join('-')}, ${c.likelihood} likelihood${c.likelihood === 'gaussian' ? ` (σ ${c.observationStd})` : ''}, ${steps}`;
  }

  /** p(z) = N(0, I) (the VAE's). */
  get prior(): StandardNormal {
    return this.vae.prior;
  }

  private checkX(where: string, x: unknown): asserts x is tf.Tensor {
    this.live(where);
    if (!(x instanceof tf.Tensor)) throw new GmError('BAD_ARGUMENT', `IafVae.${where}: "x"`, 'a tf.Tensor', x === null ? null : typeof x);
    const want = this.vae.config.inputShape;
    if (x.rank !== want.length + 1 || want.some((d, i) => x.shape[i + 1] !== d) || x.shape[0] === 0) {
      throw new GmError('BAD_SHAPE', `IafVae.${where}`, `x has shape ${fmt(x.shape)}, expected [batch, ${want.join(', ')}] with batch ≥ 1`);
    }
  }

  /** μ, log σ of z₀ and the context h, each `[N, ·]`. */
  posteriorParams(x: tf.Tensor): { mean: tf.Tensor; logStd: tf.Tensor; context: tf.Tensor } {
    this.checkX('posteriorParams', x);
    const L = this.latentDim;
    return tf.tidy(() => {
      const [p, feat] = this.runView(x) as [tf.Tensor, tf.Tensor];
      const [mean, logStd] = tf.split(p, [L, L], 1) as [tf.Tensor, tf.Tensor];
      return { mean, logStd, context: this.runContext(feat) };
    });
  }

  /**
   * q(z_T|x) as samples with their log density: z₀ = μ + σ ⊙ ε (the VAE's own Normal, so T = 0 draws exactly what
   * the VAE draws), then the flow steps conditioned on the context h; log q = log N(z₀; μ, σ²) − log-det (a
   * `TransformedDistribution` of @gm/layers). Samples `[n, B, L]`, log q `[n, B]`.
   */
  posterior(x: tf.Tensor): SampleWithLogProb {
    const { mean, logStd, context } = this.posteriorParams(x);
    const base = new Normal(mean, logStd, { eventRank: 1 });
    if (this.posteriorFlow === null) return base;
    const q = new TransformedDistribution(base, this.posteriorFlow, { eventShape: [this.latentDim] });
    return { sampleWithLogProb: (n: number, seed?: number) => q.sampleWithLogProb(n, seed, { context }) };
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
    checkPositiveInt(`IafVae.negativeElbo: "samples"`, samples);
    const batchSize = options.batchSize ?? 500;
    checkPositiveInt(`IafVae.negativeElbo: "batchSize"`, batchSize);
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

  /** The training loss: −ELBO with one reparameterised flow-posterior sample per example (Monte Carlo KL). */
  loss(batch: TrainingBatch, ctx: StepContext): tf.Scalar {
    return tf.tidy(() => tf.neg(tf.mean(elbo(this, batch.x, { seed: ctx.seed, kl: 'mc' }).elbo)) as tf.Scalar);
  }

  protected fitDefaults(): TrainerDefaults {
    return { where: 'IafVae.fit', batchSize: 100, seed: this.vae.config.seed, learningRate: 1e-3 };
  }

  protected override beforeFit(data: TrainingData): void {
    if (data instanceof tf.Tensor) this.checkX('fit', data);
    if (this.vae.config.architecture === 'conv') {
      const backend = tf.getBackend();
      for (const kernel of ['Conv2DBackpropFilter', 'Conv2DBackpropInput']) {
        if (tf.getKernel(kernel, backend) === undefined) {
          throw new GmError('UNSUPPORTED', 'IafVae.fit', `training the convolutional encoder needs the ${kernel} kernel, which the "${backend}" backend lacks; call initBackend() from @gm/backend (it registers gm's on wasm) or train on cpu, webgl or node`);
        }
      }
    }
  }

  /** Test figures: −ELBO (Monte Carlo KL) and, with `k` > 1, the importance-sampled −log p(x). */
  evaluate(x: tf.Tensor, options: EvaluateOptions = {}): Metric[] {
    this.checkX('evaluate', x);
    return latentModelMetrics(this, x, this.vae.dataSize, options.seed ?? this.vae.config.seed, options, this.vae.config.likelihood === 'gaussian' ? { levels: 255 } : {});
  }

  /** Codings: the posterior mean pushed through the flow steps. */
  encode(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const { mean, context } = this.posteriorParams(x);
      return this.posteriorFlow === null ? mean : this.posteriorFlow.inverse(mean, { context }).x;
    });
  }

  /** The decoder's mean (the VAE's). */
  decode(z: tf.Tensor): tf.Tensor {
    this.live('decode');
    return this.vae.decode(z);
  }

  /** decode(encode(x)). */
  reconstruct(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.vae.decode(this.encode(x)));
  }

  /** `n` samples from the model: z ~ N(0, I) through the VAE's decoder (the flow only shapes the posterior). */
  sample(n: number, options: { seed?: number; fromLikelihood?: boolean } = {}): tf.Tensor {
    this.live('sample');
    return this.vae.sample(n, options);
  }

  /**
   * The IAF-VAE as the lossless coder sees it (@gm/core's `GaussianLatentCoding`). Its generative model is the
   * VAE's (prior N(0, I), the VAE's decoder and likelihood); bits-back coding needs from the posterior only a
   * proposal r(z|x) that the encoder and the decoder compute identically from x — any proposal codes losslessly, a
   * better one codes shorter. The flow posterior knows its density only along its own samples, so the coder gets a
   * diagonal Gaussian derived from it, as a portable network:
   *
   * - mean: the flow applied to the base mean (ε = 0, z₀ = μ₀(x)), i.e. {@link IafVae.encode};
   * - log σ: log σ₀(x) plus, for every IAF step, the log of its Jacobian's diagonal at that point — exact per step
   *   (a step's Jacobian is triangular with diagonal σ_t = sigmoid(s_t)), but the diagonal of the whole flow's
   *   Jacobian is not the product of the steps' diagonals once the orderings alternate, and a Gaussian's marginal
   *   scale would be a row norm of that Jacobian, not its diagonal: the sum of the per-step log-diagonals is an
   *   approximation of the marginal scale, fine for a proposal.
   *
   * BB-ANS then codes at the −ELBO of that proposal (not the flow's −ELBO); BB-CIS with k particles codes at the
   * k-sample importance-sampled bound with it, which corrects the approximation as k grows. The network (registers:
   * the encoder's features, z, the log-scale, the context) reuses the VAE's portable encoder, the context layer and
   * each step's {@link GatedIafStep.portableOps} (MADE masks applied to the exported kernels). With no flow steps
   * it is exactly the VAE's description. Planar and radial posteriors have no portable proposal (their steps need
   * norms and divisions a portable network does not compute, and their Jacobians are not triangular): GmError
   * UNSUPPORTED, as for the VAE's own unsupported cases (convolutional, Gaussian likelihood).
   */
  codingModel(): GaussianLatentCoding {
    this.live('codingModel');
    const base = this.vae.codingModel();
    if (this.flowSteps.length === 0) return base;
    const where = 'IafVae.codingModel';
    if (this.config.flow !== 'iaf') {
      throw new GmError('UNSUPPORTED', where, `a ${this.config.flow} posterior has no portable proposal for the coder (its steps need norms and divisions, and their Jacobians are not triangular); train an IAF posterior (flow 'iaf', gm train iaf-vae --posterior-flow iaf) to compress`);
    }
    const L = this.latentDim;
    const ops = base.encoder.ops;
    const last = ops[ops.length - 1];
    if (last?.op !== 'dense' || last.units !== 2 * L || last.inputKernel !== undefined) throw new GmError('UNSUPPORTED', where, `the VAE encoder to end in a dense layer of [μ ‖ log σ] (${2 * L} units)`);
    const slots = { z: 'z', context: 'context', logScale: 'log-scale' };
    const encoder: PortableOp[] = [
      ...ops.slice(0, -1),
      { op: 'store', slot: 'features' },
      portableDenseColumns(last, 0, L),
      { op: 'store', slot: slots.z },
      { op: 'load', slot: 'features' },
      portableDenseColumns(last, L, 2 * L),
      { op: 'store', slot: slots.logScale },
      { op: 'load', slot: 'features' },
      ...portableNetwork([this.contextLayer], 'IAF-VAE context').ops,
      { op: 'store', slot: slots.context },
      ...this.flowSteps.flatMap((step) => (step as GatedIafStep).portableOps(slots)),
      { op: 'load', slot: slots.z },
      { op: 'concat', slot: slots.logScale },
    ];
    return { ...base, encoder: { inputSize: base.encoder.inputSize, outputSize: 2 * L, ops: encoder } };
  }

  protected checkpointContent(): CheckpointContent {
    return { config: configOf(this.config), parts: { encoder: this.vae.encoder, decoder: this.vae.decoder, flow: this.flow } };
  }

  /** Loads an IAF-VAE saved by {@link IafVae.save} (registers gm's layers first). */
  static async load(store: CheckpointStore): Promise<IafVae> {
    registerGmLayers();
    const reader = await readCheckpoint<IafVaeConfig>(store, IAF_VAE_CHECKPOINT_KIND);
    const where = store.label;
    const config: ResolvedIafVaeConfig = resolvedConfigOf(reader, resolveIafVaeConfig);
    const L = resolveVaeConfig(config.vae).latentDim;
    const full = configOf(config);
    const width = stepWidth(config.flow, L);
    return buildFromParts(reader, ['encoder', 'decoder', 'flow'], ({ encoder, decoder, flow }) => {
      const flowOuts = flow.outputs.map((o) => o.shape[1]);
      if (flowOuts.length !== config.flowSteps + 1 || flowOuts.slice(1).some((w) => w !== width) || flowOuts[0] !== config.contextSize) {
        throw new GmError('CORRUPT', where, `the flow part has outputs of widths [${flowOuts.join(', ')}] but the config implies a context of ${config.contextSize} and ${config.flowSteps} ${config.flow} steps of ${width}`);
      }
      IafVae.checkStoredParts(where, full, { encoder, decoder, flow });
      return new IafVae(full, { vae: new VAE(config.vae, { encoder, decoder }), flow });
    });
  }

  protected disposeModel(): void {
    this.vae.dispose();
    this.flow.dispose();
  }
}
