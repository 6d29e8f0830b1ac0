/**
 * The gated inverse-autoregressive step of Kingma et al. (2016) as a conditional bijector over MADE layers. A MADE
 * (`MaskedDense` layers, reading the context too) gives `[m ‖ s]` autoregressively from `z₀`; with `σ = sigmoid(s)`
 * the fast direction is `z = σ ⊙ z₀ + (1 − σ) ⊙ m` with `log|det ∂z/∂z₀| = Σ log σ`. In gm's normalizing convention
 * (forward = data → base) that fast map is `inverse`: base `z₀` → sample `z`; `forward` (z → z₀) solves it one
 * dimension at a time, D network passes, in the MADE's order.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { GmError, type Bijector, type BijectorOptions } from '@gm/core';
import type { MaskedDense } from './masked-dense';

export interface GatedIafStepArgs {
  /** The MADE's hidden layers (each reading `[h, context]` when the step is conditional). */
  hidden: MaskedDense[];
  /** The output layer: `2·latentDim` units, `[m ‖ s]`. */
  out: MaskedDense;
  latentDim: number;
  /** Input degrees of the MADE (`degrees[d]` = position of dimension d in the autoregressive order). */
  inputDegrees: readonly number[];
}

export class GatedIafStep implements Bijector {
  readonly latentDim: number;
  private readonly hidden: MaskedDense[];
  private readonly out: MaskedDense;
  /** order[k] = the dimension at position k. */
  private readonly order: Int32Array;

  constructor(args: GatedIafStepArgs) {
    const L = args.latentDim;
    if (args.inputDegrees.length !== L) throw new GmError('BAD_ARGUMENT', 'GatedIafStep: inputDegrees', `${L} degrees (one per latent dimension)`, args.inputDegrees.length);
    this.latentDim = L;
    this.hidden = [...args.hidden];
    this.out = args.out;
    this.order = new Int32Array(L);
    args.inputDegrees.forEach((pos, d) => {
      this.order[pos] = d;
    });
  }

  private made(z: Tensor, context: Tensor | undefined): { m: Tensor; s: Tensor } {
    const inputs = (h: Tensor) => (context === undefined ? h : [h, context]);
    let h: Tensor = z;
    for (const layer of this.hidden) h = layer.apply(inputs(h)) as Tensor;
    const [m, s] = tf.split(this.out.apply(inputs(h)) as Tensor, [this.latentDim, this.latentDim], 1) as [Tensor, Tensor];
    return { m, s };
  }

  /** Σ log sigmoid(s) per example, stably: −softplus(−s). */
  private static logGate(s: Tensor): Tensor {
    return tf.sum(tf.neg(tf.softplus(tf.neg(s))), 1);
  }

  /** z₀ → z (the fast direction): `z = σ ⊙ z₀ + (1 − σ) ⊙ m`, log-det Σ log σ. */
  inverse(z0: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const { m, s } = this.made(z0, options?.context);
      const gate = tf.sigmoid(s);
      return { x: tf.add(tf.mul(gate, z0), tf.mul(tf.sub(1, gate), m)), logDet: GatedIafStep.logGate(s) };
    });
  }

  /** z → z₀, one dimension per network pass in the autoregressive order; log-det −Σ log σ. */
  forward(z: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const n = z.shape[0] as number;
      const L = this.latentDim;
      const zv = z.dataSync();
      const z0 = new Float32Array(n * L);
      for (let k = 0; k < L; k++) {
        const d = this.order[k] as number;
        const { m, s } = tf.tidy(() => this.made(tf.tensor2d(z0, [n, L]), options?.context));
        const mv = m.dataSync();
        const gv = tf.tidy(() => tf.sigmoid(s)).dataSync();
        tf.dispose([m, s]);
        for (let b = 0; b < n; b++) {
          const i = b * L + d;
          const g = gv[i] as number;
          z0[i] = ((zv[i] as number) - (1 - g) * (mv[i] as number)) / g;
        }
      }
      const y = tf.tensor2d(z0, [n, L]);
      const { s } = this.made(y, options?.context);
      return { y, logDet: tf.neg(GatedIafStep.logGate(s)) };
    });
  }

  trainableVariables(): Variable[] {
    return [...this.hidden, this.out].flatMap((l) => l.trainableWeights.map((w) => w.read() as Variable));
  }
}
