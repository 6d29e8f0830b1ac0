/**
 * Masked autoregressive flow (Papamakarios et al., 2017) as a model family: `steps` MAF steps of @gm/layers (each a
 * MADE that outputs every dimension's transform from the dimensions before it), the ordering reversed from one step
 * to the next (or seeded random orders), under a standard-Normal base. Density in one pass per step; sampling one
 * dimension per pass. `transform: 'spline'` makes it the autoregressive neural spline flow (Durkan et al., 2019).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { ACTIVATIONS, MaskedAutoregressiveFlow, MaskedDense, registerGmLayers, type Activation } from '@gm/layers';
import { checkPositiveInt, deriveSeed, GmError, type CheckpointStore } from '@gm/core';
import { readCheckpoint, resolvedConfigOf } from '../io/checkpoint';
import { buildFromParts } from '../model-base';
import { VectorFlow, type VectorFlowParts } from '../realnvp/vector-flow';
import { resolveVectorPixelFields } from '../realnvp/pixel-space';

/** Checkpoint kind written by {@link MAF.save}. */
export const MAF_CHECKPOINT_KIND = 'maf';

/** Configuration of {@link MAF}. */
export interface MafConfig {
  /** Dimension of the data vectors (≥ 2). */
  dim: number;
  /** MAF steps (default 5). */
  steps?: number;
  /** Hidden widths of each step's MADE (default [64, 64]). */
  hidden?: number[];
  /** Orders of the steps: 'reversed' alternates natural and reversed (default), 'random' draws a seeded order per step. */
  ordering?: 'reversed' | 'random';
  /** The element-wise transform (default 'affine'; 'spline': rational-quadratic splines, the autoregressive NSF). */
  transform?: 'affine' | 'spline';
  /** Spline bins (default 8) and half-width of the interval they bend (default 4); `transform: 'spline'` only. */
  bins?: number;
  bound?: number;
  /** Affine steps: the soft bound B of every log-scale, `α = B·tanh(α_raw/B)`; 0: unbounded. Default 0 on real
   * vectors, 3 on pixels (a test digit with ink where no training digit had any otherwise meets scales that compound
   * over the steps to astronomical −log p). See @gm/layers' `MaskedAutoregressiveFlow`. */
  logScaleBound?: number;
  /** Activation of the MADEs' hidden layers (default 'relu'). */
  activation?: Activation;
  /** Pixel levels of flattened 8-bit images (dequantized and logit-transformed inside the model; bits/dim in pixel
   * space); 0 (default): real vectors. */
  levels?: number;
  /** The logit transform's α for pixels (default 0.05). */
  alpha?: number;
  /** Seed of the weights, random orders, batch order and sampling (default 0). */
  seed?: number;
}

/** The default log-scale bound on pixels. */
const PIXEL_LOG_SCALE_BOUND = 3;

/** {@link MafConfig} with the defaults filled in. */
export type ResolvedMafConfig = Required<MafConfig>;

/** Validates a config and fills in its defaults (errors name the field and what was expected). */
export function resolveMafConfig(config: MafConfig): ResolvedMafConfig {
  const where = 'MAF config';
  if (config === null || typeof config !== 'object') throw new GmError('BAD_ARGUMENT', where, 'an object with "dim"', config);
  checkPositiveInt(`${where}: "dim"`, config.dim);
  if (config.dim < 2) throw new GmError('BAD_ARGUMENT', `${where}: "dim"`, 'at least 2', config.dim);
  const steps = config.steps ?? 5;
  checkPositiveInt(`${where}: "steps"`, steps);
  const hidden = config.hidden ?? [64, 64];
  if (!Array.isArray(hidden) || hidden.length === 0) throw new GmError('BAD_ARGUMENT', `${where}: "hidden"`, 'a non-empty array of positive integers', hidden);
  hidden.forEach((h, i) => checkPositiveInt(`${where}: "hidden[${i}]"`, h));
  const ordering = config.ordering ?? 'reversed';
  if (ordering !== 'reversed' && ordering !== 'random') throw new GmError('BAD_ARGUMENT', `${where}: "ordering"`, "'reversed' or 'random'", ordering);
  const transform = config.transform ?? 'affine';
  if (transform !== 'affine' && transform !== 'spline') throw new GmError('BAD_ARGUMENT', `${where}: "transform"`, "'affine' or 'spline'", transform);
  const bins = config.bins ?? 8;
  checkPositiveInt(`${where}: "bins"`, bins);
  if (bins < 2) throw new GmError('BAD_ARGUMENT', `${where}: "bins"`, 'at least 2', bins);
  const bound = config.bound ?? 4;
  if (typeof bound !== 'number' || !(bound > 0) || !Number.isFinite(bound)) throw new GmError('BAD_ARGUMENT', `${where}: "bound"`, 'a positive number', bound);
  const { levels, alpha } = resolveVectorPixelFields(where, config);
  const logScaleBound = config.logScaleBound ?? (levels > 0 ? PIXEL_LOG_SCALE_BOUND : 0);
  if (typeof logScaleBound !== 'number' || !(logScaleBound >= 0) || !Number.isFinite(logScaleBound)) throw new GmError('BAD_ARGUMENT', `${where}: "logScaleBound"`, 'a non-negative number (0: unbounded)', logScaleBound);
  const activation = config.activation ?? 'relu';
  if (!ACTIVATIONS.includes(activation)) throw new GmError('BAD_ARGUMENT', `${where}: "activation"`, `one of ${ACTIVATIONS.join(', ')}`, activation);
  const seed = config.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0) throw new GmError('BAD_ARGUMENT', `${where}: "seed"`, 'a non-negative integer', seed);
  return { dim: config.dim, steps, hidden: [...hidden], ordering, transform, bins, bound, logScaleBound, activation, levels, alpha, seed };
}

