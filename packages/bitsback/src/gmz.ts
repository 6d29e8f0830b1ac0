/**
 * The .gmz container: a header (magic, version, model fingerprint, image shape and count, codec settings), a
 * sequence of independently decodable chunks, and a trailer with the image count and a SHA-256 of everything
 * before it.
 *
 * ```
 * file    = magic "\x89GMZ" · version u8 (=1) · header · header-crc32 u32 · chunk* · end · trailer
 * header  = sha256(fingerprint) [32] · rank u8 · dims varint* · count+1 varint (0 = unknown, streamed)
 *           · pixels u8 (0 binary, 1 u8) · bucketBits u8 · posteriorPrecision u8 · likelihoodPrecision u8
 *           · lanes varint · growth·1000 varint · seed u32 · chunkSize varint · latentDim varint
 * chunk   = body-length varint (> 0) · body · crc32(body) u32
 * body    = images varint · cleanUnits varint · warm-up steps varint · step sizes varint* · crc32(image bytes) u32
 *           · rANS message (see flatten)
 * end     = varint 0
 * trailer = count varint · sha256(all bytes before the trailer's hash) [32]
 * ```
 *
 * Chunks are independent: {@link splitGmz} and {@link decodeChunk} let a caller hand chunks to worker threads or
 * other machines, and {@link compressStream} / {@link decompressStream} handle datasets larger than memory.
 */
import { concatBytes, crc32, sha256, sha256Hasher, toHex } from '@gm/core';
import { decodeImages, encodeImages, expandSchedule, resolveSettings, type BBANSSettings, type BitsBackModel } from './bbans';
import { pushVarint, readVarint } from './rans';

/** Magic bytes at the start of every .gmz file. */
export const GMZ_MAGIC = Uint8Array.of(0x89, 0x47, 0x4d, 0x5a);
/** Container version written by this library. */
export const GMZ_VERSION = 1;

/** Why a .gmz file was rejected. */
export type GmzErrorCode = 'not-gmz' | 'version' | 'truncated' | 'checksum' | 'wrong-model' | 'corrupt' | 'mismatch';

/** A .gmz file could not be read; `code` says why. */
export class GmzError extends Error {
  constructor(
    readonly code: GmzErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'GmzError';
  }
}

export { crc32 };

/** The 32-byte fingerprint stored in a header: SHA-256 of the caller's fingerprint string or bytes. */
export function fingerprintDigest(fingerprint: string | Uint8Array): Uint8Array {
  if (typeof fingerprint === 'string') {
    if (fingerprint.length === 0) throw new RangeError('fingerprint must not be empty');
    return sha256(fingerprint);
  }
  if (!(fingerprint instanceof Uint8Array) || fingerprint.length === 0) throw new TypeError('fingerprint must be a non-empty string or Uint8Array');
  return sha256(fingerprint);
}

/**
 * A model fingerprint from its parts — e.g. the architecture as JSON and every weight array in a fixed order:
 * hex SHA-256 over each part's length and bytes (so the part boundaries count). Pass it as `fingerprint`.
 */
export function modelFingerprint(parts: ReadonlyArray<string | ArrayBufferView>): string {
  if (parts.length === 0) throw new RangeError('modelFingerprint needs at least one part');
  const h = sha256Hasher();
  for (const p of parts) {
    const bytes = typeof p === 'string' ? new TextEncoder().encode(p) : new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
    const len = new Uint8Array(8);
    new DataView(len.buffer).setFloat64(0, bytes.length);
    h.update(len);
    h.update(bytes);
  }
  return toHex(h.digest());
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
  /** SHA-256 of the model fingerprint the file was written with. */
  fingerprint: Uint8Array;
  /** Shape of one image, e.g. [28, 28]. */
  shape: number[];
  /** Number of images, or null when the writer streamed and did not know (the trailer always has it). */
  count: number | null;
  /** Images per chunk (the last chunk may hold fewer). */
  chunkSize: number;
  /** Latent size of the model the file was written with. */
  latentDim: number;
  settings: BBANSSettings;
}

