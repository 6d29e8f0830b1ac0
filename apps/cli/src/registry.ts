/**
 * The models `gm train <model>` knows: how each is built from the command-line flags and the data's image shape.
 * Every command works on @gm/core's `GenerativeModel` contract, and checkpoints load through @gm/models'
 * `loadModel`, so a model family is one entry here and nothing else in the CLI.
 */
import {
  ContractiveAutoencoder,
  CONV_AUTOENCODER_KIND,
  ConvAutoencoder,
  DenoisingAutoencoder,
  Glow,
  IafVae,
  LinearAutoencoder,
  MADE,
  MAF,
  RealNVPImage,
  SparseAutoencoder,
  SplineFlow,
  StackedAutoencoder,
  TiedAutoencoder,
  VAE,
  VAE_LIKELIHOODS,
  type AutoencoderConfig,
  type GenerativeModel,
  type PosteriorFlow,
  type VaeLikelihood,
  type VaeObjective,
} from '@gm/models';
import { CliError } from './errors';
import type { HiddenActivation } from './options';
import { MODEL_SUMMARIES, summaryOf, type ModelName } from './model-names';

export type { GenerativeModel, Metric } from '@gm/models';

/** Architecture flags of `gm train` (undefined: the entry's default). */
export interface ModelFlags {
  hidden?: number[];
  latent?: number;
  likelihood?: VaeLikelihood;
  /** vae, iaf-vae with `--likelihood gaussian`: the fixed σ of p(x|z) (`--observation-std`). */
  observationStd?: number;
  /** vae, iaf-vae with `--likelihood discretized-logistic-mixture`: logistic components per pixel (`--mixture-components`, default 5). */
  mixtureComponents?: number;
  /** vae: weight of the KL term in the training objective (`--beta`, the β-VAE). */
  beta?: number;
  /** vae: the training objective (`--objective`). */
  objective?: VaeObjective;
  /** vae with `--objective iwae`: importance samples per image in the training bound (`--k`). */
  k?: number;
  architecture?: 'mlp' | 'conv';
  filters?: number[];
  noiseStd?: number;
  dropout?: number;
  sparsityTarget?: number;
  sparsityWeight?: number;
  /** sparse-ae: weight of the L1 activity penalty (`--activity-l1`), instead of the KL penalty. */
  activityL1?: number;
  /** contractive-ae: weight λ of the contractive penalty (`--contractive`). */
  contractive?: number;
  /** Hidden-layer activation of the autoencoders (default selu) and the VAE (default relu). */
  activation?: HiddenActivation;
  flowSteps?: number;
  /** iaf-vae: the posterior's flow (`--posterior-flow`; default iaf). */
  posteriorFlow?: PosteriorFlow;
  /** realnvp, glow: scales of the multi-scale flow. */
  scales?: number;
  /** glow: flow steps per scale. */
  stepsPerScale?: number;
  /** maf: the element-wise transform. */
  transform?: 'affine' | 'spline';
  /** Class-conditional models: the number of classes (from the data's labels, with `--condition label`). */
  classes?: number;
  seed: number;
}

export interface ModelEntry {
  /** Name on the command line: `gm train <name>`. */
  name: ModelName;
  summary: string;
  /** Checkpoint kinds this entry's models write. */
  kinds: string[];
  /** Whether the entry's models sample at a temperature (`gm sample --temperature`: flows). */
  temperature?: boolean;
  /** Whether the entry's models can be class-conditional (`--condition label`). */
  conditional?: boolean;
  /** Builds a fresh model for images of `imageShape` (HWC). */
  create(flags: ModelFlags, imageShape: [number, number, number]): GenerativeModel;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);


/** `--mixture-components` counts the logistics of the discretized-logistic-mixture likelihood only. */
function checkMixtureComponents(flags: ModelFlags, likelihood: VaeLikelihood): void {
  if (flags.mixtureComponents !== undefined && likelihood !== 'discretized-logistic-mixture') {
    throw new CliError(`--mixture-components: the logistics per pixel of --likelihood discretized-logistic-mixture; add --likelihood discretized-logistic-mixture (this model's likelihood is ${likelihood})`);
  }
}

