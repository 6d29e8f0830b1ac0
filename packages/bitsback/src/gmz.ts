/**
 * The .gmz container: a header (magic, container version, coding-path version, model fingerprint, image shape and
 * count, coder settings), a sequence of independently decodable chunks, numbered and bound to the header, and a
 * trailer with the image count and a SHA-256 of everything before it.
 *
 * ```
 * file    = magic "\x89GMZ" · version u8 (3, or 4 with particles) · coding path u8 · header · header-crc32 u32 · chunk* · end · trailer
 * header  = fingerprint [32] · model kind u8 (0 Gaussian latent, 1 autoregressive) · pixels u8 (0 binary, 1 8-bit)
 *           · rank u8 · dims varint* · count+1 varint (0 = unknown, streamed) · chunkSize varint · latentDim varint
 *           · bucketBits u8 · posteriorPrecision u8 · likelihoodPrecision u8 · lanes varint · growth·1000 varint
 *           · particles varint (version 4 only; version 3 means 1) · seed u32
 * chunk   = body-length varint (> 0) · body · crc32(header digest · body) u32
 * body    = method u8 (0 model, 1 deflate) · index varint · first image varint · images varint
 *           · crc32(first image u64 · image bytes) u32 · payload (≥ 1 byte)
 *           model payload: see model-coder.ts; deflate payload: raw deflate of the pixels (bit-packed when binary)
 * end     = varint 0
 * trailer = count varint · sha256(all bytes before the trailer's hash) [32]
 * ```
 *
 * The header digest is the SHA-256 of the file's first bytes, magic to header CRC. Chunk k (from 0) has index k and
 * first image k · chunkSize; every chunk but the last holds chunkSize images, and when the header knows the count
 * the last holds the rest. So a chunk swapped, dropped or duplicated is refused by its index even when every
 * checksum was recomputed, a chunk from another file (another header) by its checksum, and a chunk whose index and
 * first image were both rewritten by its images' CRC, which covers their place in the file. Varints are unsigned
 * LEB128 in their shortest form, u32 big-endian: a file has exactly one encoding. Limits ({@link GMZ_LIMITS}), checked
 * before anything is allocated: an image has at most 2^24 pixels, a chunk at most 2^24 pixels in all
 * (chunkSize × pixels), a file at most 2^48; a file must be long enough for the chunks its count needs.
 *
 * The coding path is the arithmetic that feeds the entropy coder (exact/math.ts, exact/dense.ts, the quantisation
 * in codecs.ts): it is the same bits on every machine, engine and browser, and its version is in every file, so a
 * reader that cannot reproduce it says so before decoding anything. Each chunk is stored with the model's code or,
 * when that is larger, deflated, so a file is never much larger than deflate's output.
 *
 * Chunks are independent: {@link splitGmz} and {@link decodeChunk} let a caller hand chunks to worker threads or
 * other machines, and {@link compressStream} / {@link decompressStream} handle datasets larger than memory.
 */
import { concatBytes, crc32, GmError, sha256, sha256Hasher, toHex, yieldToEventLoop, type CodingModel } from '@gm/core';
import { resolveSettings, type BitsBackSettings } from './bbans';
import { codingModelDigest } from './coding/fingerprint';
import type { DenseBackend, DenseEngine } from './exact/dense';
import { deflatePixels, inflatePixels } from './fallback';
import { modelCoder, payloadCleanBits, type ModelCoder } from './model-coder';
import { pushVarint, readVarint } from './rans';

/** Magic bytes at the start of every .gmz file. */
export const GMZ_MAGIC = Uint8Array.of(0x89, 0x47, 0x4d, 0x5a);
/** Container version written by this library for BB-ANS files (3: chunks numbered and bound to their header). */
export const GMZ_VERSION = 3;
/** Container version of files coded with importance-sampling particles (4: version 3 plus the header's particle
 * count); a file with one particle is written as version 3, byte for byte what earlier releases wrote. */
export const GMZ_VERSION_PARTICLES = 4;
/**
 * Version of the coding path (the deterministic arithmetic feeding the coder). Bump it whenever a change to
 * exact/, coding/ or the codecs' quantisation would change a single coded bit; the golden-file test pins it.
 */
export const CODING_PATH = 1;

/**
 * Why a .gmz file was rejected. `too-large`: a valid file holds more pixels than {@link decompress} can return in one
 * Uint8Array (use {@link decompressStream}).
 */
export type GmzErrorCode = 'not-gmz' | 'version' | 'truncated' | 'checksum' | 'wrong-model' | 'corrupt' | 'mismatch' | 'too-large';

/** A .gmz file could not be read; `code` says why. */
export class GmzError extends GmError {
  override name = 'GmzError';
  declare readonly code: GmzErrorCode;
  constructor(code: GmzErrorCode, message: string) {
    super(code, '.gmz', message);
    this.message = message;
  }
}

