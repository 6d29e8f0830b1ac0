/**
 * MADE — Masked Autoencoder for Distribution Estimation (Germain et al., 2015) over binary vectors: an MLP whose
 * weights are masked so output d sees only the inputs before d in an ordering, making the outputs the logits of
 * p(x_d = 1 | x_<d) and log p(x) = Σ_d log p(x_d | x_<d) exact. Built from @gm/layers' `MaskedDense`; supports a
 * direct input→output connection, natural / reversed / random / explicit orderings, connectivity-agnostic training
 * with a pool of K masks, test-time ensembles over the pool, exact batched sampling, `fit`, and checkpoints that
 * keep the mask pool.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { MaskedDense, inputDegrees, madeDegrees, outputDegrees, portableNetwork, registerGmLayers } from '@gm/layers';
import {
  checkPositiveInt,
  deriveSeed,
  formatShape as fmt,
  GmError,
  mulberry32,
  type AutoregressiveCoding,
  type CheckpointStore,
  type EvaluateOptions,
  type FitResult,
  type InputConvention,
  type Metric,
  type StepContext,
  type TrainingBatch,
  type TrainingData,
} from '@gm/core';
import { Bernoulli, bitsPerDim, logMeanExp } from '@gm/metrics';
import { readCheckpoint, resolvedConfigOf } from '../io/checkpoint';
import { buildFromParts, ModelBase, type CheckpointContent } from '../model-base';
import type { TrainerDefaults } from '../train/trainer';
import { resolveMadeConfig, type MadeConfig, type ResolvedMadeConfig } from './config';

/** Checkpoint kind written by {@link MADE.save}. */
export const MADE_CHECKPOINT_KIND = 'made';

/** Options of {@link MADE.negativeLogLikelihood}. */
export interface MadeEvaluateOptions {
  /** Score with mask `mask` of the pool (default 0). Ignored when `ensemble` is set. */
  mask?: number;
  /** Score with the ensemble of the first `ensemble` masks of the pool (`true`: all K). */
  ensemble?: boolean | number;
  /** Examples per batch (default 500). */
  batchSize?: number;
}


function storedConfig(c: ResolvedMadeConfig): MadeConfig {
  return {
    inputSize: c.inputSize,
    hidden: [...c.hidden],
    activation: c.activation,
    ordering: Array.isArray(c.ordering) ? [...c.ordering] : c.ordering,
    directConnection: c.directConnection,
    masks: c.masks,
    orderAgnostic: c.orderAgnostic,
    seed: c.seed,
  };
}

/**
 * The mask pool of a config: K degree sets `[input, hidden_1, …, hidden_L]`. Mask 0 uses the configured ordering;
 * with `orderAgnostic` the others draw random orderings. A single mask spreads hidden degrees evenly
 * ('sequential'); a pool draws them at random, one seed per mask.
 */
export function madeMaskPool(c: ResolvedMadeConfig): number[][][] {
  const D = c.inputSize;
  const base = inputDegrees(D, c.ordering, deriveSeed(c.seed, 10));
  const pool: number[][][] = [];
  for (let k = 0; k < c.masks; k++) {
    const ordering = c.orderAgnostic && k > 0 ? inputDegrees(D, 'random', deriveSeed(c.seed, 11, k)) : base;
    pool.push(
      madeDegrees({
        inputSize: D,
        hiddenSizes: c.hidden,
        ordering,
        hiddenMode: c.masks === 1 ? 'sequential' : 'random',
        seed: deriveSeed(c.seed, 12, k) % 2 ** 30,
      }),
    );
  }
  return pool;
}

function buildNetwork(c: ResolvedMadeConfig, degrees: number[][]): tfl.LayersModel {
  const D = c.inputSize;
  const x = tfl.input({ shape: [D], name: 'x' });
  let h: SymbolicTensor = x;
  c.hidden.forEach((units, l) => {
    const layer = new MaskedDense({
      units,
      inputDegrees: degrees[l] as number[],
      outputDegrees: degrees[l + 1] as number[],
      maskType: 'hidden',
      activation: c.activation,
      seed: deriveSeed(c.seed, 1, l) % 2 ** 30,
    });
    h = layer.apply(h) as SymbolicTensor;
  });
  const input = degrees[0] as number[];
  const out = new MaskedDense({
    units: D,
    inputDegrees: degrees[c.hidden.length] as number[],
    outputDegrees: outputDegrees(input, 1),
    maskType: 'output',
    directDegrees: c.directConnection ? input : null,
    seed: deriveSeed(c.seed, 1, c.hidden.length) % 2 ** 30,
  });
  const logits = out.apply(c.directConnection ? [h, x] : h) as SymbolicTensor;
  return tfl.model({ inputs: x, outputs: logits, name: 'made' });
}