/** `--observation-std` is the σ of the Gaussian likelihood only. */
function checkObservationStd(flags: ModelFlags, likelihood: VaeLikelihood): void {
  if (flags.observationStd !== undefined && likelihood !== 'gaussian') {
    throw new CliError(`--observation-std: the fixed σ of --likelihood gaussian; add --likelihood gaussian (this model's likelihood is ${likelihood})`);
  }
}

const VAE_ENTRY: ModelEntry = {
  name: 'vae',
  summary: summaryOf('vae'),
  kinds: ['vae'],
  create(flags, shape) {
    const likelihood = flags.likelihood ?? (shape[2] === 1 ? 'bernoulli' : 'discretized-logistic');
    if (!VAE_LIKELIHOODS.includes(likelihood)) throw new CliError(`--likelihood: expected one of ${VAE_LIKELIHOODS.join(', ')}, got "${likelihood}"`);
    checkObservationStd(flags, likelihood);
    checkMixtureComponents(flags, likelihood);
    const objective = flags.objective ?? 'elbo';
    if (flags.k !== undefined && objective !== 'iwae') {
      throw new CliError('--k: the importance samples per image of --objective iwae (its training bound); add --objective iwae. (gm eval --k sets the samples of the evaluation.)');
    }
    if (flags.beta !== undefined && objective === 'iwae') {
      throw new CliError("--beta: β weights the ELBO's KL term, and --objective iwae has none; drop --beta or --objective iwae");
    }
    const architecture = flags.architecture ?? 'mlp';
    return new VAE({
      inputShape: architecture === 'mlp' ? [prod(shape)] : [...shape],
      latentDim: flags.latent ?? 40,
      architecture,
      ...(architecture === 'mlp' ? { hidden: flags.hidden ?? [100] } : { conv: { filters: flags.filters ?? [32, 64], kernelSize: 3 } }),
      likelihood,
      ...(flags.observationStd === undefined ? {} : { observationStd: flags.observationStd }),
      ...(flags.mixtureComponents === undefined ? {} : { mixtureComponents: flags.mixtureComponents }),
      ...(flags.beta === undefined ? {} : { beta: flags.beta }),
      objective,
      ...(flags.k === undefined ? {} : { k: flags.k }),
      ...(flags.activation === undefined ? {} : { activation: flags.activation }),
      seed: flags.seed,
    });
  },
};

/** Flags that only some models read, with the models that do: the others refuse them rather than ignore them. */
const NARROW_FLAGS: ReadonlyArray<{ key: keyof ModelFlags; flag: string; models: readonly ModelName[] }> = [
  { key: 'beta', flag: '--beta', models: ['vae'] },
  { key: 'objective', flag: '--objective', models: ['vae'] },
  { key: 'k', flag: '--k', models: ['vae'] },
  { key: 'observationStd', flag: '--observation-std', models: ['vae', 'iaf-vae'] },
  { key: 'mixtureComponents', flag: '--mixture-components', models: ['vae', 'iaf-vae'] },
  { key: 'contractive', flag: '--contractive', models: ['contractive-ae'] },
  { key: 'activityL1', flag: '--activity-l1', models: ['sparse-ae'] },
  { key: 'activation', flag: '--activation', models: ['vae', 'stacked-ae', 'tied-ae', 'denoising-ae', 'sparse-ae', 'contractive-ae', 'conv-ae'] },
];

/** `entry` with a check that no flag of other models was given. */
function refusingForeignFlags(entry: ModelEntry): ModelEntry {
  return {
    ...entry,
    create(flags, shape) {
      const foreign = NARROW_FLAGS.filter((f) => flags[f.key] !== undefined && !f.models.includes(entry.name));
      if (foreign.length > 0) {
        const names = foreign.map((f) => f.flag);
        const owners = [...new Set(foreign.flatMap((f) => f.models))].map((m) => `gm train ${m}`).join(', ');
        throw new CliError(`${names.join(', ')}: ${names.length === 1 ? 'a flag' : 'flags'} of ${owners} only (${entry.name} does not use ${names.length === 1 ? 'it' : 'them'}); drop ${names.length === 1 ? 'it' : 'them'}`);
      }
      return entry.create(flags, shape);
    },
  };
}