function u32(out: number[], v: number): void {
  out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

function readU32(bytes: Uint8Array, pos: number, what: string): number {
  if (pos + 4 > bytes.length) throw new GmzError('truncated', `file ends inside ${what}`);
  return ((bytes[pos]! << 24) | (bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!) >>> 0;
}

/** Everything a .gmz header records. */
export interface GmzHeader {
  /** SHA-256 fingerprint of the coding model the file was written with (see codingModelFingerprint). */
  fingerprint: Uint8Array;
  modelKind: CodingModel['kind'];
  /** Pixel kind: 0/1 (`'binary'`) or 0..255 (`'u8'`). */
  pixels: 'binary' | 'u8';
  /** Shape of one image, e.g. [28, 28]. */
  shape: number[];
  /** Number of images, or null when the writer streamed and did not know (the trailer always has it). */
  count: number | null;
  /** Images per chunk (the last chunk may hold fewer). */
  chunkSize: number;
  /** Latent size of the model (0 for an autoregressive model). */
  latentDim: number;
  settings: BitsBackSettings;
}

/** Pixels per image of a header. */
export function headerPixels(h: GmzHeader): number {
  return h.shape.reduce((a, b) => a * b, 1);
}

/**
 * What a .gmz file may hold, checked by the reader before it allocates or decodes anything and by the writer before
 * it writes: pixels per image, images per chunk, pixels per chunk (chunkSize × pixels: bounds the memory and work of
 * decoding one chunk), pixels per file, and the pixels {@link decompress} returns in one Uint8Array.
 */
export const GMZ_LIMITS = Object.freeze({
  imagePixels: 2 ** 24,
  chunkImages: 2 ** 20,
  chunkPixels: 2 ** 24,
  filePixels: 2 ** 48,
  decompressPixels: 2 ** 32,
});
const MAX_CHUNK = GMZ_LIMITS.chunkImages;
/** The fewest bytes a chunk takes: length varint, method, index, first image, images, image CRC, 1 payload byte, CRC. */
const MIN_CHUNK_BYTES = 14;
/** Deflate expands at most 1032:1 (a 258-byte match in 2 bits); the slack covers block headers. */
const MAX_INFLATE_RATIO = 1032;
const KINDS: ReadonlyArray<CodingModel['kind']> = ['gaussian-latent', 'autoregressive-bernoulli'];

/** Bytes of an unsigned LEB128 varint of `v` in its shortest form. */
function varintLength(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** A varint of the container (not of a payload): at most 7 bytes, in its shortest form. */
function readField(bytes: Uint8Array, pos: number, what: string): [value: number, next: number] {
  const [v, next] = readVarint(bytes, pos, what);
  if (next - pos !== varintLength(v)) throw new GmzError('corrupt', `${what} is not a varint in its shortest form`);
  return [v, next];
}

function writeHeader(h: GmzHeader): Uint8Array {
  const withParticles = h.settings.particles > 1;
  const out: number[] = [...GMZ_MAGIC, withParticles ? GMZ_VERSION_PARTICLES : GMZ_VERSION, CODING_PATH];
  const start = out.length;
  out.push(...h.fingerprint, KINDS.indexOf(h.modelKind), h.pixels === 'binary' ? 0 : 1, h.shape.length);
  for (const d of h.shape) pushVarint(out, d);
  pushVarint(out, h.count === null ? 0 : h.count + 1);
  pushVarint(out, h.chunkSize);
  pushVarint(out, h.latentDim);
  const s = h.settings;
  out.push(s.bucketBits, s.posteriorPrecision, s.likelihoodPrecision);
  pushVarint(out, s.lanes);
  pushVarint(out, Math.round(s.growth * 1000));
  if (withParticles) pushVarint(out, s.particles);
  u32(out, s.seed >>> 0);
  u32(out, crc32(Uint8Array.from(out.slice(start))));
  return Uint8Array.from(out);
}

/** SHA-256 of a header's bytes (magic to header CRC): what binds a file's chunks to it. */
function headerDigest(h: GmzHeader): Uint8Array {
  return sha256(writeHeader(h));
}

function wrap<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof GmzError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new GmzError(/end of data|ends inside/.test(msg) ? 'truncated' : 'corrupt', `${what}: ${msg}`);
  }
}

/** Refuses, in one line, a file whose container or coding path this library cannot reproduce. */
function checkVersions(bytes: Uint8Array): void {
  if (!((bytes as unknown) instanceof Uint8Array)) throw new GmError('BAD_ARGUMENT', '.gmz bytes', 'a Uint8Array', bytes);
  if (bytes.length < 6) throw new GmzError('truncated', `not a complete .gmz file (${bytes.length} bytes)`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== GMZ_MAGIC[i]) throw new GmzError('not-gmz', 'not a .gmz file (bad magic bytes)');
  const version = bytes[4]!;
  if (version === 1) {
    throw new GmzError(
      'version',
      'a version-1 .gmz file: written before gm coded deterministically, it decodes only with @gm/bitsback 0.0.x under the exact kernel configuration that wrote it',
    );
  }
  if (version === 2) {
    throw new GmzError('version', 'a version-2 .gmz file: its chunks are not numbered, so this @gm/bitsback refuses it — decompress it with the @gm/bitsback that wrote it, then compress again');
  }
  if (version !== GMZ_VERSION && version !== GMZ_VERSION_PARTICLES) {
    throw new GmzError('version', `a version-${version} .gmz file; this @gm/bitsback reads versions ${GMZ_VERSION} and ${GMZ_VERSION_PARTICLES} — update @gm/bitsback`);
  }
  if (bytes[5] !== CODING_PATH) {
    throw new GmzError('version', `written with coding path ${bytes[5]}; this @gm/bitsback reproduces coding path ${CODING_PATH} only — use the @gm/bitsback that wrote it`);
  }
}

function readHeader(bytes: Uint8Array): { header: GmzHeader; pos: number; digest: Uint8Array } {
  checkVersions(bytes);
  return wrap('invalid .gmz header', () => {
    let pos = 6;
    if (bytes.length < pos + 35) throw new GmzError('truncated', 'file ends inside the header');
    const fingerprint = bytes.slice(pos, pos + 32);
    pos += 32;
    const modelKind = KINDS[bytes[pos++]!];
    if (modelKind === undefined) throw new GmzError('corrupt', `model kind ${bytes[pos - 1]} is unknown`);
    const pixelsByte = bytes[pos++]!;
    if (pixelsByte > 1) throw new GmzError('corrupt', `pixel kind ${pixelsByte} is unknown`);
    const pixels = pixelsByte === 0 ? 'binary' : 'u8';
    const rank = bytes[pos++]!;
    if (rank < 1 || rank > 4) throw new GmzError('corrupt', `image rank ${rank} is out of range`);
    const shape: number[] = [];
    let D = 1;
    for (let i = 0; i < rank; i++) {
      const [d, next] = readField(bytes, pos, 'image shape');
      if (d < 1 || d > GMZ_LIMITS.imagePixels) throw new GmzError('corrupt', `image dimension ${d} is out of range`);
      pos = next;
      shape.push(d);
      D *= d;
    }
    if (D > GMZ_LIMITS.imagePixels) throw new GmzError('corrupt', `image shape [${shape.join(', ')}] has ${D} pixels, more than a .gmz image may (${GMZ_LIMITS.imagePixels})`);
    const [c, posC] = readField(bytes, pos, 'image count');
    const [chunkSize, posK] = readField(bytes, posC, 'chunk size');
    const [latentDim, posZ] = readField(bytes, posK, 'latent size');
    pos = posZ;
    if (pos + 3 > bytes.length) throw new GmzError('truncated', 'file ends inside the header');
    const bucketBits = bytes[pos++]!;
    const posteriorPrecision = bytes[pos++]!;
    const likelihoodPrecision = bytes[pos++]!;
    const [lanes, posL] = readField(bytes, pos, 'lanes');
    const [growth, posG] = readField(bytes, posL, 'growth');
    pos = posG;
    let particles = 1;
    if (bytes[4] === GMZ_VERSION_PARTICLES) {
      [particles, pos] = readField(bytes, pos, 'particles');
      if (particles < 2) throw new GmzError('corrupt', `a version-${GMZ_VERSION_PARTICLES} file with ${particles} particles (one particle is written as version ${GMZ_VERSION})`);
    }
    const seed = readU32(bytes, pos, 'the header') | 0;
    pos += 4;
    const crc = readU32(bytes, pos, 'the header checksum');
    if (crc !== crc32(bytes.subarray(6, pos))) throw new GmzError('checksum', 'header checksum mismatch: the file is corrupt');
    pos += 4;
    const settings = resolveSettings({ bucketBits, posteriorPrecision, likelihoodPrecision, lanes, growth: growth / 1000, seed, particles }, pixels);
    const count = c === 0 ? null : c - 1;
    if (count !== null && count * D > GMZ_LIMITS.filePixels) {
      throw new GmzError('corrupt', `image count ${count} of ${D} pixels is more than a .gmz file may hold (${GMZ_LIMITS.filePixels} pixels)`);
    }
    if (chunkSize < 1 || chunkSize > MAX_CHUNK) throw new GmzError('corrupt', `chunk size ${chunkSize} is out of range`);
    if (chunkSize * D > GMZ_LIMITS.chunkPixels) {
      throw new GmzError('corrupt', `chunk size ${chunkSize} × ${D} pixels is more than a .gmz chunk may hold (${GMZ_LIMITS.chunkPixels} pixels)`);
    }
    if (latentDim > 1 << 20 || (latentDim === 0) !== (modelKind === 'autoregressive-bernoulli')) throw new GmzError('corrupt', `latent size ${latentDim} does not fit a ${modelKind} model`);
    const header: GmzHeader = { fingerprint, modelKind, pixels, shape, count, chunkSize, latentDim, settings };
    const head = bytes.subarray(0, pos);
    // One encoding per header (the chunks are bound to its digest, which decodeChunk recomputes from the fields).
    const canonical = writeHeader(header);
    if (canonical.length !== head.length || canonical.some((v, i) => v !== head[i])) throw new GmzError('corrupt', 'the header is not in its canonical form');
    return { header, pos, digest: sha256(head) };
  });
}

/** How a chunk is stored: the model's code, or the general-purpose fallback. */
export type ChunkMethod = 'model' | 'deflate';
const METHODS: readonly ChunkMethod[] = ['model', 'deflate'];

/** A chunk body: what {@link decodeChunk} needs besides the header. */
export interface GmzChunk {
  method: ChunkMethod;
  /** The chunk's position in its file: 0, 1, 2, … */
  index: number;
  /** The file's index of the chunk's first image: index × chunkSize. */
  firstImage: number;
  /** Images in the chunk: chunkSize, or the rest in the last chunk. */
  count: number;
  /** CRC-32 of the first image's index (u64, big-endian) and the chunk's pixels, checked after decoding. */
  imageCrc: number;
  /**
   * The chunk's checksum as stored: CRC-32 of its header's digest and its body. It binds the chunk to the header it
   * was encoded for and to its position; {@link decodeChunk} and {@link joinGmz} check it against the header given.
   */
  crc: number;
  payload: Uint8Array;
}

/** The CRC a chunk stores for its images: CRC-32 of `firstImage` (u64, big-endian) and the pixels. */
function imageChecksum(firstImage: number, images: Uint8Array): number {
  const at: number[] = [];
  u32(at, Math.floor(firstImage / 2 ** 32));
  u32(at, firstImage >>> 0);
  return crc32(images, crc32(Uint8Array.from(at)));
}

/** The body's bytes before the payload: method · index · first image · images · image CRC. */
function chunkPrefix(c: GmzChunk): Uint8Array {
  const pre: number[] = [METHODS.indexOf(c.method)];
  pushVarint(pre, c.index);
  pushVarint(pre, c.firstImage);
  pushVarint(pre, c.count);
  u32(pre, c.imageCrc);
  return Uint8Array.from(pre);
}

/** The checksum of a chunk under a header digest: CRC-32 of digest · body. */
function chunkCrc(digest: Uint8Array, prefix: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(prefix, crc32(digest)));
}

