/**
 * The .gmz container: a header (magic, container version, coding-path version, model fingerprint, image shape and
 * count, coder settings), a sequence of independently decodable chunks, and a trailer with the image count and a
 * SHA-256 of everything before it.
 *
 * ```
 * file    = magic "\x89GMZ" · version u8 (= 2) · coding path u8 · header · header-crc32 u32 · chunk* · end · trailer
 * header  = fingerprint [32] · model kind u8 (0 Gaussian latent, 1 autoregressive) · pixels u8 (0 binary, 1 8-bit)
 *           · rank u8 · dims varint* · count+1 varint (0 = unknown, streamed) · chunkSize varint · latentDim varint
 *           · bucketBits u8 · posteriorPrecision u8 · likelihoodPrecision u8 · lanes varint · growth·1000 varint
 *           · seed u32
 * chunk   = body-length varint (> 0) · body · crc32(body) u32
 * body    = method u8 (0 model, 1 deflate) · images varint · crc32(image bytes) u32 · payload
 *           model payload: see model-coder.ts; deflate payload: raw deflate of the pixels (bit-packed when binary)
 * end     = varint 0
 * trailer = count varint · sha256(all bytes before the trailer's hash) [32]
 * ```
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
import { modelCoder, type ModelCoder } from './model-coder';
import { pushVarint, readVarint } from './rans';

/** Magic bytes at the start of every .gmz file. */
export const GMZ_MAGIC = Uint8Array.of(0x89, 0x47, 0x4d, 0x5a);
/** Container version written by this library. */
export const GMZ_VERSION = 2;
/**
 * Version of the coding path (the deterministic arithmetic feeding the coder). Bump it whenever a change to
 * exact/, coding/ or the codecs' quantisation would change a single coded bit; the golden-file test pins it.
 */
export const CODING_PATH = 1;

/** Why a .gmz file was rejected. */
export type GmzErrorCode = 'not-gmz' | 'version' | 'truncated' | 'checksum' | 'wrong-model' | 'corrupt' | 'mismatch';

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

const MAX_CHUNK = 1 << 20;
const KINDS: ReadonlyArray<CodingModel['kind']> = ['gaussian-latent', 'autoregressive-bernoulli'];

function writeHeader(h: GmzHeader): Uint8Array {
  const out: number[] = [...GMZ_MAGIC, GMZ_VERSION, CODING_PATH];
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
  u32(out, s.seed >>> 0);
  u32(out, crc32(Uint8Array.from(out.slice(start))));
  return Uint8Array.from(out);
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
  if (bytes.length < 6) throw new GmzError('truncated', `not a complete .gmz file (${bytes.length} bytes)`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== GMZ_MAGIC[i]) throw new GmzError('not-gmz', 'not a .gmz file (bad magic bytes)');
  const version = bytes[4]!;
  if (version === 1) {
    throw new GmzError(
      'version',
      'a version-1 .gmz file: written before gm coded deterministically, it decodes only with @gm/bitsback 0.0.x under the exact kernel configuration that wrote it',
    );
  }
  if (version !== GMZ_VERSION) throw new GmzError('version', `a version-${version} .gmz file; this @gm/bitsback reads version ${GMZ_VERSION} — update @gm/bitsback`);
  if (bytes[5] !== CODING_PATH) {
    throw new GmzError('version', `written with coding path ${bytes[5]}; this @gm/bitsback reproduces coding path ${CODING_PATH} only — use the @gm/bitsback that wrote it`);
  }
}

