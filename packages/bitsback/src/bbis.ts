/**
 * Importance-sampled bits-back coding with coupled particles (BB-CIS; Ruan et al. 2021, "Improving Lossless
 * Compression Rates via Monte Carlo Bits-Back Coding") as a codec combinator. BB-ANS codes x at the negative ELBO;
 * this codes it at the negative k-particle importance-sampled bound, −log((1/k) Σ_i p(x, z_i)/q(z_i|x)), which is
 * lower and tends to −log p(x) as k grows.
 *
 * The extended-space view: the encoder pops k particles and an index j (chosen with probability ∝ the particles'
 * importance weights) off the message, then pushes x and z_j under the model and j uniformly. The particles are
 * coupled so that popping all k costs what popping one does (without it the first image of a message would draw k
 * times the clean bits): one uniform slot u per latent is popped at the posterior's precision P, and particle i
 * is the posterior bucket holding slot (u + shift_i) mod 2^P. Each particle is then exactly q-distributed (a shift
 * of a uniform slot is uniform), and with shifts ⌊m·2^P/k⌋, stratum m = π_d(i) of a seeded permutation per latent, the k
 * particles stratify every latent's posterior (a Latin hypercube) — lower-variance weights than independent draws.
 * The encoder gives back what u cost by pushing the slot of z_j given z_j: push the slot uniformly, then pop the
 * posterior (which must return z_j), the exact inverse of what the decoder does (push z_j under q, pop the slot).
 *
 * Net cost per image: −log p(x|z_j) − log p(z_j) + log k − log(w_j / Σw) + log q(z_j|x) = −log((1/k) Σ_i w_i).
 */
import { permutation, type Codec as CoreCodec } from '@gm/core';
import { bucketCentres, diagGaussianBucketModel, LogProbSum, quantizeFrequencies, stdNormalPrior, uniformBatch, type Codec } from './codecs';
import type { LatentCoder } from './coding/latent';
import { exactExp } from './exact/math';
import type { BitsBackSettings } from './bbans';
import { closeState, CorruptMessageError, openState, peek, popCommit, popCommitState, push, pushState, type Message } from './rans';

/** Precision in bits of the particle index's distribution (the normalised importance weights). */
export const PARTICLE_INDEX_PRECISION = 20;

/** Most particles a file may ask for. */
export const MAX_PARTICLES = 1024;

/** A coupled proposal q(·|x) over latents, for `lanes` images. */
export interface CoupledProposal<Z> {
  /** The shared uniform variable (popped first, pushed back last). */
  base: CoreCodec<Float64Array, Message>;
  /** The k particles of base value `u`. */
  particles(u: Float64Array): Z[];
  /** The codec of the base value given particle j's value (per lane j[lane]): exactly what `base` costs minus
   * −log q(z_j|x). */
  baseGiven(particle: Z, j: Int32Array): CoreCodec<Float64Array, Message>;
  /** The particle of each lane's index j. */
  pick(particles: Z[], j: Int32Array): Z;
  /** log w_i = log p(x, z_i) − log q(z_i|x) (up to a constant per lane), `[lanes × k]`, lane-major: the same
   * deterministic numbers on encoder and decoder. */
  logWeights(particles: Z[]): Float64Array;
}

/** What BB-CIS is built from, for a batch of `lanes` images. */
export interface ImportanceParts<X, Z> {
  particles: number;
  lanes: number;
  /** p(z). */
  prior: CoreCodec<Z, Message>;
  /** p(x|z). */
  likelihood: (latent: Z) => CoreCodec<X, Message>;
  /** q(·|x), coupled, with the importance weights of its particles. */
  proposal: (data: X) => CoupledProposal<Z>;
}

/** The BB-CIS codec of x (see the file comment). With one particle it is BB-ANS. */
export function bbCis<X, Z>(parts: ImportanceParts<X, Z>): CoreCodec<X, Message> {
  const { particles: k, lanes, prior, likelihood, proposal } = parts;
  const index = particleIndex(k, lanes);
  return {
    push(message, data) {
      const q = proposal(data);
      const [m1, u] = q.base.pop(message);
      const zs = q.particles(u);
      const [m2, j] = weightedIndex(q.logWeights(zs), k, lanes).pop(m1);
      const zj = q.pick(zs, j);
      const m3 = q.baseGiven(zj, j).push(m2, u);
      const m4 = likelihood(zj).push(m3, data);
      const m5 = prior.push(m4, zj);
      return index.push(m5, j);
    },
    pop(message) {
      const [m1, j] = index.pop(message);
      const [m2, zj] = prior.pop(m1);
      const [m3, data] = likelihood(zj).pop(m2);
      const q = proposal(data);
      const [m4, u] = q.baseGiven(zj, j).pop(m3);
      const zs = q.particles(u);
      const m5 = weightedIndex(q.logWeights(zs), k, lanes).push(m4, j);
      return [q.base.push(m5, u), data];
    },
  };
}

