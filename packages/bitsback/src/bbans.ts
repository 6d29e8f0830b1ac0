/**
 * Bits-back coding with ANS (BB-ANS, Townsend et al. 2019) over any latent-variable model that offers the small
 * structural interface {@link BitsBackModel}. Images are coded in steps, one image per lane per step, so the model
 * runs on whole batches.
 */
import {
  cleanUnit,
  closeLane,
  CorruptMessageError,
  createMessage,
  flatten,
  messageBits,
  openLane,
  unflatten,
  type Message,
} from './rans';
import { bernoulliBatch, bucketCentres, diagGaussianBuckets, discretizedLogisticBatch, stdNormalPrior, type Codec, type LogisticParams } from './codecs';

/** A value or a promise of it (tfjs models read tensors back asynchronously). */
export type MaybePromise<T> = T | Promise<T>;

/** p(x | z) for a batch, as the model's parameters. Arrays are batch-major: image b's pixel d at b · D + d. */
export type Likelihood =
  /** Binary pixels: P(pixel = 1). */
  | { kind: 'bernoulli'; probs: ArrayLike<number> }
  /** 8-bit pixels: discretised logistic (mixture), see {@link LogisticParams}. */
  | ({ kind: 'logistic' } & LogisticParams);

/**
 * What BB-ANS needs from a model — met by a VAE by shape. `posterior` gets `batch` images as float pixel values
 * (0/1 for binary images, 0..255 for 8-bit) and returns the diagonal Gaussian q(z|x) (each `batch × latentDim`).
 * `likelihood` gets `batch × latentDim` latent values and returns p(x|z). The prior is N(0, I).
 * Both must be deterministic: decoding recomputes them and must get the same numbers.
 */
export interface BitsBackModel {
  readonly latentDim: number;
  posterior(x: Float32Array, batch: number): MaybePromise<{ mean: ArrayLike<number>; std: ArrayLike<number> }>;
  likelihood(z: Float32Array, batch: number): MaybePromise<Likelihood>;
}

/** Coding settings; they are stored in the .gmz header so a decoder uses the same ones. */
export interface BBANSSettings {
  /** Pixel kind: `'binary'` (0/1, Bernoulli likelihood) or `'u8'` (0..255, discretised logistic). */
  pixels: 'binary' | 'u8';
  /** Pixels per image (D). */
  pixelsPerImage: number;
  /** Each latent is discretised into 2^bucketBits buckets equiprobable under N(0, 1) (default 12). */
  bucketBits: number;
  /** Precision in bits of the posterior codec (default 28; at least bucketBits + 2, at most 32). */
  posteriorPrecision: number;
  /** Precision in bits of the pixel codec (default 24). */
  likelihoodPrecision: number;
  /** Lanes per chunk: the model batch size once warmed up (default 32). */
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
}

/** Default settings (pixel kind and size are per dataset). */
export const DEFAULT_SETTINGS: Omit<BBANSSettings, 'pixels' | 'pixelsPerImage'> = {
  bucketBits: 12,
  posteriorPrecision: 28,
  likelihoodPrecision: 24,
  lanes: 32,
  growth: 2,
  seed: 0,
};