/**
 * A MADE density model for binary vectors `x ∈ {0, 1}^D`.
 *
 * @example
 * ```ts
 * const made = new MADE({ inputSize: 784, hidden: [500, 500], masks: 16, seed: 1 });
 * await made.fit(xTrain, { epochs: 20, batchSize: 100, onEpochEnd: (l) => console.log(l.epoch, l.loss) });
 * const nll1 = made.negativeLogLikelihood(xTest);                   // mask 0, nats per example
 * const nll16 = made.negativeLogLikelihood(xTest, { ensemble: true }); // log of the mean probability over 16 masks
 * const samples = made.sample(16, { seed: 3 });                       // [16, 784], exact ancestral samples
 * await made.save(fileStore('checkpoints/made'));       // fileStore from '@gm/models/node'
 * ```
 */
export class MADE extends ModelBase {
  readonly kind = MADE_CHECKPOINT_KIND;
  readonly inputConvention: InputConvention = 'binary';
  readonly codingsSize = 0;
  /** The validated configuration, defaults filled in. */
  readonly config: ResolvedMadeConfig;
  /** x `[N, D]` → logits of p(x_d = 1 | x_<d), `[N, D]`, under the current mask. */
  readonly network: tfl.LayersModel;
  private readonly pool: number[][][];
  private readonly stack: MaskedDense[];
  private current: number;

  /** Builds a MADE with freshly (seeded) initialised weights. The second argument is internal ({@link MADE.load}). */
  constructor(config: MadeConfig, parts?: { network: tfl.LayersModel; pool: number[][][] }) {
    super();
    this.config = resolveMadeConfig(config);
    this.pool = parts?.pool ?? madeMaskPool(this.config);
    this.network = parts?.network ?? buildNetwork(this.config, this.pool[0] as number[][]);
    const masked = this.network.layers.filter((l): l is MaskedDense => l instanceof MaskedDense);
    const hidden = masked.filter((l) => l.maskType === 'hidden');
    const out = masked.filter((l) => l.maskType === 'output');
    if (hidden.length !== this.config.hidden.length || out.length !== 1) {
      throw new Error(`MADE: the network has ${hidden.length} hidden and ${out.length} output MaskedDense layers; the config implies ${this.config.hidden.length} and 1`);
    }
    this.stack = [...hidden, out[0] as MaskedDense];
    this.current = parts === undefined ? 0 : -1;
    this.useMask(0);
  }

  /** Number of inputs D. */
  get inputSize(): number {
    return this.config.inputSize;
  }

  get inputShape(): readonly number[] {
    return [this.config.inputSize];
  }

  describe(): string {
    const c = this.config;
    return `MADE, ${[c.inputSize, ...c.hidden, c.inputSize].join('-')}, ${c.activation}, ${typeof c.ordering === 'string' ? c.ordering : 'custom'} ordering, ${this.maskCount} mask(s)`;
  }

  /** Size K of the mask pool. */
  get maskCount(): number {
    return this.pool.length;
  }

  /** Index of the mask the network currently holds. */
  get currentMask(): number {
    return this.current;
  }

  /** Degrees `[input, hidden_1, …]` of mask `k` of the pool (copies). */
  maskDegrees(k: number): number[][] {
    this.checkMask('maskDegrees', k);
    return (this.pool[k] as number[][]).map((d) => [...d]);
  }

  /** The autoregressive order of mask `k`: `order[j]` is the input at position j (the inverse of the input degrees). */
  order(k = 0): Int32Array {
    this.checkMask('order', k);
    const deg = (this.pool[k] as number[][])[0] as number[];
    const order = new Int32Array(deg.length);
    deg.forEach((pos, d) => {
      order[pos] = d;
    });
    return order;
  }

