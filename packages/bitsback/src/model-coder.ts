/**
 * What the .gmz format codes a chunk of images with: a coding model (@gm/core's `CodingModel`) made into a chunk
 * coder — bits-back for a Gaussian-latent model, the autoregressive codec for an autoregressive one — whose payload
 * (the bytes after the chunk's method, count and image checksum) the decoder reads back with the same model.
 */
import { GmError, type CodingModel } from '@gm/core';
import { decodeLatentChunk, encodeLatentChunk, type BitsBackSettings, type ChunkStep } from './bbans';
import { autoregressiveCoder } from './coding/autoregressive';
import { latentCoder } from './coding/latent';
import { createDenseEngine, type DenseBackend, type DenseEngine } from './exact/dense';
import { CorruptMessageError, createMessage, flatten, HEAD_LOWER, pushVarint, readVarint, unflatten, type Message } from './rans';

/** Codes whole chunks of one model's images. */
export interface ModelCoder {
  readonly kind: CodingModel['kind'];
  readonly pixels: 'binary' | 'u8';
  readonly pixelsPerImage: number;
  /** Latent size (0 for a model without latents). */
  readonly latentDim: number;
  /** The payload of `count` images. */
  encode(images: Uint8Array, count: number): Uint8Array;
  /** The images of a payload; throws when it does not decode with this model (wrong model or corrupt data). */
  decode(payload: Uint8Array, count: number): Uint8Array;
}

/**
 * The clean bits a model-coded chunk holds (its initial-bits cost: what the first image's bits-back pop drew from an
 * empty stack, stored so that the decoder can check them): 16 per clean unit for a latent model, 0 for an
 * autoregressive one. Read from the payload's first field, which {@link modelCoder}'s encode writes.
 */
export function payloadCleanBits(modelKind: CodingModel['kind'], payload: Uint8Array): number {
  if (modelKind !== 'gaussian-latent') return 0;
  return 16 * readVarint(payload, 0, 'clean units')[0];
}

/** The chunk coder of a model. `engine` evaluates its dense layers (default: wasm SIMD128 where it runs, else JS). */
export function modelCoder(model: CodingModel, settings: BitsBackSettings, engine: DenseEngine | DenseBackend | undefined = undefined): ModelCoder {
  if (model === null || typeof model !== 'object' || (model.kind !== 'gaussian-latent' && model.kind !== 'autoregressive-bernoulli')) {
    throw new GmError('BAD_ARGUMENT', 'coding model', "a CodingModel of kind 'gaussian-latent' or 'autoregressive-bernoulli' (a model's codingModel())", (model as { kind?: unknown } | null)?.kind);
  }
  if (model.kind === 'autoregressive-bernoulli') {
    if (settings.particles !== 1) throw new GmError('BAD_ARGUMENT', 'coding settings: particles', '1 for an autoregressive model (it has no latent to importance-sample)', settings.particles);
    const coder = autoregressiveCoder(model);
    const D = model.pixelsPerImage;
    return {
      kind: model.kind,
      pixels: 'binary',
      pixelsPerImage: D,
      latentDim: 0,
      encode(images, count) {
        const m = coder.codec(count, settings.likelihoodPrecision).push(createMessage(1, { onEmpty: 'throw', capacity: Math.ceil((count * D) / 16) + 64 }), images);
        return flatten(m as Message);
      },
      decode(payload, count) {
        const [m, images] = coder.codec(count, settings.likelihoodPrecision).pop(unflatten(payload, { onEmpty: 'throw' }));
        const r = m as Message;
        if (r.size !== 0 || r.lanes !== 1 || r.heads[0] !== HEAD_LOWER) throw new CorruptMessageError('information is left after the last pixel: wrong model or corrupt data');
        return images as Uint8Array;
      },
    };
  }
  const dense = typeof engine === 'object' ? engine : createDenseEngine(engine === undefined ? {} : { backend: engine });
  const coder = latentCoder(model, dense, settings);
  return {
    kind: model.kind,
    pixels: model.pixels,
    pixelsPerImage: model.pixelsPerImage,
    latentDim: model.latentDim,
    encode(images, count) {
      const chunk = encodeLatentChunk(coder, images, count, settings);
      const pre: number[] = [];
      pushVarint(pre, chunk.cleanUnits);
      pushVarint(pre, chunk.warmup.length);
      for (const step of chunk.warmup) {
        pushVarint(pre, step.images);
        if (settings.particles > 1) pushVarint(pre, step.particles); // files with particles store each step's
      }
      const out = new Uint8Array(pre.length + chunk.message.length);
      out.set(pre);
      out.set(chunk.message, pre.length);
      return out;
    },
    decode(payload, count) {
      const [cleanUnits, p1] = readVarint(payload, 0, 'clean units');
      const [steps, p2] = readVarint(payload, p1, 'warm-up length');
      if (cleanUnits > payload.length) throw new CorruptMessageError(`chunk claims ${cleanUnits} clean units`);
      if (steps > count) throw new CorruptMessageError(`chunk claims ${steps} warm-up steps for ${count} images`);
      const warmup: ChunkStep[] = [];
      let pos = p2;
      for (let i = 0; i < steps; i++) {
        const [images, next] = readVarint(payload, pos, 'warm-up step');
        pos = next;
        let particles = 1;
        if (settings.particles > 1) [particles, pos] = readVarint(payload, pos, 'warm-up step particles');
        warmup.push({ images, particles });
      }
      return decodeLatentChunk(coder, { cleanUnits, warmup, message: payload.subarray(pos) }, count, settings);
    },
  };
}