function readHeader(bytes: Uint8Array): { header: GmzHeader; pos: number } {
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
    for (let i = 0; i < rank; i++) {
      const [d, next] = readVarint(bytes, pos, 'image shape');
      if (d < 1) throw new GmzError('corrupt', `image dimension ${d} is out of range`);
      pos = next;
      shape.push(d);
    }
    const [c, posC] = readVarint(bytes, pos, 'image count');
    const [chunkSize, posK] = readVarint(bytes, posC, 'chunk size');
    const [latentDim, posZ] = readVarint(bytes, posK, 'latent size');
    pos = posZ;
    if (pos + 3 > bytes.length) throw new GmzError('truncated', 'file ends inside the header');
    const bucketBits = bytes[pos++]!;
    const posteriorPrecision = bytes[pos++]!;
    const likelihoodPrecision = bytes[pos++]!;
    const [lanes, posL] = readVarint(bytes, pos, 'lanes');
    const [growth, posG] = readVarint(bytes, posL, 'growth');
    pos = posG;
    const seed = readU32(bytes, pos, 'the header') | 0;
    pos += 4;
    const crc = readU32(bytes, pos, 'the header checksum');
    if (crc !== crc32(bytes.subarray(6, pos))) throw new GmzError('checksum', 'header checksum mismatch: the file is corrupt');
    pos += 4;
    const settings = resolveSettings({ bucketBits, posteriorPrecision, likelihoodPrecision, lanes, growth: growth / 1000, seed }, pixels);
    if (chunkSize < 1 || chunkSize > MAX_CHUNK) throw new GmzError('corrupt', `chunk size ${chunkSize} is out of range`);
    if (latentDim > 1 << 20 || (latentDim === 0) !== (modelKind === 'autoregressive-bernoulli')) throw new GmzError('corrupt', `latent size ${latentDim} does not fit a ${modelKind} model`);
    return { header: { fingerprint, modelKind, pixels, shape, count: c === 0 ? null : c - 1, chunkSize, latentDim, settings }, pos };
  });
}

/** How a chunk is stored: the model's code, or the general-purpose fallback. */
export type ChunkMethod = 'model' | 'deflate';
const METHODS: readonly ChunkMethod[] = ['model', 'deflate'];

/** A chunk body: what {@link decodeChunk} needs besides the header. */
export interface GmzChunk {
  method: ChunkMethod;
  count: number;
  /** CRC-32 of the chunk's pixels, checked after decoding. */
  imageCrc: number;
  payload: Uint8Array;
}

function writeChunk(c: GmzChunk): Uint8Array {
  const pre: number[] = [METHODS.indexOf(c.method)];
  pushVarint(pre, c.count);
  u32(pre, c.imageCrc);
  const body = concatBytes([Uint8Array.from(pre), c.payload]);
  const len: number[] = [];
  pushVarint(len, body.length);
  const tail: number[] = [];
  u32(tail, crc32(body));
  return concatBytes([Uint8Array.from(len), body, Uint8Array.from(tail)]);
}

function parseChunkBody(body: Uint8Array, header: GmzHeader): GmzChunk {
  return wrap('invalid chunk', () => {
    const method = METHODS[body[0]!];
    if (method === undefined) throw new GmzError('corrupt', `chunk method ${body[0]} is unknown`);
    const [count, pos] = readVarint(body, 1, 'chunk image count');
    if (count < 1 || count > header.chunkSize) throw new GmzError('corrupt', `chunk holds ${count} images, chunk size is ${header.chunkSize}`);
    const imageCrc = readU32(body, pos, 'a chunk');
    return { method, count, imageCrc, payload: body.subarray(pos + 4) };
  });
}

/** Options for {@link compress} and {@link compressStream}. */
export interface CompressOptions extends Partial<BitsBackSettings> {
  /** Shape of one image, e.g. [28, 28]; its product must be the model's pixels per image. */
  shape: number[];
  /** Images per independently decodable chunk (default 500). */
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
  const { shape, chunkSize = 500, fallback = true, engine, ...rest } = options;
  checkShape(shape);
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK) throw new GmError('BAD_ARGUMENT', 'compress: chunkSize', `an integer in [1, ${MAX_CHUNK}]`, chunkSize);
  const pixelsPerImage = shape.reduce((a, b) => a * b, 1);
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
 * that is smaller (and the writer allows it).
 */
export function encodeChunk(writer: GmzWriter, images: Uint8Array, firstImage = 0): GmzChunk {
  const { header, coder } = writer;
  const D = headerPixels(header);
  const count = images.length / D;
  if (!Number.isInteger(count) || count < 1 || count > header.chunkSize) {
    throw new GmError('BAD_SHAPE', 'compress: chunk', `1..${header.chunkSize} whole images of ${D} pixels`, `${images.length} pixels`);
  }
  checkPixels(images, header.pixels, firstImage, D);
  const imageCrc = crc32(images);
  const modelPayload = coder.encode(images, count);
  if (writer.fallback) {
    const deflated = deflatePixels(images, header.pixels === 'binary');
    if (deflated.length < modelPayload.length) return { method: 'deflate', count, imageCrc, payload: deflated };
  }
  return { method: 'model', count, imageCrc, payload: modelPayload };
}

