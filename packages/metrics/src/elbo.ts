import * as tf from '@tensorflow/tfjs-core';
import type { Distribution, SampleWithLogProb } from './distribution';
import { Normal, StandardNormal, klDivergence } from './normal';
import { deriveSeed, type LatentVariableModel } from '@gm/core';
import { checkCount, fmt } from './util';

/** An approximate posterior q(z|x): a Distribution, or anything that returns samples with their log q. */
export type Posterior = Distribution | SampleWithLogProb;

/**
 * The metrics work on any {@link LatentVariableModel} (the contract of @gm/core); a VAE, and an IAF-VAE whose
 * posterior only knows log q of its own samples, fit it by shape.
 *
 * Shape contract, for a batch of B examples `x` of shape `[B, ...dataShape]`:
 * - `posterior(x)` has batch shape `[B]` and event shape `latentShape`: its samples (n of them) are
 *   `[n, B, ...latentShape]` and their log q is `[n, B]`.
 * - `likelihood(z)` receives a *flat* batch `z` of shape `[N, ...latentShape]` and returns p(x|z) with batch shape
 *   `[N]`, whose `logProb` of `[N, ...dataShape]` is `[N]`. (The metrics flatten n samples × B examples into
 *   N = n·B rows, sample-major: row j·B + b is sample j of example b, so an ordinary decoder works unchanged.)
 * - `prior.logProb(z)` maps `[n, B, ...latentShape]` to `[n, B]` (e.g. `new StandardNormal(latentShape)`).
 */
export type { LatentVariableModel } from '@gm/core';

/** Per-example ELBO terms, each of shape `[B]`, in nats. */
export interface ElboResult {
  /** E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)). */
  elbo: tf.Tensor;
  /** The reconstruction term E_q[log p(x|z)] (Monte Carlo over the posterior samples). */
  reconstruction: tf.Tensor;
  /** KL(q(z|x) ‖ p(z)): analytic, or the Monte Carlo mean of log q(z|x) − log p(z). */
  kl: tf.Tensor;
}

export interface ElboOptions {
  /** Posterior samples per example (default 1); the terms are averaged over them. */
  samples?: number;
  /**
   * `'analytic'`: closed-form KL (both posterior and prior must be {@link Normal}/{@link StandardNormal});
   * `'mc'`: Monte Carlo KL from the same samples; `'auto'` (default): analytic when possible.
   */
  kl?: 'analytic' | 'mc' | 'auto';
  /** Seed for the posterior samples (reproducible results). */
  seed?: number;
}

const isNormalLike = (d: unknown): d is Normal | StandardNormal => d instanceof Normal || d instanceof StandardNormal;

function checkModel(where: string, model: LatentVariableModel): void {
  if (model === null || typeof model !== 'object') throw new Error(`${where}: model must be an object`);
  if (typeof model.posterior !== 'function') throw new Error(`${where}: model.posterior must be a function x → q(z|x)`);
  if (typeof model.likelihood !== 'function') throw new Error(`${where}: model.likelihood must be a function z → p(x|z)`);
  if (model.prior === null || typeof model.prior !== 'object' || typeof model.prior.logProb !== 'function') {
    throw new Error(`${where}: model.prior must be a Distribution with logProb`);
  }
}

function checkX(where: string, x: tf.Tensor): void {
  if (!(x instanceof tf.Tensor)) throw new Error(`${where}: x must be a tf.Tensor`);
  if (x.rank < 1 || x.shape[0] === 0) throw new Error(`${where}: x must have a non-empty leading batch axis, got shape ${fmt(x.shape)}`);
}

function expectShape(where: string, what: string, t: tf.Tensor, shape: number[]): void {
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${where}: ${what} has shape ${fmt(t.shape)}, expected ${fmt(shape)} (check the distribution's eventRank)`);
  }
}