const MAX_CHUNK = 1 << 20;

function writeHeader(h: GmzHeader): Uint8Array {
  const out: number[] = [...GMZ_MAGIC, GMZ_VERSION];
  const start = out.length;
  out.push(...h.fingerprint);
  out.push(h.shape.length);
  for (const d of h.shape) pushVarint(out, d);
  pushVarint(out, h.count === null ? 0 : h.count + 1);
  const s = h.settings;
  out.push(s.pixels === 'binary' ? 0 : 1, s.bucketBits, s.posteriorPrecision, s.likelihoodPrecision);
  pushVarint(out, s.lanes);
  pushVarint(out, Math.round(s.growth * 1000));
  u32(out, s.seed >>> 0);
  pushVarint(out, h.chunkSize);
  pushVarint(out, h.latentDim);
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

function readHeader(bytes: Uint8Array): { header: GmzHeader; pos: number } {
  if (bytes.length < 5) throw new GmzError('truncated', `not a complete .gmz file (${bytes.length} bytes)`);
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== GMZ_MAGIC[i]) throw new GmzError('not-gmz', 'not a .gmz file (bad magic bytes)');
  }
  if (bytes[4] !== GMZ_VERSION) throw new GmzError('version', `unsupported .gmz version ${bytes[4]} (this library reads version ${GMZ_VERSION})`);
  return wrap('invalid .gmz header', () => {
    let pos = 5;
    if (bytes.length < pos + 33) throw new GmzError('truncated', 'file ends inside the header');
    const fingerprint = bytes.slice(pos, pos + 32);
    pos += 32;
    const rank = bytes[pos++]!;
    if (rank < 1 || rank > 4) throw new GmzError('corrupt', `image rank ${rank} is out of range`);
    const shape: number[] = [];
    for (let i = 0; i < rank; i++) {
      const [d, posD] = readVarint(bytes, pos, 'image shape');
      pos = posD;
      shape.push(d);
    }
    const [c, posC] = readVarint(bytes, pos, 'image count');
    pos = posC;
    if (pos + 4 > bytes.length) throw new GmzError('truncated', 'file ends inside the header');
    const pixels = bytes[pos++] === 0 ? 'binary' : bytes[pos - 1] === 1 ? 'u8' : null;
    if (pixels === null) throw new GmzError('corrupt', `pixel kind ${bytes[pos - 1]} is unknown`);
    const bucketBits = bytes[pos++]!;
    const posteriorPrecision = bytes[pos++]!;
    const likelihoodPrecision = bytes[pos++]!;
    const [lanes, posL] = readVarint(bytes, pos, 'lanes');
    const [growth, posG] = readVarint(bytes, posL, 'growth');
    pos = posG;
    const seed = readU32(bytes, pos, 'the header') | 0;
    pos += 4;
    const [chunkSize, posK] = readVarint(bytes, pos, 'chunk size');
    const [latentDim, posZ] = readVarint(bytes, posK, 'latent size');
    pos = posZ;
    const crc = readU32(bytes, pos, 'the header checksum');
    if (crc !== crc32(bytes.subarray(5, pos))) throw new GmzError('checksum', 'header checksum mismatch: the file is corrupt');
    pos += 4;
    const pixelsPerImage = shape.reduce((a, b) => a * b, 1);
    const settings = resolveSettings({ pixels, pixelsPerImage, bucketBits, posteriorPrecision, likelihoodPrecision, lanes, growth: growth / 1000, seed });
    if (chunkSize < 1 || chunkSize > MAX_CHUNK) throw new GmzError('corrupt', `chunk size ${chunkSize} is out of range`);
    if (latentDim < 1 || latentDim > 1 << 20) throw new GmzError('corrupt', `latent size ${latentDim} is out of range`);
    return { header: { fingerprint, shape, count: c === 0 ? null : c - 1, chunkSize, latentDim, settings }, pos };
  });
}

/** A chunk body: what {@link decodeChunk} needs besides the header. */
export interface GmzChunk {
  count: number;
  cleanUnits: number;
  imageCrc: number;
  /** Warm-up step sizes (see expandSchedule). */
  warmup: number[];
  message: Uint8Array;
}