/** Decodes one chunk; the images are checked against the chunk's stored CRC before they are returned. */
export function decodeChunk(chunk: GmzChunk, coder: ModelCoder, header: GmzHeader): Uint8Array {
  const D = headerPixels(header);
  let images: Uint8Array;
  try {
    images = chunk.method === 'deflate' ? inflatePixels(chunk.payload, chunk.count * D, header.pixels === 'binary', 'deflated chunk') : coder.decode(chunk.payload, chunk.count);
  } catch (e) {
    if (e instanceof GmzError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new GmzError('mismatch', `a chunk does not decode (${msg}): the data is corrupt or the model is not the one that wrote the file`);
  }
  if (crc32(images) !== chunk.imageCrc) {
    throw new GmzError('mismatch', 'decoded images fail their checksum: the data is corrupt or the model is not the one that wrote the file');
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
  const flush = async (): Promise<Uint8Array> => {
    await yieldToEventLoop();
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
  if (fill > 0) yield await flush();
  if (count !== null && total !== count) throw new GmError('BAD_ARGUMENT', 'compressStream: source', `the ${count} images the header promised`, `${total} images`);
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

/**
 * Assembles a .gmz file from a header and chunks encoded separately (in order), e.g. on several workers or
 * machines. The result is byte-identical to {@link compress} over the same images and options.
 */
export function joinGmz(header: GmzHeader, chunks: readonly GmzChunk[]): Uint8Array {
  const total = chunks.reduce((a, c) => a + c.count, 0);
  if (header.count !== null && header.count !== total) throw new GmError('BAD_ARGUMENT', 'joinGmz: chunks', `the header's ${header.count} images`, `${total} images`);
  const body = concatBytes([writeHeader(header), ...chunks.map(writeChunk), trailer(total)]);
  return concatBytes([body, sha256(body)]);
}

/** A parsed .gmz file: header and chunk bodies (undecoded), for splitting work across threads or machines. */
export interface GmzFile {
  header: GmzHeader;
  chunks: GmzChunk[];
  /** Total images (from the trailer). */
  count: number;
}

/**
 * Parses and fully verifies a .gmz file without decoding it: magic, versions, header CRC, every chunk's CRC,
 * framing, the trailer count and the file's SHA-256. Throws {@link GmzError}.
 */
export function splitGmz(bytes: Uint8Array): GmzFile {
  const { header, pos: start } = readHeader(bytes);
  if (bytes.length < start + 34) throw new GmzError('truncated', 'file ends before its trailer');
  const hashAt = bytes.length - 32;
  const want = sha256(bytes.subarray(0, hashAt));
  const got = bytes.subarray(hashAt);
  for (let i = 0; i < 32; i++) {
    if (want[i] !== got[i]) throw new GmzError('checksum', 'file checksum mismatch: the file is truncated or corrupt');
  }
  return wrap('invalid .gmz body', () => {
    const chunks: GmzChunk[] = [];
    let pos = start;
    let total = 0;
    for (;;) {
      const [len, posLen] = readVarint(bytes, pos, 'chunk length');
      pos = posLen;
      if (len === 0) break;
      if (pos + len + 4 > hashAt) throw new GmzError('truncated', 'file ends inside a chunk');
      const body = bytes.subarray(pos, pos + len);
      if (readU32(bytes, pos + len, 'a chunk checksum') !== crc32(body)) throw new GmzError('checksum', `chunk ${chunks.length} checksum mismatch`);
      const c = parseChunkBody(body, header);
      chunks.push(c);
      total += c.count;
      pos += len + 4;
    }
    const [count, posCount] = readVarint(bytes, pos, 'trailer count');
    pos = posCount;
    if (pos !== hashAt) throw new GmzError('corrupt', 'unexpected bytes after the last chunk');
    if (count !== total || (header.count !== null && header.count !== count)) {
      throw new GmzError('corrupt', `image counts disagree: header ${header.count}, trailer ${count}, chunks ${total}`);
    }
    return { header, chunks, count };
  });
}

/**
 * The coder that reads a file's chunks: refuses (GmzError 'wrong-model') a model whose fingerprint is not the
 * file's, before decoding anything.
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
  return modelCoder(model, header.settings, options.engine);
}

/** Decompresses a .gmz file: the images (count × pixels, as given to {@link compress}), their shape and count. */
export async function decompress(
  bytes: Uint8Array,
  model: CodingModel,
  options: DecompressOptions = {},
): Promise<{ images: Uint8Array; shape: number[]; count: number; header: GmzHeader; chunks: GmzChunk[] }> {
  const file = splitGmz(bytes);
  const coder = gmzReader(file.header, model, options);
  const D = headerPixels(file.header);
  const images = new Uint8Array(file.count * D);
  let off = 0;
  for (const c of file.chunks) {
    await yieldToEventLoop();
    images.set(decodeChunk(c, coder, file.header), off);
    off += c.count * D;
  }
  return { images, shape: file.header.shape, count: file.count, header: file.header, chunks: file.chunks };
}

/** Reads exactly what is needed from an async byte source. */
class ByteReader {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private done = false;
  private readonly it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (source as Iterable<Uint8Array>)[Symbol.iterator]();
  }
  async fill(n: number): Promise<boolean> {
    while (this.buf.length - this.pos < n && !this.done) {
      const r = await this.it.next();
      if (r.done === true) {
        this.done = true;
        break;
      }
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
    const [value, next] = wrap(what, () => readVarint(avail, 0, what));
    return { value, bytes: await this.take(next, what) };
  }
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }
}

/**
 * Decompresses a .gmz byte stream chunk by chunk, yielding the images of each chunk (count × pixels) as soon as
 * that chunk is verified and decoded. A chunk's CRC and decoded-image CRC are checked before it is yielded; the
 * file's SHA-256 is checked at the end (a GmzError is thrown there if it fails).
 */
export async function* decompressStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  model: CodingModel,
  options: DecompressOptions = {},
): AsyncGenerator<Uint8Array> {
  const r = new ByteReader(source);
  const hash = sha256Hasher();
  // The header has variable length: read enough for any header, parse, then consume exactly its bytes.
  await r.fill(256); // a header is at most ~110 bytes
  const { header, pos } = readHeader(r.peekAll());
  hash.update(await r.take(pos, 'the header'));
  const coder = gmzReader(header, model, options);
  const D = headerPixels(header);
  let total = 0;
  for (;;) {
    const len = await r.varint('a chunk length');
    hash.update(len.bytes);
    if (len.value === 0) break;
    // A chunk is never larger than its pixels deflated (at most ~D bytes each) or coded (a few bytes per pixel).
    if (len.value > 1024 + header.chunkSize * (D * 8 + 1024) + header.settings.lanes * 8) {
      throw new GmzError('corrupt', `chunk length ${len.value} is implausible for chunks of ${header.chunkSize} images`);
    }
    const body = await r.take(len.value, 'a chunk');
    const crcBytes = await r.take(4, 'a chunk checksum');
    hash.update(body);
    hash.update(crcBytes);
    if (readU32(crcBytes, 0, 'a chunk checksum') !== crc32(body)) throw new GmzError('checksum', 'chunk checksum mismatch: the stream is corrupt');
    const chunk = parseChunkBody(body, header);
    total += chunk.count;
    await yieldToEventLoop();
    yield decodeChunk(chunk, coder, header);
  }
  const cnt = await r.varint('the trailer');
  hash.update(cnt.bytes);
  const digest = await r.take(32, 'the trailer');
  const want = hash.digest();
  for (let i = 0; i < 32; i++) if (want[i] !== digest[i]) throw new GmzError('checksum', 'file checksum mismatch: the stream is corrupt');
  if (cnt.value !== total || (header.count !== null && header.count !== total)) throw new GmzError('corrupt', 'image counts disagree');
  if (!(await r.atEnd())) throw new GmzError('corrupt', 'unexpected bytes after the trailer');
}

/** What each chunk of a file holds and how it is stored — the report of which chunks used the model's code. */
export interface GmzChunkSummary {
  method: ChunkMethod;
  images: number;
  /** Payload bytes. */
  bytes: number;
}

/** Per-chunk storage of a parsed file. */
export function chunkSummary(file: GmzFile): GmzChunkSummary[] {
  return file.chunks.map((c) => ({ method: c.method, images: c.count, bytes: c.payload.length }));
}
