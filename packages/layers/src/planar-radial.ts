/**
 * Planar and radial flows (Rezende & Mohamed, 2015, "Variational Inference with Normalizing Flows"): cheap steps for
 * a variational posterior, whose fast direction is base → sample. In gm's normalizing convention (forward = data →
 * base) that is `inverse`: `inverse(z₀)` gives `z` and `log|det ∂z/∂z₀|` in one step; `forward(z)` undoes it — by a
 * 1-D monotone root (planar, safeguarded Newton on the projection wᵀz₀) or in closed form (radial, a quadratic in
 * the radius). Both keep the constraints that make them invertible (planar: wᵀû ≥ −1; radial: β̂ ≥ −α).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { checkPositiveInt, GmError, mulberry32, type Bijector, type BijectorOptions } from '@gm/core';

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

// ------------------------------------------------------------------------------------------------------------------
// Amortized planar and radial steps: the parameters of each example come from its context (the paper's variational
// setting, where the inference network outputs the flow parameters λ(x) beside μ(x), σ(x)).

/**
 * What maps a context `[n, C]` to raw per-example parameters `[n, P]`: a function, or a layer-like object with
 * `apply` (a tfjs-layers dense layer, a LayersModel), whose trainable weights are then the step's variables.
 */
export type ParameterNetwork =
  | ((context: Tensor) => Tensor)
  | { apply(context: Tensor): unknown; readonly trainableWeights?: ReadonlyArray<{ read(): Tensor }> };

export interface AmortizedPlanarRadialArgs {
  /** Dimension D of the latent. */
  dim: number;
  /** Context `[n, C]` → raw parameters `[n, P]` (P = {@link planarParameterSize} or {@link radialParameterSize}). */
  parameters: ParameterNetwork;
  /** The variables of a function `parameters` (a layer's own trainable weights are found without this). */
  trainableVariables?: Variable[];
}

/** Width P of a planar step's raw parameters: `[u (D) ‖ w (D) ‖ b (1)]`. */
export function planarParameterSize(dim: number): number {
  return 2 * dim + 1;
}

/** Width P of a radial step's raw parameters: `[c (D) ‖ α′ (1) ‖ β′ (1)]`. */
export function radialParameterSize(dim: number): number {
  return dim + 2;
}

function checkRaw(where: string, raw: Tensor, size: number): void {
  if (raw.rank !== 2 || raw.shape[1] !== size) throw new GmError('BAD_SHAPE', `${where}: raw parameters`, `[batch, ${size}]`, `[${raw.shape.join(', ')}]`);
}

/**
 * Per-example constrained planar parameters from raw `[n, 2D + 1]` = `[u ‖ w ‖ b]` (n may be 1, broadcast over a
 * batch): `û = u + (m(wᵀu) − wᵀu)·w/‖w‖²`, `m(a) = −1 + softplus(a)`, so `wᵀû = m(wᵀu) > −1` (the map is
 * invertible). Returns û `[n, D]`, w `[n, D]`, b `[n, 1]` and wᵀû `[n, 1]`.
 */
export function planarParameters(raw: Tensor, dim: number): { uHat: Tensor; w: Tensor; b: Tensor; wu: Tensor } {
  checkRaw('planarParameters', raw, planarParameterSize(dim));
  return tf.tidy(() => {
    const [u, w, b] = tf.split(raw, [dim, dim, 1], 1) as [Tensor, Tensor, Tensor];
    const wuRaw = tf.sum(tf.mul(w, u), 1, true);
    const m = tf.sub(softplus(wuRaw), 1);
    // ‖w‖² is kept off 0 (w = 0 makes the step the identity, û = u, whatever the guard).
    const normSq = tf.sum(tf.square(w), 1, true);
    const uHat = tf.add(u, tf.mul(tf.div(tf.sub(m, wuRaw), tf.maximum(normSq, 1e-30)), w));
    // wᵀû = m(wᵀu) exactly (≥ −1 even where wᵀû summed in float32 would round below −1), or wᵀu where w ≈ 0.
    return { uHat, w, b, wu: tf.where(tf.greaterEqual(normSq, 1e-30), m, wuRaw) };
  });
}

