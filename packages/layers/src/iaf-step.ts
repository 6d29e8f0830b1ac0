/**
 * The gated inverse-autoregressive step of Kingma et al. (2016) as a conditional bijector over MADE layers. A MADE
 * (`MaskedDense` layers, reading the context too) gives `[m ‖ s]` autoregressively from `z₀`; with `σ = sigmoid(s)`
 * the fast direction is `z = σ ⊙ z₀ + (1 − σ) ⊙ m` with `log|det ∂z/∂z₀| = Σ log σ`. In gm's normalizing convention
 * (forward = data → base) that fast map is `inverse`: base `z₀` → sample `z`; `forward` (z → z₀) solves it one
 * dimension at a time, D network passes, in the MADE's order.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { GmError, type Bijector, type BijectorOptions, type PortableOp } from '@gm/core';
import { gatedUpdate } from '@gm/core/ops';
import type { MaskedDense } from './masked-dense';
import { portableDenseColumns } from './portable';

/** The registers a portable IAF step reads and updates (see {@link GatedIafStep.portableOps}). */
export interface IafStepSlots {
  /** z: read as the step's input, replaced by its output. */
  z: string;
  /** The context h the MADE layers read. */
  context: string;
  /** A running sum the step adds its log σ (the log-diagonal of its Jacobian) to. */
  logScale: string;
}

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

  /** The MADE's output [m ‖ s] for z. */
  private madeOutput(z: Tensor, context: Tensor | undefined): Tensor {
    const inputs = (h: Tensor) => (context === undefined ? h : [h, context]);
    let h: Tensor = z;
    for (const layer of this.hidden) h = layer.apply(inputs(h)) as Tensor;
    return this.out.apply(inputs(h)) as Tensor;
  }

  private made(z: Tensor, context: Tensor | undefined): { m: Tensor; s: Tensor } {
    const [m, s] = tf.split(this.madeOutput(z, context), [this.latentDim, this.latentDim], 1) as [Tensor, Tensor];
    return { m, s };
  }

  /**
   * z₀ → z (the fast direction): `z = σ ⊙ z₀ + (1 − σ) ⊙ m`, computed as `m + σ ⊙ (z₀ − m)` (the formula of
   * {@link GatedIafStep.portableOps}) by @gm/core/ops' `gatedUpdate` (one kernel each way where the backend has it);
   * log-det Σ log σ.
   */
  inverse(z0: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const { z, logGate } = gatedUpdate(z0, this.madeOutput(z0, options?.context));
      return { x: z, logDet: logGate };
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
      // log-det of z → z₀ is −Σ log σ(s) at z₀ (the gated update's own log-gate; its z output is z again)
      const { logGate } = gatedUpdate(y, this.madeOutput(y, options?.context));
      return { y, logDet: tf.neg(logGate) };
    });
  }

  /**
   * The fast direction (z₀ → z) as portable operations over registers: the MADE's layers (masks applied to the
   * kernels, the context read from `slots.context`) from register `slots.z`, then `z ← m + σ ⊙ (z − m)` (the same
   * map as `σ ⊙ z + (1 − σ) ⊙ m`) into `slots.z`, and `log σ = −softplus(−s)` — the diagonal of the step's triangular
   * Jacobian, exactly — added to `slots.logScale`. Registers `${slots.z}:h`, `${slots.z}:m`, `${slots.z}:s` and
   * `${slots.z}:gate` are scratch. The current vector is left undefined.
   */
  portableOps(slots: IafStepSlots): PortableOp[] {
    const L = this.latentDim;
    const where = 'GatedIafStep.portableOps';
    const out = this.out.portableOps({ contextSlot: slots.context });
    const head = out[0];
    if (out.length !== 1 || head?.op !== 'dense' || head.units !== 2 * L) throw new GmError('UNSUPPORTED', where, `a linear output layer of [m ‖ s] (${2 * L} units)`);
    const [h, m, s, gate] = ['h', 'm', 's', 'gate'].map((name) => `${slots.z}:${name}`) as [string, string, string, string];
    const negate: PortableOp = { op: 'scale-shift', scale: -1, shift: 0 };
    return [
      { op: 'load', slot: slots.z },
      ...this.hidden.flatMap((layer) => layer.portableOps({ contextSlot: slots.context })),
      { op: 'store', slot: h },
      portableDenseColumns(head, 0, L),
      { op: 'store', slot: m },
      { op: 'load', slot: h },
      portableDenseColumns(head, L, 2 * L),
      { op: 'store', slot: s },
      { op: 'activation', fn: 'sigmoid' },
      { op: 'store', slot: gate },
      // z ← m + σ ⊙ (z − m)
      { op: 'load', slot: m },
      negate,
      { op: 'combine', fn: 'add', slot: slots.z },
      { op: 'combine', fn: 'mul', slot: gate },
      { op: 'combine', fn: 'add', slot: m },
      { op: 'store', slot: slots.z },
      // logScale ← logScale + log sigmoid(s), with log sigmoid(s) = −softplus(−s)
      { op: 'load', slot: s },
      negate,
      { op: 'activation', fn: 'softplus' },
      negate,
      { op: 'combine', fn: 'add', slot: slots.logScale },
      { op: 'store', slot: slots.logScale },
    ];
  }

  trainableVariables(): Variable[] {
    return [...this.hidden, this.out].flatMap((l) => l.trainableWeights.map((w) => w.read() as Variable));
  }
}
