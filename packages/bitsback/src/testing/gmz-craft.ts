/**
 * A second, independent reader and writer of the .gmz layout (the format comment of src/gmz.ts), for crafting files
 * in tests and the fuzzer: {@link readGmzLayout} parses a well-formed file into its fields, any field can be set to a
 * value the library would never write, and {@link writeGmzLayout} writes it back re-sealed — header CRC, every
 * chunk's CRC (seeded with the header's digest) and the file's SHA-256 recomputed — so only the reader's structural
 * checks stand between a crafted file and the decoder. It shares no code with the reader it tests.
 */
import { concatBytes, crc32, sha256 } from '@gm/core';
import type { BitsBackSettings } from '../bbans.js';

/**
 * The header fields as stored (numbers, not the reader's interpretation of them). The coder's settings keep their
 * names and meaning; growth is stored × 1000.
 */
export interface GmzLayoutHeader extends Omit<BitsBackSettings, 'growth'> {
  version: number;
  codingPath: number;
  fingerprint: Uint8Array;
  /** 0 Gaussian latent, 1 autoregressive. */
  modelKind: number;
  /** 0 binary, 1 8-bit. */
  pixels: number;
  /** The image dimensions; the rank byte is their number. */
  shape: number[];
  /** Image count + 1, 0 when unknown. */
  countPlusOne: number;
  chunkSize: number;
  latentDim: number;
  /** growth × 1000. */
  growth: number;
}

/** A chunk's fields as stored. `crc` set: written as it is instead of the seal (a chunk from elsewhere). */
export interface GmzLayoutChunk {
  method: number;
  index: number;
  firstImage: number;
  count: number;
  imageCrc: number;
  payload: Uint8Array;
  crc?: number;
  /** Written instead of the body's length (a lying length). */
  length?: number;
}

/** A chunk as raw body bytes (re-sealed as they are unless `crc` is set). */
export interface GmzLayoutRawChunk {
  body: Uint8Array;
  crc?: number;
  length?: number;
}

/** A whole file as fields. */
export interface GmzLayout {
  header: GmzLayoutHeader;
  /** Written instead of the header fields (the bytes between the coding-path byte and the header CRC). */
  rawHeader?: Uint8Array;
  chunks: Array<GmzLayoutChunk | GmzLayoutRawChunk>;
  trailerCount: number;
}

/** Unsigned LEB128 of any safe integer (the reader accepts at most 7 bytes: 2^49 − 1). */
export function leb128(v: number): number[] {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`leb128 of ${v}`);
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function be32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