/**
 * Per-example constrained radial parameters from raw `[n, D + 2]` = `[c ‖ α′ ‖ β′]` (n may be 1): the centre c
 * `[n, D]`, `α = softplus(α′) > 0` and `β̂ = −α + softplus(β′) ≥ −α` (invertible), each `[n, 1]`. Raw `α′ = β′ = 0`
 * gives β̂ = 0: the identity.
 */
export function radialParameters(raw: Tensor, dim: number): { center: Tensor; alpha: Tensor; beta: Tensor } {
  checkRaw('radialParameters', raw, radialParameterSize(dim));
  return tf.tidy(() => {
    const [center, a, b] = tf.split(raw, [dim, 1, 1], 1) as [Tensor, Tensor, Tensor];
    const alpha = softplus(a);
    return { center, alpha, beta: tf.add(tf.neg(alpha), softplus(b)) };
  });
}

/** log|det| of a radial step at input radius r: `(D − 1)·log(1 + β̂h) + log(1 + β̂αh²)`, `h = 1/(α + r)`. */
function radialLogDet(dim: number, r: Tensor, alpha: Tensor, beta: Tensor): Tensor {
  const h = tf.div(1, tf.add(alpha, r));
  // 1 + β̂h − β̂r·h² = 1 + β̂h·(1 − rh) = 1 + β̂αh².
  return tf.reshape(tf.add(tf.mul(dim - 1, tf.log1p(tf.mul(beta, h))), tf.log1p(tf.mul(tf.mul(beta, alpha), tf.square(h)))), [-1]);
}

/** Base of the amortized steps: the per-example raw parameters from `options.context`, checked. */
abstract class AmortizedStep implements Bijector {
  readonly dim: number;
  private readonly where: string;
  private readonly size: number;
  private readonly network: ParameterNetwork;
  private readonly variables: Variable[] | undefined;

  protected constructor(where: string, args: AmortizedPlanarRadialArgs, size: number) {
    checkPositiveInt(`${where}: dim`, args?.dim);
    this.where = where;
    this.size = size;
    const p = args.parameters as unknown;
    if (typeof p !== 'function' && (p === null || typeof p !== 'object' || typeof (p as { apply?: unknown }).apply !== 'function')) {
      throw new GmError('BAD_ARGUMENT', `${where}: parameters`, 'a function or a layer (apply) from the context to raw parameters', p);
    }
    this.dim = args.dim;
    this.network = args.parameters;
    this.variables = args.trainableVariables === undefined ? undefined : [...args.trainableVariables];
  }

  /** The raw parameters `[n, P]` of a batch of n rows, from the context in `options`. */
  protected raw(x: Tensor, options: BijectorOptions | undefined): Tensor {
    checkInput(this.where, x, this.dim);
    const context = options?.context;
    if (!(context instanceof tf.Tensor)) throw new GmError('BAD_ARGUMENT', `${this.where}: options.context`, 'the context tensor [batch, C] the parameters are computed from', context);
    if (context.shape[0] !== x.shape[0]) throw new GmError('BAD_SHAPE', `${this.where}: options.context`, `${x.shape[0]} rows (one per example)`, `[${context.shape.join(', ')}]`);
    const out = typeof this.network === 'function' ? this.network(context) : this.network.apply(context);
    if (!(out instanceof tf.Tensor) || out.rank !== 2 || out.shape[0] !== x.shape[0] || out.shape[1] !== this.size) {
      throw new GmError('BAD_SHAPE', `${this.where}: parameters(context)`, `a tensor [${x.shape[0]}, ${this.size}]`, out instanceof tf.Tensor ? `[${out.shape.join(', ')}]` : out);
    }
    return out;
  }

  abstract forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor };
  abstract inverse(y: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor };

  trainableVariables(): Variable[] {
    if (this.variables !== undefined) return [...this.variables];
    if (typeof this.network === 'function') return [];
    return (this.network.trainableWeights ?? []).map((w) => w.read() as Variable);
  }
}

/**
 * A conditional planar step with per-example parameters `[u ‖ w ‖ b] = parameters(context)` (Rezende & Mohamed's
 * amortized setting): `z = z₀ + û·tanh(wᵀz₀ + b)` under the constraint of {@link planarParameters}. As a bijector
 * in gm's convention, `inverse(z₀, { context })` is the fast direction (log|det ∂z/∂z₀|) and `forward(z, { context })`
 * solves each example's 1-D monotone equation (not differentiable; for densities of given points).
 *
 * @example
 * ```ts
 * const net = tf.layers.dense({ units: planarParameterSize(4) }); // from an encoder's h
 * const step = new AmortizedPlanarFlow({ dim: 4, parameters: net });
 * const { x: z, logDet } = step.inverse(z0, { context: h });
 * ```
 */
