/**
 * Planar and radial flows (Rezende & Mohamed, 2015, "Variational Inference with Normalizing Flows"): cheap steps for
 * a variational posterior, whose fast direction is base → sample. In gm's normalizing convention (forward = data →
 * base) that is `inverse`: `inverse(z₀)` gives `z` and `log|det ∂z/∂z₀|` in one step; `forward(z)` undoes it — by a
 * 1-D monotone root (planar, safeguarded Newton on the projection wᵀz₀) or in closed form (radial, a quadratic in
 * the radius). Both keep the constraints that make them invertible (planar: wᵀû ≥ −1; radial: β̂ ≥ −α).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { checkPositiveInt, GmError, mulberry32, type Bijector } from '@gm/core';

const softplus = (t: Tensor): Tensor => tf.softplus(t);

function checkInput(where: string, x: Tensor, dim: number): void {
  if (x.rank !== 2 || x.shape[1] !== dim) throw new GmError('BAD_SHAPE', `${where}: input`, `[batch, ${dim}]`, `[${x.shape.join(', ')}]`);
}

function seededVector(n: number, seed: number | undefined, scale: number): Float32Array {
  const rand = seed === undefined ? Math.random : mulberry32(seed);
  return Float32Array.from({ length: n }, () => scale * (2 * rand() - 1));
}

export interface PlanarRadialArgs {
  /** Dimension D of the latent. */
  dim: number;
  /** Seed of the small random initial parameters (unseeded: random). */
  seed?: number;
}

/**
 * A planar step `z = z₀ + û·tanh(wᵀz₀ + b)` with `û = u + (m(wᵀu) − wᵀu)·w/‖w‖²`, `m(a) = −1 + softplus(a)`, so
 * `wᵀû > −1` and the map is invertible; `log|det ∂z/∂z₀| = log|1 + ûᵀw·tanh′(wᵀz₀ + b)|`.
 */
export class PlanarFlow implements Bijector {
  readonly dim: number;
  readonly u: Variable;
  readonly w: Variable;
  readonly b: Variable;

  constructor(args: PlanarRadialArgs) {
    checkPositiveInt('PlanarFlow: dim', args.dim);
    this.dim = args.dim;
    const init = seededVector(2 * args.dim, args.seed, 0.1);
    this.u = tf.variable(tf.tensor1d(init.subarray(0, args.dim)));
    this.w = tf.variable(tf.tensor1d(init.subarray(args.dim)));
    this.b = tf.variable(tf.scalar(0));
  }

  /** û (the constrained u) and wᵀû. */
  private constrained(): { uHat: Tensor; wu: Tensor } {
    const wu = tf.sum(tf.mul(this.w, this.u));
    const uHat = tf.add(this.u, tf.mul(tf.div(tf.sub(tf.sub(softplus(wu), 1), wu), tf.sum(tf.square(this.w))), this.w));
    return { uHat, wu: tf.sum(tf.mul(this.w, uHat)) };
  }

  /** z₀ → z (the fast direction) and log|det ∂z/∂z₀|. */
  inverse(z0: Tensor): { x: Tensor; logDet: Tensor } {
    checkInput('PlanarFlow', z0, this.dim);
    return tf.tidy(() => {
      const { uHat, wu } = this.constrained();
      const a = tf.add(tf.matMul(z0, tf.reshape(this.w, [this.dim, 1])), this.b); // [n, 1]
      const h = tf.tanh(a);
      const z = tf.add(z0, tf.mul(h, tf.reshape(uHat, [1, this.dim])));
      const derivative = tf.sub(1, tf.square(h));
      const logDet = tf.log(tf.abs(tf.add(1, tf.mul(derivative, wu))));
      return { x: z, logDet: tf.reshape(logDet, [-1]) };
    });
  }

  /**
   * z → z₀: with a = wᵀz₀, wᵀz = a + (wᵀû)·tanh(a + b) is strictly increasing in a; solve it per example (Newton,
   * kept inside a bracket), then z₀ = z − û·tanh(a + b). Log-det = −inverse's at z₀.
   */
  forward(z: Tensor): { y: Tensor; logDet: Tensor } {
    checkInput('PlanarFlow', z, this.dim);
    return tf.tidy(() => {
      const { uHat, wu } = this.constrained();
      const c = wu.dataSync()[0] as number;
      const b = this.b.dataSync()[0] as number;
      const targets = tf.matMul(z, tf.reshape(this.w, [this.dim, 1])).dataSync();
      const solved = Float32Array.from(targets, (t) => solveMonotone((a) => a + c * Math.tanh(a + b) - t, (a) => 1 + c * (1 - Math.tanh(a + b) ** 2), t - Math.abs(c) - 1, t + Math.abs(c) + 1));
      const a = tf.tensor2d(solved, [solved.length, 1]);
      const h = tf.tanh(tf.add(a, this.b));
      const z0 = tf.sub(z, tf.mul(h, tf.reshape(uHat, [1, this.dim])));
      const logDet = tf.neg(tf.log(tf.abs(tf.add(1, tf.mul(tf.sub(1, tf.square(h)), wu)))));
      return { y: z0, logDet: tf.reshape(logDet, [-1]) };
    });
  }

