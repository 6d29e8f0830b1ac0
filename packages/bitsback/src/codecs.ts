/**
 * Codecs: `{ push, pop }` pairs threading a message through (craystack's contract, @gm/core's `Codec`), and
 * combinators that build bigger codecs from smaller ones. Every quantised distribution gives every codable symbol a
 * frequency ≥ 1 and is computed identically by encoder and decoder — with gm's own deterministic arithmetic
 * (./exact), so a message decodes on any machine — hence decoding inverts encoding exactly.
 */
import { GmError, type Codec as CoreCodec, type Message as CoreMessage } from '@gm/core';
import { exactExp, exactLog, exactNormalCdf, exactNormalPpf, exactSigmoid } from './exact/math';
import {
  closeState,
  frequencyTable,
  lookupSymbol,
  openState,
  peek,
  popBinaryLanes,
  popCommit,
  popCommitState,
  push,
  pushBinaryLanes,
  pushState,
  type FrequencyTable,
  type Message,
} from './rans';

/** A codec over this package's rANS messages (@gm/core's `Codec` with the message type narrowed). */
export type Codec<S> = CoreCodec<S, Message>;

/** A batched codec that also scores symbols: `logProb(symbols)` is, per lane, the natural log of the quantised
 * probability the codec gives them (what pushing them costs, in nats), computed deterministically. */
export type ScoredCodec<S> = Codec<S> & { logProb(symbols: S): Float64Array };

/** Deterministic Σ log(f_i / 2^P) over many factors: products of at most 30 (each ≥ 2^−32, so no underflow), one
 * exactLog per product. */
export class LogProbSum {
  private product = 1;
  private factors = 0;
  private total = 0;
  /** Adds log(p) for a probability p ≥ 2^−32 (e.g. a frequency times 2^−precision). */
  add(p: number): void {
    this.product *= p;
    if (++this.factors === 30) this.flush();
  }
  value(): number {
    this.flush();
    return this.total;
  }
  private flush(): void {
    if (this.factors > 0) this.total += exactLog(this.product);
    this.product = 1;
    this.factors = 0;
  }
}

/** A message of @gm/core's contract as this coder's (a codec only accepts messages this package made). */
export function ransMessage(m: CoreMessage): Message {
  const r = m as Partial<Message>;
  if (r.buffer === undefined || r.heads === undefined) throw new GmError('BAD_ARGUMENT', 'codec: message', "a message of @gm/bitsback's coder (createMessage / unflatten)");
  return m as Message;
}

// ---------------------------------------------------------------------------------------------------------------
// Combinators

/** `n` symbols, each with `codec`: pushes s[0..n) in order, pops them back in reverse. */
export function repeat<S, M extends CoreMessage>(codec: CoreCodec<S, M>, n: number): CoreCodec<S[], M> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`repeat count must be a non-negative integer, got ${n}`);
  return {
    push(m, s) {
      if (s.length !== n) throw new RangeError(`repeat expects ${n} symbols, got ${s.length}`);
      for (let i = 0; i < n; i++) m = codec.push(m, s[i]!);
      return m;
    },
    pop(m) {
      const out = new Array<S>(n);
      for (let i = n - 1; i >= 0; i--) {
        let s: S;
        [m, s] = codec.pop(m);
        out[i] = s;
      }
      return [m, out];
    },
  };
}

/** A tuple codec: pushes element k with `codecs[k]` in order, pops in reverse. */
export function serial<T extends unknown[], M extends CoreMessage>(codecs: { [K in keyof T]: CoreCodec<T[K], M> }): CoreCodec<T, M> {
  const list = codecs as unknown as CoreCodec<unknown, M>[];
  return {
    push(m, s) {
      if (s.length !== list.length) throw new RangeError(`serial expects ${list.length} symbols, got ${s.length}`);
      for (let k = 0; k < list.length; k++) m = list[k]!.push(m, s[k]);
      return m;
    },
    pop(m) {
      const out = new Array<unknown>(list.length);
      for (let k = list.length - 1; k >= 0; k--) {
        let s: unknown;
        [m, s] = list[k]!.pop(m);
        out[k] = s;
      }
      return [m, out as T];
    },
  };
}