/** n samples from q with log q; shapes checked. */
function drawPosterior(where: string, q: Posterior, n: number, batch: number, seed: number | undefined): { z: tf.Tensor; logq: tf.Tensor } {
  let z: tf.Tensor;
  let logq: tf.Tensor;
  if ('sampleWithLogProb' in q && typeof q.sampleWithLogProb === 'function') {
    const out = q.sampleWithLogProb(n, seed);
    z = out.sample;
    logq = out.logProb;
  } else if ('sample' in q && typeof q.sample === 'function' && typeof q.logProb === 'function') {
    z = q.sample(n, seed);
    logq = q.logProb(z);
  } else {
    throw new Error(`${where}: model.posterior(x) must return a Distribution (sample + logProb) or provide sampleWithLogProb`);
  }
  if (z.rank < 2 || z.shape[0] !== n || z.shape[1] !== batch) {
    throw new Error(`${where}: posterior samples have shape ${fmt(z.shape)}, expected [${n}, ${batch}, ...latentShape]`);
  }
  expectShape(where, 'log q(z|x)', logq, [n, batch]);
  return { z, logq };
}

/**
 * The mean over the samples axis of [n, B]: with one sample a reshape, the same values, so a training step's one-sample
 * ELBO spends one kernel each way on it instead of a mean's one forward and four backward.
 */
function meanOverSamples(t: tf.Tensor): tf.Tensor {
  return t.shape[0] === 1 ? tf.reshape(t, t.shape.slice(1)) : tf.mean(t, 0);
}

/** x repeated n times along the batch axis (sample-major rows). concat, not tile: wasm's Tile kernel is ~20× slower. */
function repeatRows(x: tf.Tensor, n: number): tf.Tensor {
  return n === 1 ? x : tf.concat(new Array<tf.Tensor>(n).fill(x), 0);
}

/** log p(x|z) and log p(z) for z of shape [n, B, ...latent], both [n, B]; xRep is x repeated n times. */
function jointTerms(where: string, model: LatentVariableModel, xRep: tf.Tensor, z: tf.Tensor): { logpx: tf.Tensor; logpz: tf.Tensor } {
  const [n, batch] = z.shape as [number, number];
  const zFlat = tf.reshape(z, [n * batch, ...z.shape.slice(2)]);
  const px = model.likelihood(zFlat);
  const logpxFlat = px.logProb(xRep);
  expectShape(where, 'likelihood(z).logProb(x)', logpxFlat, [n * batch]);
  const logpz = model.prior.logProb(z);
  expectShape(where, 'prior.logProb(z)', logpz, [n, batch]);
  return { logpx: tf.reshape(logpxFlat, [n, batch]), logpz };
}

/**
 * Per-example evidence lower bound log p(x) ≥ E_q[log p(x|z)] − KL(q ‖ p), in nats, shape `[B]`.
 * Differentiable (Normal posteriors sample by reparameterisation), so `−mean(elbo)` is a VAE training loss.
 *
 * @example
 * ```ts
 * const { elbo: bound, kl } = tf.tidy(() => elbo(vae, xBatch, { samples: 10, seed: 1 })); // each [B]
 * ```
 */
export function elbo(model: LatentVariableModel, x: tf.Tensor, options: ElboOptions = {}): ElboResult {
  const where = 'elbo';
  checkModel(where, model);
  checkX(where, x);
  const samples = options.samples ?? 1;
  checkCount(where, samples);
  const mode = options.kl ?? 'auto';
  if (mode !== 'analytic' && mode !== 'mc' && mode !== 'auto') {
    throw new Error(`${where}: options.kl must be 'analytic', 'mc' or 'auto', got ${String(mode)}`);
  }
  const batch = x.shape[0] as number;
  return tf.tidy(() => {
    const q = model.posterior(x);
    const analytic = isNormalLike(q) && isNormalLike(model.prior);
    if (mode === 'analytic' && !analytic) {
      throw new Error(`${where}: analytic KL needs a Normal posterior and a Normal/StandardNormal prior; use kl: 'mc'`);
    }
    const { z, logq } = drawPosterior(where, q, samples, batch, options.seed);
    const useAnalytic = mode !== 'mc' && analytic;
    let kl: tf.Tensor;
    let logpx: tf.Tensor;
    if (useAnalytic) {
      const zFlat = tf.reshape(z, [samples * batch, ...z.shape.slice(2)]);
      const flat = model.likelihood(zFlat).logProb(repeatRows(x, samples));
      expectShape(where, 'likelihood(z).logProb(x)', flat, [samples * batch]);
      logpx = tf.reshape(flat, [samples, batch]);
      kl = klDivergence(q as Normal | StandardNormal, model.prior as Normal | StandardNormal);
      expectShape(where, 'KL(q ‖ p)', kl, [batch]);
    } else {
      const terms = jointTerms(where, model, repeatRows(x, samples), z);
      logpx = terms.logpx;
      kl = meanOverSamples(tf.sub(logq, terms.logpz));
    }
    const reconstruction = meanOverSamples(logpx);
    return { elbo: tf.sub(reconstruction, kl), reconstruction, kl };
  });
}