/** One index in 0..k−1 per lane, with frequencies (lane-major `[lanes × k]`). */
function indexCodec(freqs: (lane: number) => Float64Array, k: number, lanes: number, precision: number): Codec<Int32Array> {
  const starts = (f: Float64Array): Float64Array => {
    const s = new Float64Array(k + 1);
    for (let i = 0; i < k; i++) s[i + 1] = s[i]! + f[i]!;
    return s;
  };
  return {
    push(m, j) {
      for (let l = 0; l < lanes; l++) {
        const f = freqs(l);
        const s = starts(f);
        const i = j[l]!;
        if (!(i >= 0 && i < k)) throw new RangeError(`particle index ${i} is outside 0..${k - 1}`);
        m = push(m, l, s[i]!, f[i]!, precision);
      }
      return m;
    },
    pop(m) {
      const j = new Int32Array(lanes);
      for (let l = lanes - 1; l >= 0; l--) {
        const f = freqs(l);
        const s = starts(f);
        const slot = peek(m, l, precision);
        let i = 0;
        while (i < k - 1 && s[i + 1]! <= slot) i++;
        j[l] = i;
        m = popCommit(m, l, s[i]!, f[i]!, precision);
      }
      return [m, j];
    },
  };
}

/** The index pushed last: uniform over the k particles. */
function particleIndex(k: number, lanes: number): Codec<Int32Array> {
  const f = quantizeFrequencies(new Float64Array(k).fill(1), PARTICLE_INDEX_PRECISION);
  return indexCodec(() => f, k, lanes, PARTICLE_INDEX_PRECISION);
}

/** The index chosen ∝ the importance weights exp(log w) of each lane's particles. */
function weightedIndex(logW: Float64Array, k: number, lanes: number): Codec<Int32Array> {
  const tables: Float64Array[] = [];
  for (let l = 0; l < lanes; l++) {
    let max = -Infinity;
    for (let i = 0; i < k; i++) max = Math.max(max, logW[l * k + i]!);
    if (!Number.isFinite(max)) throw new CorruptMessageError(`the importance weights of lane ${l} are not finite: wrong model or corrupt data`);
    const w = new Float64Array(k);
    for (let i = 0; i < k; i++) w[i] = exactExp(logW[l * k + i]! - max);
    tables.push(quantizeFrequencies(w, PARTICLE_INDEX_PRECISION));
  }
  return indexCodec((l) => tables[l]!, k, lanes, PARTICLE_INDEX_PRECISION);
}

/** Latin-hypercube shifts of the k particles: `[k × L]`, shift of particle i in latent d = ⌊m·2^P/k⌋ with stratum
 * m = (π_d(i) − π_d(0)) mod k of a seeded permutation π_d. */
const shiftCache = new Map<string, Float64Array>();
export function particleShifts(k: number, latents: number, precision: number): Float64Array {
  const key = `${k}/${latents}/${precision}`;
  const hit = shiftCache.get(key);
  if (hit !== undefined) return hit;
  const M = 2 ** precision;
  const shifts = new Float64Array(k * latents);
  for (let d = 0; d < latents; d++) {
    // Particle 0 is unshifted (k = 1 is BB-ANS through the slot); the others take the remaining strata in a
    // seeded order per latent.
    const order = permutation(k, 0x5eed + d);
    const base = order[0]!;
    for (let i = 0; i < k; i++) shifts[i * latents + d] = Math.floor((((order[i]! - base + k) % k) * M) / k);
  }
  shiftCache.set(key, shifts);
  return shifts;
}

/**
 * BB-CIS for `batch` images under a Gaussian-latent model (prior over the equiprobable buckets, diagonal-Gaussian
 * posterior over the same buckets at `posteriorPrecision`), image b on lane b.
 */