function writeChunk(c: GmzChunk): Uint8Array {
  const pre = chunkPrefix(c);
  const len: number[] = [];
  pushVarint(len, pre.length + c.payload.length);
  const tail: number[] = [];
  u32(tail, c.crc);
  return concatBytes([Uint8Array.from(len), pre, c.payload, Uint8Array.from(tail)]);
}

/** A chunk's bytes can be no longer than this (its pixels deflated or coded, with room to spare). */
function maxChunkLength(header: GmzHeader): number {
  return 1024 + header.chunkSize * (headerPixels(header) * 8 + 1024) + header.settings.lanes * 8;
}

/** Parses a chunk body whose checksum (`crc`, under `digest`) is checked here, before anything else. */
function parseChunk(body: Uint8Array, crc: number, digest: Uint8Array, header: GmzHeader, position: number): GmzChunk {
  if (crc32(body, crc32(digest)) !== crc) throw new GmzError('checksum', `chunk ${position} checksum mismatch: the chunk is corrupt or from another file`);
  return wrap('invalid chunk', () => {
    const method = METHODS[body[0]!];
    if (method === undefined) throw new GmzError('corrupt', `chunk method ${body[0]} is unknown`);
    const [index, p1] = readField(body, 1, 'chunk index');
    const [firstImage, p2] = readField(body, p1, 'chunk first image');
    const [count, p3] = readField(body, p2, 'chunk image count');
    const imageCrc = readU32(body, p3, 'a chunk');
    const chunk: GmzChunk = { method, index, firstImage, count, imageCrc, crc, payload: body.subarray(p3 + 4) };
    checkChunkFields(chunk, header, position);
    return chunk;
  });
}

