/**
 * Bits-back coding with ANS (BB-ANS, Townsend et al. 2019) as a codec combinator, in craystack's shape:
 * `bbAns({ prior, likelihood, posterior })` is a `Codec` of the data built from a codec of the latent under the
 * prior, a codec of the data given a latent, and a codec of the latent given the data. Any observation codec plugs
 * in (Bernoulli, discretized logistic and its mixture, categorical, a user's own).
 *
 * Below it, the chunk procedure that codes many images with a Gaussian-latent model: one image per lane per step so
 * the networks run on whole batches, lanes opened as the stack can pay for them, and the clean bits the first image
 * draws checked on the way back.
 */
import type { Codec as CoreCodec, Message as CoreMessage } from '@gm/core';
import { bucketCentres, diagGaussianBuckets, stdNormalPrior, type Codec } from './codecs';
import { latentBbCis, MAX_PARTICLES } from './bbis';
import type { LatentCoder } from './coding/latent';
import { cleanUnit, closeLane, CorruptMessageError, createMessage, flatten, messageBits, openLane, stackUnits, unflatten, type Message } from './rans';

/** The three codecs of bits-back coding. `likelihood` and `posterior` build a codec from what they condition on. */
export interface BitsBackParts<X, Z, M extends CoreMessage = CoreMessage> {
  /** p(z). */
  prior: CoreCodec<Z, M>;
  /** p(x | z). */
  likelihood: (latent: Z) => CoreCodec<X, M>;
  /** q(z | x). */
  posterior: (data: X) => CoreCodec<Z, M>;
}

/**
 * The bits-back codec of x: push pops z from q(z|x) (taking bits back), pushes x under p(x|z), pushes z under p(z);
 * pop undoes the three in reverse. Net cost ≈ −log p(x|z) − log p(z) + log q(z|x), the negative ELBO.
 */
export function bbAns<X, Z, M extends CoreMessage>(parts: BitsBackParts<X, Z, M>): CoreCodec<X, M> {
  const { prior, likelihood, posterior } = parts;
  return {
    push(message, data) {
      const [m1, latent] = posterior(data).pop(message);
      const m2 = likelihood(latent).push(m1, data);
      return prior.push(m2, latent);
    },
    pop(message) {
      const [m1, latent] = prior.pop(message);
      const [m2, data] = likelihood(latent).pop(m1);
      return [posterior(data).push(m2, latent), data];
    },
  };
}

/** Settings of bits-back coding; the .gmz header stores them so a decoder uses the same ones. */
export interface BitsBackSettings {
  /** Each latent is discretised into 2^bucketBits buckets equiprobable under N(0, 1) (default 12). */
  bucketBits: number;
  /** Precision in bits of the posterior codec (default 28; at least bucketBits + 2, at most 32). */
  posteriorPrecision: number;
  /** Precision in bits of the pixel codec (default 24; at least 10 for 8-bit pixels). */
  likelihoodPrecision: number;
  /**
   * Lanes per chunk: the network batch once warmed up (default 32; 16 with particles, whose networks already run on
   * lanes × k rows — half the lanes halves the heads a chunk stores, 64 bytes, for the same speed).
   */
  lanes: number;
  /**
   * Largest warm-up growth factor per step (default 2). Step t codes b_t images on lanes 0..b_t−1, starting from
   * b_1 = 1. Lanes open as they are first used, paid for by bits earlier images pushed onto the stack: the encoder
   * grows b only as far as the stack can pay for the new lanes' heads (32 bits each) and posterior pops (measured
   * on the previous step), at most by this factor. So only the first image of a chunk draws clean bits. The step
   * sizes until b reaches `lanes` are stored with the chunk.
   */
  growth: number;
  /** Seed of the clean bits (default 0). */
  seed: number;
  /**
   * Importance-sampling particles k (default 1: BB-ANS, coding at the negative ELBO). With k > 1 each image is coded
   * with coupled importance-sampled bits-back (BB-CIS, ./bbis.ts) at the negative k-particle bound, once the message
   * holds the bits its particles pop; the first images of a chunk use BB-ANS until then.
   */
  particles: number;
}

/** Default settings. */
export const DEFAULT_SETTINGS: BitsBackSettings = {
  bucketBits: 12,
  posteriorPrecision: 28,
  likelihoodPrecision: 24,
  lanes: 32,
  growth: 2,
  seed: 0,
  particles: 1,
};

/** Default lanes of importance-sampled coding (particles > 1). */
export const DEFAULT_LANES_WITH_PARTICLES = 16;

