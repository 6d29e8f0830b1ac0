/**
 * The model registry: one entry per model `gm train <model>` knows. An entry says how to build the model from the
 * command-line flags and the data, which checkpoint kinds it loads, and wraps the library class in the small
 * {@link CliModel} interface every command works through (encode / decode / reconstruct / sample / evaluate /
 * bits-back), so adding a model (MADE, IAF-VAE, Real NVP) is one more entry here.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  DenoisingAutoencoder,
  IafVae,
  MADE,
  RealNVPImage,
  LinearAutoencoder,
  SparseAutoencoder,
  StackedAutoencoder,
  TiedAutoencoder,
  VAE,
  VAE_LIKELIHOODS,
  loadAutoencoder,
  type Autoencoder,
  type AutoencoderConfig,
  type BatchLogs,
  type EpochLogs,
  type FitResult,
  type VaeBitsBackModel,
  type VaeLikelihood,
} from '@gm/models';
import { gmAdam } from '@gm/backend';
import { fitVaeDataParallel } from './data-parallel-fit';
import { bitsPerDim } from '@gm/metrics';
import type { PixelConvention } from './data';
import { CliError } from './errors';
import { MODEL_SUMMARIES, summaryOf, type ModelName } from './model-names';

/** Architecture flags of `gm train` (undefined: the entry's default). */
export interface ModelFlags {
  hidden?: number[];
  latent?: number;
  likelihood?: VaeLikelihood;
  architecture?: 'mlp' | 'conv';
  filters?: number[];
  noiseStd?: number;
  dropout?: number;
  sparsityTarget?: number;
  sparsityWeight?: number;
  flowSteps?: number;
  seed: number;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  validationData?: tf.Tensor;
  onBatchEnd?: (logs: BatchLogs) => void;
  onEpochEnd?: (logs: EpochLogs) => void;
}

/** One evaluation figure: a name, a value and its unit. */
export interface Metric {
  name: string;
  value: number;
  unit: string;
}

/** What every command needs from a model. Tensors in and out are in the model's pixel convention. */
export interface CliModel {
  readonly entry: ModelEntry;
  /** Checkpoint kind (e.g. "vae", "tied-autoencoder"). */
  readonly kind: string;
  readonly convention: PixelConvention;
  /** Shape of one input without the batch axis, e.g. [784] or [28, 28, 1]. */
  readonly inputShape: number[];
  /** Size of a coding (the latent dimension; 0 for models without codings). */
  readonly codingsSize: number;
  epochsTrained: number;
  /** One line: architecture and objective. */
  describe(): string;
  fit(x: tf.Tensor, options: FitOptions): FitResult;
  /** Data-parallel training on `workers` threads, for models that support it (`--workers`). */
  fitDataParallel?(x: tf.Tensor, options: FitOptions, workers: number): Promise<FitResult>;
  save(dir: string): Promise<void>;
  /** Codings `[N, codingsSize]` (a VAE's posterior means); absent for models without codings (MADE). */
  encode?(x: tf.Tensor): tf.Tensor;
  /** Images `[N, ...inputShape]` from codings. */
  decode?(z: tf.Tensor): tf.Tensor;
  reconstruct?(x: tf.Tensor): tf.Tensor;
  /** New images from the prior (generative models only). */
  sample?(n: number, seed: number): tf.Tensor;
  /** Test figures; `k` importance samples for models with a likelihood. */
  evaluate(x: tf.Tensor, options: { k: number; seed: number }): Metric[];
  /** The bits-back coder's view of the model (latent-variable models with a discrete likelihood only). */
  bitsBack?(): { model: VaeBitsBackModel; pixels: 'binary' | 'u8' };
  /** Every weight, for the model fingerprint of .gmz files. */
  weights(): tf.Tensor[];
  dispose(): void;
}

