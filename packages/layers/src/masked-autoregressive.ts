/**
 * The masked autoregressive flow step (MAF, Papamakarios et al., 2017) over a MADE of `MaskedDense` layers, and
 * its inverse, the inverse autoregressive flow step (IAF, Kingma et al., 2016). A MADE reads x and outputs, for each
 * dimension d, a shift μ_d and a log-scale α_d that depend only on the dimensions before d in the ordering.
 *
 * - MAF, `forward` (data → base, the density direction): `u = (x − μ(x))·exp(−α(x))`, one network pass,
 *   `log|det ∂u/∂x| = −Σ α`. `inverse` (sampling) solves it one dimension at a time: D passes.
 * - IAF = `Invert(MAF)`: sampling in one pass, density in D passes (what a VAE posterior or a fast sampler wants).
 *
 * With `transform: 'spline'` each dimension goes through a rational-quadratic spline (Durkan et al., 2019: the
 * autoregressive neural spline flow) whose 3K − 1 parameters the MADE outputs instead of μ and α; the inverse is the
 * spline's closed-form root, still one dimension per pass.
 *
 * The MADE's last layer starts with small weights (spline: zero) and zero bias, so a fresh step is close to (spline:
 * exactly) the identity.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { checkPositiveInt, deriveSeed, GmError, type Bijector, type BijectorOptions } from '@gm/core';
import { Invert } from './bijector';
import { resolveConditionerArgs, type ConditionerArgs } from './conditioner';
import { buildLayer, type Activation } from './util';
import { madeDegrees, outputDegrees, type Ordering } from './made';
import { MaskedDense } from './masked-dense';
import { RQ_IDENTITY_DERIVATIVE, rationalQuadraticForward, rationalQuadraticInverse, rqParamsPerElement } from './rational-quadratic';

export interface MaskedAutoregressiveArgs extends ConditionerArgs {
  /** Dimensions D (≥ 2). */
  dim: number;
  /** Input ordering (default 'natural'; alternate 'reversed' between stacked steps, or use 'random' with a seed). */
  ordering?: Ordering;
  /** The element-wise transform the MADE parameterises (default 'affine'). */
  transform?: 'affine' | 'spline';
  /** Spline bins K (default 8; `transform: 'spline'` only). */
  bins?: number;
  /** Half-width B of the interval the splines bend, identity outside (default 3; `transform: 'spline'` only). */
  bound?: number;
  /** Affine transform: bounds the log-scale softly to (−B, B), `α = B·tanh(α_raw / B)`, so that no step can stretch a
   * dimension by more than e^B — what keeps a deep MAF finite on inputs unlike its training data (pixels a digit
   * never inked); 0 (default): unbounded. */
  logScaleBound?: number;
  /** The MADE of a saved step (hidden layers, then the output layer), as a model that stored them loads them: the
   * step is rebuilt around them (`hidden`, `ordering` and `seed` are then theirs). */
  layers?: readonly MaskedDense[];
  /** Names the MADE's layers `<name>_hidden<l>` and `<name>_out` (so a model that stores several steps finds each). */
  name?: string;
}

export class MaskedAutoregressiveFlow implements Bijector {
  readonly dim: number;
  readonly contextSize: number | undefined;
  /** The MADE's layers, hidden then output (save them with the model that owns the step). */
  readonly layers: readonly MaskedDense[];
  /** The position of each dimension in the autoregressive order (the MADE's input degrees). */
  readonly inputDegrees: readonly number[];
  /** The element-wise transform: affine (μ, α) or a rational-quadratic spline. */
  readonly transform: 'affine' | 'spline';
  /** Affine transform: the soft bound B of the log-scale (0: none). */
  readonly logScaleBound: number;
  /** Spline bins and bound (spline transform). */
  readonly bins: number;
  readonly bound: number;
  /** order[k] = the dimension at position k of the ordering. */
  private readonly order: Int32Array;
  /** Added to the spline parameters so that a fresh step's derivatives are 1 (kept outside any tidy scope). */
  private readonly splineOffset: Tensor | undefined;