  private checkMask(where: string, k: unknown): asserts k is number {
    this.live(where);
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k >= this.pool.length) {
      throw new Error(`MADE.${where}: "mask" must be an integer in [0, ${this.pool.length - 1}] (the pool has ${this.pool.length} masks), got ${String(k)}`);
    }
  }

  private checkX(where: string, x: unknown): asserts x is tf.Tensor {
    this.live(where);
    if (!(x instanceof tf.Tensor)) throw new GmError('BAD_ARGUMENT', `MADE.${where}: "x"`, 'a tf.Tensor', x === null ? null : typeof x);
    if (x.rank !== 2 || x.shape[1] !== this.inputSize || x.shape[0] === 0) {
      throw new GmError('BAD_SHAPE', `MADE.${where}`, `x has shape ${fmt(x.shape)}, expected [batch, ${this.inputSize}] with batch ≥ 1`);
    }
  }

  /** Puts mask `k` of the pool into the network (same weights). A no-op when it is already there. */
  useMask(k: number): void {
    this.checkMask('useMask', k);
    if (k === this.current) return;
    const degrees = this.pool[k] as number[][];
    const input = degrees[0] as number[];
    const L = this.stack.length - 1;
    this.stack.forEach((layer, l) => {
      layer.setDegrees({
        inputDegrees: degrees[l] as number[],
        outputDegrees: l === L ? outputDegrees(input, 1) : (degrees[l + 1] as number[]),
        directDegrees: layer.hasDirect ? input : null,
      });
    });
    this.current = k;
  }

  /** Logits of p(x_d = 1 | x_<d) under mask `mask` (default 0), `[N, D]`. */
  logits(x: tf.Tensor, options: { mask?: number } = {}): tf.Tensor {
    this.checkX('logits', x);
    this.useMask(options.mask ?? 0);
    return this.network.apply(x) as tf.Tensor;
  }

  /** log p(x) in nats under mask `mask` (default 0), `[N]`. */
  logProb(x: tf.Tensor, options: { mask?: number } = {}): tf.Tensor {
    this.checkX('logProb', x);
    return tf.tidy(() => new Bernoulli(this.logits(x, options), { eventRank: 1 }).logProb(x));
  }

  /**
   * The test-time ensemble: log of the mean probability over the first `masks` masks of the pool (default all K),
   * log (1/K) Σ_k p_k(x), in nats, `[N]`. A mixture of proper distributions, so it is itself normalised.
   */
  ensembleLogProb(x: tf.Tensor, options: { masks?: number } = {}): tf.Tensor {
    this.checkX('ensembleLogProb', x);
    const K = options.masks ?? this.pool.length;
    if (!Number.isInteger(K) || K < 1 || K > this.pool.length) {
      throw new Error(`MADE.ensembleLogProb: "masks" must be an integer in [1, ${this.pool.length}], got ${String(K)}`);
    }
    return tf.tidy(() => {
      const all: tf.Tensor[] = [];
      for (let k = 0; k < K; k++) all.push(this.logProb(x, { mask: k }));
      return logMeanExp(tf.stack(all), 0);
    });
  }

  /** Mean negative log-likelihood over `x` in nats per example (one mask or an ensemble), batched. */
  negativeLogLikelihood(x: tf.Tensor, options: MadeEvaluateOptions = {}): number {
    this.checkX('negativeLogLikelihood', x);
    const batchSize = options.batchSize ?? 500;
    checkPositiveInt(`MADE.negativeLogLikelihood: "batchSize"`, batchSize);
    const ens = options.ensemble;
    const ensembleMasks = ens === true ? this.pool.length : typeof ens === 'number' ? ens : undefined;
    const N = x.shape[0] as number;
    let total = 0;
    for (let start = 0; start < N; start += batchSize) {
      const size = Math.min(batchSize, N - start);
      const sum = tf.tidy(() => {
        const xb = size === N ? x : tf.slice(x, start, size);
        const lp = ensembleMasks === undefined ? this.logProb(xb, { mask: options.mask ?? 0 }) : this.ensembleLogProb(xb, { masks: ensembleMasks });
        return tf.sum(lp);
      });
      total -= sum.dataSync()[0] as number;
      sum.dispose();
    }
    return total / N;
  }

  /**
   * `n` exact samples `[n, D]` of 0/1 values: ancestral sampling in the mask's order, one network pass per
   * dimension for the whole batch. With `mask: 'ensemble'` each sample first draws one of the K masks uniformly,
   * which samples the ensemble mixture exactly. Seeded calls are reproducible.
   */
  sample(n: number, options: { seed?: number; mask?: number | 'ensemble' } = {}): tf.Tensor {
    this.live('sample');
    checkPositiveInt(`MADE.sample: "n"`, n);
    const seed = options.seed ?? this.config.seed;
    const rand = mulberry32(deriveSeed(seed, 20));
    const D = this.inputSize;
    const x = new Float32Array(n * D);
    const maskOf = new Int32Array(n);
    if (options.mask === 'ensemble') for (let i = 0; i < n; i++) maskOf[i] = Math.floor(rand() * this.pool.length);
    else {
      const k = options.mask ?? 0;
      this.checkMask('sample', k);
      maskOf.fill(k);
    }
    const groups = new Map<number, number[]>();
    maskOf.forEach((k, i) => {
      if (!groups.has(k)) groups.set(k, []);
      (groups.get(k) as number[]).push(i);
    });
    for (const [k, rows] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
      const order = this.order(k);
      const m = rows.length;
      const xs = new Float32Array(m * D);
      for (let pos = 0; pos < D; pos++) {
        const d = order[pos] as number;
        const probs = tf.tidy(() => tf.sigmoid(tf.slice(this.logits(tf.tensor2d(xs, [m, D]), { mask: k }), [0, d], [m, 1])));
        const p = probs.dataSync();
        probs.dispose();
        for (let r = 0; r < m; r++) xs[r * D + d] = rand() < (p[r] as number) ? 1 : 0;
      }
      rows.forEach((i, r) => x.set(xs.subarray(r * D, (r + 1) * D), i * D));
    }
    return tf.tensor2d(x, [n, D]);
  }

  /** The trainable variables (kernels and biases; the masks are not trainable). */
  trainableVariables(): tf.Variable[] {
    return this.network.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /**
   * The training loss: mean NLL in nats under a mask drawn (seeded by the step) from the pool — with K > 1 masks,
   * connectivity-agnostic training.
   */
  loss(batch: TrainingBatch, ctx: StepContext): tf.Scalar {
    const K = this.pool.length;
    this.useMask(K === 1 ? 0 : deriveSeed(ctx.seed, 3) % K);
    return tf.tidy(() => tf.neg(tf.mean(new Bernoulli(this.network.apply(batch.x) as tf.Tensor, { eventRank: 1 }).logProb(batch.x))) as tf.Scalar);
  }

  /** Validation: the mean NLL under mask 0. */
  validationLoss(batch: TrainingBatch): tf.Scalar {
    return tf.tidy(() => tf.neg(tf.mean(this.logProb(batch.x, { mask: 0 }))) as tf.Scalar);
  }

  protected fitDefaults(): TrainerDefaults {
    return { where: 'MADE.fit', batchSize: 100, seed: this.config.seed, learningRate: 1e-3 };
  }

  protected override beforeFit(data: TrainingData): void {
    if (data instanceof tf.Tensor) this.checkX('fit', data);
  }

  /** Trains through gm's trainer (binary data `[N, D]`); mask 0 is in place again afterwards. */
  override async fit(data: TrainingData, options: Parameters<ModelBase['fit']>[1]): Promise<FitResult> {
    try {
      return await super.fit(data, options);
    } finally {
      if (!this.isDisposed) this.useMask(0);
    }
  }

  /** The exact NLL (nats and bits/dim) under mask 0. */
  evaluate(x: tf.Tensor, options: EvaluateOptions = {}): Metric[] {
    const nll = this.negativeLogLikelihood(x, options.batchSize === undefined ? {} : { batchSize: options.batchSize });
    return [
      { name: 'nll', value: nll, unit: 'nats (exact)' },
      { name: 'nllBitsPerDim', value: bitsPerDim(nll, this.inputSize), unit: 'bits/dim' },
    ];
  }

  /**
   * The MADE as the lossless coder sees it (@gm/core's `AutoregressiveCoding`), under mask 0: its network as a
   * portable network (masked weights exact zeros) and the order it codes pixels in.
   */
  codingModel(): AutoregressiveCoding {
    this.live('codingModel');
    this.useMask(0);
    return { kind: 'autoregressive-bernoulli', pixelsPerImage: this.inputSize, order: this.order(0), network: portableNetwork(this.network, 'MADE network') };
  }

  protected checkpointContent(): CheckpointContent {
    this.useMask(0);
    return { config: storedConfig(this.config), parts: { network: this.network }, extra: { maskPool: this.pool } };
  }

  /** Loads a MADE saved by {@link MADE.save} (registers gm's layers first); checks the pool against the config. */
  static async load(store: CheckpointStore): Promise<MADE> {
    registerGmLayers();
    const reader = await readCheckpoint<MadeConfig>(store, MADE_CHECKPOINT_KIND);
    const where = store.label;
    const config: ResolvedMadeConfig = resolvedConfigOf(reader, resolveMadeConfig);
    const pool = reader.manifest.extra?.['maskPool'];
    const sizes = [config.inputSize, ...config.hidden];
    const poolOk =
      Array.isArray(pool) &&
      pool.length === config.masks &&
      pool.every(
        (m: unknown) =>
          Array.isArray(m) &&
          m.length === sizes.length &&
          m.every((d: unknown, l) => Array.isArray(d) && d.length === sizes[l] && d.every((v: unknown) => Number.isInteger(v))),
      );
    if (!poolOk) {
      throw new GmError('CORRUPT', where, `the checkpoint's "maskPool" must hold ${config.masks} masks of degree arrays with sizes [${sizes.join(', ')}]`);
    }
    return buildFromParts(reader, ['network'], ({ network }) => {
      const inShape = network.inputs[0]?.shape ?? [];
      const outShape = network.outputs[0]?.shape ?? [];
      if (inShape[1] !== config.inputSize || outShape[1] !== config.inputSize) {
        throw new GmError('CORRUPT', where, `the network maps ${fmt(inShape)} → ${fmt(outShape)} but the config has inputSize ${config.inputSize}`);
      }
      MADE.checkStoredParts(where, storedConfig(config), { network });
      return new MADE(storedConfig(config), { network, pool: pool as number[][][] });
    });
  }



  protected disposeModel(): void {
    this.network.dispose();
  }
}