function writeChunk(c: GmzChunk): Uint8Array {
  const pre: number[] = [];
  pushVarint(pre, c.count);
  pushVarint(pre, c.cleanUnits);
  pushVarint(pre, c.warmup.length);
  for (const b of c.warmup) pushVarint(pre, b);
  u32(pre, c.imageCrc);
  const body = new Uint8Array(pre.length + c.message.length);
  body.set(pre);
  body.set(c.message, pre.length);
  const len: number[] = [];
  pushVarint(len, body.length);
  const tail: number[] = [];
  u32(tail, crc32(body));
  const out = new Uint8Array(len.length + body.length + 4);
  out.set(len);
  out.set(body, len.length);
  out.set(tail, len.length + body.length);
  return out;
}

function parseChunkBody(body: Uint8Array, header: GmzHeader): GmzChunk {
  return wrap('invalid chunk', () => {
    const [count, pos1] = readVarint(body, 0, 'chunk image count');
    const [cleanUnits, pos2] = readVarint(body, pos1, 'chunk clean units');
    let pos = pos2;
    if (count < 1 || count > header.chunkSize) throw new GmzError('corrupt', `chunk holds ${count} images, chunk size is ${header.chunkSize}`);
    if (cleanUnits > body.length) throw new GmzError('corrupt', `chunk claims ${cleanUnits} clean units`);
    const [steps, posSteps] = readVarint(body, pos, 'chunk warm-up length');
    pos = posSteps;
    if (steps > count) throw new GmzError('corrupt', `chunk claims ${steps} warm-up steps for ${count} images`);
    const warmup: number[] = [];
    for (let i = 0; i < steps; i++) {
      const [b, posB] = readVarint(body, pos, 'chunk warm-up step');
      pos = posB;
      warmup.push(b);
    }
    expandSchedule(warmup, count, header.settings.lanes);
    const imageCrc = readU32(body, pos, 'a chunk');
    pos += 4;
    return { count, cleanUnits, imageCrc, warmup, message: body.subarray(pos) };
  });
}

/** Options for {@link compress} and {@link compressStream}. */
export interface CompressOptions extends Partial<Omit<BBANSSettings, 'pixelsPerImage'>> {
  /** Identifies the model (e.g. architecture + weights hash); decompress refuses a different one. */
  fingerprint: string | Uint8Array;
  /** Shape of one image, e.g. [28, 28]; its product is the pixels per image. */
  shape: number[];
  /** Images per independently decodable chunk (default 500). */
  chunkSize?: number;
}

function checkShape(shape: unknown): asserts shape is number[] {
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 4 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`shape must be 1 to 4 positive integers, got ${JSON.stringify(shape)}`);
  }
}

/**
 * The header {@link compress} would write for these options (`count` null when unknown): pass it to
 * {@link encodeChunk} on each worker or machine, then assemble the results with {@link joinGmz}.
 */
export function createGmzHeader(options: CompressOptions, latentDim: number, count: number | null = null): GmzHeader {
  return makeHeader(options, count, latentDim);
}

/** Throws a GmzError('wrong-model') when the model's latent size is not the file's. */
function checkLatent(model: BitsBackModel, header: GmzHeader): void {
  if (model.latentDim !== header.latentDim) {
    throw new GmzError('wrong-model', `the file was written with a ${header.latentDim}-dimensional latent, this model has ${model.latentDim}`);
  }
}

function makeHeader(options: CompressOptions, count: number | null, latentDim: number): GmzHeader {
  const { fingerprint, shape, chunkSize = 500, ...rest } = options;
  checkShape(shape);
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK) throw new RangeError(`chunkSize must be an integer in [1, ${MAX_CHUNK}], got ${chunkSize}`);
  const settings = resolveSettings({ pixels: 'binary', ...rest, pixelsPerImage: shape.reduce((a, b) => a * b, 1) });
  if (Math.round(settings.growth * 1000) / 1000 !== settings.growth) throw new RangeError(`growth must have at most 3 decimals, got ${settings.growth}`);
  if (!Number.isInteger(latentDim) || latentDim < 1 || latentDim > 1 << 20) throw new RangeError(`latentDim must be a positive integer, got ${latentDim}`);
  return { fingerprint: fingerprintDigest(fingerprint), shape: [...shape], count, chunkSize, latentDim, settings };
}

