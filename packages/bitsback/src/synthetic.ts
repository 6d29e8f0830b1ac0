/**
 * Small synthetic latent-variable models in plain JS, for tests, demos and benchmarks of BB-ANS without a trained
 * network: z ~ N(0, I_K), pixel logits (or logistic means) linear in z, and a linear-Gaussian encoder. Their −ELBO
 * is computed exactly (up to a spectrally accurate 1-D quadrature), so BB-ANS rates can be checked against it.
 */
import type { BitsBackModel, Likelihood } from './bbans';
import { mulberry32 } from '@gm/core';
import { sigmoid } from './normal';

/** Seeded standard normal sampler (Box–Muller over @gm/core's mulberry32). */
export function gaussian(seed: number): () => number {
  const u = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** A synthetic model plus what is needed to check a rate against it. */
export interface SyntheticModel extends BitsBackModel {
  readonly pixelsPerImage: number;
  readonly pixels: 'binary' | 'u8';
  /** Draws `count` images from the model (seeded). */
  sample(count: number, seed: number): Uint8Array;
  /** −ELBO of each image in bits, computed exactly for this model's q. */
  negElboBits(images: Uint8Array): Float64Array;
  /** Number of times posterior / likelihood were called (to check batching). */
  readonly calls: { posterior: number; likelihood: number };
}

/** Options for the synthetic models. */
export interface SyntheticOptions {
  latentDim?: number;
  pixelsPerImage?: number;
  seed?: number;
  /** Weight scale: larger makes pixels depend more strongly on z (default 1.5 binary, 0.3 logistic). */
  weightScale?: number;
}

// Trapezoid rule on N(0,1) over [−9, 9]: exponentially accurate for the smooth integrands used here.
const QN = 121;
const QT = Float64Array.from({ length: QN }, (_, i) => -9 + (18 * i) / (QN - 1));
const QW = Float64Array.from(QT, (t) => ((18 / (QN - 1)) * Math.exp(-0.5 * t * t)) / Math.sqrt(2 * Math.PI));

function logSigmoid(a: number): number {
  return a >= 0 ? -Math.log1p(Math.exp(-a)) : a - Math.log1p(Math.exp(a));
}

interface Linear {
  K: number;
  D: number;
  W: Float64Array; // D × K
  b: Float64Array; // D
  /** Encoder: mean = E (x̃ − c), std fixed per latent. */
  E: Float64Array; // K × D
  c: Float64Array; // D
  s: Float64Array; // K
}

function makeLinear(o: SyntheticOptions, defaultScale: number, xScale: number, curvature: (b: number) => number, jac: (b: number) => number): Linear {
  const K = o.latentDim ?? 2;
  const D = o.pixelsPerImage ?? 64;
  const g = gaussian(o.seed ?? 1);
  const ws = o.weightScale ?? defaultScale;
  const W = Float64Array.from({ length: D * K }, () => ws * g());
  const b = Float64Array.from({ length: D }, () => 0.5 * g());
  // Gaussian approximation of the posterior around z = 0: precision Λ = I + Wᵀ diag(h) W with h the likelihood's
  // curvature; the encoder is its (diagonal) linear-Gaussian solution. Any q gives a valid ELBO; a good one a tight one.
  const lam = new Float64Array(K * K);
  for (let k = 0; k < K; k++) lam[k * K + k] = 1;
  // Linearise the likelihood mean around z = 0: mean_d ≈ g(b_d) + jac(b_d) w_d·z, noise curvature `curvature`.
  const J = Float64Array.from(b, jac);
  for (let d = 0; d < D; d++) {
    const h = curvature(b[d]!) * J[d]! * J[d]!;
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) lam[i * K + j]! += h * W[d * K + i]! * W[d * K + j]!;
  }
  const inv = invert(lam, K);
  const E = new Float64Array(K * D);
  for (let k = 0; k < K; k++) {
    for (let d = 0; d < D; d++) {
      let v = 0;
      for (let j = 0; j < K; j++) v += inv[k * K + j]! * W[d * K + j]!;
      E[k * D + d] = v * xScale * J[d]!;
    }
  }
  const s = Float64Array.from({ length: K }, (_, k) => Math.sqrt(inv[k * K + k]!));
  return { K, D, W, b, E, c: new Float64Array(D), s };
}