export function latentBbCis(coder: LatentCoder, batch: number, settings: BitsBackSettings, k: number): Codec<Uint8Array> {
  checkParticles(k);
  if (settings.posteriorPrecision > 30) throw new RangeError(`importance-sampled coding needs posteriorPrecision ≤ 30 (slots are 31-bit integers), got ${settings.posteriorPrecision}`);
  const L = coder.latentDim;
  const P = settings.posteriorPrecision;
  const M = 2 ** P;
  const B = settings.bucketBits;
  const shifts = particleShifts(k, L, P);
  const slots = uniformBatch(P, batch, L);
  return bbCis<Uint8Array, Int32Array>({
    particles: k,
    lanes: batch,
    prior: stdNormalPrior(B, batch, L) as CoreCodec<Int32Array, Message>,
    likelihood: (z) => coder.observation(bucketCentres(z, B), batch) as unknown as CoreCodec<Uint8Array, Message>, // pixels pop as bytes
    proposal(x) {
      const q = coder.posterior(x, batch);
      const model = diagGaussianBucketModel(q.mean, q.std, B, P);
      // q's frequency of each particle's bucket, found with the bucket by particles() (for logWeights of those
      // particles; other particles get theirs from the cdf).
      let particleFreqs: { of: Int32Array[]; freqs: Float64Array } | undefined;
      const shifted = (u: Float64Array, j: ArrayLike<number>, sign: 1 | -1): Float64Array => {
        const out = new Float64Array(batch * L);
        for (let b = 0; b < batch; b++) {
          for (let d = 0; d < L; d++) {
            const v = u[b * L + d]! + sign * shifts[j[b]! * L + d]!;
            out[b * L + d] = v >= M ? v - M : v < 0 ? v + M : v;
          }
        }
        return out;
      };
      return {
        base: {
          push: (m, u) => slots.push(m, u),
          pop(m) {
            const [m2, u] = slots.pop(m);
            return [m2, Float64Array.from(u)];
          },
        },
        particles(u) {
          const zs: Int32Array[] = [];
          const at = new Int32Array(batch);
          const interval = new Float64Array(2);
          const freqs = new Float64Array(k * batch * L);
          for (let i = 0; i < k; i++) {
            at.fill(i);
            const s = shifted(u, at, 1);
            const z = new Int32Array(batch * L);
            for (let e = 0; e < batch * L; e++) {
              z[e] = model.interval(e, s[e]!, interval);
              freqs[i * batch * L + e] = interval[1]!;
            }
            zs.push(z);
          }
          particleFreqs = { of: zs, freqs };
          return zs;
        },
        baseGiven(zj, j) {
          // The slot of particle j lies in z_j's interval [c, c + f). Per latent, in the batched codecs' order:
          // push the slot (P bits), then pop z_j under q (the slot's offset in its bucket stays behind) — the exact
          // inverse of the decoder's push of z_j under q, then pop of the slot. Done latent by latent, as each pair
          // changes the head below the next.
          return {
            push(m, u) {
              const slot = shifted(u, j, 1);
              const st = openState(m);
              for (let d = 0; d < L; d++) {
                for (let b = 0; b < batch; b++) {
                  const e = b * L + d;
                  const c = model.cdf(e, zj[e]!);
                  const f = model.cdf(e, zj[e]! + 1) - c;
                  if (!(slot[e]! >= c && slot[e]! < c + f)) throw new Error('BB-CIS: a particle slot outside its bucket (internal error)');
                  pushState(st, b, slot[e]!, 1, P);
                  popCommitState(st, b, c, f, P);
                }
              }
              return closeState(st);
            },
            pop(m) {
              const slot = new Float64Array(batch * L);
              const st = openState(m);
              for (let d = L - 1; d >= 0; d--) {
                for (let b = batch - 1; b >= 0; b--) {
                  const e = b * L + d;
                  const c = model.cdf(e, zj[e]!);
                  pushState(st, b, c, model.cdf(e, zj[e]! + 1) - c, P);
                  const v = peek(st, b, P);
                  popCommitState(st, b, v, 1, P);
                  slot[e] = v;
                }
              }
              return [closeState(st), shifted(slot, j, -1)];
            },
          };
        },
        pick(zs, j) {
          const z = new Int32Array(batch * L);
          for (let b = 0; b < batch; b++) z.set(zs[j[b]!]!.subarray(b * L, (b + 1) * L), b * L);
          return z;
        },
        logWeights(zs) {
          // log p(x|z_i) − log q(z_i|x) per lane and particle (log p(z_i) is the same for every bucket). The decoder
          // runs once on all lanes × k particles. The weights only choose the particle index; any deterministic
          // scores close to the true ones code at the bound, so log p(x|z_i) may be the fast interpolated one.
          const rows = batch * k;
          const z = new Int32Array(rows * L);
          for (let b = 0; b < batch; b++) for (let i = 0; i < k; i++) z.set(zs[i]!.subarray(b * L, (b + 1) * L), (b * k + i) * L);
          const logLik = coder.logLikelihoods(bucketCentres(z, B), rows, x, k);
          const out = new Float64Array(rows);
          const invM = 1 / M;
          const known = particleFreqs?.of === zs ? particleFreqs.freqs : undefined;
          const freqOf = (i: number, e: number): number => {
            if (known !== undefined) return known[i * batch * L + e]!;
            const s = zs[i]![e]!;
            return model.cdf(e, s + 1) - model.cdf(e, s);
          };
          for (let b = 0; b < batch; b++) {
            for (let i = 0; i < k; i++) {
              const logQ = new LogProbSum();
              for (let d = 0; d < L; d++) logQ.add(freqOf(i, b * L + d) * invM);
              out[b * k + i] = logLik[b * k + i]! - logQ.value();
            }
          }
          return out;
        },
      };
    },
  });
}

/** Checks a particle count (a file setting). */
export function checkParticles(k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_PARTICLES) throw new RangeError(`particles must be an integer in [1, ${MAX_PARTICLES}], got ${k}`);
}

