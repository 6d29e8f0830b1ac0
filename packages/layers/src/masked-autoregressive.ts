/**
 * The masked autoregressive flow step (MAF, Papamakarios et al., 2017) over a MADE of `MaskedDense` layers, and
 * its inverse, the inverse autoregressive flow step (IAF, Kingma et al., 2016). A MADE reads x and outputs, for each
 * dimension d, a shift μ_d and a log-scale α_d that depend only on the dimensions before d in the ordering.
 *
 * - MAF, `forward` (data → base, the density direction): `u = (x − μ(x))·exp(−α(x))`, one network pass,
 *   `log|det ∂u/∂x| = −Σ α`. `inverse` (sampling) solves it one dimension at a time: D passes.
 * - IAF = `Invert(MAF)`: sampling in one pass, density in D passes (what a VAE posterior or a fast sampler wants).
 *
 * The MADE's last layer starts with small weights and zero bias, so a fresh step is close to the identity.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { checkPositiveInt, deriveSeed, GmError, type Bijector, type BijectorOptions } from '@gm/core';
import { Invert } from './bijector';
import { resolveConditionerArgs, type ConditionerArgs } from './conditioner';
import { madeDegrees, outputDegrees, type Ordering } from './made';
import { MaskedDense } from './masked-dense';

export interface MaskedAutoregressiveArgs extends ConditionerArgs {
  /** Dimensions D (≥ 2). */
  dim: number;
  /** Input ordering (default 'natural'; alternate 'reversed' between stacked steps, or use 'random' with a seed). */
  ordering?: Ordering;
}

export class MaskedAutoregressiveFlow implements Bijector {
  readonly dim: number;
  readonly contextSize: number | undefined;
  /** The MADE's layers, hidden then output (save them with the model that owns the step). */
  readonly layers: readonly MaskedDense[];
  /** The position of each dimension in the autoregressive order (the MADE's input degrees). */
  readonly inputDegrees: readonly number[];
  /** order[k] = the dimension at position k of the ordering. */
  private readonly order: Int32Array;

  constructor(args: MaskedAutoregressiveArgs) {
    const where = 'MaskedAutoregressiveFlow';
    checkPositiveInt(`${where}: dim`, args.dim);
    if (args.dim < 2) throw new GmError('BAD_ARGUMENT', `${where}: dim`, 'at least 2', args.dim);
    const { hidden, activation, seed, contextSize } = resolveConditionerArgs(where, args);
    if (hidden.length === 0) throw new GmError('BAD_ARGUMENT', `${where}: hidden`, 'at least one hidden layer', hidden);
    const D = args.dim;
    const degrees = madeDegrees({ inputSize: D, hiddenSizes: hidden, ordering: args.ordering ?? 'natural', ...(seed === undefined ? {} : { seed }) });
    const layerSeed = (i: number): number | undefined => (seed === undefined ? undefined : deriveSeed(seed, i) % 2 ** 30);
    const context = contextSize === undefined ? [] : [[null, contextSize]];
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
      });
      layer.build(contextSize === undefined ? [null, width] : ([[null, width], ...context] as never));
      made.push(layer);
      width = units;
    });
    const out = new MaskedDense({
      units: 2 * D,
      inputDegrees: degrees[hidden.length] as number[],
      outputDegrees: outputDegrees(degrees[0] as number[], 2),
      maskType: 'output',
      contextSize: contextSize ?? null,
      seed: layerSeed(hidden.length) ?? null,
    });
    out.build(contextSize === undefined ? [null, width] : ([[null, width], ...context] as never));
    // Small weights, zero bias: μ ≈ 0 and α ≈ 0, a step near the identity. write() copies, so dispose what we pass.
    for (const w of out.trainableWeights as LayerVariable[]) {
      const next = /bias/.test(w.name) ? tf.zerosLike(w.read()) : tf.tidy(() => tf.mul(w.read(), 0.1));
      w.write(next);
      next.dispose();
    }
    made.push(out);
    this.layers = made;
    this.dim = D;
    this.contextSize = contextSize;
    this.order = new Int32Array(D);
    this.inputDegrees = [...(degrees[0] as number[])];
    this.inputDegrees.forEach((position, d) => (this.order[position] = d));
  }

  /** μ and α for every dimension from x (`[batch, D]`), autoregressively. */
  private made(x: Tensor, context: Tensor | undefined): { mu: Tensor; alpha: Tensor } {
    if ((context === undefined) !== (this.contextSize === undefined)) {
      throw new GmError('BAD_ARGUMENT', 'MaskedAutoregressiveFlow', this.contextSize === undefined ? 'was built without contextSize: pass no context' : `needs a context [batch, ${this.contextSize}] (options.context)`);
    }
    if (x.rank !== 2 || x.shape[1] !== this.dim) throw new GmError('BAD_SHAPE', 'MaskedAutoregressiveFlow: input', `[batch, ${this.dim}]`, `[${x.shape.join(', ')}]`);
    let h = x;
    for (const layer of this.layers) h = layer.apply(context === undefined ? h : [h, context]) as Tensor;
    const [mu, alpha] = tf.split(h, 2, 1) as [Tensor, Tensor];
    return { mu, alpha };
  }

  /** x → u in one pass: `u = (x − μ)·exp(−α)`, log-det −Σ α. */
  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const { mu, alpha } = this.made(x, options?.context);
      return { y: tf.mul(tf.sub(x, mu), tf.exp(tf.neg(alpha))), logDet: tf.neg(tf.sum(alpha, 1)) };
    });
  }

  /** u → x, one dimension per pass in the ordering: `x_d = u_d·exp(α_d) + μ_d`; log-det Σ α. */
  inverse(u: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const n = u.shape[0] as number;
      const D = this.dim;
      const uv = u.dataSync();
      const x = new Float32Array(n * D);
      for (let k = 0; k < D; k++) {
        const d = this.order[k] as number;
        const [mv, av] = tf.tidy(() => {
          const { mu, alpha } = this.made(tf.tensor2d(x, [n, D]), options?.context);
          return [mu.dataSync(), alpha.dataSync()];
        });
        for (let b = 0; b < n; b++) {
          const i = b * D + d;
          x[i] = (uv[i] as number) * Math.exp(av[i] as number) + (mv[i] as number);
        }
      }
      const xt = tf.tensor2d(x, [n, D]);
      return { x: xt, logDet: tf.sum(this.made(xt, options?.context).alpha, 1) };
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
  }
}

/**
 * An inverse autoregressive flow step: `Invert(MaskedAutoregressiveFlow)` — `inverse` (base → data, sampling) in one
 * network pass, `forward` (density) in D passes. Its `inner` is the MAF step (whose `layers` a model saves).
 */
export function inverseAutoregressiveFlow(args: MaskedAutoregressiveArgs): Invert {
  return new Invert(new MaskedAutoregressiveFlow(args));
}