function invert(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    const p = m[col * n + col]!;
    for (let j = 0; j < n; j++) {
      m[col * n + j]! /= p;
      inv[col * n + j]! /= p;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r * n + col]!;
      for (let j = 0; j < n; j++) {
        m[r * n + j]! -= f * m[col * n + j]!;
        inv[r * n + j]! -= f * inv[col * n + j]!;
      }
    }
  }
  return inv;
}

function encode(L: Linear, x: Float32Array, batch: number, xOf: (v: number) => number): { mean: Float32Array; std: Float32Array } {
  const { K, D, E, c, s } = L;
  const mean = new Float32Array(batch * K);
  const std = new Float32Array(batch * K);
  const xc = new Float64Array(D);
  for (let n = 0; n < batch; n++) {
    for (let d = 0; d < D; d++) xc[d] = xOf(x[n * D + d]!) - c[d]!;
    for (let k = 0; k < K; k++) {
      let v = 0;
      for (let d = 0; d < D; d++) v += E[k * D + d]! * xc[d]!;
      mean[n * K + k] = v;
      std[n * K + k] = s[k]!;
    }
  }
  return { mean, std };
}

function preact(L: Linear, z: ArrayLike<number>, n: number, d: number): number {
  let a = L.b[d]!;
  for (let k = 0; k < L.K; k++) a += L.W[d * L.K + k]! * z[n * L.K + k]!;
  return a;
}

/** −ELBO in bits of each image: KL(q‖p) + Σ_d E_q[−log p(x_d | z)], the expectations by 1-D quadrature. */
function negElbo(L: Linear, images: Uint8Array, xOf: (v: number) => number, logLik: (d: number, x: number, a: number) => number): Float64Array {
  const { K, D, W, s } = L;
  const count = images.length / D;
  const out = new Float64Array(count);
  const x = Float32Array.from(images);
  const q = encode(L, x, count, xOf);
  for (let n = 0; n < count; n++) {
    let nats = 0;
    for (let k = 0; k < K; k++) {
      const m = q.mean[n * K + k]!;
      const sd = q.std[n * K + k]!;
      nats += 0.5 * (m * m + sd * sd - 1) - Math.log(sd);
    }
    for (let d = 0; d < D; d++) {
      // a_d = w_d·z + b_d is Gaussian under q.
      let mu = L.b[d]!;
      let v = 0;
      for (let k = 0; k < K; k++) {
        mu += W[d * K + k]! * q.mean[n * K + k]!;
        v += (W[d * K + k]! * s[k]!) ** 2;
      }
      const sd = Math.sqrt(v);
      let e = 0;
      for (let i = 0; i < QN; i++) e += QW[i]! * logLik(d, images[n * D + d]!, mu + sd * QT[i]!);
      nats -= e;
    }
    out[n] = nats / Math.LN2;
  }
  return out;
}

function sampler(L: Linear, draw: (a: number, u: () => number, g: () => number) => number) {
  return (count: number, seed: number): Uint8Array => {
    const g = gaussian(seed);
    const u = mulberry32(seed ^ 0x5bd1e995);
    const out = new Uint8Array(count * L.D);
    const z = new Float64Array(L.K);
    for (let n = 0; n < count; n++) {
      for (let k = 0; k < L.K; k++) z[k] = g();
      for (let d = 0; d < L.D; d++) out[n * L.D + d] = draw(preact(L, z, 0, d), u, g);
    }
    return out;
  };
}

