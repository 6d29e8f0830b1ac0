// Test-only helpers (not exported from the package): a local HTTP server, a minimal tar writer, error catchers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { DataError } from './errors.js';

export interface LocalServer {
  /** Base URL ending in '/'. */
  url: string;
  /** Requests seen, by path. */
  hits: Map<string, number>;
  /** Paths that answer with this status instead of the file. */
  statusFor: Map<string, number>;
  /** Paths whose body is cut off after this many bytes (the socket is destroyed). */
  cutAfter: Map<string, number>;
  close(): Promise<void>;
}

/** Serves files from `root` on 127.0.0.1 at a free port; only the test's own files, only on loopback. */
export async function startLocalServer(root: string): Promise<LocalServer> {
  const hits = new Map<string, number>();
  const statusFor = new Map<string, number>();
  const cutAfter = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const status = statusFor.get(path);
    if (status !== undefined) {
      res.writeHead(status).end('nope');
      return;
    }
    if (path.includes('..')) {
      res.writeHead(400).end();
      return;
    }
    readFile(join(root, path)).then(
      (body) => {
        const cut = cutAfter.get(path);
        res.writeHead(200, { 'content-length': body.length });
        if (cut === undefined) {
          res.end(body);
        } else {
          res.write(body.subarray(0, cut), () => setTimeout(() => res.destroy(), 20));
        }
      },
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    hits,
    statusFor,
    cutAfter,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Tar entry types the tests use: file, hard link, symlink, character device, block device, folder, FIFO. */
export type TarType = '0' | '1' | '2' | '3' | '4' | '5' | '6';

/** One 512-byte ustar header. */
export function tarHeader(path: string, size: number, type: TarType = '0', linkpath?: string): Uint8Array {
  const h = new Uint8Array(512);
  const enc = new TextEncoder();
  const put = (s: string, at: number, len: number): void => h.set(enc.encode(s).subarray(0, len), at);
  const octal = (n: number, len: number): string => n.toString(8).padStart(len - 1, '0') + '\0';
  put(path, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put('        ', 148, 8);
  put(type, 156, 1);
  if (linkpath) put(linkpath, 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** A ustar archive of the given entries, written by hand so tests can make entries `tar` itself would not. */
export function makeTar(entries: Array<{ path: string; data?: Uint8Array; type?: TarType; linkpath?: string }>): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    blocks.push(tarHeader(e.path, data.length, e.type ?? '0', e.linkpath));
    const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
    padded.set(data);
    blocks.push(padded);
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((s, b) => s + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/**
 * Streams `head`, then `zeros` zero bytes, then `tail` through gzip into `path`, never holding more than 1 MiB: a
 * decompression bomb made without the memory it would cost to decode. Level 9 gives a ratio of about 1,000;
 * level 1 about 230 (under node-tar's own ratio guard of 1,000).
 */
export async function writeGzipBomb(
  path: string,
  parts: { head?: Uint8Array; zeros: number; tail?: Uint8Array; level?: number },
): Promise<void> {
  const chunk = new Uint8Array(1 << 20);
  async function* body(): AsyncGenerator<Uint8Array> {
    if (parts.head) yield parts.head;
    for (let n = 0; n < parts.zeros; n += chunk.length) yield chunk.subarray(0, Math.min(chunk.length, parts.zeros - n));
    if (parts.tail) yield parts.tail;
  }
  await pipeline(body(), createGzip({ level: parts.level ?? 9 }), createWriteStream(path));
}

/**
 * Peak resident memory while `fn` runs, above the resident memory before it: an upper bound from the process's
 * high-water mark (`resourceUsage().maxRSS`), so a short spike cannot hide between samples.
 */
export async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; growth: number; ms: number }> {
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  let value: T | undefined;
  let error: unknown;
  try {
    value = await fn();
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  const growth = process.resourceUsage().maxRSS * 1024 - before;
  return { value, error, growth, ms };
}

export function gzip(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(bytes));
}

/** Deterministic bytes for test images (an LCG; independent of the package's PRNG). */
export function testBytes(n: number, seed: number, max = 256): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 24) % max;
  }
  return out;
}

/** The {@link DataError} `p` rejects with (the test fails if it resolves or rejects with something else). */
export async function rejection(p: Promise<unknown>): Promise<DataError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataError);
  return err as DataError;
}

/** The {@link DataError} `f` throws (the test fails if it returns or throws something else). */
export function thrown(f: () => unknown): DataError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected a DataError, but nothing was thrown');
}