/**
 * One symbol per lane: `make(lane)` builds the codec for each of `lanes` lanes (e.g. `lane => uniform(8, lane)`),
 * and the symbol is the array of per-lane symbols. Lanes are independent heads sharing the stack, so this is how
 * work is spread over lanes.
 */
export function parallel<S, M extends CoreMessage>(make: (lane: number) => CoreCodec<S, M>, lanes: number): CoreCodec<S[], M> {
  const codecs = Array.from({ length: lanes }, (_, l) => make(l));
  return serial(codecs) as unknown as CoreCodec<S[], M>;
}

/** A codec for `B` built on one for `A` by an exact bijection (e.g. centring, re-indexing). */
export function mapped<A, B, M extends CoreMessage>(codec: CoreCodec<A, M>, to: (a: A) => B, from: (b: B) => A): CoreCodec<B, M> {
  return {
    push: (m, b) => codec.push(m, from(b)),
    pop(m) {
      const [m2, a] = codec.pop(m);
      return [m2, to(a)];
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Element models: how a batched codec quantises element i

/** Quantised distribution of each element of a batch (one element per lane per position). */
export interface ElementModel {
  readonly precision: number;
  /** Number of symbols each element can take. */
  readonly alphabet: number;
  /** Start of symbol s's interval for element i, s in 0..alphabet (s = alphabet gives 2^precision). */
  cdf(i: number, s: number): number;
  /** The symbol of element i whose interval holds `slot` (default: binary search on cdf). */
  find?(i: number, slot: number): number;
}

function searchCdf(model: ElementModel, i: number, slot: number): number {
  let lo = 0;
  let hi = model.alphabet - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (model.cdf(i, mid) <= slot) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The same symbol as {@link searchCdf} (the largest s with cdf(s) ≤ slot, cdf non-decreasing), found from a guess
 * `g`: galloping away from it brackets the answer, then a binary search inside the bracket. A good guess costs two
 * cdf evaluations instead of log2(alphabet); a bad one costs at most about twice the plain binary search.
 */
export function searchCdfFrom(model: ElementModel, i: number, slot: number, guess: number): number {
  const last = model.alphabet - 1;
  const g = guess >= 1 ? (guess <= last ? Math.floor(guess) : last) : 0; // NaN, −0 → 0
  let lo: number;
  let hi: number;
  if (model.cdf(i, g) <= slot) {
    lo = g;
    hi = last;
    for (let step = 1; lo < hi; step *= 2) {
      const t = Math.min(hi, lo + step);
      if (model.cdf(i, t) <= slot) lo = t;
      else {
        hi = t - 1;
        break;
      }
    }
  } else {
    lo = 0;
    hi = g - 1;
    for (let step = 1; lo < hi; step *= 2) {
      const t = Math.max(lo, hi - step + 1);
      if (model.cdf(i, t) <= slot) {
        lo = t;
        break;
      }
      hi = t - 1;
    }
  }
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (model.cdf(i, mid) <= slot) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

type SymbolArray = Uint8Array | Int32Array;

/**
 * The batched codec of an element model: `lanes × perLane` elements, element `lane · perLane + d` coded on lane
 * `laneOffset + lane`, positions in order (d outer, lanes inner) so a step is vectorised over lanes.
 */
export function elementCodec(model: ElementModel, lanes: number, perLane: number, out: 'u8' | 'i32', laneOffset = 0): ScoredCodec<ArrayLike<number>> {
  const count = lanes * perLane;
  const P = model.precision;
  const find = model.find !== undefined ? model.find.bind(model) : (i: number, slot: number) => searchCdf(model, i, slot);
  return {
    logProb(symbols) {
      if (symbols.length !== count) throw new RangeError(`expected ${count} symbols (${lanes} lanes × ${perLane}), got ${symbols.length}`);
      const res = new Float64Array(lanes);
      const invM = 1 / POW(P);
      for (let l = 0; l < lanes; l++) {
        const sum = new LogProbSum();
        for (let d = 0; d < perLane; d++) {
          const i = l * perLane + d;
          const s = symbols[i]!;
          sum.add((model.cdf(i, s + 1) - model.cdf(i, s)) * invM);
        }
        res[l] = sum.value();
      }
      return res;
    },
    push(m, symbols) {
      if (symbols.length !== count) throw new RangeError(`expected ${count} symbols (${lanes} lanes × ${perLane}), got ${symbols.length}`);
      for (let i = 0; i < count; i++) {
        const s = symbols[i]!;
        if (!Number.isInteger(s) || s < 0 || s >= model.alphabet) throw new RangeError(`symbol ${s} at index ${i} is outside 0..${model.alphabet - 1}`);
      }
      const st = openState(ransMessage(m));
      for (let d = 0; d < perLane; d++) {
        for (let l = 0; l < lanes; l++) {
          const i = l * perLane + d;
          const s = symbols[i]!;
          const start = model.cdf(i, s);
          pushState(st, laneOffset + l, start, model.cdf(i, s + 1) - start, P);
        }
      }
      return closeState(st);
    },
    pop(m) {
      const res: SymbolArray = out === 'u8' ? new Uint8Array(count) : new Int32Array(count);
      const st = openState(ransMessage(m));
      for (let d = perLane - 1; d >= 0; d--) {
        for (let l = lanes - 1; l >= 0; l--) {
          const i = l * perLane + d;
          const slot = peek(st, laneOffset + l, P);
          const s = find(i, slot);
          const start = model.cdf(i, s);
          popCommitState(st, laneOffset + l, start, model.cdf(i, s + 1) - start, P);
          res[i] = s;
        }
      }
      return [closeState(st), res];
    },
  };
}

/** Wraps a one-element batched codec as a scalar codec. */
function scalar(codec: Codec<ArrayLike<number>>): Codec<number> {
  const one = [0];
  return {
    push(m, s) {
      one[0] = s;
      return codec.push(m, one);
    },
    pop(m) {
      const [m2, a] = codec.pop(m);
      return [m2, a[0]!];
    },
  };
}

function checkPrec(name: string, precision: number, min = 1, max = 32): void {
  if (!Number.isInteger(precision) || precision < min || precision > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${precision}`);
  }
}

const POW = (k: number): number => 2 ** k;

// ---------------------------------------------------------------------------------------------------------------
// Uniform, Bernoulli, Categorical

/** Uniform over 0..2^bits − 1 on one lane. */
export function uniform(bits: number, lane = 0): Codec<number> {
  return scalar(uniformBatch(bits, 1, 1, lane));
}

/** Uniform over 0..2^bits − 1 for `lanes × perLane` elements (e.g. a latent prior over equiprobable buckets). */
export function uniformBatch(bits: number, lanes: number, perLane: number, laneOffset = 0): Codec<ArrayLike<number>> {
  checkPrec('uniform bits', bits);
  return elementCodec(
    { precision: bits, alphabet: POW(bits), cdf: (_i, s) => s, find: (_i, slot) => slot },
    lanes,
    perLane,
    'i32',
    laneOffset,
  );
}

/** Frequency of symbol 1 for P(1) = prob at `precision` bits: round(prob · 2^p) clamped to [1, 2^p − 1]. */
export function bernoulliFrequency(prob: number, precision: number): number {
  const M = POW(precision);
  const f = Math.round((Number.isFinite(prob) ? prob : 0.5) * M);
  return f < 1 ? 1 : f > M - 1 ? M - 1 : f;
}

/** Bernoulli with P(1) = prob on one lane; both outcomes get frequency ≥ 1. */
export function bernoulli(prob: number, precision = 16, lane = 0): Codec<number> {
  return scalar(bernoulliBatch(Float32Array.of(prob), 1, 1, precision, lane));
}

/**
 * Independent Bernoullis for `lanes × perLane` binary pixels, P(pixel i = 1) = probs[i]; symbols are 0/1
 * (popped as a Uint8Array).
 */
export function bernoulliBatch(
  probs: ArrayLike<number>,
  lanes: number,
  perLane: number,
  precision = 16,
  laneOffset = 0,
): ScoredCodec<ArrayLike<number>> {
  checkPrec('bernoulli precision', precision, 1, 31);
  if (probs.length !== lanes * perLane) throw new RangeError(`expected ${lanes * perLane} probabilities, got ${probs.length}`);
  const M = POW(precision);
  // Quantise once per codec: symbol 0 takes [0, M − f1), symbol 1 takes [M − f1, M).
  const split = new Float64Array(probs.length);
  // bernoulliFrequency inlined (a call per pixel with 2 ** precision inside it cost more than the coding).
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    const f = Math.round((Number.isFinite(p) ? p : 0.5) * M);
    split[i] = M - (f < 1 ? 1 : f > M - 1 ? M - 1 : f);
  }
  const count = lanes * perLane;
  // The element codec's layout and arithmetic, in flat loops (rans.ts): the same bits, several times faster.
  return {
    logProb(symbols) {
      if (symbols.length !== count) throw new RangeError(`expected ${count} symbols (${lanes} lanes × ${perLane}), got ${symbols.length}`);
      const res = new Float64Array(lanes);
      const invM = 1 / M;
      for (let l = 0; l < lanes; l++) {
        const sum = new LogProbSum();
        for (let i = l * perLane; i < (l + 1) * perLane; i++) sum.add((symbols[i] === 1 ? M - split[i]! : split[i]!) * invM);
        res[l] = sum.value();
      }
      return res;
    },
    push(m, symbols) {
      if (symbols.length !== count) throw new RangeError(`expected ${count} symbols (${lanes} lanes × ${perLane}), got ${symbols.length}`);
      const st = openState(ransMessage(m));
      pushBinaryLanes(st, symbols, split, lanes, perLane, precision, laneOffset);
      return closeState(st);
    },
    pop(m) {
      const out = new Uint8Array(count);
      const st = openState(ransMessage(m));
      popBinaryLanes(st, out, split, lanes, perLane, precision, laneOffset);
      return [closeState(st), out];
    },
  };
}

/** Categorical from a frequency table (or integer frequencies summing to 2^precision) on one lane. */
export function categorical(table: FrequencyTable, lane?: number): Codec<number>;
export function categorical(freqs: ArrayLike<number>, precision: number, lane?: number): Codec<number>;
export function categorical(a: FrequencyTable | ArrayLike<number>, b?: number, c?: number): Codec<number> {
  const isTable = (a as FrequencyTable).slotToSymbol !== undefined && (a as FrequencyTable).reciprocals !== undefined;
  const table = isTable ? (a as FrequencyTable) : frequencyTable(a as ArrayLike<number>, b ?? NaN);
  const lane = (isTable ? b : c) ?? 0;
  const P = table.precision;
  return {
    push(m, s) {
      const f = table.freqs[s];
      if (f === undefined || f === 0 || !Number.isInteger(s)) {
        throw new RangeError(`symbol ${s} cannot be coded: the table gives it no frequency`);
      }
      return push(ransMessage(m), lane, table.starts[s]!, f, P);
    },
    pop(m) {
      const r = ransMessage(m);
      const s = lookupSymbol(table, peek(r, lane, P));
      return [popCommit(r, lane, table.starts[s]!, table.freqs[s]!, P), s];
    },
  };
}

/**
 * Quantises probabilities (non-negative weights) to frequencies summing to 2^precision with every frequency ≥ 1
 * (largest-remainder rounding of the rest). Deterministic, so encoder and decoder build the same table.
 */
export function quantizeFrequencies(weights: ArrayLike<number>, precision: number): Float64Array {
  checkPrec('precision', precision);
  const n = weights.length;
  const M = POW(precision);
  if (n < 1 || n > M) throw new RangeError(`need between 1 and 2^${precision} symbols, got ${n}`);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weight ${i} must be finite and non-negative, got ${w}`);
    total += w;
  }
  const spare = M - n;
  const freqs = new Float64Array(n);
  const rema: number[] = [];
  let used = 0;
  for (let i = 0; i < n; i++) {
    const exact = total > 0 ? (weights[i]! / total) * spare : spare / n;
    const fl = Math.floor(exact);
    freqs[i] = 1 + fl;
    used += fl;
    rema.push(exact - fl);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => rema[y]! - rema[x]! || x - y);
  for (let k = 0; used < spare; k = (k + 1) % n) {
    freqs[order[k]!]! += 1;
    used++;
  }
  return freqs;
}

// ---------------------------------------------------------------------------------------------------------------
// Gaussian latents over buckets equiprobable under N(0, 1)

/** The buckets of {@link stdNormalBuckets}: their edges and the values they decode to. */
export interface BucketTables {
  /** edges[i] = Φ⁻¹(i / 2^B), i = 0..2^B (−∞ and +∞ at the ends). */
  edges: Float64Array;
  /** centres[i] = Φ⁻¹((i + ½) / 2^B): the value a bucket decodes to. */
  centres: Float32Array;
}

const bucketCache = new Map<number, BucketTables>();

/** Edges and centres of the 2^bits buckets that are equiprobable under a standard normal (cached per `bits`). */
export function stdNormalBuckets(bits: number): BucketTables {
  checkPrec('bucket bits', bits, 1, 20);
  let t = bucketCache.get(bits);
  if (t === undefined) {
    const K = POW(bits);
    const edges = new Float64Array(K + 1);
    const centres = new Float32Array(K);
    for (let i = 0; i <= K; i++) edges[i] = exactNormalPpf(i / K);
    for (let i = 0; i < K; i++) centres[i] = exactNormalPpf((i + 0.5) / K);
    t = { edges, centres };
    bucketCache.set(bits, t);
  }
  return t;
}

/** Bucket centres for bucket indices (the latent values a model sees). */
export function bucketCentres(buckets: ArrayLike<number>, bits: number): Float32Array {
  const { centres } = stdNormalBuckets(bits);
  const out = new Float32Array(buckets.length);
  for (let i = 0; i < buckets.length; i++) out[i] = centres[buckets[i]!]!;
  return out;
}

/** The standard-normal prior over buckets: uniform over 2^bits buckets, for `lanes × perLane` latents. */
export function stdNormalPrior(bits: number, lanes = 1, perLane = 1, laneOffset = 0): Codec<ArrayLike<number>> {
  return uniformBatch(bits, lanes, perLane, laneOffset);
}

function cleanStd(s: number): number {
  if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`posterior std must be positive and finite, got ${s}`);
  return s < 1e-9 ? 1e-9 : s;
}

/**
 * Diagonal Gaussian N(mean[i], std[i]²) over the prior's buckets, for `lanes × perLane` latents, quantised at
 * `precision` bits: cdf(b) = ⌊Φ((edge_b − μ)/σ) · (2^P − 2^(B+1))⌋ + 2b. The +2b term keeps every bucket's
 * frequency ≥ 1 even if Φ's last-bit rounding is not perfectly monotone. Popping binary-searches buckets.
 */
export function diagGaussianBuckets(
  mean: ArrayLike<number>,
  std: ArrayLike<number>,
  lanes: number,
  perLane: number,
  bucketBits: number,
  precision: number,
  laneOffset = 0,
): Codec<ArrayLike<number>> {
  const count = lanes * perLane;
  if (mean.length !== count || std.length !== count) {
    throw new RangeError(`expected ${count} means and stds (${lanes} lanes × ${perLane}), got ${mean.length} and ${std.length}`);
  }
  return elementCodec(diagGaussianBucketModel(mean, std, bucketBits, precision), lanes, perLane, 'i32', laneOffset);
}

/** The quantised distribution {@link diagGaussianBuckets} codes with, element i = N(mean[i], std[i]²) over the prior's
 * buckets: its cdf and the bucket holding a slot (what importance-sampled bits-back draws particles with). */
export function diagGaussianBucketModel(
  mean: ArrayLike<number>,
  std: ArrayLike<number>,
  bucketBits: number,
  precision: number,
): ElementModel & { find(i: number, slot: number): number; interval(i: number, slot: number, out: Float64Array): number } {
  if (mean.length !== std.length) throw new RangeError(`expected as many means as stds, got ${mean.length} and ${std.length}`);
  checkPrec('posterior precision', precision, bucketBits + 2, 32);
  const { edges } = stdNormalBuckets(bucketBits);
  const K = POW(bucketBits);
  const M = POW(precision);
  const scale = M - 2 * K;
  const mu = Float64Array.from(mean);
  const sd = Float64Array.from(std, cleanStd);
  for (let i = 0; i < mu.length; i++) if (!Number.isFinite(mu[i]!)) throw new RangeError(`posterior mean ${i} is not finite`);
  // Only where the search starts: the search is exact whatever the guess, so the guess may use the engine's Math.
  const guess = (i: number, slot: number): number => approxNormalCdf(mu[i]! + sd[i]! * approxNormalPpf(slot / M)) * K;
  const model: ElementModel & { find(i: number, slot: number): number; interval(i: number, slot: number, out: Float64Array): number } = {
    precision,
    alphabet: K,
    cdf(i, b) {
      if (b <= 0) return 0;
      if (b >= K) return M;
      return Math.floor(exactNormalCdf((edges[b]! - mu[i]!) / sd[i]!) * scale) + 2 * b;
    },
    // Popping: guess the bucket of the posterior quantile at slot / 2^P (the bucket of z under the prior is
    // ⌊Φ(z) · 2^B⌋), then search from there — same answer as the plain binary search, ~3× fewer cdf evaluations.
    find(i, slot) {
      return searchCdfFrom(model, i, slot, guess(i, slot));
    },
    // The bucket holding `slot` and its interval (out[0] = start, out[1] = frequency): when the guess is right (the
    // usual case) the two cdf values that confirm it are the interval, so no cdf is evaluated twice.
    interval(i, slot, out) {
      const g0 = guess(i, slot);
      const g = g0 >= 1 ? (g0 <= K - 1 ? Math.floor(g0) : K - 1) : 0;
      const lo = model.cdf(i, g);
      if (lo <= slot) {
        const hi = model.cdf(i, g + 1);
        if (slot < hi) {
          out[0] = lo;
          out[1] = hi - lo;
          return g;
        }
      }
      const b = searchCdfFrom(model, i, slot, g);
      out[0] = model.cdf(i, b);
      out[1] = model.cdf(i, b + 1) - out[0]!;
      return b;
    },
  };
  return model;
}

/** Φ(x) to ~1e-7 (Abramowitz & Stegun 7.1.26 on erfc), for search starting points only (not deterministic across
 * engines: it uses Math.exp). */
function approxNormalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-z * z);
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

/** Φ⁻¹(p) to ~1e-9 relative (Acklam's rational approximation), for search starting points only (uses Math.log). */
const PPF_A = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239] as const;
const PPF_B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572] as const;
const PPF_C = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] as const;
const PPF_D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416] as const;

