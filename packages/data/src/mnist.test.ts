import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from './errors.js';
import { sha256Hex as sha256 } from '@gm/core';
import { writeIdxImages, writeIdxLabels } from './idx.js';
import { loadFashionMnist, loadMnist } from './mnist.js';
import {
  DEFAULT_FASHION_MNIST_MIRROR,
  FASHION_MNIST_FILE_BYTES,
  FASHION_MNIST_LABELS,
  FASHION_MNIST_SHA256,
  MNIST_FILES,
  MNIST_SHA256,
  type MnistFileName,
} from './mnist-format.js';
import { gzip, startLocalServer, testBytes, type LocalServer } from './test-helpers.js';

let root: string;
let server: LocalServer;
const TRAIN = 12;
const TEST = 5;
const trainImages = testBytes(TRAIN * 784, 11);
const trainLabels = testBytes(TRAIN, 12, 10);
const testImages = testBytes(TEST * 784, 13);
const testLabels = testBytes(TEST, 14, 10);

/** The four files as the official mirror serves them (gzipped IDX), but with our small synthetic content. */
function officialStyleFiles(): Record<MnistFileName, Uint8Array> {
  return {
    [MNIST_FILES.trainImages]: gzip(writeIdxImages(trainImages, TRAIN, 28, 28)),
    [MNIST_FILES.trainLabels]: gzip(writeIdxLabels(trainLabels)),
    [MNIST_FILES.testImages]: gzip(writeIdxImages(testImages, TEST, 28, 28)),
    [MNIST_FILES.testLabels]: gzip(writeIdxLabels(testLabels)),
  } as Record<MnistFileName, Uint8Array>;
}

async function writeAll(dir: string, files: Record<string, Uint8Array>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
}

