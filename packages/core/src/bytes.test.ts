import { describe, expect, it } from 'vitest';
import { concatBytes, crc32, sha256Hex } from './bytes.js';
import { yieldToEventLoop } from './event-loop.js';

describe('bytes', () => {
  it('CRC-32 matches the standard check value and continues across pieces', () => {
    const data = new TextEncoder().encode('123456789');
    expect(crc32(data)).toBe(0xcbf43926);
    expect(crc32(data.subarray(4), crc32(data.subarray(0, 4)))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('SHA-256 matches the FIPS 180-2 test vectors, over strings and bytes in pieces', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('a', new TextEncoder().encode('bc'))).toBe(sha256Hex('abc'));
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('concatenates into a fresh array', () => {
    const a = Uint8Array.of(1, 2);
    const out = concatBytes([a, Uint8Array.of(3)]);
    expect([...out]).toEqual([1, 2, 3]);
    out[0] = 9;
    expect(a[0]).toBe(1);
  });

  it('yields to the event loop', async () => {
    let ran = false;
    setTimeout(() => (ran = true), 0);
    for (let i = 0; i < 20 && !ran; i++) await yieldToEventLoop();
    await new Promise((r) => setTimeout(r, 5));
    expect(ran).toBe(true);
  });
});