/** Encodes one chunk of images (count × pixelsPerImage pixels) into chunk body bytes — the unit of parallel work. */
export async function encodeChunk(images: Uint8Array, model: BitsBackModel, header: GmzHeader): Promise<GmzChunk> {
  checkLatent(model, header);
  const D = header.settings.pixelsPerImage;
  const count = images.length / D;
  if (!Number.isInteger(count) || count < 1 || count > header.chunkSize) {
    throw new RangeError(`a chunk needs 1..${header.chunkSize} whole images of ${D} pixels, got ${images.length} pixels`);
  }
  const enc = await encodeImages(images, count, model, header.settings);
  return { count, cleanUnits: enc.cleanUnits, imageCrc: crc32(images), warmup: enc.warmup, message: enc.message };
}

/** Decodes one chunk; the images are checked against the chunk's stored CRC before they are returned. */
export async function decodeChunk(chunk: GmzChunk, model: BitsBackModel, header: GmzHeader): Promise<Uint8Array> {
  checkLatent(model, header);
  let images: Uint8Array;
  try {
    images = await decodeImages(chunk.message, chunk.count, chunk.cleanUnits, chunk.warmup, model, header.settings);
  } catch (e) {
    if (e instanceof TypeError || e instanceof GmzError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new GmzError('mismatch', `chunk does not decode with this model (${msg}); the model differs from the one that wrote the file, or the data is corrupt`);
  }
  if (crc32(images) !== chunk.imageCrc) {
    throw new GmzError('mismatch', 'decoded images fail their checksum: the model differs from the one that wrote the file (weights or numerics), or the data is corrupt');
  }
  return images;
}

function checkModelFingerprint(header: GmzHeader, fingerprint: string | Uint8Array): void {
  const want = fingerprintDigest(fingerprint);
  for (let i = 0; i < 32; i++) {
    if (want[i] !== header.fingerprint[i]) {
      throw new GmzError('wrong-model', 'this file was written with a different model (fingerprint mismatch); pass the model and fingerprint it was compressed with');
    }
  }
}

/**
 * Compresses a stream of images (each a Uint8Array of one image, or of several whole images) into .gmz bytes,
 * yielding the header, then one piece per chunk, then the trailer. Memory stays at one chunk.
 */
export async function* compressStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  model: BitsBackModel,
  options: CompressOptions,
  count: number | null = null,
): AsyncGenerator<Uint8Array> {
  const header = makeHeader(options, count, model.latentDim);
  const D = header.settings.pixelsPerImage;
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
    const chunk = await encodeChunk(buf.subarray(0, fill), model, header);
    total += chunk.count;
    fill = 0;
    return emit(writeChunk(chunk));
  };
  for await (const piece of source) {
    if (!(piece instanceof Uint8Array)) throw new TypeError('compressStream expects Uint8Array pieces of whole images');
    if (piece.length % D !== 0) throw new RangeError(`each piece must hold whole images of ${D} pixels, got ${piece.length} pixels`);
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
  if (count !== null && total !== count) throw new RangeError(`header promised ${count} images, the source gave ${total}`);
  const tail: number[] = [0];
  pushVarint(tail, total);
  const t = Uint8Array.from(tail);
  hash.update(t);
  const out = new Uint8Array(t.length + 32);
  out.set(t);
  out.set(hash.digest(), t.length);
  yield out;
}

/**
 * Compresses `images` (count × product(shape) pixels, row-major, one byte per pixel: 0/1 for binary, 0..255
 * for u8) with `model` into a .gmz file.
 */