export interface ModelEntry {
  /** Name on the command line: `gm train <name>`. */
  name: string;
  summary: string;
  /** Checkpoint kinds this entry loads. */
  kinds: string[];
  /** Builds a fresh model for images of `imageShape` (HWC). */
  create(flags: ModelFlags, imageShape: [number, number, number]): CliModel;
  load(dir: string): Promise<CliModel>;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** The options every model's `fit` takes from the CLI's, with gmAdam (tf.train.adam bit for bit; fused on wasm). */
function modelFitOptions(o: FitOptions) {
  return {
    epochs: o.epochs,
    batchSize: o.batchSize,
    learningRate: o.learningRate,
    optimizer: gmAdam,
    seed: o.seed,
    ...(o.validationData === undefined ? {} : { validationData: o.validationData }),
    ...(o.onBatchEnd === undefined ? {} : { onBatchEnd: o.onBatchEnd }),
    ...(o.onEpochEnd === undefined ? {} : { onEpochEnd: o.onEpochEnd }),
  };
}

// ------------------------------------------------------------------------------------------------ VAE
function wrapVae(vae: VAE): CliModel {
  const c = vae.config;
  const convention: PixelConvention = c.likelihood === 'bernoulli' ? 'binary' : 'bins';
  const model: CliModel = {
    entry: VAE_ENTRY,
    kind: 'vae',
    convention,
    inputShape: c.inputShape,
    codingsSize: c.latentDim,
    get epochsTrained() {
      return vae.epochsTrained;
    },
    set epochsTrained(v: number) {
      vae.epochsTrained = v;
    },
    describe: () => {
      const net = c.architecture === 'mlp' ? `MLP ${[prod(c.inputShape), ...c.hidden, c.latentDim].join('-')}` : `conv [${c.conv?.filters.join(', ')}] → ${c.latentDim}`;
      return `VAE, ${net}, ${c.activation}, ${c.likelihood} likelihood${c.likelihood === 'discretized-logistic-mixture' ? ` (${c.mixtureComponents} components)` : ''}, N(0, I) prior`;
    },
    fit: (x, o) => vae.fit(x, modelFitOptions(o)),
    fitDataParallel: (x, o, workers) => fitVaeDataParallel(vae, x, o, workers),
    save: (dir) => vae.save(dir),
    encode: (x) => {
      const { mean, std } = vae.encode(x);
      std.dispose();
      return mean;
    },
    // VAE.decode (and so reconstruct) leaves the decoder's raw output undisposed (@gm/models 0.0.0: it calls
    // likelihoodParams outside its tidy); the tidy here frees it.
    decode: (z) => tf.tidy(() => vae.decode(z)),
    reconstruct: (x) => tf.tidy(() => vae.reconstruct(x)),
    sample: (n, seed) => vae.sample(n, { seed }),
    evaluate: (x, { k, seed }) => {
      const D = vae.dataSize;
      const negElbo = vae.negativeElbo(x, { seed });
      const ll = vae.logLikelihood(x, k, { seed: seed + 1 });
      const mean = tf.tidy(() => tf.mean(ll));
      const nll = -(mean.dataSync()[0] as number);
      tf.dispose([ll, mean]);
      return [
        { name: 'negElbo', value: negElbo, unit: 'nats' },
        { name: 'negElboBitsPerDim', value: bitsPerDim(negElbo, D), unit: 'bits/dim' },
        { name: 'isNll', value: nll, unit: 'nats' },
        { name: 'isNllBitsPerDim', value: bitsPerDim(nll, D), unit: 'bits/dim' },
        { name: 'isSamples', value: k, unit: 'k' },
      ];
    },
    bitsBack: () => ({ model: vae.toBitsBackModel(), pixels: c.likelihood === 'bernoulli' ? 'binary' : 'u8' }),
    weights: () => [...vae.encoder.weights, ...vae.decoder.weights].map((w) => w.read()),
    dispose: () => vae.dispose(),
  };
  return model;
}

const VAE_ENTRY: ModelEntry = {
  name: 'vae',
  summary: summaryOf('vae'),
  kinds: ['vae'],
  create(flags, shape) {
    const channels = shape[2];
    const likelihood = flags.likelihood ?? (channels === 1 ? 'bernoulli' : 'discretized-logistic');
    if (!VAE_LIKELIHOODS.includes(likelihood)) throw new CliError(`--likelihood: expected one of ${VAE_LIKELIHOODS.join(', ')}, got "${likelihood}"`);
    const architecture = flags.architecture ?? 'mlp';
    const vae = new VAE({
      inputShape: architecture === 'mlp' ? [prod(shape)] : [...shape],
      latentDim: flags.latent ?? 40,
      architecture,
      ...(architecture === 'mlp' ? { hidden: flags.hidden ?? [100] } : { conv: { filters: flags.filters ?? [32, 64], kernelSize: 3 } }),
      likelihood,
      seed: flags.seed,
    });
    return wrapVae(vae);
  },
  load: async (dir) => wrapVae(await VAE.load(dir)),
};

// ------------------------------------------------------------------------------------------------ autoencoders
type AeClass = typeof StackedAutoencoder | typeof TiedAutoencoder | typeof DenoisingAutoencoder | typeof SparseAutoencoder | typeof LinearAutoencoder;

function wrapAutoencoder(entry: ModelEntry, ae: Autoencoder): CliModel {
  const c = ae.config;
  let epochsTrained = 0;
  return {
    entry,
    kind: ae.kind,
    convention: 'unit',
    inputShape: [c.inputDim],
    codingsSize: ae.codingsSize,
    get epochsTrained() {
      return epochsTrained;
    },
    set epochsTrained(v: number) {
      epochsTrained = v;
    },
    describe: () => {
      const extras = [
        c.tied ? 'tied weights' : '',
        c.noise === null ? '' : `input noise (Gaussian σ ${c.noise.gaussianStddev}, dropout ${c.noise.dropoutRate})`,
        c.sparsity === null ? '' : `sparsity target ${c.sparsity.target}, weight ${c.sparsity.weight}`,
      ].filter((s) => s !== '');
      return `${ae.kind}, ${[c.inputDim, ...c.hidden].join('-')}, ${c.activation}/${c.codingActivation}/${c.outputActivation}, ${c.loss}${extras.length > 0 ? `, ${extras.join(', ')}` : ''}`;
    },
    fit: (x, o) =>
      ae.fit(x, {
        ...modelFitOptions(o),
        initialEpoch: epochsTrained + 1,
        onEpochEnd: (logs) => {
          epochsTrained = logs.epoch;
          o.onEpochEnd?.(logs);
        },
      }),
    save: (dir) => ae.save(dir),
    encode: (x) => ae.encode(x),
    decode: (z) => ae.decode(z),
    reconstruct: (x) => ae.reconstruct(x),
    evaluate: (x) => {
      const e = ae.evaluate(x);
      const unit = c.loss === 'binaryCrossentropy' ? 'mean BCE' : 'mean squared error';
      return [
        { name: 'loss', value: e.loss, unit },
        { name: 'reconstructionLoss', value: e.reconstructionLoss, unit },
        { name: 'penalty', value: e.penalty, unit: 'sparsity penalty' },
        { name: 'roundedAccuracy', value: e.roundedAccuracy, unit: 'fraction' },
      ];
    },
    weights: () => ae.model.weights.map((w) => w.read()),
    dispose: () => ae.dispose(),
  };
}

function aeEntry(
  name: ModelName,
  cls: AeClass,
  defaults: { hidden: number[]; latent: number },
  extra: (flags: ModelFlags) => Partial<AutoencoderConfig>,
): ModelEntry {
  const entry: ModelEntry = {
    name,
    summary: summaryOf(name),
    kinds: [cls.variant.kind],
    create(flags, shape) {
      const config: AutoencoderConfig = {
        inputDim: prod(shape),
        hidden: [...(flags.hidden ?? defaults.hidden), flags.latent ?? defaults.latent],
        seed: flags.seed,
        ...extra(flags),
      };
      return wrapAutoencoder(entry, new cls(config));
    },
    load: async (dir) => wrapAutoencoder(entry, await (cls as typeof StackedAutoencoder).load(dir)),
  };
  return entry;
}

const AE_ENTRIES: ModelEntry[] = [
  aeEntry('stacked-ae', StackedAutoencoder, { hidden: [100], latent: 30 }, () => ({})),
  aeEntry('tied-ae', TiedAutoencoder, { hidden: [100], latent: 30 }, () => ({})),
  aeEntry('denoising-ae', DenoisingAutoencoder, { hidden: [100], latent: 30 }, (f) => ({
    noise: { gaussianStddev: f.noiseStd ?? (f.dropout === undefined ? 0.2 : 0), dropoutRate: f.dropout ?? 0 },
  })),
  aeEntry('sparse-ae', SparseAutoencoder, { hidden: [100], latent: 300 }, (f) => ({
    sparsity: { target: f.sparsityTarget ?? 0.1, weight: f.sparsityWeight ?? 0.05 },
  })),
  aeEntry('linear-ae', LinearAutoencoder, { hidden: [], latent: 30 }, () => ({})),
];


// ------------------------------------------------------------------------------------------------ IAF-VAE
function wrapIafVae(iaf: IafVae): CliModel {
  const vae = iaf.vae;
  const c = vae.config;
  const f = iaf.config;
  return {
    entry: IAF_ENTRY,
    kind: 'iaf-vae',
    convention: c.likelihood === 'bernoulli' ? 'binary' : 'bins',
    inputShape: c.inputShape,
    codingsSize: c.latentDim,
    get epochsTrained() {
      return iaf.epochsTrained;
    },
    set epochsTrained(v: number) {
      iaf.epochsTrained = v;
    },
    describe: () =>
      `IAF-VAE, MLP ${[prod(c.inputShape), ...c.hidden, c.latentDim].join('-')}, ${c.likelihood} likelihood, ${f.flowSteps} IAF steps (MADE ${f.flowHidden.join('-')}, context ${f.contextSize})`,
    fit: (x, o) => iaf.fit(x, modelFitOptions(o)),
    save: (dir) => iaf.save(dir),
    // The coding of x: the posterior mean pushed through the IAF steps.
    encode: (x) =>
      tf.tidy(() => {
        const { mean, context } = iaf.posteriorParams(x);
        return iaf.flowForward(mean, context).z;
      }),
    decode: (z) => tf.tidy(() => vae.decode(z)),
    reconstruct: (x) =>
      tf.tidy(() => {
        const { mean, context } = iaf.posteriorParams(x);
        return vae.decode(iaf.flowForward(mean, context).z);
      }),
    sample: (n, seed) => iaf.sample(n, { seed }),
    evaluate: (x, { k, seed }) => {
      const D = prod(c.inputShape);
      const negElbo = iaf.negativeElbo(x, { seed });
      const ll = iaf.logLikelihood(x, k, { seed: seed + 1 });
      const mean = tf.tidy(() => tf.mean(ll));
      const nll = -(mean.dataSync()[0] as number);
      tf.dispose([ll, mean]);
      return [
        { name: 'negElbo', value: negElbo, unit: 'nats' },
        { name: 'negElboBitsPerDim', value: bitsPerDim(negElbo, D), unit: 'bits/dim' },
        { name: 'isNll', value: nll, unit: 'nats' },
        { name: 'isNllBitsPerDim', value: bitsPerDim(nll, D), unit: 'bits/dim' },
        { name: 'isSamples', value: k, unit: 'k' },
      ];
    },
    weights: () => [...vae.encoder.weights, ...vae.decoder.weights, ...iaf.flow.weights].map((w) => w.read()),
    dispose: () => iaf.dispose(),
  };
}

const IAF_ENTRY: ModelEntry = {
  name: 'iaf-vae',
  summary: summaryOf('iaf-vae'),
  kinds: ['iaf-vae'],
  create(flags, shape) {
    const likelihood = flags.likelihood ?? (shape[2] === 1 ? 'bernoulli' : 'discretized-logistic');
    if (flags.architecture === 'conv') throw new CliError('--architecture conv: the iaf-vae here is an MLP VAE; leave --architecture out');
    return wrapIafVae(
      new IafVae({
        inputShape: [prod(shape)],
        latentDim: flags.latent ?? 40,
        hidden: flags.hidden ?? [100],
        likelihood,
        seed: flags.seed,
        ...(flags.flowSteps === undefined ? {} : { flowSteps: flags.flowSteps }),
      }),
    );
  },
  load: async (dir) => wrapIafVae(await IafVae.load(dir)),
};

// ------------------------------------------------------------------------------------------------ MADE
function wrapMade(made: MADE): CliModel {
  const c = made.config;
  return {
    entry: MADE_ENTRY,
    kind: 'made',
    convention: 'binary',
    inputShape: [c.inputSize],
    codingsSize: 0,
    get epochsTrained() {
      return made.epochsTrained;
    },
    set epochsTrained(v: number) {
      made.epochsTrained = v;
    },
    describe: () => `MADE, ${[c.inputSize, ...c.hidden, c.inputSize].join('-')}, ${c.activation}, ${typeof c.ordering === 'string' ? c.ordering : 'custom'} ordering, ${made.maskCount} mask(s)`,
    fit: (x, o) => made.fit(x, modelFitOptions(o)),
    save: (dir) => made.save(dir),
    sample: (n, seed) => made.sample(n, { seed }),
    evaluate: (x) => {
      const nll = made.negativeLogLikelihood(x);
      return [
        { name: 'nll', value: nll, unit: 'nats (exact)' },
        { name: 'nllBitsPerDim', value: bitsPerDim(nll, c.inputSize), unit: 'bits/dim' },
      ];
    },
    weights: () => made.network.weights.map((w) => w.read()),
    dispose: () => made.dispose(),
  };
}

const MADE_ENTRY: ModelEntry = {
  name: 'made',
  summary: summaryOf('made'),
  kinds: ['made'],
  create(flags, shape) {
    if (shape[2] !== 1) throw new CliError('gm train made: MADE models binary pixels of one-channel images (MNIST); use a vae for CIFAR-10');
    return wrapMade(new MADE({ inputSize: prod(shape), hidden: flags.hidden ?? [500], seed: flags.seed }));
  },
  load: async (dir) => wrapMade(await MADE.load(dir)),
};

// ------------------------------------------------------------------------------------------------ Real NVP
function wrapRealNvp(flow: RealNVPImage): CliModel {
  const c = flow.config;
  const D = flow.dataSize;
  return {
    entry: REALNVP_ENTRY,
    kind: 'realnvp-image',
    convention: 'pixels',
    inputShape: [...c.inputShape],
    codingsSize: 0,
    get epochsTrained() {
      return flow.epochsTrained;
    },
    set epochsTrained(v: number) {
      flow.epochsTrained = v;
    },
    describe: () =>
      `Real NVP (multi-scale), ${c.inputShape.join('×')}, ${c.scales} scales, ${c.couplingsPerStage} couplings per stage, ${c.filters} filters, ${c.blocks} residual block(s); loss in bits/dim`,
    fit: (x, o) => flow.fit(x, modelFitOptions(o)),
    save: (dir) => flow.save(dir),
    sample: (n, seed) => flow.sample(n, { seed }),
    evaluate: (x, { seed }) => {
      const bpd = flow.bitsPerDim(x, { seed });
      return [
        { name: 'nll', value: bpd * D * Math.LN2, unit: 'nats (dequantized, 8-bit)' },
        { name: 'nllBitsPerDim', value: bpd, unit: 'bits/dim' },
      ];
    },
    weights: () => flow.trainableVariables(),
    dispose: () => flow.dispose(),
  };
}

const REALNVP_ENTRY: ModelEntry = {
  name: 'realnvp',
  summary: summaryOf('realnvp'),
  kinds: ['realnvp-image'],
  create(flags, shape) {
    return wrapRealNvp(
      new RealNVPImage({ inputShape: [...shape], seed: flags.seed, ...(flags.filters === undefined ? {} : { filters: flags.filters[0] as number }) }),
    );
  },
  load: async (dir) => wrapRealNvp(await RealNVPImage.load(dir)),
};

/** Every model `gm train` knows, in the order `gm train --help` lists them. */
export const MODELS: readonly ModelEntry[] = [VAE_ENTRY, ...AE_ENTRIES, MADE_ENTRY, IAF_ENTRY, REALNVP_ENTRY];
if (MODELS.map((m) => m.name).join() !== MODEL_SUMMARIES.map((m) => m.name).join()) {
  throw new Error(`model-names.ts lists ${MODEL_SUMMARIES.map((m) => m.name).join(', ')} but the registry has ${MODELS.map((m) => m.name).join(', ')}`);
}

export function modelEntry(name: string): ModelEntry {
  const entry = MODELS.find((m) => m.name === name);
  if (entry === undefined) throw new CliError(`unknown model "${name}": expected one of ${MODELS.map((m) => m.name).join(', ')}`);
  return entry;
}

/** The entry that loads checkpoints of `kind` (a generic "autoencoder" checkpoint loads through loadAutoencoder). */
export function entryForKind(kind: string): ModelEntry | undefined {
  return MODELS.find((m) => m.kinds.includes(kind));
}

/** Loads a generic `autoencoder` checkpoint (tied + noise + sparsity combined) under the entry closest to it. */
export async function loadGenericAutoencoder(dir: string): Promise<CliModel> {
  const ae = await loadAutoencoder(dir);
  const entry = AE_ENTRIES.find((e) => e.kinds.includes(ae.kind)) ?? (AE_ENTRIES[0] as ModelEntry);
  return wrapAutoencoder(entry, ae);
}