function approxNormalPpf(p: number): number {
  if (!(p > 0)) return -40;
  if (!(p < 1)) return 40;
  const a = PPF_A;
  const b = PPF_B;
  const c = PPF_C;
  const d = PPF_D;
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - 0.02425) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** A single diagonal-Gaussian latent over prior buckets on one lane. */
export function diagGaussianBucket(mean: number, std: number, bucketBits: number, precision: number, lane = 0): Codec<number> {
  return scalar(diagGaussianBuckets([mean], [std], 1, 1, bucketBits, precision, lane));
}

// ---------------------------------------------------------------------------------------------------------------
// Discretised logistic (mixture) for 8-bit pixels

/**
 * Parameters of discretised logistics over 8-bit pixels in PixelCNN++'s convention: pixel k ∈ 0..255 sits at
 * 2k/255 − 1 ∈ [−1, 1] with bins of width 2/255, the first and last bins open-ended. `mean` and `logScale`
 * (natural log of the logistic scale) are per pixel; for a mixture of C components all three arrays hold C
 * entries per pixel (pixel-major) and `logits` the unnormalised mixture weights.
 */
export interface LogisticParams {
  mean: ArrayLike<number>;
  logScale: ArrayLike<number>;
  /** Log-scales are clamped below at this value (the model's own clamp, e.g. −7; it bounds 1/s). */
  minLogScale: number;
  /** Mixture logits, C per pixel; omit for a single logistic. */
  logits?: ArrayLike<number>;
  /** Components per pixel (default 1). */
  components?: number;
}