export class AmortizedPlanarFlow extends AmortizedStep {
  constructor(args: AmortizedPlanarRadialArgs) {
    super('AmortizedPlanarFlow', args, planarParameterSize(args?.dim));
  }

  /** z₀ → z (the fast direction) and log|det ∂z/∂z₀| = log|1 + wᵀû·tanh′(wᵀz₀ + b)|. */
  inverse(z0: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const { uHat, w, b, wu } = planarParameters(this.raw(z0, options), this.dim);
      const h = tf.tanh(tf.add(tf.sum(tf.mul(w, z0), 1, true), b));
      const logDet = tf.log(tf.abs(tf.add(1, tf.mul(tf.sub(1, tf.square(h)), wu))));
      return { x: tf.add(z0, tf.mul(h, uHat)), logDet: tf.reshape(logDet, [-1]) };
    });
  }

  /** z → z₀: per example, a = wᵀz₀ solves the increasing `a + (wᵀû)·tanh(a + b) = wᵀz`; log-det −inverse's. */
  forward(z: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const { uHat, w, b, wu } = planarParameters(this.raw(z, options), this.dim);
      const t = tf.sum(tf.mul(w, z), 1).dataSync();
      const c = wu.dataSync();
      const bv = b.dataSync();
      const solved = Float32Array.from(t, (target, i) => {
        const ci = c[i] as number;
        const bi = bv[i] as number;
        return solveMonotone((a) => a + ci * Math.tanh(a + bi) - target, (a) => 1 + ci * (1 - Math.tanh(a + bi) ** 2), target - Math.abs(ci) - 1, target + Math.abs(ci) + 1);
      });
      const h = tf.tanh(tf.add(tf.tensor2d(solved, [solved.length, 1]), b));
      const logDet = tf.neg(tf.log(tf.abs(tf.add(1, tf.mul(tf.sub(1, tf.square(h)), wu)))));
      return { y: tf.sub(z, tf.mul(h, uHat)), logDet: tf.reshape(logDet, [-1]) };
    });
  }
}

/**
 * A conditional radial step with per-example parameters `[c ‖ α′ ‖ β′] = parameters(context)`:
 * `z = z₀ + β̂·(z₀ − c)/(α + ‖z₀ − c‖)` under the constraint of {@link radialParameters}. `inverse(z₀, { context })`
 * is the fast direction; `forward(z, { context })` inverts it in closed form (differentiable).
 */
export class AmortizedRadialFlow extends AmortizedStep {
  constructor(args: AmortizedPlanarRadialArgs) {
    super('AmortizedRadialFlow', args, radialParameterSize(args?.dim));
  }

  /** z₀ → z (the fast direction) and log|det ∂z/∂z₀|. */
  inverse(z0: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const { center, alpha, beta } = radialParameters(this.raw(z0, options), this.dim);
      const diff = tf.sub(z0, center);
      const r = tf.sqrt(tf.sum(tf.square(diff), 1, true));
      const z = tf.add(z0, tf.mul(tf.div(beta, tf.add(alpha, r)), diff));
      return { x: z, logDet: radialLogDet(this.dim, r, alpha, beta) };
    });
  }

  /** z → z₀: the input radius r is the positive root of r² + (α + β̂ − ρ)·r − ρα = 0 (ρ the output radius). */
  forward(z: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const { center, alpha, beta } = radialParameters(this.raw(z, options), this.dim);
      const diff = tf.sub(z, center);
      const rho = tf.sqrt(tf.sum(tf.square(diff), 1, true));
      const p = tf.sub(tf.add(alpha, beta), rho);
      const r = tf.div(tf.add(tf.neg(p), tf.sqrt(tf.add(tf.square(p), tf.mul(4, tf.mul(rho, alpha))))), 2);
      // ρ = 0 only at the centre, which maps to itself.
      const ratio = tf.where(tf.greater(rho, 0), tf.div(r, tf.maximum(rho, 1e-30)), tf.onesLike(rho));
      return { y: tf.add(center, tf.mul(diff, ratio)), logDet: tf.neg(radialLogDet(this.dim, r, alpha, beta)) };
    });
  }
}