/** Checks settings and fills defaults; throws a RangeError naming the bad field. */
export function resolveSettings(s: Partial<BitsBackSettings>, pixels: 'binary' | 'u8'): BitsBackSettings {
  const r: BitsBackSettings = { ...DEFAULT_SETTINGS };
  for (const key of Object.keys(DEFAULT_SETTINGS) as Array<keyof BitsBackSettings>) if (s[key] !== undefined) r[key] = s[key];
  if (s.lanes === undefined && r.particles > 1) r.lanes = DEFAULT_LANES_WITH_PARTICLES;
  const int = (name: keyof BitsBackSettings, lo: number, hi: number): void => {
    const v = r[name];
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name} must be an integer in [${lo}, ${hi}], got ${v}`);
  };
  int('bucketBits', 1, 20);
  int('posteriorPrecision', r.bucketBits + 2, 32);
  int('likelihoodPrecision', pixels === 'binary' ? 1 : 10, pixels === 'binary' ? 31 : 32);
  int('lanes', 1, 1 << 16);
  int('seed', -(2 ** 31), 2 ** 32 - 1);
  int('particles', 1, MAX_PARTICLES);
  if (r.particles > 1 && r.posteriorPrecision > 30) throw new RangeError(`particles > 1 needs posteriorPrecision ≤ 30, got ${r.posteriorPrecision}`);
  if (!(r.growth >= 1 && r.growth <= 1024) || Math.round(r.growth * 1000) / 1000 !== r.growth) {
    throw new RangeError(`growth must be in [1, 1024] with at most 3 decimals, got ${r.growth}`);
  }
  return r;
}

/**
 * The BB-ANS codec of `batch` images (`batch × D` pixels, image b on lane b) under a Gaussian-latent model: prior
 * N(0, I) over equiprobable buckets, the model's observation codec, its diagonal-Gaussian posterior over the same
 * buckets. `known` optionally gives the posterior codec of images already at hand (the encoder computes it once).
 */
export function latentBbAns(
  coder: LatentCoder,
  batch: number,
  settings: BitsBackSettings,
  known?: { images: ArrayLike<number>; posterior: Codec<ArrayLike<number>> },
): Codec<ArrayLike<number>> {
  const L = coder.latentDim;
  return bbAns<ArrayLike<number>, ArrayLike<number>, Message>({
    prior: stdNormalPrior(settings.bucketBits, batch, L),
    likelihood: (z) => coder.observation(bucketCentres(z, settings.bucketBits), batch),
    posterior: (x) => (known !== undefined && x === known.images ? known.posterior : latentPosterior(coder, x, batch, settings)),
  });
}

/** q(z|x) of `batch` images as a codec over the prior's buckets. */
export function latentPosterior(coder: LatentCoder, images: ArrayLike<number>, batch: number, settings: BitsBackSettings): Codec<ArrayLike<number>> {
  const q = coder.posterior(images, batch);
  return diagGaussianBuckets(q.mean, q.std, batch, coder.latentDim, settings.bucketBits, settings.posteriorPrecision);
}

/** One coding step of a chunk: `images` images on lanes 0..images−1, each with `particles` particles (1: BB-ANS). */
export interface ChunkStep {
  images: number;
  particles: number;
}

/**
 * The full step list of a chunk from its stored warm-up prefix: after the prefix every step codes
 * min(lanes, images left) images with the file's particles. Throws {@link CorruptMessageError} on an impossible prefix.
 */
export function expandSchedule(warmup: readonly ChunkStep[], count: number, settings: Pick<BitsBackSettings, 'lanes' | 'particles'>): ChunkStep[] {
  const { lanes, particles } = settings;
  const steps: ChunkStep[] = [];
  let left = count;
  for (const step of warmup) {
    const b = step.images;
    if (!Number.isInteger(b) || b < 1 || b > lanes || b > left) throw new CorruptMessageError(`step of ${b} images is impossible here`);
    if (step.particles !== 1 && step.particles !== particles) throw new CorruptMessageError(`step with ${step.particles} particles in a file of ${particles}`);
    steps.push(step);
    left -= b;
  }
  while (left > 0) {
    const b = Math.min(lanes, left);
    steps.push({ images: b, particles });
    left -= b;
  }
  return steps;
}

/** One chunk of images coded with bits-back. */
export interface LatentChunk {
  /** The flattened message. */
  message: Uint8Array;
  /** Clean units (16 bits each) drawn while encoding; the decoder regenerates and checks them. */
  cleanUnits: number;
  /** The steps before the first full one (all lanes, the file's particles); see {@link expandSchedule}. */
  warmup: ChunkStep[];
}

/** The codec of one step's images. */
function stepCodec(coder: LatentCoder, step: ChunkStep, settings: BitsBackSettings, known?: { images: ArrayLike<number>; posterior: Codec<ArrayLike<number>> }): Codec<ArrayLike<number>> {
  return step.particles === 1 ? latentBbAns(coder, step.images, settings, known) : (latentBbCis(coder, step.images, settings, step.particles) as Codec<ArrayLike<number>>);
}

/** Thrown when decoding finds the data inconsistent with the model (wrong model or corrupt data). */
export class DecodeMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeMismatchError';
  }
}

/**
 * BB-ANS-encodes `count` images (`count × D` pixels) into one independent message, `settings.lanes` images per
 * step once warmed up.
 */
export function encodeLatentChunk(coder: LatentCoder, images: Uint8Array, count: number, settings: BitsBackSettings): LatentChunk {
  const D = coder.pixelsPerImage;
  if (images.length !== count * D) throw new RangeError(`expected ${count} × ${D} = ${count * D} pixels, got ${images.length}`);
  let m: Message = createMessage(settings.lanes, { closed: true, seed: settings.seed, onEmpty: 'clean', capacity: count * 16 + 64 });
  const K = settings.particles;
  // What a BB-CIS step pops per image before it pushes anything: a slot per latent and the particle index.
  const cisPopBits = settings.posteriorPrecision * coder.latentDim + 32;
  const warmup: ChunkStep[] = [];
  let open = 0;
  let off = 0;
  let b = 1;
  let warm = true;
  while (off < count) {
    const take = Math.min(b, count - off);
    while (open < take) m = openLane(m, open++);
    const pixels = images.subarray(off * D, (off + take) * D);
    // Particles once the stack holds what they pop (so only the first image of a chunk draws clean bits).
    const particles = K > 1 && (!warm || 16 * m.size >= take * cisPopBits) ? K : 1;
    const step = { images: take, particles };
    if (warm) warmup.push(step);
    // With particles, lanes grow only as fast as the stack can pay for particle steps on all of them (else the
    // first hundreds of images would be coded at the ELBO on many lanes while the stack fills).
    let popBits = cisPopBits;
    let known: { images: ArrayLike<number>; posterior: Codec<ArrayLike<number>> } | undefined;
    if (particles === 1) {
      // Messages are values: pop the posterior on the side to learn what this step takes back.
      const posterior = latentPosterior(coder, pixels, take, settings);
      known = { images: pixels, posterior };
      if (b < settings.lanes && K === 1) {
        const [after] = posterior.pop(m);
        popBits = (messageBits(m) - 16 * m.cleanUnits - (messageBits(after) - 16 * after.cleanUnits)) / take;
      }
    }
    m = stepCodec(coder, step, settings, known).push(m, pixels);
    off += take;
    if (b < settings.lanes) {
      // Next step with b' lanes pops about b'·popBits and opens b' − b heads of 32 bits: grow while the stack pays.
      const afford = Math.floor((16 * m.size + 32 * b) / (Math.max(popBits, 0) + 32));
      b = Math.min(settings.lanes, Math.max(b, Math.min(afford, Math.ceil(b * settings.growth))));
    }
    if (warm && b === settings.lanes && particles === K) warm = false;
  }
  // The prefix ends at the last step that is not a full one (stored steps must be exactly what the expansion can't
  // infer).
  while (warmup.length > 0 && warmup[warmup.length - 1]!.images === settings.lanes && warmup[warmup.length - 1]!.particles === K) warmup.pop();
  return { message: flatten(m), cleanUnits: m.cleanUnits, warmup };
}

/**
 * Decodes a chunk from {@link encodeLatentChunk}: the exact images, or a {@link DecodeMismatchError} /
 * {@link CorruptMessageError} — never garbage: the clean bits the encoder drew must come back exactly and every
 * lane must close.
 */
export function decodeLatentChunk(coder: LatentCoder, chunk: LatentChunk, count: number, settings: BitsBackSettings): Uint8Array {
  const D = coder.pixelsPerImage;
  let m: Message = unflatten(chunk.message, { seed: settings.seed, onEmpty: 'throw' });
  if (m.lanes !== settings.lanes) throw new CorruptMessageError(`message has ${m.lanes} lanes, settings say ${settings.lanes}`);
  const steps = expandSchedule(chunk.warmup, count, settings);
  // Lanes opened by each step, to close them again when that step is undone.
  const openedBefore: number[] = [];
  let open = 0;
  for (const { images: b } of steps) {
    openedBefore.push(open);
    open = Math.max(open, b);
  }
  for (let l = 0; l < settings.lanes; l++) {
    if ((m.heads[l] !== 0) !== l < open) throw new CorruptMessageError(`lane ${l} is ${m.heads[l] !== 0 ? 'open' : 'closed'}, the schedule says otherwise`);
  }
  const out = new Uint8Array(count * D);
  let end = count;
  for (let t = steps.length - 1; t >= 0; t--) {
    const step = steps[t]!;
    const b = step.images;
    const off = end - b;
    const [next, pixels] = stepCodec(coder, step, settings).pop(m);
    m = next;
    out.set(pixels, off * D);
    for (let l = Math.max(b, openedBefore[t]!) - 1; l >= openedBefore[t]!; l--) m = closeLane(m, l);
    end = off;
  }
  if (m.size !== chunk.cleanUnits) {
    throw new DecodeMismatchError(`decoding ended with ${m.size} units left, expected the ${chunk.cleanUnits} clean units: wrong model or corrupt data`);
  }
  const stack = stackUnits(m);
  for (let i = 0; i < chunk.cleanUnits; i++) {
    if (stack[i] !== cleanUnit(settings.seed, chunk.cleanUnits - 1 - i)) {
      throw new DecodeMismatchError('the clean bits did not come back: wrong model or corrupt data');
    }
  }
  return out;
}