/**
 * The structural checks of a chunk at `position` (null: wherever its index says) of a file with this header: its
 * fields, its place in the sequence and its size; throws a GmzError naming the field.
 */
function checkChunkFields(c: GmzChunk, header: GmzHeader, position: number | null): void {
  if ((c as unknown) === null || typeof c !== 'object') throw new GmzError('corrupt', `chunk ${position ?? ''} is not a chunk`);
  const name = `chunk ${position ?? c.index}`;
  if (!METHODS.includes(c.method)) throw new GmzError('corrupt', `${name} method ${String(c.method)} is unknown`);
  for (const key of ['index', 'firstImage', 'count', 'imageCrc', 'crc'] as const) {
    const v = c[key];
    if (!Number.isSafeInteger(v) || v < 0 || ((key === 'imageCrc' || key === 'crc') && v > 0xffffffff)) throw new GmzError('corrupt', `${name} field ${key} ${String(v)} is out of range`);
  }
  if (!(c.payload instanceof Uint8Array)) throw new GmzError('corrupt', `${name} payload is not bytes`);
  if (c.payload.length === 0) throw new GmzError('corrupt', `${name} has an empty payload`);
  if (position !== null && c.index !== position) throw new GmzError('corrupt', `chunk sequence: position ${position} holds chunk ${c.index} (chunks swapped, dropped or duplicated)`);
  const { chunkSize, count: total } = header;
  if (c.firstImage !== c.index * chunkSize) throw new GmzError('corrupt', `${name} first image ${c.firstImage} is not its index × chunk size (${c.index * chunkSize})`);
  if (c.count < 1 || c.count > chunkSize) throw new GmzError('corrupt', `${name} holds ${c.count} images, chunk size is ${chunkSize}`);
  if ((c.firstImage + c.count) * headerPixels(header) > GMZ_LIMITS.filePixels) {
    throw new GmzError('corrupt', `${name} first image ${c.firstImage} is beyond what a .gmz file may hold (${GMZ_LIMITS.filePixels} pixels)`);
  }
  if (total !== null) {
    if (c.firstImage >= total) throw new GmzError('corrupt', `${name} starts at image ${c.firstImage}, the header's image count is ${total}`);
    const want = Math.min(chunkSize, total - c.firstImage);
    if (c.count !== want) throw new GmzError('corrupt', `${name} holds ${c.count} images, it must hold ${want} (image count ${total}, chunk size ${chunkSize})`);
  }
}

/** Options for {@link compress} and {@link compressStream}. */
export interface CompressOptions extends Partial<BitsBackSettings> {
  /** Shape of one image, e.g. [28, 28]; its product must be the model's pixels per image (at most 2^24). */
  shape: number[];
  /**
   * Images per independently decodable chunk (default 500, fewer for images of more than 33,554 pixels: a chunk
   * holds at most 2^24 pixels, {@link GMZ_LIMITS}).
   */
  chunkSize?: number;
  /** Store a chunk deflated when that is smaller than the model's code (default true). */
  fallback?: boolean;
  /** The dense-layer engine (or its backend name) the coder evaluates networks with; every one gives the same bits. */
  engine?: DenseEngine | DenseBackend;
}

/** Options for {@link decompress} and {@link decompressStream}. */
export interface DecompressOptions {
  engine?: DenseEngine | DenseBackend;
}

function checkShape(shape: unknown): asserts shape is number[] {
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 4 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new GmError('BAD_SHAPE', 'compress: shape', '1 to 4 positive integers', shape);
  }
  const D = shape.reduce((a: number, b: number) => a * b, 1);
  if (D > GMZ_LIMITS.imagePixels) throw new GmError('BAD_SHAPE', 'compress: shape', `images of at most ${GMZ_LIMITS.imagePixels} pixels`, `[${shape.join(', ')}] (${D} pixels)`);
}

/** A compressor's working state: the header it writes and the coder it codes chunks with. */
export interface GmzWriter {
  readonly header: GmzHeader;
  readonly coder: ModelCoder;
  readonly fallback: boolean;
}

/**
 * The header and coder {@link compress} would use for `model` and these options (`count` null when unknown): pass
 * it to {@link encodeChunk} on each worker or machine, then assemble the results with {@link joinGmz}.
 */
