import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCifar10 } from './cifar.js';
import { CIFAR10_ARCHIVE, CIFAR10_LABELS, CIFAR10_SHA256, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, parseCifar10Batch, writeCifar10Batch } from './cifar-format.js';
import { toNCHW, toNHWC } from './dataset.js';
import { DataError } from './errors.js';
import { sha256Hex as sha256 } from '@gm/core';
import { extractTarSafely, readTarEntries, unsafeTarPath } from './tarball.js';
import { gzip, makeTar, startLocalServer, testBytes, type LocalServer } from './test-helpers.js';

const RECORD = 3073;
let root: string;
let server: LocalServer;

/** A synthetic batch of `n` images: label byte then 3,072 pixel bytes. */
function batchBytes(n: number, seed: number): Uint8Array {
  const out = testBytes(n * RECORD, seed);
  const labels = testBytes(n, seed + 1, 10);
  for (let i = 0; i < n; i++) out[i * RECORD] = labels[i]!;
  return out;
}

const names = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE];
const batches = new Map(names.map((name, i) => [name, batchBytes(3 + i, 100 + i)]));

async function writeBatches(dir: string, files = batches): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, bytes] of files) await writeFile(join(dir, name), bytes);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gm-cifar-'));
  await writeBatches(join(root, 'src', 'cifar-10-batches-bin'));
  await mkdir(join(root, 'www'));
  await create({ gzip: true, file: join(root, 'www', CIFAR10_ARCHIVE), cwd: join(root, 'src') }, ['cifar-10-batches-bin']);
  server = await startLocalServer(join(root, 'www'));
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe('parseCifar10Batch', () => {
  it('splits records into labels and CHW pixels, with label names', () => {
    const bytes = batchBytes(4, 1);
    const ds = parseCifar10Batch(bytes, 'b.bin');
    expect(ds).toMatchObject({ count: 4, shape: [3, 32, 32], layout: 'CHW', labelNames: CIFAR10_LABELS });
    for (let i = 0; i < 4; i++) {
      expect(ds.labels[i]).toBe(bytes[i * RECORD]);
      expect(ds.images.subarray(i * 3072, (i + 1) * 3072)).toEqual(bytes.subarray(i * RECORD + 1, (i + 1) * RECORD));
    }
    expect(writeCifar10Batch(ds)).toEqual(bytes);
    expect(CIFAR10_LABELS[3]).toBe('cat');
  });

  it('gives an NHWC view with pixel (h, w, c) = CHW[c][h][w], and back', () => {
    const ds = parseCifar10Batch(batchBytes(2, 2));
    const nhwc = toNHWC(ds);
    expect(nhwc.shape).toEqual([32, 32, 3]);
    expect(nhwc.layout).toBe('HWC');
    for (const [n, h, w, c] of [[0, 0, 0, 0], [1, 31, 0, 2], [1, 5, 17, 1], [0, 31, 31, 2]] as const) {
      expect(nhwc.images[n * 3072 + (h * 32 + w) * 3 + c]).toBe(ds.images[n * 3072 + c * 1024 + h * 32 + w]);
    }
    expect(toNCHW(nhwc).images).toEqual(ds.images);
    expect(writeCifar10Batch(nhwc)).toEqual(writeCifar10Batch(ds));
  });

  it('rejects truncated batches and bad labels, naming the file', () => {
    const bytes = batchBytes(2, 3);
    expect(() => parseCifar10Batch(bytes.subarray(0, RECORD + 100), 'data_batch_1.bin')).toThrow(
      /^data_batch_1\.bin: truncated or malformed CIFAR-10 batch: expected a positive multiple of 3073 bytes .*got 3173$/,
    );
    expect(() => parseCifar10Batch(new Uint8Array(0), 'empty.bin')).toThrow(/empty\.bin: .*got 0/);
    bytes[RECORD] = 10;
    expect(() => parseCifar10Batch(bytes, 'test_batch.bin')).toThrow(/test_batch\.bin: image 1 \(byte 3073\) has label 10, expected 0\.\.9/);
  });
});

