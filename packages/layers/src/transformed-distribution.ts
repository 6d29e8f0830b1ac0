/**
 * A flow as a distribution: a base distribution and a bijector that maps data to the base (the normalizing
 * direction). `logProb(x) = base.logProb(f(x)) + log|det ∂f/∂x|`; sampling draws from the base and runs `f⁻¹`.
 * Conditional bijectors take their context through the options. It is a `Distribution` (and knows the log
 * density of its own samples), so a flow plugs into @gm/metrics and @gm/models' trainer like any other.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { deriveSeed, GmError, type Bijector, type BijectorOptions, type Distribution, type SampleWithLogProb } from '@gm/core';
import { stateVariablesOf, trainableVariablesOf } from './bijector';

export interface TransformedDistributionOptions {
  /**
   * One example's shape. Given, the bijector's layers are built at construction (one forward pass on zeros), so
   * an optimizer sees every variable from the first step; it also lets a batched base (a posterior with batch
   * `[B]`) be sampled `n` times per example.
   */
  eventShape?: readonly number[];
  /** Width of a conditional bijector's context (zeros are used for the building pass). */
  contextSize?: number;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** `n` copies of `t` along its first axis, sample-major (copy j occupies rows j·B … j·B + B − 1). */
function repeatRows(t: Tensor, n: number): Tensor {
  return n === 1 ? t : tf.concat(new Array<Tensor>(n).fill(t), 0);
}

/**
 * @example
 * ```ts
 * const flow = new TransformedDistribution(new StandardNormal([2]), new Chain([
 *   new AffineCoupling({ inputShape: [2], hidden: [32] }),
 *   new AffineCoupling({ inputShape: [2], hidden: [32], invertMask: true }),
 * ]), { eventShape: [2] });
 * const lp = flow.logProb(points);   // [N]
 * const xs = flow.sample(100, 7);    // [100, 2]
 * ```
 */
export class TransformedDistribution implements Distribution, SampleWithLogProb {
  readonly eventShape: readonly number[] | undefined;

  constructor(
    readonly base: Distribution,
    readonly bijector: Bijector,
    options: TransformedDistributionOptions = {},
  ) {
    if (typeof base?.logProb !== 'function' || typeof base?.sample !== 'function') throw new GmError('BAD_ARGUMENT', 'TransformedDistribution: base', 'a Distribution (logProb and sample)', base);
    if (typeof bijector?.forward !== 'function' || typeof bijector?.inverse !== 'function') throw new GmError('BAD_ARGUMENT', 'TransformedDistribution: bijector', 'a Bijector (forward and inverse)', bijector);
    this.eventShape = options.eventShape === undefined ? undefined : [...options.eventShape];
    if (this.eventShape !== undefined && trainableVariablesOf(bijector).length === 0) {
      // Layers that build on first use: one pass on zeros builds them (in the cheap direction of autoregressive steps).
      const shape = this.eventShape;
      tf.tidy(() => {
        const context = options.contextSize === undefined ? undefined : tf.zeros([2, options.contextSize]);
        bijector.inverse(tf.zeros([2, ...shape]), context === undefined ? {} : { context });
      });
    }
  }

  /** log p(x) per example, `[batch]` (`options.training` uses batch statistics; `options.context` conditions). */
  logProb(x: Tensor, options?: BijectorOptions): Tensor {
    return tf.tidy(() => {
      const { y, logDet } = this.bijector.forward(x, options);
      return tf.add(this.base.logProb(y), logDet);
    });
  }

  /** Draws from the base and maps them to data. With a batched base and `eventShape`: `[n, ...batch, ...event]`. */
  sample(n?: number, seed?: number, options?: BijectorOptions): Tensor {
    return tf.tidy(() => this.draw(n, seed, options).x);
  }

  /** Samples and their log densities: log p(x) = log p_base(z) − log|det ∂x/∂z| for x = f⁻¹(z). */
  sampleWithLogProb(n: number, seed?: number, options?: BijectorOptions): { sample: Tensor; logProb: Tensor } {
    return tf.tidy(() => {
      const { x, logProb } = this.draw(n, seed, options);
      return { sample: x, logProb };
    });
  }

  private draw(n: number | undefined, seed: number | undefined, options: BijectorOptions | undefined): { x: Tensor; logProb: Tensor } {
    const baseSeed = seed === undefined ? undefined : deriveSeed(seed, 0);
    const withLog = this.base as Partial<SampleWithLogProb>;
    let z: Tensor;
    let logBase: Tensor;
    if (n !== undefined && typeof withLog.sampleWithLogProb === 'function') {
      const s = withLog.sampleWithLogProb(n, baseSeed);
      z = s.sample;
      logBase = s.logProb;
    } else {
      z = this.base.sample(n, baseSeed);
      logBase = this.base.logProb(z);
    }
    const opts: BijectorOptions = { ...options, ...(seed === undefined ? {} : { seed: deriveSeed(seed, 1) }) };
    const event = this.eventShape;
    if (event === undefined || z.rank === event.length + 1) {
      const r = this.bijector.inverse(z, opts);
      return { x: r.x, logProb: tf.sub(logBase, r.logDet) };
    }
    // A batched base: flatten [n, ...batch] into one batch axis (sample-major), repeat the context to match.
    const lead = z.shape.slice(0, z.rank - event.length);
    const rows = prod(lead);
    const flatOpts = opts.context === undefined ? opts : { ...opts, context: repeatRows(opts.context, rows / (opts.context.shape[0] as number)) };
    const r = this.bijector.inverse(tf.reshape(z, [rows, ...event]), flatOpts);
    return { x: tf.reshape(r.x, [...lead, ...event]), logProb: tf.sub(logBase, tf.reshape(r.logDet, lead)) };
  }

  trainableVariables(): Variable[] {
    return trainableVariablesOf(this.bijector);
  }

  stateVariables(): Variable[] {
    return stateVariablesOf(this.bijector);
  }
}
