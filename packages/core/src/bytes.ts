/** Bytes: concatenation and the two checksums gm's files carry (CRC-32 per chunk, SHA-256 per file and model). */
import { sha256 as nobleSha256 } from '@noble/hashes/sha256';

/** Concatenates byte arrays into one fresh Uint8Array (never a view of a pooled Buffer). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib and PNG compute it) of `bytes`, continuing from `previous` (default: a fresh CRC). */
export function crc32(bytes: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** SHA-256 of the concatenation of `parts` (a string counts as its UTF-8 bytes); synchronous, in Node and browsers. */
export function sha256(...parts: Array<Uint8Array | string>): Uint8Array {
  const h = nobleSha256.create();
  const utf8 = new TextEncoder();
  for (const p of parts) h.update(typeof p === 'string' ? utf8.encode(p) : p);
  return h.digest();
}

/** An incremental SHA-256 (for data that arrives in pieces, e.g. a file streamed chunk by chunk). */
export function sha256Hasher(): { update(bytes: Uint8Array): void; digest(): Uint8Array } {
  const h = nobleSha256.create();
  return {
    update(bytes) {
      h.update(bytes);
    },
    digest: () => h.digest(),
  };
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!.toString(16).padStart(2, '0');
  return s;
}

/** SHA-256 as lower-case hex. */
export function sha256Hex(...parts: Array<Uint8Array | string>): string {
  return toHex(sha256(...parts));
}