/**
 * Binary images: p(x_d = 1 | z) = σ(w_d·z + b_d). Likelihood probabilities are returned as Float32Array, as a
 * tfjs model would.
 */
export function linearBernoulliModel(options: SyntheticOptions = {}): SyntheticModel {
  const L = makeLinear(options, 1.5, 1, (b) => sigmoid(b) * (1 - sigmoid(b)), () => 1);
  const b0 = Float64Array.from(L.b, sigmoid);
  L.c.set(b0);
  const calls = { posterior: 0, likelihood: 0 };
  return {
    latentDim: L.K,
    pixelsPerImage: L.D,
    pixels: 'binary',
    calls,
    posterior(x, batch) {
      calls.posterior++;
      return encode(L, x, batch, (v) => v);
    },
    likelihood(z, batch): Likelihood {
      calls.likelihood++;
      const probs = new Float32Array(batch * L.D);
      for (let n = 0; n < batch; n++) for (let d = 0; d < L.D; d++) probs[n * L.D + d] = sigmoid(preact(L, z, n, d));
      return { kind: 'bernoulli', probs };
    },
    sample: sampler(L, (a, u) => (u() < sigmoid(a) ? 1 : 0)),
    negElboBits: (images) => negElbo(L, images, (v) => v, (_d, x, a) => (x === 1 ? logSigmoid(a) : logSigmoid(-a))),
  };
}

/** Log-scale of the synthetic logistic likelihood (in the [−1, 1] pixel scale). */
const LOGISTIC_LOG_SCALE = Math.log(0.04);

/**
 * 8-bit images: pixel d is a discretised logistic with mean tanh(w_d·z + b_d) (PixelCNN++ scale [−1, 1]) and a
 * fixed scale. The encoder sees pixels mapped to [−1, 1].
 */
export function linearLogisticModel(options: SyntheticOptions = {}): SyntheticModel {
  const curv = 1 / (3 * Math.exp(2 * LOGISTIC_LOG_SCALE));
  const L = makeLinear(options, 0.3, curv, () => curv, (b) => 1 - Math.tanh(b) ** 2);
  L.c.set(Float64Array.from(L.b, Math.tanh));
  const xOf = (v: number): number => (2 * v) / 255 - 1;
  const calls = { posterior: 0, likelihood: 0 };
  const invS = Math.exp(-LOGISTIC_LOG_SCALE);
  const logP = (k: number, mean: number): number => {
    const up = k === 255 ? 1 : sigmoid(((2 * k + 1) / 255 - 1 - mean) * invS);
    const lo = k === 0 ? 0 : sigmoid(((2 * k - 1) / 255 - 1 - mean) * invS);
    return Math.log(Math.max(up - lo, 1e-300));
  };
  return {
    latentDim: L.K,
    pixelsPerImage: L.D,
    pixels: 'u8',
    calls,
    posterior(x, batch) {
      calls.posterior++;
      return encode(L, x, batch, xOf);
    },
    likelihood(z, batch): Likelihood {
      calls.likelihood++;
      const mean = new Float32Array(batch * L.D);
      for (let n = 0; n < batch; n++) for (let d = 0; d < L.D; d++) mean[n * L.D + d] = Math.tanh(preact(L, z, n, d));
      return { kind: 'logistic', mean, logScale: new Float32Array(batch * L.D).fill(LOGISTIC_LOG_SCALE) };
    },
    sample: sampler(L, (a, u) => {
      // Inverse-CDF sample of the logistic, then discretise to 0..255.
      const r = Math.min(Math.max(u(), 1e-12), 1 - 1e-12);
      const v = Math.tanh(a) + Math.exp(LOGISTIC_LOG_SCALE) * Math.log(r / (1 - r));
      return Math.min(255, Math.max(0, Math.round(((v + 1) * 255) / 2)));
    }),
    negElboBits: (images) => negElbo(L, images, xOf, (_d, x, a) => logP(x, Math.tanh(a))),
  };
}