  constructor(args: MaskedAutoregressiveArgs) {
    const where = 'MaskedAutoregressiveFlow';
    checkPositiveInt(`${where}: dim`, args.dim);
    if (args.dim < 2) throw new GmError('BAD_ARGUMENT', `${where}: dim`, 'at least 2', args.dim);
    const { hidden, activation, seed, contextSize } = resolveConditionerArgs(where, args);
    if (hidden.length === 0) throw new GmError('BAD_ARGUMENT', `${where}: hidden`, 'at least one hidden layer', hidden);
    const D = args.dim;
    const transform = args.transform ?? 'affine';
    if (transform !== 'affine' && transform !== 'spline') throw new GmError('BAD_ARGUMENT', `${where}: transform`, "'affine' or 'spline'", transform);
    const bins = args.bins ?? 8;
    checkPositiveInt(`${where}: bins`, bins);
    if (bins < 2) throw new GmError('BAD_ARGUMENT', `${where}: bins`, 'at least 2', bins);
    const bound = args.bound ?? 3;
    if (!(typeof bound === 'number' && bound > 0 && Number.isFinite(bound))) throw new GmError('BAD_ARGUMENT', `${where}: bound`, 'a positive number', bound);
    const logScaleBound = args.logScaleBound ?? 0;
    if (!(typeof logScaleBound === 'number' && logScaleBound >= 0 && Number.isFinite(logScaleBound))) throw new GmError('BAD_ARGUMENT', `${where}: logScaleBound`, 'a non-negative number (0: unbounded)', logScaleBound);
    this.logScaleBound = logScaleBound;
    const perDim = transform === 'affine' ? 2 : rqParamsPerElement(bins);
    const made = args.layers === undefined ? MaskedAutoregressiveFlow.freshMade(D, perDim, transform, { hidden, activation, seed, contextSize, ordering: args.ordering ?? 'natural', name: args.name }) : [...args.layers];
    const last = made[made.length - 1];
    const first = made[0];
    if (made.length < 2 || first === undefined || last === undefined || first.degrees.inputDegrees.length !== D || last.units !== perDim * D || last.contextSize !== contextSize) {
      throw new GmError('BAD_ARGUMENT', `${where}: layers`, `a MADE over ${D} inputs with ${perDim * D} outputs${contextSize === undefined ? '' : ` and a context of ${contextSize}`} (hidden layers, then the output layer)`, `${made.length} layers`);
    }
    this.layers = made;
    this.dim = D;
    this.transform = transform;
    this.bins = bins;
    this.bound = bound;
    const offset = new Float32Array(rqParamsPerElement(bins)).fill(RQ_IDENTITY_DERIVATIVE, 2 * bins);
    this.splineOffset = transform === 'spline' ? tf.keep(tf.tensor1d(offset)) : undefined;
    this.contextSize = contextSize;
    this.order = new Int32Array(D);
    this.inputDegrees = [...first.degrees.inputDegrees];
    this.inputDegrees.forEach((position, d) => (this.order[position] = d));
  }

  /** A new MADE: hidden layers on the ordering's degrees, then the output layer starting small (spline: at zero). */
  private static freshMade(D: number, perDim: number, transform: 'affine' | 'spline', o: { hidden: number[]; activation: Activation; seed: number | undefined; contextSize: number | undefined; ordering: Ordering; name: string | undefined }): MaskedDense[] {
    const { hidden, activation, seed, contextSize } = o;
    const degrees = madeDegrees({ inputSize: D, hiddenSizes: hidden, ordering: o.ordering, ...(seed === undefined ? {} : { seed }) });
    const layerSeed = (i: number): number | undefined => (seed === undefined ? undefined : deriveSeed(seed, i) % 2 ** 30);
    const context = contextSize === undefined ? [] : [contextSize];
    const made: MaskedDense[] = [];
    let width = D;
    hidden.forEach((units, l) => {
      const layer = new MaskedDense({
        units,
        inputDegrees: degrees[l] as number[],
        outputDegrees: degrees[l + 1] as number[],
        activation,
        contextSize: contextSize ?? null,
        seed: layerSeed(l) ?? null,
        ...(o.name === undefined ? {} : { name: `${o.name}_hidden${l}` }),
      });
      buildLayer(layer, [null, width], context); // applied once, so its weights get the scoped names saving uses
      made.push(layer);
      width = units;
    });
    const out = new MaskedDense({
      units: perDim * D,
      inputDegrees: degrees[hidden.length] as number[],
      outputDegrees: outputDegrees(degrees[0] as number[], perDim),
      maskType: 'output',
      contextSize: contextSize ?? null,
      seed: layerSeed(hidden.length) ?? null,
      ...(o.name === undefined ? {} : { name: `${o.name}_out` }),
    });
    buildLayer(out, [null, width], context);
    // Small weights, zero bias: μ ≈ 0 and α ≈ 0, a step near the identity; a spline step's last layer starts at zero
    // (with the derivative offset, exactly the identity). write() copies, so dispose what we pass.
    const start = transform === 'spline' ? 0 : 0.1;
    for (const w of out.trainableWeights as LayerVariable[]) {
      const next = /bias/.test(w.name) ? tf.zerosLike(w.read()) : tf.tidy(() => tf.mul(w.read(), start));
      w.write(next);
      next.dispose();
    }
    made.push(out);
    return made;
  }