export function gmzWriter(model: CodingModel, options: CompressOptions, count: number | null = null): GmzWriter {
  checkShape(options.shape);
  const pixelsPerImage = options.shape.reduce((a, b) => a * b, 1);
  const { shape, chunkSize = Math.max(1, Math.min(500, Math.floor(GMZ_LIMITS.chunkPixels / pixelsPerImage))), fallback = true, engine, ...rest } = options;
  const maxChunk = Math.min(MAX_CHUNK, Math.floor(GMZ_LIMITS.chunkPixels / pixelsPerImage));
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > maxChunk) {
    throw new GmError('BAD_ARGUMENT', 'compress: chunkSize', `an integer in [1, ${maxChunk}] (a chunk holds at most ${MAX_CHUNK} images and ${GMZ_LIMITS.chunkPixels} pixels)`, chunkSize);
  }
  if (count !== null && (!Number.isSafeInteger(count) || count < 0 || count * pixelsPerImage > GMZ_LIMITS.filePixels)) {
    throw new GmError('BAD_ARGUMENT', 'compress: count', `null or a whole number of images of at most ${GMZ_LIMITS.filePixels} pixels in all`, count);
  }
  const pixels = model.kind === 'gaussian-latent' ? model.pixels : 'binary';
  const settings = resolveSettings(rest, pixels);
  const coder = modelCoder(model, settings, engine);
  if (pixelsPerImage !== coder.pixelsPerImage) {
    throw new GmError('BAD_SHAPE', 'compress: shape', `images of the model's ${coder.pixelsPerImage} pixels`, `[${shape.join(', ')}] (${pixelsPerImage} pixels)`);
  }
  const header: GmzHeader = { fingerprint: codingModelDigest(model), modelKind: model.kind, pixels, shape: [...shape], count, chunkSize, latentDim: coder.latentDim, settings };
  return { header, coder, fallback };
}

/** Throws unless every pixel fits the model's pixel kind (0/1 for binary models). */
function checkPixels(images: Uint8Array, pixels: 'binary' | 'u8', offset: number, D: number): void {
  if (pixels !== 'binary') return;
  for (let i = 0; i < images.length; i++) {
    if (images[i]! > 1) {
      const at = offset * D + i;
      throw new GmError('BAD_ARGUMENT', 'compress: images', `0/1 pixels for a binary model (binarize 8-bit images first); image ${Math.floor(at / D)} has ${images[i]} at pixel ${at % D}`);
    }
  }
}

/**
 * Encodes one chunk of images (`count × pixels` bytes) — the unit of parallel work: with the model, or deflated when
 * that is smaller (and the writer allows it). `firstImage` is the file's index of the chunk's first image, a
 * multiple of the chunk size (chunk k starts at k × chunkSize); only the last chunk may hold fewer than chunkSize
 * images. The chunk records its index and is sealed with the writer's header.
 */
export function encodeChunk(writer: GmzWriter, images: Uint8Array, firstImage = 0): GmzChunk {
  const { header, coder } = writer;
  const D = headerPixels(header);
  const { chunkSize, count: total } = header;
  const count = images.length / D;
  if (!Number.isInteger(count) || count < 1 || count > chunkSize) {
    throw new GmError('BAD_SHAPE', 'compress: chunk', `1..${chunkSize} whole images of ${D} pixels`, `${images.length} pixels`);
  }
  if (!Number.isSafeInteger(firstImage) || firstImage < 0 || firstImage % chunkSize !== 0 || (total !== null && firstImage >= total)) {
    const below = total === null ? '' : ` below the header's ${total} images`;
    throw new GmError('BAD_ARGUMENT', 'encodeChunk: firstImage', `a multiple of the chunk size ${chunkSize}${below} (chunk k starts at image k × ${chunkSize})`, firstImage);
  }
  const index = firstImage / chunkSize;
  if (total !== null && count !== Math.min(chunkSize, total - firstImage)) {
    const want = Math.min(chunkSize, total - firstImage);
    throw new GmError('BAD_SHAPE', 'compress: chunk', `the ${want} images of chunk ${index} (images ${firstImage}..${firstImage + want - 1} of ${total})`, `${count} images`);
  }
  checkPixels(images, header.pixels, firstImage, D);
  const imageCrc = imageChecksum(firstImage, images);
  let method: ChunkMethod = 'model';
  let payload = coder.encode(images, count);
  if (writer.fallback) {
    const deflated = deflatePixels(images, header.pixels === 'binary');
    if (deflated.length < payload.length) {
      method = 'deflate';
      payload = deflated;
    }
  }
  const chunk: GmzChunk = { method, index, firstImage, count, imageCrc, crc: 0, payload };
  chunk.crc = chunkCrc(headerDigest(header), chunkPrefix(chunk), payload);
  return chunk;
}

/** Throws (GmzError 'corrupt') unless the coder codes the images the header describes. */
function checkCoder(coder: ModelCoder, header: GmzHeader): void {
  const D = headerPixels(header);
  const problem =
    coder.kind !== header.modelKind
      ? `model kind ${header.modelKind}, the model is ${coder.kind}`
      : coder.pixels !== header.pixels
        ? `pixel kind ${header.pixels}, the model codes ${coder.pixels} pixels`
        : coder.pixelsPerImage !== D
          ? `image shape [${header.shape.join(', ')}] (${D} pixels), the model codes images of ${coder.pixelsPerImage}`
          : coder.latentDim !== header.latentDim
            ? `latent size ${header.latentDim}, the model has ${coder.latentDim}`
            : null;
  if (problem !== null) throw new GmzError('corrupt', `the header says ${problem}: the header is corrupt`);
}