  trainableVariables(): Variable[] {
    return [this.u, this.w, this.b];
  }

  dispose(): void {
    tf.dispose([this.u, this.w, this.b]);
  }
}

/** The root of an increasing f in [lo, hi] (f(lo) ≤ 0 ≤ f(hi)) by Newton steps, falling back to bisection steps. */
function solveMonotone(f: (a: number) => number, df: (a: number) => number, lo: number, hi: number): number {
  let a = (lo + hi) / 2;
  for (let i = 0; i < 100; i++) {
    const v = f(a);
    if (Math.abs(v) < 1e-12) break;
    if (v > 0) hi = a;
    else lo = a;
    const next = a - v / df(a);
    a = next > lo && next < hi ? next : (lo + hi) / 2;
  }
  return a;
}

/**
 * A radial step `z = z₀ + β̂·h(α, r)·(z₀ − c)`, `r = ‖z₀ − c‖`, `h = 1/(α + r)`, `α = softplus(α′) > 0`,
 * `β̂ = −α + softplus(β) ≥ −α` (invertible). `log|det| = (D − 1)·log(1 + β̂h) + log(1 + β̂h − β̂r/(α + r)²)`.
 */
export class RadialFlow implements Bijector {
  readonly dim: number;
  readonly center: Variable;
  readonly alphaRaw: Variable;
  readonly betaRaw: Variable;

  constructor(args: PlanarRadialArgs) {
    checkPositiveInt('RadialFlow: dim', args.dim);
    this.dim = args.dim;
    this.center = tf.variable(tf.tensor1d(seededVector(args.dim, args.seed, 0.1)));
    this.alphaRaw = tf.variable(tf.scalar(0));
    this.betaRaw = tf.variable(tf.scalar(0));
  }

  private params(): { alpha: Tensor; beta: Tensor } {
    const alpha = softplus(this.alphaRaw);
    return { alpha, beta: tf.add(tf.neg(alpha), softplus(this.betaRaw)) };
  }

  private logDetAt(r: Tensor, alpha: Tensor, beta: Tensor): Tensor {
    const h = tf.div(1, tf.add(alpha, r));
    const bh = tf.mul(beta, h);
    const first = tf.mul(this.dim - 1, tf.log1p(bh));
    const second = tf.log(tf.sub(tf.add(1, bh), tf.mul(tf.mul(beta, r), tf.square(h))));
    return tf.add(first, second);
  }

  /** z₀ → z (the fast direction) and log|det ∂z/∂z₀|. */
  inverse(z0: Tensor): { x: Tensor; logDet: Tensor } {
    checkInput('RadialFlow', z0, this.dim);
    return tf.tidy(() => {
      const { alpha, beta } = this.params();
      const diff = tf.sub(z0, this.center);
      const r = tf.sqrt(tf.sum(tf.square(diff), 1, true));
      const z = tf.add(z0, tf.mul(tf.div(beta, tf.add(alpha, r)), diff));
      return { x: z, logDet: tf.reshape(this.logDetAt(r, alpha, beta), [-1]) };
    });
  }

  /**
   * z → z₀ in closed form: the output radius is ρ = r·(1 + β̂/(α + r)), so r is the positive root of
   * r² + (α + β̂ − ρ)·r − ρα = 0, and z₀ − c = (z − c)·r/ρ.
   */
  forward(z: Tensor): { y: Tensor; logDet: Tensor } {
    checkInput('RadialFlow', z, this.dim);
    return tf.tidy(() => {
      const { alpha, beta } = this.params();
      const diff = tf.sub(z, this.center);
      const rho = tf.sqrt(tf.sum(tf.square(diff), 1, true));
      const p = tf.sub(tf.add(alpha, beta), rho);
      const r = tf.div(tf.add(tf.neg(p), tf.sqrt(tf.add(tf.square(p), tf.mul(4, tf.mul(rho, alpha))))), 2);
      // ρ = 0 only at the centre, which maps to itself.
      const ratio = tf.where(tf.greater(rho, 0), tf.div(r, tf.maximum(rho, 1e-30)), tf.onesLike(rho));
      const z0 = tf.add(this.center, tf.mul(diff, ratio));
      return { y: z0, logDet: tf.reshape(tf.neg(this.logDetAt(r, alpha, beta)), [-1]) };
    });
  }

  trainableVariables(): Variable[] {
    return [this.center, this.alphaRaw, this.betaRaw];
  }

  dispose(): void {
    tf.dispose([this.center, this.alphaRaw, this.betaRaw]);
  }
}