export interface ImportanceSamplingOptions {
  /**
   * Upper bound on the number of likelihood elements (samples × examples × data size) evaluated at once; sets the
   * example batch and the k-chunk sizes when those are not given. Default 2^22 (≈16 MB per float32 tensor).
   */
  maxElements?: number;
  /** Examples per batch (default: as many as fit `maxElements` with one sample each). */
  batchSize?: number;
  /** Importance samples per chunk (default: as many as fit `maxElements` for the batch). */
  chunkSize?: number;
  /** Seed for the proposal samples; chunk c of batch b uses a seed derived from (seed, b, c). */
  seed?: number;
}

/**
 * Importance-sampled log-likelihood: log p(x) ≈ log (1/k) Σ_{i=1..k} p(x, z_i) / q(z_i|x), z_i ~ q(z|x), per example
 * (shape `[B]`, nats). It is a lower bound in expectation that tightens as k grows (k = 1 is an unbiased ELBO
 * estimate) and converges to log p(x) (Burda et al., 2016).
 *
 * Memory stays bounded: examples are processed in batches and the k samples in chunks; each chunk is reduced to
 * one logsumexp per example at once, and the chunk results are combined by a final logsumexp (exact).
 */
export function importanceSampledLogLikelihood(
  model: LatentVariableModel,
  x: tf.Tensor,
  k: number,
  options: ImportanceSamplingOptions = {},
): tf.Tensor {
  const where = 'importanceSampledLogLikelihood';
  checkModel(where, model);
  checkX(where, x);
  checkCount(where, k);
  const total = x.shape[0] as number;
  const perExample = x.size / total;
  const maxElements = options.maxElements ?? 2 ** 22;
  if (!(maxElements >= 1)) throw new Error(`${where}: options.maxElements must be ≥ 1, got ${maxElements}`);
  const batchSize = options.batchSize ?? Math.max(1, Math.min(total, Math.floor(maxElements / perExample)));
  checkCount(`${where} (options.batchSize)`, batchSize);
  const seed = options.seed;
  const results: tf.Tensor[] = [];
  let out: tf.Tensor | undefined;
  try {
    for (let start = 0, b = 0; start < total; start += batchSize, b++) {
      const size = Math.min(batchSize, total - start);
      const chunk = options.chunkSize ?? Math.max(1, Math.floor(maxElements / (size * perExample)));
      checkCount(`${where} (options.chunkSize)`, chunk);
      // One scope per batch: it frees the posterior's parameters; each chunk's own scope frees its big tensors.
      results.push(
        tf.tidy(() => {
          const xb = size === total ? x : tf.slice(x, start, size);
          const q = model.posterior(xb);
          const lses: tf.Tensor[] = [];
          // x repeated for a chunk is made once per batch (at most two sizes: full chunks and the remainder).
          const repeated = new Map<number, tf.Tensor>();
          for (let done = 0, c = 0; done < k; done += chunk, c++) {
            const n = Math.min(chunk, k - done);
            if (!repeated.has(n)) repeated.set(n, repeatRows(xb, n));
            const xRep = repeated.get(n) as tf.Tensor;
            const chunkSeed = seed === undefined ? undefined : deriveSeed(seed, b, c);
            lses.push(
              tf.tidy(() => {
                const { z, logq } = drawPosterior(where, q, n, size, chunkSeed);
                const { logpx, logpz } = jointTerms(where, model, xRep, z);
                return tf.logSumExp(tf.sub(tf.add(logpx, logpz), logq), 0);
              }),
            );
          }
          return tf.sub(tf.logSumExp(tf.stack(lses), 0), Math.log(k));
        }),
      );
    }
    out = results.length === 1 ? (results[0] as tf.Tensor) : tf.concat(results, 0);
    return out;
  } finally {
    for (const t of results) if (t !== out) t.dispose();
  }
}
