/**
 * Small synthetic models for tests, demos and benchmarks of the coder without a trained network, as the coding
 * models (@gm/core's `CodingModel`) a trained one hands over:
 *
 * - linear latent models — z ~ N(0, I_K), pixel logits (or logistic means) linear in z, a linear-Gaussian encoder —
 *   whose −ELBO is computed exactly (up to a spectrally accurate 1-D quadrature), so BB-ANS rates can be checked
 *   against it;
 * - random MADE-masked autoregressive networks, with their exact negative log-likelihood.
 *
 * Weights are float32 (what a portable network holds) and the bounds are computed from those very values.
 */
import { mulberry32, permutation, randomNormal, type AutoregressiveCoding, type GaussianLatentCoding, type Rng } from '@gm/core';
import { autoregressiveCoder } from '../coding/autoregressive';

/** A latent model plus what is needed to check a rate against it. */
export interface SyntheticLatentModel {
  readonly coding: GaussianLatentCoding;
  /** Draws `count` images from the model (seeded). */
  sample(count: number, seed: number): Uint8Array;
  /** −ELBO of each image in bits, computed exactly for this model's q. */
  negElboBits(images: Uint8Array): Float64Array;
}

/** Options for the synthetic latent models. */
export interface SyntheticOptions {
  latentDim?: number;
  pixelsPerImage?: number;
  seed?: number;
  /** Weight scale: larger makes pixels depend more strongly on z (default 1.5 binary, 0.3 logistic). */
  weightScale?: number;
}

const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));
const f32 = (v: Float64Array): Float64Array => Float64Array.from(Float32Array.from(v));

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
  /** Encoder: mean = E x̃ + e (x̃ the encoder's view of the pixels), log σ fixed per latent. */
  E: Float64Array; // K × D
  e: Float64Array; // K
  logS: Float64Array; // K
}