function hashesOf(files: Record<MnistFileName, Uint8Array>): Record<MnistFileName, string> {
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, sha256(v)])) as Record<MnistFileName, string>;
}

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.includes('partial') || f.startsWith('.'));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gm-mnist-'));
  await writeAll(join(root, 'www'), officialStyleFiles());
  server = await startLocalServer(join(root, 'www'));
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe('loadMnist({ dir })', () => {
  it('reads the four gzipped files', async () => {
    const { train, test } = await loadMnist({ dir: join(root, 'www') });
    expect(train).toMatchObject({ count: TRAIN, shape: [28, 28, 1], layout: 'HWC' });
    expect(train.images).toEqual(trainImages);
    expect(train.labels).toEqual(trainLabels);
    expect(test.images).toEqual(testImages);
    expect(test.labels).toEqual(testLabels);
  });

  it('reads gunzipped files, also with the dotted names some unzip tools write', async () => {
    const dir = join(root, 'plain');
    await writeAll(dir, {
      'train-images-idx3-ubyte': writeIdxImages(trainImages, TRAIN, 28, 28),
      'train-labels.idx1-ubyte': writeIdxLabels(trainLabels),
      't10k-images.idx3-ubyte': writeIdxImages(testImages, TEST, 28, 28),
      't10k-labels-idx1-ubyte': writeIdxLabels(testLabels),
    });
    const { train, test } = await loadMnist({ dir });
    expect(train.images).toEqual(trainImages);
    expect(test.labels).toEqual(testLabels);
  });

  it('names a missing file and the names it looked for', async () => {
    const dir = join(root, 'missing');
    const files = officialStyleFiles();
    delete (files as Partial<typeof files>)[MNIST_FILES.testLabels];
    await writeAll(dir, files);
    await expect(loadMnist({ dir })).rejects.toThrow(/t10k-labels-idx1-ubyte\.gz: MNIST file not found: expected one of/);
  });

  it('rejects an image/label count mismatch, naming both files', async () => {
    const dir = join(root, 'mismatch');
    await writeAll(dir, { ...officialStyleFiles(), [MNIST_FILES.trainLabels]: gzip(writeIdxLabels(trainLabels.subarray(1))) });
    const err = await loadMnist({ dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).code).toBe('COUNT_MISMATCH');
    expect((err as Error).message).toMatch(/train-images-idx3-ubyte\.gz \+ .*train-labels-idx1-ubyte\.gz: .*expected 12 labels \(one per image\), got 11/);
  });

  it('rejects unexpected image dimensions', async () => {
    const dir = join(root, 'dims');
    await writeAll(dir, { ...officialStyleFiles(), [MNIST_FILES.testImages]: gzip(writeIdxImages(new Uint8Array(TEST * 32 * 32), TEST, 32, 32)) });
    await expect(loadMnist({ dir })).rejects.toThrow(/t10k-images-idx3-ubyte\.gz: unexpected image dimensions: expected 28×28, got 32×32/);
  });

  it('rejects labels outside 0..9, a wrong magic number, truncation and a .gz that is not gzip', async () => {
    const cases: Array<[string, Uint8Array, RegExp]> = [
      [MNIST_FILES.trainLabels, gzip(writeIdxLabels(Uint8Array.from({ length: TRAIN }, (_, i) => (i === 3 ? 10 : 1)))), /train-labels-idx1-ubyte\.gz: label 3 is 10, expected a digit 0\.\.9/],
      [MNIST_FILES.trainLabels, gzip(writeIdxImages(new Uint8Array(TRAIN), TRAIN, 1, 1)), /train-labels-idx1-ubyte\.gz: expected an idx1 label file/],
      [MNIST_FILES.trainImages, gzip(Uint8Array.from([8, 3, 0, 0])), /train-images-idx3-ubyte\.gz: bad IDX magic number/],
      [MNIST_FILES.trainImages, gzip(writeIdxImages(trainImages, TRAIN, 28, 28).subarray(0, 1000)), /train-images-idx3-ubyte\.gz: truncated IDX file: expected 9424 bytes/],
      [MNIST_FILES.testImages, writeIdxImages(testImages, TEST, 28, 28), /t10k-images-idx3-ubyte\.gz: the name ends in \.gz but the data is not gzip/],
    ];
    for (const [i, [name, bytes, pattern]] of cases.entries()) {
      const dir = join(root, `bad-${i}`);
      await writeAll(dir, { ...officialStyleFiles(), [name]: bytes });
      await expect(loadMnist({ dir })).rejects.toThrow(pattern);
    }
  });

  it('asks for a source', async () => {
    await expect(loadMnist({})).rejects.toThrow(/expected \{ dir \} or \{ download: true \}/);
  });
});