function stepArgs(c: ResolvedMafConfig, t: number) {
  return {
    dim: c.dim,
    hidden: c.hidden,
    activation: c.activation,
    transform: c.transform,
    bins: c.bins,
    bound: c.bound,
    logScaleBound: c.logScaleBound,
    ordering: c.ordering === 'random' ? ('random' as const) : t % 2 === 0 ? ('natural' as const) : ('reversed' as const),
    seed: deriveSeed(c.seed, 400, t) % 2 ** 30,
    name: `maf_step${t}`,
  };
}

/**
 * The steps, and one tfjs model holding every step's MADE (what a checkpoint stores: the MADEs side by side on the
 * input, so tfjs saves and loads their weights and masks). Given a stored model, the steps are rebuilt around its
 * layers.
 */
function mafParts(c: ResolvedMafConfig, stored?: tfl.LayersModel): VectorFlowParts {
  registerGmLayers();
  let model = stored;
  if (model === undefined) {
    // Fresh steps are built eagerly (initialised weights); their MADEs are copied into layers applied symbolically
    // in one model, which then owns them (tfjs frees a layer's weights with the model only if the model is its sole
    // user), and the eager originals are freed.
    const fresh = Array.from({ length: c.steps }, (_, t) => new MaskedAutoregressiveFlow(stepArgs(c, t)));
    const input = tfl.input({ shape: [c.dim] });
    const copies: [MaskedDense, MaskedDense][] = [];
    const outputs = fresh.map((f) =>
      f.layers.reduce<tfl.SymbolicTensor>((h, layer) => {
        const copy = new MaskedDense(layer.getConfig() as unknown as ConstructorParameters<typeof MaskedDense>[0]);
        copies.push([layer, copy]);
        return copy.apply(h) as tfl.SymbolicTensor;
      }, input),
    );
    model = tfl.model({ inputs: input, outputs, name: 'maf' });
    for (const [layer, copy] of copies) copy.setWeights(layer.getWeights()); // getWeights gives the variables' own values
    fresh.forEach((f) => f.dispose());
  }
  const m = model;
  const byName = (name: string) => m.getLayer(name) as MaskedDense;
  const flows = Array.from({ length: c.steps }, (_, t) => {
    const layers = [...c.hidden.map((_, l) => byName(`maf_step${t}_hidden${l}`)), byName(`maf_step${t}_out`)];
    return new MaskedAutoregressiveFlow({ ...stepArgs(c, t), layers });
  });
  return { model: m, flows };
}

/**
 * MAF on vectors `[batch, dim]`: `u = f(x)` through the steps, `u ~ N(0, I)`; log p, NLL, temperature sampling,
 * `fit`, `evaluate` and checkpoints as every {@link VectorFlow}.
 *
 * @example
 * ```ts
 * const maf = new MAF({ dim: 2, steps: 5, hidden: [64, 64], seed: 1 });            // or transform: 'spline'
 * await maf.fit(points, { epochs: 30, batchSize: 256, clipNorm: 100 });
 * const lp = maf.logProb(points);                   // [N] nats, one pass per step
 * const xs = maf.sample(1000, { temperature: 0.8 }); // [1000, 2], one pass per dimension and step
 * ```
 */
export class MAF extends VectorFlow<ResolvedMafConfig> {
  readonly kind = MAF_CHECKPOINT_KIND;
  protected readonly label = 'MAF';
  declare readonly flows: readonly MaskedAutoregressiveFlow[];

  /** A fresh flow with seeded weights; the second argument is internal (used by {@link MAF.load}). */
  constructor(config: MafConfig, model?: tfl.LayersModel) {
    const resolved = resolveMafConfig(config);
    super(resolved, mafParts(resolved, model));
  }

  describe(): string {
    const c = this.config;
    const what = c.transform === 'spline' ? `autoregressive rational-quadratic spline steps (${c.bins} bins on [−${c.bound}, ${c.bound}])` : 'MAF steps';
    return `${c.transform === 'spline' ? 'autoregressive neural spline flow' : 'masked autoregressive flow'}, ${c.dim}-D${c.levels > 0 ? ` ${c.levels}-level pixels (dequantized, logit)` : ''}, ${c.steps} ${what} (MADE ${c.hidden.join('-')}, ${c.ordering} orders${c.transform === 'affine' && c.logScaleBound > 0 ? `, log-scales within ±${c.logScaleBound}` : ''}), N(0, I) base`;
  }

  /** Loads a flow saved by {@link MAF.save}; another kind, or weights that disagree with the config, is an error. */
  static async load(store: CheckpointStore): Promise<MAF> {
    registerGmLayers();
    const reader = await readCheckpoint<MafConfig>(store, MAF_CHECKPOINT_KIND);
    const where = store.label;
    const config = resolvedConfigOf(reader, resolveMafConfig);
    return buildFromParts(reader, ['flow'], ({ flow }) => {
      const made = flow.layers.filter((l) => l instanceof MaskedDense).length;
      const want = config.steps * (config.hidden.length + 1);
      const shape = flow.inputs[0]?.shape ?? [];
      if (made !== want || shape[1] !== config.dim) {
        throw new GmError('CORRUPT', where, `the flow part has ${made} MADE layers on input [${shape.map(String).join(', ')}], but the config implies ${want} on [null, ${config.dim}]`);
      }
      MAF.checkStoredParts(where, config, { flow });
      return new MAF(config, flow);
    });
  }

  /** Frees the steps' constants (spline offsets); the MADE weights go with the model. */
  protected override disposeModel(): void {
    super.disposeModel();
    this.flows.forEach((f) => f.disposeConstants());
  }
}