function makeLinear(o: SyntheticOptions, defaultScale: number, xScale: number, centre: (b: number) => number, curvature: (b: number) => number, jac: (b: number) => number): Linear {
  const K = o.latentDim ?? 2;
  const D = o.pixelsPerImage ?? 64;
  const rng = mulberry32(o.seed ?? 1);
  const ws = o.weightScale ?? defaultScale;
  const W = f32(Float64Array.from({ length: D * K }, () => ws * randomNormal(rng)));
  const b = f32(Float64Array.from({ length: D }, () => 0.5 * randomNormal(rng)));
  // Gaussian approximation of the posterior around z = 0: precision Λ = I + Wᵀ diag(h) W with h the likelihood's
  // curvature; the encoder is its (diagonal) linear-Gaussian solution. Any q gives a valid ELBO; a good one a tight one.
  const lam = new Float64Array(K * K);
  for (let k = 0; k < K; k++) lam[k * K + k] = 1;
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
  const Ef = f32(E);
  // mean = E (x̃ − c) with c the pixels' view at z = 0, as a bias.
  const e = f32(Float64Array.from({ length: K }, (_, k) => {
    let v = 0;
    for (let d = 0; d < D; d++) v -= Ef[k * D + d]! * centre(b[d]!);
    return v;
  }));
  const logS = f32(Float64Array.from({ length: K }, (_, k) => 0.5 * Math.log(inv[k * K + k]!)));
  return { K, D, W, b, E: Ef, e, logS };
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

/** q(z|x) of each image (in double precision from the float32 weights). */
function encode(L: Linear, images: Uint8Array, xOf: (v: number) => number): { mean: Float64Array; std: Float64Array } {
  const { K, D, E, e, logS } = L;
  const count = images.length / D;
  const mean = new Float64Array(count * K);
  const std = new Float64Array(count * K);
  for (let n = 0; n < count; n++) {
    for (let k = 0; k < K; k++) {
      let v = e[k]!;
      for (let d = 0; d < D; d++) v += E[k * D + d]! * xOf(images[n * D + d]!);
      mean[n * K + k] = v;
      std[n * K + k] = Math.exp(logS[k]!);
    }
  }
  return { mean, std };
}

function preact(L: Linear, z: ArrayLike<number>, d: number): number {
  let a = L.b[d]!;
  for (let k = 0; k < L.K; k++) a += L.W[d * L.K + k]! * z[k]!;
  return a;
}

/** −ELBO in bits of each image: KL(q‖p) + Σ_d E_q[−log p(x_d | z)], the expectations by 1-D quadrature. */
function negElbo(L: Linear, images: Uint8Array, xOf: (v: number) => number, logLik: (d: number, x: number, a: number) => number): Float64Array {
  const { K, D, W } = L;
  const count = images.length / D;
  const out = new Float64Array(count);
  const q = encode(L, images, xOf);
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
        v += (W[d * K + k]! * q.std[n * K + k]!) ** 2;
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

function sampler(L: Linear, draw: (a: number, u: Rng) => number) {
  return (count: number, seed: number): Uint8Array => {
    const g = mulberry32(seed);
    const u = mulberry32(seed ^ 0x5bd1e995);
    const out = new Uint8Array(count * L.D);
    const z = new Float64Array(L.K);
    for (let n = 0; n < count; n++) {
      for (let k = 0; k < L.K; k++) z[k] = randomNormal(g);
      for (let d = 0; d < L.D; d++) out[n * L.D + d] = draw(preact(L, z, d), u);
    }
    return out;
  };
}

/** Row-major `[rows, cols]` float32 kernel from a function of (row, col). */
function kernel(rows: number, cols: number, at: (r: number, c: number) => number): Float32Array {
  const k = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) k[r * cols + c] = at(r, c);
  return k;
}

/** The encoder network: pixels (viewed through `view`) → [mean ‖ log σ]. */
function encoderNetwork(L: Linear, view: 'pixels' | 'bin-centres'): GaussianLatentCoding['encoder'] {
  const { K, D } = L;
  return {
    inputSize: D,
    outputSize: 2 * K,
    ops: [
      ...(view === 'bin-centres' ? [{ op: 'scale-shift' as const, scale: 2 / 255, shift: -1 }] : []),
      {
        op: 'dense',
        inputSize: D,
        units: 2 * K,
        kernel: kernel(D, 2 * K, (d, j) => (j < K ? L.E[j * D + d]! : 0)),
        bias: Float32Array.from({ length: 2 * K }, (_, j) => (j < K ? L.e[j]! : L.logS[j - K]!)),
      },
    ],
  };
}

/** Binary images: p(x_d = 1 | z) = σ(w_d·z + b_d). */
export function linearBernoulliModel(options: SyntheticOptions = {}): SyntheticLatentModel {
  const L = makeLinear(options, 1.5, 1, sigmoid, (b) => sigmoid(b) * (1 - sigmoid(b)), () => 1);
  const { K, D } = L;
  return {
    coding: {
      kind: 'gaussian-latent',
      pixels: 'binary',
      pixelsPerImage: D,
      latentDim: K,
      encoder: encoderNetwork(L, 'pixels'),
      decoder: { inputSize: K, outputSize: D, ops: [{ op: 'dense', inputSize: K, units: D, kernel: kernel(K, D, (k, d) => L.W[d * K + k]!), bias: Float32Array.from(L.b) }] },
      observation: { kind: 'bernoulli' },
    },
    sample: sampler(L, (a, u) => (u() < sigmoid(a) ? 1 : 0)),
    negElboBits: (images) => negElbo(L, images, (v) => v, (_d, x, a) => (x === 1 ? logSigmoid(a) : logSigmoid(-a))),
  };
}

/** Log-scale of the synthetic logistic likelihood (in the [−1, 1] pixel scale), as float32. */
const LOGISTIC_LOG_SCALE = Math.fround(Math.log(0.04));

/**
 * 8-bit images: pixel d is a discretised logistic with mean w_d·z + b_d (PixelCNN++ scale [−1, 1]) and a fixed
 * scale. The encoder sees pixels mapped to bin centres in [−1, 1].
 */
export function linearLogisticModel(options: SyntheticOptions = {}): SyntheticLatentModel {
  const curv = 1 / (3 * Math.exp(2 * LOGISTIC_LOG_SCALE));
  const L = makeLinear(options, 0.3, curv, (b) => b, () => curv, () => 1);
  const { K, D } = L;
  const xOf = (v: number): number => (2 * v) / 255 - 1;
  const invS = Math.exp(-LOGISTIC_LOG_SCALE);
  const logP = (k: number, mean: number): number => {
    const up = k === 255 ? 1 : sigmoid(((2 * k + 1) / 255 - 1 - mean) * invS);
    const lo = k === 0 ? 0 : sigmoid(((2 * k - 1) / 255 - 1 - mean) * invS);
    return Math.log(Math.max(up - lo, 1e-300));
  };
  return {
    coding: {
      kind: 'gaussian-latent',
      pixels: 'u8',
      pixelsPerImage: D,
      latentDim: K,
      encoder: encoderNetwork(L, 'bin-centres'),
      // Per pixel [location, log-scale]: the log-scale column has no weights, only its bias.
      decoder: {
        inputSize: K,
        outputSize: 2 * D,
        ops: [
          {
            op: 'dense',
            inputSize: K,
            units: 2 * D,
            kernel: kernel(K, 2 * D, (k, j) => (j % 2 === 0 ? L.W[(j / 2) * K + k]! : 0)),
            bias: Float32Array.from({ length: 2 * D }, (_, j) => (j % 2 === 0 ? L.b[j / 2]! : LOGISTIC_LOG_SCALE)),
          },
        ],
      },
      observation: { kind: 'discretized-logistic', minLogScale: -7 },
    },
    sample: sampler(L, (a, u) => {
      // Inverse-CDF sample of the logistic, then discretise to 0..255.
      const r = Math.min(Math.max(u(), 1e-12), 1 - 1e-12);
      const v = a + Math.exp(LOGISTIC_LOG_SCALE) * Math.log(r / (1 - r));
      return Math.min(255, Math.max(0, Math.round(((v + 1) * 255) / 2)));
    }),
    negElboBits: (images) => negElbo(L, images, xOf, (_d, x, a) => logP(x, a)),
  };
}

/** A random autoregressive model plus its exact likelihood. */
export interface SyntheticAutoregressiveModel {
  readonly coding: AutoregressiveCoding;
  /** Draws `count` images by ancestral sampling (seeded; one network evaluation per pixel). */
  sample(count: number, seed: number): Uint8Array;
  /** −log2 p(x) of each image, from the coder's own conditionals. */
  nllBits(images: Uint8Array): Float64Array;
}

/**
 * A MADE-masked network with random weights: `hidden` ReLU layers (default one of 32), a random order, a direct
 * input-to-output connection unless `direct` is false. Masked weights are exact zeros, as in a trained MADE.
 */
export function randomMadeModel(options: { pixelsPerImage?: number; hidden?: number[]; seed?: number; direct?: boolean; scale?: number } = {}): SyntheticAutoregressiveModel {
  const D = options.pixelsPerImage ?? 16;
  const hidden = options.hidden ?? [32];
  const rng = mulberry32(options.seed ?? 1);
  const scale = options.scale ?? 1;
  const order = Int32Array.from(permutation(D, rng));
  const inputDegree = new Int32Array(D);
  for (let k = 0; k < D; k++) inputDegree[order[k]!] = k + 1;
  const degrees: Int32Array[] = [inputDegree];
  for (const units of hidden) degrees.push(Int32Array.from({ length: units }, () => 1 + Math.floor(rng() * Math.max(1, D - 1))));
  const ops: AutoregressiveCoding['network']['ops'][number][] = [];
  for (let l = 0; l < hidden.length; l++) {
    const from = degrees[l]!;
    const to = degrees[l + 1]!;
    ops.push(
      {
        op: 'dense',
        inputSize: from.length,
        units: to.length,
        kernel: kernel(from.length, to.length, (r, c) => (to[c]! >= from[r]! ? (scale * randomNormal(rng)) / Math.sqrt(from.length) : 0)),
        bias: Float32Array.from({ length: to.length }, () => 0.1 * randomNormal(rng)),
      },
      { op: 'activation', fn: 'relu' },
    );
  }
  const last = degrees[hidden.length]!;
  ops.push({
    op: 'dense',
    inputSize: last.length,
    units: D,
    kernel: kernel(last.length, D, (r, d) => (inputDegree[d]! > last[r]! ? (scale * randomNormal(rng)) / Math.sqrt(last.length) : 0)),
    bias: Float32Array.from({ length: D }, () => 0.5 * randomNormal(rng)),
    ...(options.direct === false ? {} : { inputKernel: kernel(D, D, (e, d) => (inputDegree[e]! < inputDegree[d]! ? scale * randomNormal(rng) : 0)) }),
  });
  const coding: AutoregressiveCoding = { kind: 'autoregressive-bernoulli', pixelsPerImage: D, order, network: { inputSize: D, outputSize: D, ops } };
  const coder = autoregressiveCoder(coding, 'random MADE');
  return {
    coding,
    sample(count, seed) {
      const u = mulberry32(seed);
      const out = new Uint8Array(count * D);
      for (let n = 0; n < count; n++) {
        const x = out.subarray(n * D, (n + 1) * D);
        for (let k = 0; k < D; k++) {
          const d = order[k]!;
          x[d] = u() < sigmoid(coder.logits(x, 1)[d]!) ? 1 : 0;
        }
      }
      return out;
    },
    nllBits(images) {
      const count = images.length / D;
      const logits = coder.logits(images, count);
      const out = new Float64Array(count);
      for (let n = 0; n < count; n++) {
        let nats = 0;
        for (let d = 0; d < D; d++) nats -= logSigmoid(images[n * D + d] === 1 ? logits[n * D + d]! : -logits[n * D + d]!);
        out[n] = nats / Math.LN2;
      }
      return out;
    },
  };
}
