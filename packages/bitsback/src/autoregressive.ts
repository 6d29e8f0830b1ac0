/**
 * Lossless compression with an autoregressive model of binary vectors (e.g. MADE): no latent variable and so no
 * bits-back — each pixel is pushed with its conditional probability P(x_d = 1 | x_<d), and decoding recovers the
 * pixels one position at a time, asking the model for the next conditional given the pixels decoded so far.
 *
 * The model is structural and works on plain Float32Arrays, so any implementation (a tfjs MADE through
 * `MADE.toCodecModel()` of @gm/models, or plain JavaScript) plugs in by shape.
 */
import { bernoulliFrequency, type Codec } from './codecs';
import { CorruptMessageError, HEAD_LOWER, createMessage, flatten, peek, popCommit, push, unflatten, type Message } from './rans';

/**
 * An autoregressive model of `dims` binary values. `order[k]` is the index of the k-th value in the autoregressive
 * order (default: natural, 0…dims−1). `conditionals(x, batch)` gets `batch × dims` values (batch-major, 0/1) and
 * returns P(x_d = 1 | the values before d in the order) for every d, `batch × dims`. It must ignore values that come
 * at or after d in the order — bit for bit, since the decoder calls it with those values still zero — and be
 * deterministic.
 */
export interface AutoregressiveBernoulliModel {
  readonly dims: number;
  readonly order?: ArrayLike<number>;
  conditionals(x: Float32Array, batch: number): ArrayLike<number>;
}

/** Options of {@link autoregressiveBernoulli} and the helpers built on it. */
export interface AutoregressiveCodecOptions {
  /** Quantisation precision in bits, 1..31 (default 24); each outcome gets frequency ≥ 1 of 2^precision. */
  precision?: number;
  /** The rANS lane to code on (default 0). */
  lane?: number;
}

function checkModel(model: AutoregressiveBernoulliModel): Int32Array {
  if (model === null || typeof model !== 'object' || typeof model.conditionals !== 'function') {
    throw new TypeError('autoregressive codec: model must have conditionals(x, batch)');
  }
  const D = model.dims;
  if (!Number.isInteger(D) || D < 1) throw new RangeError(`autoregressive codec: model.dims must be a positive integer, got ${D}`);
  const order = new Int32Array(D);
  const seen = new Uint8Array(D);
  for (let k = 0; k < D; k++) {
    const d = model.order === undefined ? k : model.order[k];
    if (d === undefined || !Number.isInteger(d) || d < 0 || d >= D || seen[d] === 1) {
      throw new RangeError(`autoregressive codec: model.order must be a permutation of 0…${D - 1} (entry ${k} is ${String(d)})`);
    }
    seen[d] = 1;
    order[k] = d;
  }
  return order;
}

function conditionals(model: AutoregressiveBernoulliModel, x: Float32Array, batch: number): ArrayLike<number> {
  const p = model.conditionals(x, batch);
  if (p === null || typeof p !== 'object' || p.length !== x.length) {
    throw new RangeError(`autoregressive codec: model.conditionals must return ${x.length} probabilities (batch × dims), got ${(p as ArrayLike<number> | null)?.length}`);
  }
  return p;
}

/**
 * The codec of `batch` binary vectors under an autoregressive model: symbols are `batch × dims` 0/1 values
 * (batch-major; popped as a Uint8Array). Push calls the model once on the whole batch and pushes the values in
 * reverse order (last position first), so pop can recover position 0 first; pop calls the model once per position
 * (dims calls) on the partially decoded batch.
 */