class Cursor {
  constructor(
    readonly bytes: Uint8Array,
    public pos = 0,
  ) {}
  u8(): number {
    if (this.pos >= this.bytes.length) throw new Error('layout: unexpected end');
    return this.bytes[this.pos++]!;
  }
  u32(): number {
    let v = 0;
    for (let i = 0; i < 4; i++) v = v * 256 + this.u8();
    return v;
  }
  varint(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return v;
      scale *= 128;
    }
  }
  take(n: number): Uint8Array {
    if (this.pos + n > this.bytes.length) throw new Error('layout: unexpected end');
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** The header fields' bytes (after the coding-path byte, before the header CRC). */
export function headerFieldBytes(h: GmzLayoutHeader): Uint8Array {
  const out: number[] = [...h.fingerprint, h.modelKind, h.pixels, h.shape.length];
  for (const d of h.shape) out.push(...leb128(d));
  out.push(...leb128(h.countPlusOne), ...leb128(h.chunkSize), ...leb128(h.latentDim));
  out.push(h.bucketBits, h.posteriorPrecision, h.likelihoodPrecision);
  out.push(...leb128(h.lanes), ...leb128(h.growth));
  if (h.version === 4) out.push(...leb128(h.particles));
  out.push(...be32(h.seed >>> 0));
  return Uint8Array.from(out);
}

/** A chunk body from its fields: method · index · first image · images · image CRC · payload. */
export function chunkBody(c: GmzLayoutChunk): Uint8Array {
  const pre = [c.method, ...leb128(c.index), ...leb128(c.firstImage), ...leb128(c.count), ...be32(c.imageCrc >>> 0)];
  return concatBytes([Uint8Array.from(pre), c.payload]);
}

/** Parses a well-formed .gmz file into its fields (throws a plain Error on anything it cannot parse). */
export function readGmzLayout(bytes: Uint8Array): GmzLayout {
  const r = new Cursor(bytes, 4);
  const version = r.u8();
  const codingPath = r.u8();
  const fingerprint = r.take(32);
  const modelKind = r.u8();
  const pixels = r.u8();
  const rank = r.u8();
  const shape = Array.from({ length: rank }, () => r.varint());
  const header: GmzLayoutHeader = {
    version,
    codingPath,
    fingerprint,
    modelKind,
    pixels,
    shape,
    countPlusOne: r.varint(),
    chunkSize: r.varint(),
    latentDim: r.varint(),
    bucketBits: r.u8(),
    posteriorPrecision: r.u8(),
    likelihoodPrecision: r.u8(),
    lanes: r.varint(),
    growth: r.varint(),
    particles: version === 4 ? r.varint() : 1,
    seed: r.u32(),
  };
  r.u32(); // header CRC
  const chunks: GmzLayoutChunk[] = [];
  for (;;) {
    const len = r.varint();
    if (len === 0) break;
    const body = new Cursor(r.take(len));
    r.u32(); // chunk CRC
    const method = body.u8();
    const index = body.varint();
    const firstImage = body.varint();
    const count = body.varint();
    const imageCrc = body.u32();
    chunks.push({ method, index, firstImage, count, imageCrc, payload: body.bytes.slice(body.pos) });
  }
  const trailerCount = r.varint();
  if (r.pos + 32 !== bytes.length) throw new Error('layout: bytes after the trailer');
  return { header, chunks, trailerCount };
}

/** A deep copy of a layout (payloads copied), to edit without touching the original. */
export function cloneGmzLayout(l: GmzLayout): GmzLayout {
  return {
    header: { ...l.header, shape: [...l.header.shape], fingerprint: l.header.fingerprint.slice() },
    ...(l.rawHeader === undefined ? {} : { rawHeader: l.rawHeader.slice() }),
    chunks: l.chunks.map((c) => ('body' in c ? { ...c, body: c.body.slice() } : { ...c, payload: c.payload.slice() })),
    trailerCount: l.trailerCount,
  };
}

/**
 * Writes a layout as a .gmz file, re-sealed: the header CRC over the header fields, each chunk's CRC over the
 * header's SHA-256 and the chunk body (unless the chunk sets its own `crc`), and the file's SHA-256.
 */
export function writeGmzLayout(l: GmzLayout): Uint8Array {
  const h = l.header;
  const fields = l.rawHeader ?? headerFieldBytes(h);
  const headCrc = crc32(fields);
  const head = concatBytes([Uint8Array.of(0x89, 0x47, 0x4d, 0x5a, h.version & 0xff, h.codingPath & 0xff), fields, Uint8Array.from(be32(headCrc))]);
  const seed = crc32(sha256(head));
  const parts: Uint8Array[] = [head];
  for (const c of l.chunks) {
    const body = 'body' in c ? c.body : chunkBody(c);
    const crc = c.crc ?? crc32(body, seed);
    parts.push(Uint8Array.from(leb128(c.length ?? body.length)), body, Uint8Array.from(be32(crc)));
  }
  parts.push(Uint8Array.from([0, ...leb128(l.trailerCount)]));
  const all = concatBytes(parts);
  return concatBytes([all, sha256(all)]);
}

/** The file's SHA-256 recomputed over everything before it (for raw byte edits that should pass that check). */
export function resealSha(bytes: Uint8Array): Uint8Array {
  const body = bytes.subarray(0, Math.max(0, bytes.length - 32));
  return concatBytes([body, sha256(body)]);
}
