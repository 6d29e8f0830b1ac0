// Download limits (issue 15, item 5): an overall deadline, an idle timeout and a size cap (the known size of the
// official files by default), each ending the download with a DataError and leaving nothing in the cache.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCifar10 } from './cifar.js';
import { CIFAR10_ARCHIVE } from './cifar-format.js';
import { DataError } from './errors.js';
import { downloadVerified } from './files.js';
import { loadMnist } from './mnist.js';
import { MNIST_FILES } from './mnist-format.js';

const SHA = '0'.repeat(64);
let root: string;
let server: Server;
let base: string;
/** Stops the endless bodies even if a client never does, so a broken client cannot fill the disk. */
const SAFETY_CAP = 256 * 1024 * 1024;

function endless(res: ServerResponse, headers: Record<string, string | number> = {}): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', ...headers });
  const chunk = Buffer.alloc(64 * 1024, 7);
  let sent = 0;
  const pump = (): void => {
    while (!res.destroyed && sent < SAFETY_CAP) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path.startsWith('/silent/')) return; // accepts the connection, never answers
  if (path.startsWith('/headers-only/')) {
    res.writeHead(200, { 'content-length': 1000 });
    res.flushHeaders();
    return; // then nothing
  }
  if (path.startsWith('/trickle/')) {
    res.writeHead(200, { 'content-length': 1_000_000 });
    const timer = setInterval(() => res.write('x'), 100);
    res.on('close', () => clearInterval(timer));
    return;
  }
  if (path.startsWith('/endless/')) return endless(res);
  if (path.startsWith('/announces-too-much/')) return endless(res, { 'content-length': 10_000_000_000 });
  res.writeHead(404).end();
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gm-download-'));
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(root, { recursive: true, force: true });
});

/** Runs a download that must fail; returns the error and how long it took. */
async function failing(run: () => Promise<unknown>): Promise<{ err: DataError; ms: number }> {
  const t0 = performance.now();
  const err = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  const ms = performance.now() - t0;
  expect(err).toBeInstanceOf(DataError);
  return { err: err as DataError, ms };
}

function report(name: string, ms: number): void {
  console.info(`[download] ${name}: ended after ${ms.toFixed(0)} ms`);
}

describe('download limits', { timeout: 8000 }, () => {
  it('a server that never answers ends at the idle timeout, leaving nothing in the cache', async () => {
    const dir = join(root, 'silent');
    const url = `${base}silent/a.gz`;
    const { err, ms } = await failing(() => downloadVerified(url, join(dir, 'a.gz'), SHA, { idleTimeoutMs: 300, timeoutMs: 5000 }));
    report('silent server, idle 300 ms', ms);
    expect(err.code).toBe('TIMEOUT');
    expect(err.file).toBe(url);
    expect(err.message).toBe(`${url}: download of a.gz stalled: no data for 300 ms (idleTimeoutMs)`);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(2000);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a server that sends headers and then nothing ends at the idle timeout, removing the partial file', async () => {
    const dir = join(root, 'headers-only');
    const { err, ms } = await failing(() =>
      downloadVerified(`${base}headers-only/a.gz`, join(dir, 'a.gz'), SHA, { idleTimeoutMs: 300, timeoutMs: 5000 }),
    );
    report('headers then silence, idle 300 ms', ms);
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toMatch(/no data for 300 ms/);
    expect(ms).toBeLessThan(2000);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a server that never answers ends at the overall deadline', async () => {
    const dir = join(root, 'silent-deadline');
    const url = `${base}silent/b.gz`;
    const { err, ms } = await failing(() => downloadVerified(url, join(dir, 'b.gz'), SHA, { timeoutMs: 500 }));
    report('silent server, deadline 500 ms', ms);
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toBe(`${url}: download of b.gz did not finish within 500 ms (timeoutMs)`);
    expect(ms).toBeLessThan(2000);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a trickling server (a byte every 100 ms) ends at the overall deadline, removing the partial file', async () => {
    const dir = join(root, 'trickle');
    const { err, ms } = await failing(() =>
      downloadVerified(`${base}trickle/c.gz`, join(dir, 'c.gz'), SHA, { timeoutMs: 800, idleTimeoutMs: 1000 }),
    );
    report('trickle, deadline 800 ms', ms);
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toMatch(/download of c\.gz did not finish within 800 ms \(timeoutMs\)/);
    expect(ms).toBeGreaterThanOrEqual(750);
    expect(ms).toBeLessThan(2500);
    expect(await readdir(dir)).toEqual([]);
  });

  it('an endless body ends at maxDownloadBytes, removing the partial file', async () => {
    const dir = join(root, 'endless');
    const { err, ms } = await failing(() =>
      downloadVerified(`${base}endless/d.gz`, join(dir, 'd.gz'), SHA, { maxDownloadBytes: 1024 * 1024, timeoutMs: 5000 }),
    );
    report('endless body, maxDownloadBytes 1 MiB', ms);
    expect(err.code).toBe('TOO_LARGE');
    expect(err.message).toMatch(/download of d\.gz sent more than 1,048,576 bytes \(maxDownloadBytes\); the file was not saved/);
    expect(ms).toBeLessThan(2000);
    expect(await readdir(dir)).toEqual([]);
  });

  it('an endless body for an official MNIST file ends at that file\'s known size', async () => {
    const cacheDir = join(root, 'mnist-endless');
    const { err, ms } = await failing(() => loadMnist({ download: true, mirror: `${base}endless/`, cacheDir, timeoutMs: 5000 }));
    report('endless body, MNIST known size', ms);
    expect(err.code).toBe('TOO_LARGE');
    expect(err.file).toBe(`${base}endless/${MNIST_FILES.trainImages}`);
    expect(err.message).toMatch(/download of train-images-idx3-ubyte\.gz sent more than the 9,912,422 bytes expected; the file was not saved/);
    expect(ms).toBeLessThan(3000);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('refuses a response that announces more than the known size before reading its body', async () => {
    const cacheDir = join(root, 'cifar-announce');
    const { err, ms } = await failing(() => loadCifar10({ download: true, mirror: `${base}announces-too-much/`, cacheDir }));
    report('Content-Length above the known CIFAR-10 size', ms);
    expect(err.code).toBe('TOO_LARGE');
    expect(err.message).toBe(
      `${base}announces-too-much/${CIFAR10_ARCHIVE}: download of ${CIFAR10_ARCHIVE} announces 10,000,000,000 bytes, expected 170,052,171; the file was not saved`,
    );
    expect(ms).toBeLessThan(2000);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('refuses nonsensical limits', async () => {
    await expect(downloadVerified(`${base}x`, join(root, 'bad', 'x'), SHA, { timeoutMs: -1 })).rejects.toThrow(
      /downloadVerified: timeoutMs must be a positive number of milliseconds \(or Infinity\), got -1/,
    );
    await expect(downloadVerified(`${base}x`, join(root, 'bad', 'x'), SHA, { maxDownloadBytes: 0 })).rejects.toThrow(
      /maxDownloadBytes must be a positive number of bytes \(or Infinity\), got 0/,
    );
  });
});