describe('loadCifar10', () => {
  function expectSplits(splits: Awaited<ReturnType<typeof loadCifar10>>, layout: 'HWC' | 'CHW' = 'HWC'): void {
    const trainCount = CIFAR10_TRAIN_FILES.reduce((s, _, i) => s + 3 + i, 0);
    expect(splits.train.count).toBe(trainCount);
    expect(splits.test.count).toBe(8);
    expect(splits.train.layout).toBe(layout);
    // The first image of data_batch_2 follows data_batch_1's three images.
    const chw = layout === 'CHW' ? splits.train : toNCHW(splits.train);
    const b2 = batches.get('data_batch_2.bin')!;
    expect(chw.labels[3]).toBe(b2[0]);
    expect(chw.images.subarray(3 * 3072, 4 * 3072)).toEqual(b2.subarray(1, RECORD));
    expect(splits.test.labels).toEqual(parseCifar10Batch(batches.get(CIFAR10_TEST_FILE)!).labels);
  }

  it('loads from a folder (nested or flat), NHWC by default or CHW on request', async () => {
    expectSplits(await loadCifar10({ dir: join(root, 'src') }));
    expectSplits(await loadCifar10({ dir: join(root, 'src', 'cifar-10-batches-bin'), layout: 'CHW' }), 'CHW');
  });

  it('names a missing batch', async () => {
    const dir = join(root, 'five');
    await writeBatches(dir, new Map([...batches].filter(([n]) => n !== 'data_batch_4.bin')));
    await expect(loadCifar10({ dir })).rejects.toThrow(/data_batch_4\.bin: CIFAR-10 batch not found/);
  });

  it('loads from cifar-10-binary.tar.gz', async () => {
    expectSplits(await loadCifar10({ archive: join(root, 'www', CIFAR10_ARCHIVE) }));
  });

  it('refuses a .gz archive that is not gzip', async () => {
    const fake = join(root, 'fake.tar.gz');
    await writeFile(fake, makeTar([{ path: 'cifar-10-batches-bin/test_batch.bin', data: batchBytes(1, 5) }]));
    await expect(loadCifar10({ archive: fake })).rejects.toThrow(/fake\.tar\.gz: the name ends in \.gz but the data is not gzip/);
  });

  it('refuses tar entries with ".." or an absolute path, and links that point outside', async () => {
    expect(unsafeTarPath('cifar-10-batches-bin/data_batch_1.bin')).toBeUndefined();
    expect(unsafeTarPath('a/../../b')).toBe('a ".." segment');
    expect(unsafeTarPath('/etc/x')).toBe('an absolute path');
    expect(unsafeTarPath('C:\\x')).toBe('an absolute path');
    const evil: Array<[string, Parameters<typeof makeTar>[0][number]]> = [
      ['dotdot', { path: 'cifar-10-batches-bin/../../evil.bin', data: new Uint8Array(3) }],
      ['absolute', { path: '/tmp/gm-evil.bin', data: new Uint8Array(3) }],
      ['symlink', { path: 'cifar-10-batches-bin/link', type: '2', linkpath: '../../../etc/passwd' }],
    ];
    for (const [name, entry] of evil) {
      const archive = join(root, `${name}.tar.gz`);
      await writeFile(archive, gzip(makeTar([{ path: 'cifar-10-batches-bin/test_batch.bin', data: batchBytes(1, 6) }, entry])));
      const err = await loadCifar10({ archive }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataError);
      expect((err as DataError).code).toBe('UNSAFE_TAR_ENTRY');
      expect((err as Error).message).toContain(`${archive}: ${entry.path}: refusing a`);
      expect((err as Error).message).toMatch(/expected a (relative path|target) inside the target folder/);
      // extractTarSafely refuses before writing anything.
      const dest = join(root, `out-${name}`);
      await expect(extractTarSafely(archive, dest)).rejects.toThrow(/refusing/);
      expect((await readdir(root)).filter((f) => f.startsWith(`out-${name}`))).toEqual([]);
    }
  });

  it('extracts a safe archive into a new folder', async () => {
    const dest = join(root, 'extracted');
    const paths = await extractTarSafely(join(root, 'www', CIFAR10_ARCHIVE), dest);
    expect(paths).toContain(join(dest, 'cifar-10-batches-bin', 'test_batch.bin'));
    expectSplits(await loadCifar10({ dir: dest }));
  });

  it('reads entries of a plain tar and reports a truncated archive', async () => {
    const tarPath = join(root, 'plain.tar');
    await writeFile(tarPath, makeTar([{ path: 'x/a.bin', data: Uint8Array.from([1, 2, 3]) }]));
    const found = await readTarEntries(tarPath, () => true);
    expect([...found.get('x/a.bin')!]).toEqual([1, 2, 3]);
    const cut = join(root, 'cut.tar.gz');
    const whole = gzip(makeTar([{ path: 'x/a.bin', data: testBytes(5000, 1) }]));
    await writeFile(cut, whole.subarray(0, whole.length - 200));
    await expect(readTarEntries(cut, () => true)).rejects.toThrow(/cut\.tar\.gz: cannot read the archive/);
  });

  it('downloads the archive with sha256 verification and caches it', async () => {
    const cacheDir = join(root, 'cache');
    const { readFile } = await import('node:fs/promises');
    const hash = sha256(await readFile(join(root, 'www', CIFAR10_ARCHIVE)));
    server.hits.clear();
    expectSplits(await loadCifar10({ download: true, mirror: server.url, cacheDir, sha256: hash }));
    expectSplits(await loadCifar10({ download: true, mirror: server.url, cacheDir, sha256: hash }));
    expect(server.hits.get(CIFAR10_ARCHIVE)).toBe(1);
    expect(await readdir(cacheDir)).toEqual([CIFAR10_ARCHIVE]);
  });

  it('refuses a checksum mismatch and an HTTP error, leaving the cache empty', async () => {
    const cacheDir = join(root, 'cache-bad');
    await expect(loadCifar10({ download: true, mirror: server.url, cacheDir })).rejects.toThrow(
      new RegExp(`cifar-10-binary\\.tar\\.gz: sha256 mismatch for cifar-10-binary\\.tar\\.gz: expected ${CIFAR10_SHA256}, got [0-9a-f]{64}`),
    );
    server.statusFor.set(CIFAR10_ARCHIVE, 500);
    try {
      await expect(loadCifar10({ download: true, mirror: server.url, cacheDir, sha256: '0'.repeat(64) })).rejects.toThrow(
        /cifar-10-binary\.tar\.gz: download of cifar-10-binary\.tar\.gz failed: expected HTTP 200, got 500/,
      );
    } finally {
      server.statusFor.clear();
    }
    expect(await readdir(cacheDir)).toEqual([]);
  });
});