/** Checks settings and fills defaults; throws a RangeError naming the bad field. */
export function resolveSettings(s: Partial<BBANSSettings> & Pick<BBANSSettings, 'pixels' | 'pixelsPerImage'>): BBANSSettings {
  const r: BBANSSettings = { ...DEFAULT_SETTINGS, ...s } as BBANSSettings;
  const int = (name: keyof BBANSSettings, lo: number, hi: number): void => {
    const v = r[name] as number;
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name} must be an integer in [${lo}, ${hi}], got ${v}`);
  };
  if (r.pixels !== 'binary' && r.pixels !== 'u8') throw new RangeError(`pixels must be 'binary' or 'u8', got ${String(r.pixels)}`);
  int('pixelsPerImage', 1, 1 << 24);
  int('bucketBits', 1, 20);
  int('posteriorPrecision', r.bucketBits + 2, 32);
  int('likelihoodPrecision', r.pixels === 'binary' ? 1 : 10, r.pixels === 'binary' ? 31 : 32);
  int('lanes', 1, 1 << 16);
  int('seed', -(2 ** 31), 2 ** 32 - 1);
  if (!(r.growth >= 1 && r.growth <= 1024)) throw new RangeError(`growth must be in [1, 1024], got ${r.growth}`);
  return r;
}

/**
 * The full step list of a chunk from its stored warm-up prefix: after the prefix every step codes
 * min(lanes, images left) images. Throws {@link CorruptMessageError} on an impossible prefix.
 */
export function expandSchedule(warmup: readonly number[], count: number, lanes: number): number[] {
  const steps: number[] = [];
  let left = count;
  for (const b of warmup) {
    if (!Number.isInteger(b) || b < 1 || b > lanes || b > left) throw new CorruptMessageError(`step of ${b} images is impossible here`);
    steps.push(b);
    left -= b;
  }
  while (left > 0) {
    const b = Math.min(lanes, left);
    steps.push(b);
    left -= b;
  }
  return steps;
}

function toFloat(images: Uint8Array, off: number, len: number): Float32Array {
  const x = new Float32Array(len);
  for (let i = 0; i < len; i++) x[i] = images[off + i]!;
  return x;
}

function observationCodec(lik: Likelihood, settings: BBANSSettings, batch: number): Codec<ArrayLike<number>> {
  const D = settings.pixelsPerImage;
  if (settings.pixels === 'binary') {
    if (lik.kind !== 'bernoulli') throw new TypeError(`binary pixels need a 'bernoulli' likelihood, the model returned '${lik.kind}'`);
    return bernoulliBatch(lik.probs, batch, D, settings.likelihoodPrecision);
  }
  if (lik.kind !== 'logistic') throw new TypeError(`8-bit pixels need a 'logistic' likelihood, the model returned '${lik.kind}'`);
  return discretizedLogisticBatch(lik, batch, D, settings.likelihoodPrecision);
}

async function posteriorCodec(model: BitsBackModel, x: Float32Array, batch: number, s: BBANSSettings): Promise<Codec<ArrayLike<number>>> {
  const q = await model.posterior(x, batch);
  return diagGaussianBuckets(q.mean, q.std, batch, model.latentDim, s.bucketBits, s.posteriorPrecision);
}

function checkModel(model: BitsBackModel): void {
  if (!Number.isInteger(model.latentDim) || model.latentDim < 1) {
    throw new TypeError(`model.latentDim must be a positive integer, got ${String(model.latentDim)}`);
  }
  if (typeof model.posterior !== 'function' || typeof model.likelihood !== 'function') {
    throw new TypeError('model must have posterior(x, batch) and likelihood(z, batch) functions');
  }
}

/** Result of coding one chunk. */
export interface EncodedChunk {
  /** The flattened message. */
  message: Uint8Array;
  /** Images in the chunk. */
  count: number;
  /** Clean units (16 bits each) drawn while encoding; the decoder regenerates and checks them. */
  cleanUnits: number;
  /** Warm-up step sizes (the steps before the first full one); see {@link expandSchedule}. */
  warmup: number[];
}

/**
 * BB-ANS-encodes `count` images (`images` holds count × pixelsPerImage pixels) into one independent message.
 * For each image: pop z ~ q(z|x) (bits back), push x under p(x|z), push z under the prior.
 */
export async function encodeImages(images: Uint8Array, count: number, model: BitsBackModel, settings: BBANSSettings): Promise<EncodedChunk> {
  checkModel(model);
  const D = settings.pixelsPerImage;
  const K = model.latentDim;
  if (images.length !== count * D) throw new RangeError(`expected ${count} × ${D} = ${count * D} pixels, got ${images.length}`);
  const maxPixel = settings.pixels === 'binary' ? 1 : 255;
  for (let i = 0; i < images.length; i++) {
    if (images[i]! > maxPixel) throw new RangeError(`pixel ${i} is ${images[i]}, but ${settings.pixels} images hold 0..${maxPixel}`);
  }
  const m = createMessage(settings.lanes, { closed: true, seed: settings.seed, onEmpty: 'clean', capacity: count * 16 + 64 });
  const warmup: number[] = [];
  let open = 0;
  let off = 0;
  let b = 1;
  while (off < count) {
    const take = Math.min(b, count - off);
    if (b < settings.lanes) warmup.push(take);
    while (open < take) openLane(m, open++);
    const pix = images.subarray(off * D, (off + take) * D);
    const post = await posteriorCodec(model, toFloat(pix, 0, take * D), take, settings);
    const before = messageBits(m) - 16 * m.cleanUnits;
    const [, z] = post.pop(m);
    const qBits = (before - (messageBits(m) - 16 * m.cleanUnits)) / take;
    const lik = await model.likelihood(bucketCentres(z, settings.bucketBits), take);
    observationCodec(lik, settings, take).push(m, pix);
    stdNormalPrior(settings.bucketBits, take, K).push(m, z);
    off += take;
    if (b < settings.lanes) {
      // Next step with b' lanes pops about b'·qBits and opens b' − b heads of 32 bits: grow while the stack pays.
      const afford = Math.floor((16 * m.size + 32 * b) / (Math.max(qBits, 0) + 32));
      b = Math.min(settings.lanes, Math.max(b, Math.min(afford, Math.ceil(b * settings.growth))));
    }
  }
  return { message: flatten(m), count, cleanUnits: m.cleanUnits, warmup };
}

/** Thrown when decoding finds the data inconsistent with the model (wrong model or corrupt data). */
export class DecodeMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeMismatchError';
  }
}

/**
 * Decodes a message from {@link encodeImages}: the exact images, or a {@link DecodeMismatchError} /
 * {@link CorruptMessageError} — after at most `count` model steps, never garbage: the clean bits the encoder
 * drew must come back exactly and every lane must close.
 */
export async function decodeImages(
  message: Uint8Array,
  count: number,
  cleanUnits: number,
  warmup: readonly number[],
  model: BitsBackModel,
  settings: BBANSSettings,
): Promise<Uint8Array> {
  checkModel(model);
  const D = settings.pixelsPerImage;
  const K = model.latentDim;
  const m: Message = unflatten(message, { seed: settings.seed, onEmpty: 'throw' });
  if (m.lanes !== settings.lanes) throw new CorruptMessageError(`message has ${m.lanes} lanes, settings say ${settings.lanes}`);
  const steps = expandSchedule(warmup, count, settings.lanes);
  // Lanes opened by each step, to close them again when that step is undone.
  const openedBefore: number[] = [];
  let open = 0;
  for (const b of steps) {
    openedBefore.push(open);
    open = Math.max(open, b);
  }
  for (let l = 0; l < settings.lanes; l++) {
    if ((m.heads[l] !== 0) !== l < open) throw new CorruptMessageError(`lane ${l} is ${m.heads[l] !== 0 ? 'open' : 'closed'}, the schedule says otherwise`);
  }
  const out = new Uint8Array(count * D);
  let end = count;
  for (let t = steps.length - 1; t >= 0; t--) {
    const b = steps[t]!;
    const off = end - b;
    const [, z] = stdNormalPrior(settings.bucketBits, b, K).pop(m);
    const lik = await model.likelihood(bucketCentres(z, settings.bucketBits), b);
    const [, pix] = observationCodec(lik, settings, b).pop(m);
    out.set(pix, off * D);
    const post = await posteriorCodec(model, toFloat(out, off * D, b * D), b, settings);
    post.push(m, z);
    for (let l = Math.max(b, openedBefore[t]!) - 1; l >= openedBefore[t]!; l--) closeLane(m, l);
    end = off;
  }
  if (m.size !== cleanUnits) {
    throw new DecodeMismatchError(`decoding ended with ${m.size} units left, expected the ${cleanUnits} clean units: wrong model or corrupt data`);
  }
  for (let i = 0; i < cleanUnits; i++) {
    if (m.stack[i] !== cleanUnit(settings.seed, cleanUnits - 1 - i)) {
      throw new DecodeMismatchError('the clean bits did not come back: wrong model or corrupt data');
    }
  }
  return out;
}