/**
 * Discretised logistic (mixture) codec for `lanes × perLane` 8-bit pixels at `precision` bits:
 * cdf(k) = ⌊F(boundary_k) · (2^P − 512)⌋ + 2k, so every value keeps frequency ≥ 1. Popping binary-searches the
 * 256 values (8 CDF evaluations).
 */
export function discretizedLogisticBatch(
  params: LogisticParams,
  lanes: number,
  perLane: number,
  precision = 20,
  laneOffset = 0,
): ScoredCodec<ArrayLike<number>> {
  checkPrec('logistic precision', precision, 10, 32);
  const C = params.components ?? 1;
  const count = lanes * perLane;
  if (!Number.isInteger(C) || C < 1) throw new RangeError(`components must be a positive integer, got ${C}`);
  if (params.mean.length !== count * C || params.logScale.length !== count * C) {
    throw new RangeError(`expected ${count * C} means and log-scales (${count} pixels × ${C} components), got ${params.mean.length} and ${params.logScale.length}`);
  }
  if (C > 1 && (params.logits === undefined || params.logits.length !== count * C)) {
    throw new RangeError(`a ${C}-component mixture needs ${count * C} logits`);
  }
  const mu = Float64Array.from(params.mean);
  const invS = Float64Array.from(params.logScale, (v) => {
    if (!Number.isFinite(v)) throw new RangeError(`log-scale ${v} is not finite`);
    return exactExp(-Math.max(v, params.minLogScale));
  });
  for (let j = 0; j < mu.length; j++) if (!Number.isFinite(mu[j]!)) throw new RangeError(`logistic mean ${j} is not finite`);
  // Mixture weights: softmax of logits per pixel.
  const w = new Float64Array(count * C);
  if (C === 1) w.fill(1);
  else {
    const lg = params.logits!;
    for (let i = 0; i < count; i++) {
      let mx = -Infinity;
      for (let c = 0; c < C; c++) mx = Math.max(mx, lg[i * C + c]!);
      if (!Number.isFinite(mx)) throw new RangeError(`mixture logits of pixel ${i} are not finite`);
      let z = 0;
      for (let c = 0; c < C; c++) z += w[i * C + c] = exactExp(lg[i * C + c]! - mx);
      for (let c = 0; c < C; c++) w[i * C + c]! /= z;
    }
  }
  const M = POW(precision);
  const scale = M - 512;
  const cdf = (i: number, k: number): number => {
    if (k <= 0) return 0;
    if (k >= 256) return M;
    const b = (2 * k - 1) / 255 - 1; // boundary between pixel k − 1 and k
    let F = 0;
    for (let c = 0, j = i * C; c < C; c++, j++) F += w[j]! * exactSigmoid((b - mu[j]!) * invS[j]!);
    return Math.floor(Math.min(F, 1) * scale) + 2 * k;
  };
  // One component: invert the continuous CDF to guess the pixel, then walk to the exact bucket (usually 2–3 CDF
  // evaluations instead of a 9-step binary search). The walk makes the answer exact whatever the guess.
  const find =
    C === 1
      ? (i: number, slot: number): number => {
          const u = Math.min(Math.max(slot / M, 1e-12), 1 - 1e-12);
          const v = mu[i]! + exactLog(u / (1 - u)) / invS[i]!;
          let k = Math.round(((v + 1) * 255) / 2);
          k = k < 0 ? 0 : k > 255 ? 255 : k;
          while (k > 0 && cdf(i, k) > slot) k--;
          while (k < 255 && cdf(i, k + 1) <= slot) k++;
          return k;
        }
      : undefined;
  return elementCodec(
    {
      precision,
      alphabet: 256,
      cdf,
      ...(find !== undefined ? { find } : {}),
    },
    lanes,
    perLane,
    'u8',
    laneOffset,
  );
}

/** A single discretised logistic over 0..255 on one lane (log-scale clamped below at `minLogScale`, the model's). */
export function discretizedLogistic(mean: number, logScale: number, minLogScale: number, precision = 20, lane = 0): Codec<number> {
  return scalar(discretizedLogisticBatch({ mean: [mean], logScale: [logScale], minLogScale }, 1, 1, precision, lane));
}