type AeClass =
  | typeof StackedAutoencoder
  | typeof TiedAutoencoder
  | typeof DenoisingAutoencoder
  | typeof SparseAutoencoder
  | typeof LinearAutoencoder
  | typeof ContractiveAutoencoder;

function aeEntry(name: ModelName, cls: AeClass, defaults: { hidden: number[]; latent: number }, extra: (flags: ModelFlags) => Partial<AutoencoderConfig>): ModelEntry {
  return {
    name,
    summary: summaryOf(name),
    kinds: [cls.variant.kind],
    create: (flags, shape) =>
      new cls({
        inputDim: prod(shape),
        hidden: [...(flags.hidden ?? defaults.hidden), flags.latent ?? defaults.latent],
        ...(flags.activation === undefined ? {} : { activation: flags.activation }),
        seed: flags.seed,
        ...extra(flags),
      }),
  };
}

const AE_ENTRIES: ModelEntry[] = [
  aeEntry('stacked-ae', StackedAutoencoder, { hidden: [100], latent: 30 }, () => ({})),
  aeEntry('tied-ae', TiedAutoencoder, { hidden: [100], latent: 30 }, () => ({})),
  aeEntry('denoising-ae', DenoisingAutoencoder, { hidden: [100], latent: 30 }, (f) => ({
    noise: { gaussianStddev: f.noiseStd ?? (f.dropout === undefined ? 0.2 : 0), dropoutRate: f.dropout ?? 0 },
  })),
  aeEntry('sparse-ae', SparseAutoencoder, { hidden: [100], latent: 300 }, (f) => {
    if (f.activityL1 === undefined) return { sparsity: { target: f.sparsityTarget ?? 0.1, weight: f.sparsityWeight ?? 0.05 } };
    if (f.sparsityTarget !== undefined || f.sparsityWeight !== undefined) {
      throw new CliError('--activity-l1 replaces the KL penalty of --sparsity-target/--sparsity-weight; give one or the other');
    }
    return { activityL1: f.activityL1, codingActivation: 'sigmoid' };
  }),
  aeEntry('linear-ae', LinearAutoencoder, { hidden: [], latent: 30 }, () => ({})),
  aeEntry('contractive-ae', ContractiveAutoencoder, { hidden: [100], latent: 30 }, (f) => (f.contractive === undefined ? {} : { contractive: f.contractive })),
];

const CONV_AE_ENTRY: ModelEntry = {
  name: 'conv-ae',
  summary: summaryOf('conv-ae'),
  kinds: [CONV_AUTOENCODER_KIND],
  create: (flags, shape) =>
    new ConvAutoencoder({
      inputShape: [...shape],
      ...(flags.filters === undefined ? {} : { filters: flags.filters }),
      ...(flags.activation === undefined ? {} : { activation: flags.activation }),
      seed: flags.seed,
    }),
};

const MADE_ENTRY: ModelEntry = {
  name: 'made',
  summary: summaryOf('made'),
  kinds: ['made'],
  create(flags, shape) {
    if (shape[2] !== 1) throw new CliError('gm train made: MADE models binary pixels of one-channel images (MNIST); use a vae for CIFAR-10');
    return new MADE({ inputSize: prod(shape), hidden: flags.hidden ?? [500], seed: flags.seed });
  },
};