export function autoregressiveBernoulli(
  model: AutoregressiveBernoulliModel,
  batch: number,
  options: AutoregressiveCodecOptions = {},
): Codec<ArrayLike<number>> {
  const order = checkModel(model);
  const D = model.dims;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`autoregressive codec: batch must be a positive integer, got ${batch}`);
  const precision = options.precision ?? 24;
  if (!Number.isInteger(precision) || precision < 1 || precision > 31) {
    throw new RangeError(`autoregressive codec: precision must be an integer in [1, 31], got ${precision}`);
  }
  const lane = options.lane ?? 0;
  const M = 2 ** precision;
  const count = batch * D;
  return {
    push(m: Message, symbols: ArrayLike<number>): Message {
      if (symbols.length !== count) throw new RangeError(`autoregressive codec: expected ${count} values (${batch} × ${D}), got ${symbols.length}`);
      const x = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const s = symbols[i];
        if (s !== 0 && s !== 1) throw new RangeError(`autoregressive codec: value ${String(s)} at index ${i} is not 0 or 1`);
        x[i] = s;
      }
      const p = conditionals(model, x, batch);
      for (let k = D - 1; k >= 0; k--) {
        const d = order[k] as number;
        for (let b = batch - 1; b >= 0; b--) {
          const i = b * D + d;
          const split = M - bernoulliFrequency(p[i] as number, precision);
          if (x[i] === 1) push(m, lane, split, M - split, precision);
          else push(m, lane, 0, split, precision);
        }
      }
      return m;
    },
    pop(m: Message): [Message, Uint8Array] {
      const x = new Float32Array(count);
      const out = new Uint8Array(count);
      for (let k = 0; k < D; k++) {
        const d = order[k] as number;
        const p = conditionals(model, x, batch);
        for (let b = 0; b < batch; b++) {
          const i = b * D + d;
          const split = M - bernoulliFrequency(p[i] as number, precision);
          const slot = peek(m, lane, precision);
          if (slot >= split) {
            popCommit(m, lane, split, M - split, precision);
            x[i] = 1;
            out[i] = 1;
          } else popCommit(m, lane, 0, split, precision);
        }
      }
      return [m, out];
    },
  };
}

/**
 * The model's negative log-likelihood of `images` (`count × dims` 0/1 values) in bits, per image, computed in
 * float64 from its (unquantised) conditionals, `batch` images per model call. A codec's rate should match its sum.
 */
export function autoregressiveNllBits(model: AutoregressiveBernoulliModel, images: ArrayLike<number>, batch = 100): Float64Array {
  checkModel(model);
  const D = model.dims;
  if (images.length % D !== 0) throw new RangeError(`autoregressiveNllBits: ${images.length} values are not a multiple of dims = ${D}`);
  const n = images.length / D;
  const out = new Float64Array(n);
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    const x = new Float32Array(size * D);
    for (let i = 0; i < size * D; i++) x[i] = images[start * D + i] as number;
    const p = conditionals(model, x, size);
    for (let b = 0; b < size; b++) {
      let bits = 0;
      for (let d = 0; d < D; d++) {
        const q = p[b * D + d] as number;
        bits -= Math.log2(x[b * D + d] === 1 ? q : 1 - q);
      }
      out[start + b] = bits;
    }
  }
  return out;
}

/**
 * Compresses `images` (`count × dims` 0/1 values) into rANS bytes, `batch` images per model call. The byte string
 * holds only the coded pixels; the image count and the model are the caller's to keep (as with `flatten`).
 */
export function encodeAutoregressive(
  images: ArrayLike<number>,
  model: AutoregressiveBernoulliModel,
  options: AutoregressiveCodecOptions & { batch?: number } = {},
): Uint8Array {
  checkModel(model);
  const D = model.dims;
  if (images.length % D !== 0 || images.length === 0) {
    throw new RangeError(`encodeAutoregressive: expected a non-empty multiple of dims = ${D} values, got ${images.length}`);
  }
  const n = images.length / D;
  const batch = options.batch ?? 100;
  let m = createMessage((options.lane ?? 0) + 1, { onEmpty: 'throw', capacity: Math.ceil(images.length / 8) + 64 });
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    const slice = Array.prototype.slice.call(images, start * D, (start + size) * D) as number[];
    m = autoregressiveBernoulli(model, size, options).push(m, slice);
  }
  return flatten(m);
}

/** Decodes `count` images written by {@link encodeAutoregressive} with the same model, batch and precision. */
export function decodeAutoregressive(
  bytes: Uint8Array,
  model: AutoregressiveBernoulliModel,
  count: number,
  options: AutoregressiveCodecOptions & { batch?: number } = {},
): Uint8Array {
  checkModel(model);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`decodeAutoregressive: count must be a positive integer, got ${count}`);
  const D = model.dims;
  const batch = options.batch ?? 100;
  let m = unflatten(bytes, { onEmpty: 'throw' });
  const out = new Uint8Array(count * D);
  const starts: number[] = [];
  for (let start = 0; start < count; start += batch) starts.push(start);
  for (let j = starts.length - 1; j >= 0; j--) {
    const start = starts[j] as number;
    const size = Math.min(batch, count - start);
    let part: Uint8Array;
    [m, part] = autoregressiveBernoulli(model, size, options).pop(m) as [Message, Uint8Array];
    out.set(part, start * D);
  }
  const lane = options.lane ?? 0;
  if (m.size !== 0 || m.heads[lane] !== HEAD_LOWER) {
    throw new CorruptMessageError(`decodeAutoregressive: information is left after decoding ${count} images (wrong count, model, batch or precision?)`);
  }
  return out;
}