/**
 * Decodes one chunk — on its own, e.g. on another worker or machine, with its file's header. Before decoding, the
 * chunk's fields must fit the header (its index, first image and image count) and its checksum must be the one its
 * header gives it, so a chunk of another file or edited to another position is refused; after decoding, the images
 * are checked against the chunk's image CRC.
 */
export function decodeChunk(chunk: GmzChunk, coder: ModelCoder, header: GmzHeader): Uint8Array {
  checkChunkFields(chunk, header, null);
  checkCoder(coder, header);
  const prefix = wrap('invalid chunk', () => chunkPrefix(chunk));
  if (chunkCrc(wrap('invalid header', () => headerDigest(header)), prefix, chunk.payload) !== chunk.crc) {
    throw new GmzError('checksum', `chunk ${chunk.index} checksum mismatch under this header: the chunk is corrupt or from another file`);
  }
  const D = headerPixels(header);
  const binary = header.pixels === 'binary';
  if (chunk.method === 'deflate') {
    const packed = binary ? Math.ceil((chunk.count * D) / 8) : chunk.count * D;
    if (packed > MAX_INFLATE_RATIO * chunk.payload.length + 1024) {
      throw new GmzError('corrupt', `chunk ${chunk.index}: ${chunk.payload.length} deflated bytes cannot hold ${chunk.count} images of ${D} pixels`);
    }
  }
  let images: Uint8Array;
  try {
    images = chunk.method === 'deflate' ? inflatePixels(chunk.payload, chunk.count * D, binary, 'deflated chunk') : coder.decode(chunk.payload, chunk.count);
  } catch (e) {
    if (e instanceof GmzError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new GmzError('mismatch', `chunk ${chunk.index} does not decode (${msg}): the data is corrupt or the model is not the one that wrote the file`);
  }
  if (images.length !== chunk.count * D || imageChecksum(chunk.firstImage, images) !== chunk.imageCrc) {
    throw new GmzError('mismatch', `decoded images of chunk ${chunk.index} fail their checksum: the data is corrupt or the model is not the one that wrote the file`);
  }
  return images;
}

function trailer(total: number): Uint8Array {
  const tail: number[] = [0];
  pushVarint(tail, total);
  return Uint8Array.from(tail);
}

/**
 * Compresses a stream of images (each piece a Uint8Array of one or several whole images) into .gmz bytes,
 * yielding the header, then one piece per chunk, then the trailer. Memory stays at one chunk; the event loop gets a
 * turn between chunks, so a page stays responsive.
 */
export async function* compressStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  model: CodingModel,
  options: CompressOptions,
  count: number | null = null,
): AsyncGenerator<Uint8Array> {
  const writer = gmzWriter(model, options, count);
  const { header } = writer;
  const D = headerPixels(header);
  const hash = sha256Hasher();
  const emit = (b: Uint8Array): Uint8Array => {
    hash.update(b);
    return b;
  };
  yield emit(writeHeader(header));
  const buf = new Uint8Array(header.chunkSize * D);
  let fill = 0;
  let total = 0;
  const promised = (got: string): GmError => new GmError('BAD_ARGUMENT', 'compressStream: source', `the ${count} images the header promised`, got);
  const flush = async (): Promise<Uint8Array> => {
    await yieldToEventLoop();
    if ((total + fill / D) * D > GMZ_LIMITS.filePixels) throw new GmError('BAD_ARGUMENT', 'compressStream: source', `at most ${GMZ_LIMITS.filePixels} pixels in all`, `more`);
    if (count !== null && total + fill / D > count) throw promised('more images');
    const chunk = encodeChunk(writer, buf.subarray(0, fill), total);
    total += chunk.count;
    fill = 0;
    return emit(writeChunk(chunk));
  };
  for await (const piece of source) {
    if (!(piece instanceof Uint8Array)) throw new GmError('BAD_ARGUMENT', 'compressStream: piece', 'a Uint8Array of whole images', piece);
    if (piece.length % D !== 0) throw new GmError('BAD_SHAPE', 'compressStream: piece', `whole images of ${D} pixels`, `${piece.length} pixels`);
    let p = 0;
    while (p < piece.length) {
      const take = Math.min(piece.length - p, buf.length - fill);
      buf.set(piece.subarray(p, p + take), fill);
      fill += take;
      p += take;
      if (fill === buf.length) yield await flush();
    }
  }
  if (count !== null && total + fill / D !== count) throw promised(`${total + fill / D} images`);
  // A file of no images is no use to anyone and most likely a mistake upstream (an empty folder, a zero-count IDX).
  if (total + fill === 0) throw new GmError('BAD_ARGUMENT', 'compressStream: source', 'at least one image', 'no images');
  if (fill > 0) yield await flush();
  const t = trailer(total);
  hash.update(t);
  yield concatBytes([t, hash.digest()]);
}

/**
 * Compresses `images` (count × product(shape) pixels, row-major, one byte per pixel: 0/1 for a binary model,
 * 0..255 for an 8-bit one) with a coding model (`model.codingModel()` of a VAE or MADE) into a .gmz file.
 */
export async function compress(images: Uint8Array, model: CodingModel, options: CompressOptions): Promise<Uint8Array> {
  checkShape(options.shape);
  const D = options.shape.reduce((a, b) => a * b, 1);
  if (!(images instanceof Uint8Array)) throw new GmError('BAD_ARGUMENT', 'compress: images', 'a Uint8Array of pixels', images);
  if (images.length === 0 || images.length % D !== 0) throw new GmError('BAD_SHAPE', 'compress: images', `a positive whole number of ${D}-pixel images`, `${images.length} pixels`);
  const parts: Uint8Array[] = [];
  for await (const p of compressStream([images], model, options, images.length / D)) parts.push(p);
  return concatBytes(parts);
}