describe('loadMnist({ download: true }) against a local server', () => {
  it('knows the official sha256 of the four files', () => {
    expect(Object.keys(MNIST_SHA256).sort()).toEqual(Object.values(MNIST_FILES).sort());
    for (const h of Object.values(MNIST_SHA256)) expect(h).toMatch(/^[0-9a-f]{64}$/);
  });

  it('downloads, verifies, caches, and reuses the cache', async () => {
    const cacheDir = join(root, 'cache-ok');
    const hashes = hashesOf(officialStyleFiles());
    server.hits.clear();
    const first = await loadMnist({ download: true, mirror: server.url, cacheDir, hashes });
    expect(first.train.images).toEqual(trainImages);
    expect(first.test.labels).toEqual(testLabels);
    expect([...server.hits.values()]).toEqual([1, 1, 1, 1]);
    expect((await readdir(cacheDir)).sort()).toEqual(Object.values(MNIST_FILES).sort());
    for (const name of Object.values(MNIST_FILES)) expect(sha256(await readFile(join(cacheDir, name)))).toBe(hashes[name]);

    const second = await loadMnist({ download: true, mirror: server.url, cacheDir, hashes });
    expect([...server.hits.values()]).toEqual([1, 1, 1, 1]);
    expect(second.train.images).toEqual(first.train.images);
  });

  it('replaces a corrupted cached file with a fresh verified download', async () => {
    const cacheDir = join(root, 'cache-corrupt');
    const hashes = hashesOf(officialStyleFiles());
    await loadMnist({ download: true, mirror: server.url, cacheDir, hashes });
    await writeFile(join(cacheDir, MNIST_FILES.trainLabels), 'garbage');
    server.hits.clear();
    const again = await loadMnist({ download: true, mirror: server.url, cacheDir, hashes });
    expect(server.hits.get(MNIST_FILES.trainLabels)).toBe(1);
    expect(server.hits.size).toBe(1);
    expect(again.train.labels).toEqual(trainLabels);
  });

  it('refuses a file whose sha256 does not match and leaves nothing in the cache', async () => {
    const cacheDir = join(root, 'cache-bad-hash');
    // The official hashes: our synthetic files cannot match them.
    const err = await loadMnist({ download: true, mirror: server.url, cacheDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).code).toBe('CHECKSUM_MISMATCH');
    expect((err as DataError).file).toBe(`${server.url}${MNIST_FILES.trainImages}`);
    expect((err as Error).message).toMatch(
      new RegExp(`sha256 mismatch for train-images-idx3-ubyte\\.gz: expected ${MNIST_SHA256[MNIST_FILES.trainImages]}, got [0-9a-f]{64}`),
    );
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('reports an HTTP error status with the URL and leaves nothing in the cache', async () => {
    const cacheDir = join(root, 'cache-http');
    server.statusFor.set(MNIST_FILES.testImages, 503);
    try {
      const err = await loadMnist({ download: true, mirror: server.url, cacheDir, hashes: hashesOf(officialStyleFiles()) }).catch((e: unknown) => e);
      expect((err as DataError).code).toBe('HTTP_ERROR');
      expect((err as Error).message).toBe(
        `${server.url}${MNIST_FILES.testImages}: download of t10k-images-idx3-ubyte.gz failed: expected HTTP 200, got 503 Service Unavailable`,
      );
      // The two files before it were verified and kept; nothing partial.
      expect((await readdir(cacheDir)).sort()).toEqual([MNIST_FILES.trainImages, MNIST_FILES.trainLabels].sort());
      expect(await leftovers(cacheDir)).toEqual([]);
    } finally {
      server.statusFor.clear();
    }
    const err404 = await loadMnist({ download: true, mirror: `${server.url}nowhere/`, cacheDir: join(root, 'cache-404') }).catch((e: unknown) => e);
    expect((err404 as Error).message).toMatch(/nowhere\/train-images-idx3-ubyte\.gz: .*expected HTTP 200, got 404/);
    expect(await readdir(join(root, 'cache-404'))).toEqual([]);
  });

  it('clears temporary files left by a killed download, but not those of a live process', async () => {
    const cacheDir = join(root, 'cache-stale');
    await mkdir(cacheDir, { recursive: true });
    // A pid far above Linux's pid_max stands for a dead process; our parent process is certainly alive.
    const dead = `.${MNIST_FILES.trainImages}.99999999.abcdef.partial`;
    const live = `.${MNIST_FILES.trainImages}.${process.ppid}.abcdef.partial`;
    await writeFile(join(cacheDir, dead), 'half');
    await writeFile(join(cacheDir, live), 'half');
    await loadMnist({ download: true, mirror: server.url, cacheDir, hashes: hashesOf(officialStyleFiles()) });
    const files = await readdir(cacheDir);
    expect(files).not.toContain(dead);
    expect(files).toContain(live);
  });

  it('leaves nothing half-written when the connection drops mid-file', async () => {
    const cacheDir = join(root, 'cache-cut');
    server.cutAfter.set(MNIST_FILES.trainImages, 100);
    try {
      const err = await loadMnist({ download: true, mirror: server.url, cacheDir, hashes: hashesOf(officialStyleFiles()) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataError);
      expect((err as DataError).code).toBe('NETWORK_ERROR');
      expect((err as Error).message).toMatch(/train-images-idx3-ubyte\.gz: download of train-images-idx3-ubyte\.gz interrupted/);
      expect(await readdir(cacheDir)).toEqual([]);
    } finally {
      server.cutAfter.clear();
    }
  });
});

describe('Fashion-MNIST: the same loader with its own checksums, mirror and class names', () => {
  it("knows the official files: MNIST's names, their own sha256 and sizes, Zalando's mirror, the ten classes", () => {
    expect(Object.keys(FASHION_MNIST_SHA256).sort()).toEqual(Object.values(MNIST_FILES).sort());
    for (const name of Object.values(MNIST_FILES)) {
      expect(FASHION_MNIST_SHA256[name]).toMatch(/^[0-9a-f]{64}$/);
      expect(FASHION_MNIST_SHA256[name]).not.toBe(MNIST_SHA256[name]);
    }
    expect(FASHION_MNIST_FILE_BYTES[MNIST_FILES.trainImages]).toBe(26_421_880);
    expect(FASHION_MNIST_LABELS).toEqual(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    expect(DEFAULT_FASHION_MNIST_MIRROR).toBe('http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/');
  });

  it('downloads from a mirror, checks the checksums passed in `hashes`, caches, and names the classes', async () => {
    const cacheDir = join(root, 'fashion-cache');
    const hashes = hashesOf(officialStyleFiles());
    server.hits.clear();
    const { train, test } = await loadFashionMnist({ download: true, mirror: server.url, cacheDir, hashes });
    expect(train).toMatchObject({ count: TRAIN, shape: [28, 28, 1], layout: 'HWC', images: trainImages, labels: trainLabels });
    expect(test.labels).toEqual(testLabels);
    expect(train.labelNames).toEqual(FASHION_MNIST_LABELS);
    expect(test.labelNames?.[9]).toBe('Ankle boot');
    expect((await readdir(cacheDir)).sort()).toEqual(Object.values(MNIST_FILES).sort());
    await loadFashionMnist({ download: true, mirror: server.url, cacheDir, hashes });
    expect([...server.hits.values()]).toEqual([1, 1, 1, 1]);
  });

  it('refuses a wrong checksum — one passed in, or by default the official one — keeping nothing', async () => {
    const wrong = { ...hashesOf(officialStyleFiles()), [MNIST_FILES.trainLabels]: '0'.repeat(64) };
    const cacheDir = join(root, 'fashion-wrong');
    const err = await loadFashionMnist({ download: true, mirror: server.url, cacheDir, hashes: wrong }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CHECKSUM_MISMATCH', file: `${server.url}${MNIST_FILES.trainLabels}` });
    expect((err as Error).message).toMatch(/sha256 mismatch for train-labels-idx1-ubyte\.gz: expected 0{64}, got [0-9a-f]{64}; the file was not saved/);
    expect(await readdir(cacheDir)).toEqual([MNIST_FILES.trainImages]);
    const official = await loadFashionMnist({ download: true, mirror: server.url, cacheDir: join(root, 'fashion-official') }).catch((e: unknown) => e);
    expect(official).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect((official as Error).message).toContain(`expected ${FASHION_MNIST_SHA256[MNIST_FILES.trainImages]}`);
    expect(await readdir(join(root, 'fashion-official'))).toEqual([]);
  });

  it('reads the four files from a folder, naming Fashion-MNIST when one is missing', async () => {
    const { train } = await loadFashionMnist({ dir: join(root, 'www') });
    expect(train.labelNames).toEqual(FASHION_MNIST_LABELS);
    expect(train.images).toEqual(trainImages);
    await expect(loadFashionMnist({ dir: join(root, 'nothing-here') })).rejects.toThrow(/Fashion-MNIST file not found: expected one of train-images-idx3-ubyte\.gz/);
    await expect(loadFashionMnist({})).rejects.toThrow(/^loadFashionMnist: expected \{ dir \} or \{ download: true \}$/);
  });
});