const IAF_ENTRY: ModelEntry = {
  name: 'iaf-vae',
  summary: summaryOf('iaf-vae'),
  kinds: ['iaf-vae'],
  create(flags, shape) {
    if (flags.architecture === 'conv') throw new CliError('--architecture conv: the iaf-vae here is an MLP VAE; leave --architecture out');
    const likelihood = flags.likelihood ?? (shape[2] === 1 ? 'bernoulli' : 'discretized-logistic');
    checkObservationStd(flags, likelihood);
    checkMixtureComponents(flags, likelihood);
    return new IafVae({
      inputShape: [prod(shape)],
      latentDim: flags.latent ?? 40,
      hidden: flags.hidden ?? [100],
      likelihood,
      ...(flags.observationStd === undefined ? {} : { observationStd: flags.observationStd }),
      ...(flags.mixtureComponents === undefined ? {} : { mixtureComponents: flags.mixtureComponents }),
      seed: flags.seed,
      ...(flags.flowSteps === undefined ? {} : { flowSteps: flags.flowSteps }),
      ...(flags.posteriorFlow === undefined ? {} : { flow: flags.posteriorFlow }),
    });
  },
};

const REALNVP_ENTRY: ModelEntry = {
  name: 'realnvp',
  summary: summaryOf('realnvp'),
  kinds: ['realnvp-image'],
  temperature: true,
  create: (flags, shape) =>
    new RealNVPImage({
      inputShape: [...shape],
      seed: flags.seed,
      ...(flags.filters === undefined ? {} : { filters: flags.filters[0] as number }),
      ...(flags.scales === undefined ? {} : { scales: flags.scales }),
    }),
};

const MAF_ENTRY: ModelEntry = {
  name: 'maf',
  summary: summaryOf('maf'),
  kinds: ['maf'],
  temperature: true,
  create: (flags, shape) =>
    new MAF({
      dim: prod(shape),
      levels: 256,
      hidden: flags.hidden ?? [1024],
      steps: flags.flowSteps ?? 5,
      ...(flags.transform === undefined ? {} : { transform: flags.transform }),
      seed: flags.seed,
    }),
};

const NSF_ENTRY: ModelEntry = {
  name: 'nsf',
  summary: summaryOf('nsf'),
  kinds: ['nsf'],
  temperature: true,
  create(flags, shape) {
    if (flags.transform !== undefined) throw new CliError('--transform: only maf chooses its transform (nsf is always rational-quadratic splines); drop --transform');
    return new SplineFlow({ dim: prod(shape), levels: 256, hidden: flags.hidden ?? [512], couplings: flags.flowSteps ?? 4, seed: flags.seed });
  },
};

const GLOW_ENTRY: ModelEntry = {
  name: 'glow',
  summary: summaryOf('glow'),
  kinds: ['glow'],
  temperature: true,
  conditional: true,
  create: (flags, shape) =>
    new Glow({
      inputShape: [...shape],
      seed: flags.seed,
      ...(flags.filters === undefined ? {} : { filters: flags.filters[0] as number }),
      ...(flags.scales === undefined ? {} : { scales: flags.scales }),
      ...(flags.stepsPerScale === undefined ? {} : { stepsPerScale: flags.stepsPerScale }),
      ...(flags.classes === undefined ? {} : { classes: flags.classes }),
    }),
};

/** Every model `gm train` knows, in the order `gm train --help` lists them. */
export const MODELS: readonly ModelEntry[] = [VAE_ENTRY, ...AE_ENTRIES, CONV_AE_ENTRY, MADE_ENTRY, IAF_ENTRY, REALNVP_ENTRY, MAF_ENTRY, NSF_ENTRY, GLOW_ENTRY].map(refusingForeignFlags);
if (MODELS.map((m) => m.name).join() !== MODEL_SUMMARIES.map((m) => m.name).join()) {
  throw new Error(`model-names.ts lists ${MODEL_SUMMARIES.map((m) => m.name).join(', ')} but the registry has ${MODELS.map((m) => m.name).join(', ')}`);
}

export function modelEntry(name: string): ModelEntry {
  const entry = MODELS.find((m) => m.name === name);
  if (entry === undefined) throw new CliError(`unknown model "${name}": expected one of ${MODELS.map((m) => m.name).join(', ')}`);
  return entry;
}

/** The entry whose models write checkpoints of `kind` (undefined for kinds the CLI does not train, e.g. "autoencoder"). */
export function entryForKind(kind: string): ModelEntry | undefined {
  return MODELS.find((m) => m.kinds.includes(kind));
}