/** What is wrong with `previous` now that another chunk follows it (null: nothing): only the last chunk may be short. */
function previousFull(previous: GmzChunk | undefined, header: GmzHeader): string | null {
  if (previous === undefined || previous.count === header.chunkSize) return null;
  return `chunk ${previous.index} holds ${previous.count} images, fewer than the chunk size ${header.chunkSize}, and is not the last`;
}

/**
 * Assembles a .gmz file from a header and chunks encoded separately, e.g. on several workers or machines: the
 * chunks in order of their index (0, 1, 2, …, none missing), each encoded for this header. The result is
 * byte-identical to {@link compress} over the same images and options.
 */
export function joinGmz(header: GmzHeader, chunks: readonly GmzChunk[]): Uint8Array {
  const total = chunks.reduce((a, c) => a + c.count, 0);
  if (header.count !== null && header.count !== total) throw new GmError('BAD_ARGUMENT', 'joinGmz: chunks', `the header's ${header.count} images`, `${total} images`);
  const head = writeHeader(header);
  const digest = sha256(head);
  chunks.forEach((c, i) => {
    try {
      checkChunkFields(c, header, i);
    } catch (e) {
      throw new GmError('BAD_ARGUMENT', 'joinGmz: chunks', (e as Error).message);
    }
    const full = previousFull(chunks[i - 1], header);
    if (full !== null) throw new GmError('BAD_ARGUMENT', 'joinGmz: chunks', full);
    if (chunkCrc(digest, chunkPrefix(c), c.payload) !== c.crc) {
      throw new GmError('BAD_ARGUMENT', 'joinGmz: chunks', `chunk ${i} was encoded for another header (another writer's count, shape or settings) or altered`);
    }
  });
  const body = concatBytes([head, ...chunks.map(writeChunk), trailer(total)]);
  return concatBytes([body, sha256(body)]);
}

/** A parsed .gmz file: header and chunk bodies (undecoded), for splitting work across threads or machines. */
export interface GmzFile {
  header: GmzHeader;
  chunks: GmzChunk[];
  /** Total images (from the trailer). */
  count: number;
}

function countsDisagree(header: GmzHeader, trailerCount: number, total: number): GmzError {
  return new GmzError('corrupt', `image count: the header says ${header.count ?? 'unknown'}, the trailer ${trailerCount}, the chunks hold ${total} (a chunk dropped or added?)`);
}

/**
 * Parses and fully verifies a .gmz file without decoding it: magic, versions, header CRC, every chunk's checksum,
 * index and size, framing, the trailer count and the file's SHA-256. Throws {@link GmzError}.
 */
export function splitGmz(bytes: Uint8Array): GmzFile {
  const { header, pos: start, digest } = readHeader(bytes);
  if (bytes.length < start + 34) throw new GmzError('truncated', 'file ends before its trailer');
  const hashAt = bytes.length - 32;
  const want = sha256(bytes.subarray(0, hashAt));
  const got = bytes.subarray(hashAt);
  for (let i = 0; i < 32; i++) {
    if (want[i] !== got[i]) throw new GmzError('checksum', 'file checksum mismatch: the file is truncated or corrupt');
  }
  if (header.count !== null) {
    const needed = Math.ceil(header.count / header.chunkSize);
    if (needed * MIN_CHUNK_BYTES > hashAt - start) {
      throw new GmzError('corrupt', `image count ${header.count} needs ${needed} chunks of ${header.chunkSize} images; the file's ${bytes.length} bytes cannot hold them`);
    }
  }
  return wrap('invalid .gmz body', () => {
    const chunks: GmzChunk[] = [];
    let pos = start;
    let total = 0;
    const maxLength = maxChunkLength(header);
    for (;;) {
      const [len, posLen] = readField(bytes, pos, 'chunk length');
      pos = posLen;
      if (len === 0) break;
      const k = chunks.length;
      if (len > maxLength) throw new GmzError('corrupt', `chunk ${k} length ${len} is implausible for chunks of ${header.chunkSize} images`);
      if (pos + len + 4 > hashAt) throw new GmzError('truncated', `file ends inside chunk ${k}`);
      const full = previousFull(chunks[k - 1], header);
      if (full !== null) throw new GmzError('corrupt', `chunk sequence: ${full}`);
      const c = parseChunk(bytes.subarray(pos, pos + len), readU32(bytes, pos + len, 'a chunk checksum'), digest, header, k);
      chunks.push(c);
      total += c.count;
      pos += len + 4;
    }
    const [count, posCount] = readField(bytes, pos, 'trailer count');
    pos = posCount;
    if (pos !== hashAt) throw new GmzError('corrupt', 'unexpected bytes after the last chunk');
    if (count !== total || (header.count !== null && header.count !== count)) throw countsDisagree(header, count, total);
    return { header, chunks, count };
  });
}

/**
 * The coder that reads a file's chunks: refuses (GmzError 'wrong-model') a model whose fingerprint is not the
 * file's, before decoding anything, and (GmzError 'corrupt') a header whose image shape, pixel kind or latent size
 * is not the model's.
 */
export function gmzReader(header: GmzHeader, model: CodingModel, options: DecompressOptions = {}): ModelCoder {
  const digest = codingModelDigest(model);
  for (let i = 0; i < 32; i++) {
    if (digest[i] !== header.fingerprint[i]) {
      throw new GmzError(
        'wrong-model',
        `this file was written with a different model (fingerprint ${toHex(header.fingerprint).slice(0, 12)}…, this model's is ${toHex(digest).slice(0, 12)}…): decompress with the model that compressed it`,
      );
    }
  }
  const coder = modelCoder(model, header.settings, options.engine);
  checkCoder(coder, header);
  return coder;
}

/**
 * Decompresses a .gmz file: the images (count × pixels, as given to {@link compress}), their shape and count. The
 * images are gathered chunk by chunk as each decodes and checks out, so what a file merely claims allocates nothing.
 */