  /** The MADE's output for x (`[batch, D]`): every dimension's parameters depend only on the dimensions before it. */
  private made(x: Tensor, context: Tensor | undefined): Tensor {
    if ((context === undefined) !== (this.contextSize === undefined)) {
      throw new GmError('BAD_ARGUMENT', 'MaskedAutoregressiveFlow', this.contextSize === undefined ? 'was built without contextSize: pass no context' : `needs a context [batch, ${this.contextSize}] (options.context)`);
    }
    if (x.rank !== 2 || x.shape[1] !== this.dim) throw new GmError('BAD_SHAPE', 'MaskedAutoregressiveFlow: input', `[batch, ${this.dim}]`, `[${x.shape.join(', ')}]`);
    let h = x;
    for (const layer of this.layers) h = layer.apply(context === undefined ? h : [h, context]) as Tensor;
    return h;
  }

  /** μ and α of the affine transform. */
  private affine(h: Tensor): { mu: Tensor; alpha: Tensor } {
    const [mu, raw] = tf.split(h, 2, 1) as [Tensor, Tensor];
    const B = this.logScaleBound;
    return { mu, alpha: B === 0 ? raw : tf.mul(tf.tanh(tf.div(raw, B)), B) };
  }

  /** The spline parameters `[batch, D, 3K − 1]` (the MADE's outputs are parameter-major blocks of D). */
  private splineParams(h: Tensor): Tensor {
    const P = rqParamsPerElement(this.bins);
    return tf.add(tf.transpose(tf.reshape(h, [h.shape[0] as number, P, this.dim]), [0, 2, 1]), this.splineOffset as Tensor);
  }

  /** The element-wise map x → u given the MADE's output at x, and its log-derivatives. */
  private apply1(x: Tensor, h: Tensor): { u: Tensor; logDerivative: Tensor } {
    if (this.transform === 'spline') {
      const { y, logDerivative } = rationalQuadraticForward(x, this.splineParams(h), { bins: this.bins, bound: this.bound });
      return { u: y, logDerivative };
    }
    const { mu, alpha } = this.affine(h);
    return { u: tf.mul(tf.sub(x, mu), tf.exp(tf.neg(alpha))), logDerivative: tf.neg(alpha) };
  }

  /** Its inverse u → x for every dimension, given the MADE's output (right for dimension d once x_<d are final). */
  private invert1(u: Tensor, h: Tensor): Tensor {
    if (this.transform === 'spline') return rationalQuadraticInverse(u, this.splineParams(h), { bins: this.bins, bound: this.bound }).x;
    const { mu, alpha } = this.affine(h);
    return tf.add(tf.mul(u, tf.exp(alpha)), mu);
  }

  /** x → u in one pass (affine: `u = (x − μ)·exp(−α)`, log-det −Σ α). */
  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const { u, logDerivative } = this.apply1(x, this.made(x, options?.context));
      return { y: u, logDet: tf.sum(logDerivative, 1) };
    });
  }

  /** u → x, one dimension per pass in the ordering (affine: `x_d = u_d·exp(α_d) + μ_d`); log-det = −forward's at x. */
  inverse(u: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const n = u.shape[0] as number;
      const D = this.dim;
      const x = new Float32Array(n * D);
      for (let k = 0; k < D; k++) {
        const d = this.order[k] as number;
        const xv = tf.tidy(() => this.invert1(u, this.made(tf.tensor2d(x, [n, D]), options?.context)).dataSync());
        for (let b = 0; b < n; b++) x[b * D + d] = xv[b * D + d] as number;
      }
      const xt = tf.tensor2d(x, [n, D]);
      return { x: xt, logDet: tf.neg(tf.sum(this.apply1(xt, this.made(xt, options?.context)).logDerivative, 1)) };
    });
  }

  trainableVariables(): Variable[] {
    return this.layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as Variable));
  }

  /** The masks (fixed; saved with the layers). */
  stateVariables(): Variable[] {
    return this.layers.flatMap((l) => l.nonTrainableWeights.map((w) => w.read() as Variable));
  }

  /** Frees the MADE's weights (when no model owns the layers; tfjs refuses Layer.dispose on layers never applied symbolically). */
  dispose(): void {
    for (const layer of this.layers) for (const w of layer.weights) w.dispose();
    this.disposeConstants();
  }

  /** Frees the step's own constants only (a model that stored the layers frees their weights). */
  disposeConstants(): void {
    this.splineOffset?.dispose();
  }
}

/**
 * An inverse autoregressive flow step: `Invert(MaskedAutoregressiveFlow)` — `inverse` (base → data, sampling) in one
 * network pass, `forward` (density) in D passes. Its `inner` is the MAF step (whose `layers` a model saves).
 */
export function inverseAutoregressiveFlow(args: MaskedAutoregressiveArgs): Invert {
  return new Invert(new MaskedAutoregressiveFlow(args));
}