export async function compress(images: Uint8Array, model: BitsBackModel, options: CompressOptions): Promise<Uint8Array> {
  checkShape(options.shape);
  const D = options.shape.reduce((a, b) => a * b, 1);
  if (!(images instanceof Uint8Array)) throw new TypeError('images must be a Uint8Array of pixels');
  if (images.length === 0 || images.length % D !== 0) throw new RangeError(`images must hold a positive whole number of ${D}-pixel images, got ${images.length} pixels`);
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
  if (header.count !== null && header.count !== total) throw new RangeError(`header says ${header.count} images, chunks hold ${total}`);
  const parts = [writeHeader(header), ...chunks.map(writeChunk)];
  const tail: number[] = [0];
  pushVarint(tail, total);
  parts.push(Uint8Array.from(tail));
  const body = concatBytes(parts);
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
 * Parses and fully verifies a .gmz file without decoding it: magic, version, header CRC, every chunk's CRC,
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

/** Options for {@link decompress}. */
export interface DecompressOptions {
  /** The fingerprint the file was compressed with. */
  fingerprint: string | Uint8Array;
}

/** Decompresses a .gmz file: the images (count × pixels, as given to {@link compress}), their shape and count. */
export async function decompress(
  bytes: Uint8Array,
  model: BitsBackModel,
  options: DecompressOptions,
): Promise<{ images: Uint8Array; shape: number[]; count: number; header: GmzHeader }> {
  const file = splitGmz(bytes);
  checkModelFingerprint(file.header, options.fingerprint);
  const D = file.header.settings.pixelsPerImage;
  const images = new Uint8Array(file.count * D);
  let off = 0;
  for (const c of file.chunks) {
    images.set(await decodeChunk(c, model, file.header), off);
    off += c.count * D;
  }
  return { images, shape: file.header.shape, count: file.count, header: file.header };
}

/** Reads exactly what is needed from an async byte source. */
class ByteReader {
  private buf = new Uint8Array(0);
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
      const rest = this.buf.subarray(this.pos);
      const next = new Uint8Array(rest.length + r.value.length);
      next.set(rest);
      next.set(r.value, rest.length);
      this.buf = next;
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
  model: BitsBackModel,
  options: DecompressOptions,
): AsyncGenerator<Uint8Array> {
  const r = new ByteReader(source);
  const hash = sha256Hasher();
  // The header has variable length: read enough for any header, parse, then consume exactly its bytes.
  await r.fill(256); // a header is at most ~130 bytes
  const { header, pos } = readHeader(r.peekAll());
  hash.update(await r.take(pos, 'the header'));
  checkModelFingerprint(header, options.fingerprint);
  let total = 0;
  for (;;) {
    const len = await r.varint('a chunk length');
    hash.update(len.bytes);
    if (len.value === 0) break;
    if (len.value > 1024 + header.chunkSize * (header.settings.pixelsPerImage * 8 + 65536) + header.settings.lanes * 8) {
      throw new GmzError('corrupt', `chunk length ${len.value} is implausible for chunks of ${header.chunkSize} images`);
    }
    const body = await r.take(len.value, 'a chunk');
    const crcBytes = await r.take(4, 'a chunk checksum');
    hash.update(body);
    hash.update(crcBytes);
    if (readU32(crcBytes, 0, 'a chunk checksum') !== crc32(body)) throw new GmzError('checksum', `chunk checksum mismatch: the stream is corrupt`);
    const chunk = parseChunkBody(body, header);
    total += chunk.count;
    yield await decodeChunk(chunk, model, header);
  }
  const cnt = await r.varint('the trailer');
  hash.update(cnt.bytes);
  const digest = await r.take(32, 'the trailer');
  const want = hash.digest();
  for (let i = 0; i < 32; i++) if (want[i] !== digest[i]) throw new GmzError('checksum', 'file checksum mismatch: the stream is corrupt');
  if (cnt.value !== total || (header.count !== null && header.count !== total)) throw new GmzError('corrupt', 'image counts disagree');
  if (!(await r.atEnd())) throw new GmzError('corrupt', 'unexpected bytes after the trailer');
}