export async function decompress(
  bytes: Uint8Array,
  model: CodingModel,
  options: DecompressOptions = {},
): Promise<{ images: Uint8Array; shape: number[]; count: number; header: GmzHeader; chunks: GmzChunk[] }> {
  const file = splitGmz(bytes);
  const coder = gmzReader(file.header, model, options);
  const D = headerPixels(file.header);
  if (file.count * D > GMZ_LIMITS.decompressPixels) {
    throw new GmzError('too-large', `image count ${file.count} of ${D} pixels is more than decompress returns in one Uint8Array (${GMZ_LIMITS.decompressPixels} pixels): use decompressStream`);
  }
  const parts: Uint8Array[] = [];
  for (const c of file.chunks) {
    await yieldToEventLoop();
    parts.push(decodeChunk(c, coder, file.header));
  }
  const images = parts.length === 1 ? parts[0]! : concatBytes(parts);
  return { images, shape: file.header.shape, count: file.count, header: file.header, chunks: file.chunks };
}

/** Reads exactly what is needed from an async byte source. */
class ByteReader {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private done = false;
  private readonly it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source || Symbol.iterator in source)) {
      throw new GmError('BAD_ARGUMENT', 'decompressStream: source', 'an (async) iterable of Uint8Array pieces', source);
    }
    this.it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (source as Iterable<Uint8Array>)[Symbol.iterator]();
  }
  async fill(n: number): Promise<boolean> {
    while (this.buf.length - this.pos < n && !this.done) {
      const r = await this.it.next();
      if (r.done === true) {
        this.done = true;
        break;
      }
      if (!(r.value instanceof Uint8Array)) throw new GmError('BAD_ARGUMENT', 'decompressStream: piece', 'a Uint8Array', r.value);
      this.buf = concatBytes([this.buf.subarray(this.pos), r.value]);
      this.pos = 0;
    }
    return this.buf.length - this.pos >= n;
  }
  peekAll(): Uint8Array {
    return this.buf.subarray(this.pos);
  }
  async take(n: number, what: string): Promise<Uint8Array> {
    if (!(await this.fill(n))) throw new GmzError('truncated', `stream ends inside ${what}`);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  async varint(what: string): Promise<{ value: number; bytes: Uint8Array }> {
    await this.fill(7);
    const avail = this.peekAll();
    const [value, next] = wrap(what, () => readField(avail, 0, what));
    return { value, bytes: await this.take(next, what) };
  }
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }
}

/**
 * Decompresses a .gmz byte stream chunk by chunk, yielding the images of each chunk (count × pixels) as soon as
 * that chunk is verified and decoded. A chunk's checksum, index and size and its decoded-image CRC are checked
 * before it is yielded; the file's SHA-256 is checked at the end (a GmzError is thrown there if it fails). Memory
 * and work stay at one chunk (at most 2^24 pixels).
 */
export async function* decompressStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  model: CodingModel,
  options: DecompressOptions = {},
): AsyncGenerator<Uint8Array> {
  const r = new ByteReader(source);
  const hash = sha256Hasher();
  // The header has variable length: read enough for any header, parse, then consume exactly its bytes.
  await r.fill(256); // a header is at most ~120 bytes
  const { header, pos, digest } = readHeader(r.peekAll());
  hash.update(await r.take(pos, 'the header'));
  const coder = gmzReader(header, model, options);
  const maxLength = maxChunkLength(header);
  let total = 0;
  let previous: GmzChunk | undefined;
  for (let k = 0; ; k++) {
    const len = await r.varint(`the length of chunk ${k}`);
    hash.update(len.bytes);
    if (len.value === 0) break;
    // A chunk is never larger than its pixels deflated (at most ~D bytes each) or coded (a few bytes per pixel).
    if (len.value > maxLength) throw new GmzError('corrupt', `chunk ${k} length ${len.value} is implausible for chunks of ${header.chunkSize} images`);
    const full = previousFull(previous, header);
    if (full !== null) throw new GmzError('corrupt', `chunk sequence: ${full}`);
    const body = await r.take(len.value, `chunk ${k}`);
    const crcBytes = await r.take(4, `the checksum of chunk ${k}`);
    hash.update(body);
    hash.update(crcBytes);
    const chunk = parseChunk(body, readU32(crcBytes, 0, 'a chunk checksum'), digest, header, k);
    total += chunk.count;
    previous = chunk;
    await yieldToEventLoop();
    yield decodeChunk(chunk, coder, header);
  }
  const cnt = await r.varint('the trailer');
  hash.update(cnt.bytes);
  const trailerDigest = await r.take(32, 'the trailer');
  const want = hash.digest();
  for (let i = 0; i < 32; i++) if (want[i] !== trailerDigest[i]) throw new GmzError('checksum', 'file checksum mismatch: the stream is corrupt');
  if (cnt.value !== total || (header.count !== null && header.count !== total)) throw countsDisagree(header, cnt.value, total);
  if (!(await r.atEnd())) throw new GmzError('corrupt', 'unexpected bytes after the trailer');
}

/** What each chunk of a file holds and how it is stored — the report of which chunks used the model's code. */
export interface GmzChunkSummary {
  method: ChunkMethod;
  images: number;
  /** Payload bytes. */
  bytes: number;
  /** Of those, the clean bits a bits-back chunk starts from (its initial-bits cost; 0 for other chunks). */
  cleanBits: number;
}

/** Per-chunk storage of a parsed file. */
export function chunkSummary(file: GmzFile): GmzChunkSummary[] {
  return file.chunks.map((c) => ({
    method: c.method,
    images: c.count,
    bytes: c.payload.length,
    cleanBits: c.method === 'model' ? payloadCleanBits(file.header.modelKind, c.payload) : 0,
  }));
}
