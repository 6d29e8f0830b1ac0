// Decompression bombs (issue 15, item 4): small .gz files and tar.gz archives that inflate to far more than any
// header allows must be refused with a DataError while peak memory stays bounded. One file of its own, so the
// process's memory high-water mark is not raised by other tests.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCifar10 } from './cifar.js';
import { CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES } from './cifar-format.js';
import { DataError } from './errors.js';
import { readIdxFile } from './files.js';
import { gunzipIfNamed } from './gzip.js';
import { writeIdxImages, writeIdxLabels } from './idx.js';
import { loadMnist } from './mnist.js';
import { MNIST_FILES } from './mnist-format.js';
import { extractTarSafely, readTarEntries } from './tarball.js';
import { gzip, makeTar, peakRssGrowth, tarHeader, testBytes, writeGzipBomb } from './test-helpers.js';

const MB = 1024 * 1024;
/** What a refused bomb may cost at most. */
const RSS_BUDGET = 500 * MB;

let root: string;
/** 1 MiB of gzip that inflates to 1 GiB of zeros. */
let zeroBomb: string;
/** Resident memory when this file started: every test's peak is measured against it, so no test can hide behind
 * memory an earlier one left resident. */
let baseline: number;

beforeAll(async () => {
  baseline = process.memoryUsage().rss;
  root = await mkdtemp(join(tmpdir(), 'gm-bombs-'));
  zeroBomb = join(root, 'zeros.gz');
  await writeGzipBomb(zeroBomb, { zeros: 1024 * MB });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function idxHeader(dims: number[]): Uint8Array {
  const h = new Uint8Array(4 + 4 * dims.length);
  h[2] = 0x08;
  h[3] = dims.length;
  const view = new DataView(h.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  return h;
}

/** Runs `fn`; `growth` bounds its peak resident memory above the file's starting point (the high-water mark). */
async function measured<T>(name: string, fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; growth: number }> {
  const r = await peakRssGrowth(fn);
  const sinceStart = process.resourceUsage().maxRSS * 1024 - baseline;
  console.info(
    `[bomb] ${name}: peak RSS at most ${(sinceStart / MB).toFixed(1)} MB above the file's start ` +
      `(${(r.growth / MB).toFixed(1)} MB above the test's), ${r.ms.toFixed(0)} ms`,
  );
  return { value: r.value, error: r.error, growth: sinceStart };
}

describe('gzip bombs', () => {
  it('loadMnist refuses a 1 MiB train-images .gz whose IDX header declares 60,000 images but which inflates to 1 GiB', async () => {
    const dir = join(root, 'mnist-bomb');
    await mkdir(dir);
    await writeGzipBomb(join(dir, MNIST_FILES.trainImages), { head: idxHeader([60_000, 28, 28]), zeros: 1024 * MB });
    await writeFile(join(dir, MNIST_FILES.trainLabels), gzip(writeIdxLabels(new Uint8Array(60_000))));
    await writeFile(join(dir, MNIST_FILES.testImages), gzip(writeIdxImages(testBytes(784, 1), 1, 28, 28)));
    await writeFile(join(dir, MNIST_FILES.testLabels), gzip(writeIdxLabels(new Uint8Array(1))));
    expect((await stat(join(dir, MNIST_FILES.trainImages))).size).toBeLessThan(1.1 * MB);
    const r = await measured('loadMnist IDX bomb (header 47 MB, data 1 GiB)', () => loadMnist({ dir }));
    expect(r.error).toBeInstanceOf(DataError);
    expect((r.error as DataError).code).toBe('TOO_LARGE');
    expect((r.error as DataError).file).toBe(join(dir, MNIST_FILES.trainImages));
    expect((r.error as Error).message).toMatch(
      /train-images-idx3-ubyte\.gz: the gzip data inflates to more than the 47,040,016 bytes its IDX header declares \(uint8 \[60000, 28, 28\]\)/,
    );
    expect(r.growth).toBeLessThan(RSS_BUDGET);
  });

  it('refuses an IDX bomb whose gzip trailer lies about its size, within 500 MB of RSS', async () => {
    // The trailer (ISIZE) says 47,040,016 bytes, as the header does; the data inflates to 1 GiB. The one-shot path
    // this takes writes into a buffer of exactly that size + 1 and cannot grow it.
    const path = join(root, 'liar-idx3-ubyte.gz');
    await writeGzipBomb(path, { head: idxHeader([60_000, 28, 28]), zeros: 1024 * MB });
    const bytes = new Uint8Array(await readFile(path));
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(bytes.length - 4, 47_040_016, true);
    await writeFile(path, bytes);
    const r = await measured('readIdxFile IDX bomb with a lying gzip trailer', () => readIdxFile(path));
    expect(r.error).toBeInstanceOf(DataError);
    expect((r.error as DataError).code).toBe('TOO_LARGE');
    expect((r.error as Error).message).toMatch(/liar-idx3-ubyte\.gz: the gzip data inflates to more than the 47,040,016 bytes its IDX header declares/);
    expect(r.growth).toBeLessThan(RSS_BUDGET);
    // Data of unknown size whose trailer claims 1,000 bytes: refused at the cap all the same.
    const zeros = new Uint8Array(await readFile(zeroBomb));
    new DataView(zeros.buffer, zeros.byteOffset).setUint32(zeros.length - 4, 1000, true);
    expect(() => gunzipIfNamed(zeros, 'liar.gz', { maxBytes: 10 * MB })).toThrow(/^liar\.gz: the gzip data inflates to more than 10,485,760 bytes \(maxBytes\)/);
  });

  it('refuses an IDX header that declares more than the cap before inflating its body', async () => {
    const huge = join(root, 'huge-idx3-ubyte.gz');
    await writeFile(huge, gzip(new Uint8Array([...idxHeader([0xffffffff, 28, 28]), ...new Uint8Array(1000)])));
    const err = await readIdxFile(huge).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).code).toBe('TOO_LARGE');
    expect((err as Error).message).toMatch(
      /huge-idx3-ubyte\.gz: the IDX header declares 3,367,254,359,296 bytes \(uint8 \[4294967295, 28, 28\]\), more than 268,435,456 bytes \(the default cap; pass \{ maxBytes \} to allow more\)/,
    );
    const big = join(root, 'big-idx3-ubyte.gz');
    await writeFile(big, gzip(new Uint8Array([...idxHeader([100_000, 28, 28]), ...new Uint8Array(1000)])));
    await expect(readIdxFile(big, { maxBytes: 10_000_000 })).rejects.toThrow(
      /big-idx3-ubyte\.gz: the IDX header declares 78,400,016 bytes \(uint8 \[100000, 28, 28\]\), more than 10,000,000 bytes \(maxBytes\)/,
    );
    // A plain (not gzipped) IDX file larger than the cap is not even read.
    const plain = join(root, 'plain-idx1-ubyte');
    await writeFile(plain, writeIdxLabels(new Uint8Array(5000)));
    await expect(readIdxFile(plain, { maxBytes: 1000 })).rejects.toThrow(/plain-idx1-ubyte: the file has 5,008 bytes, more than 1,000 bytes \(maxBytes\)/);
    // Within the caps, nothing changes.
    expect((await readIdxFile(plain)).dims).toEqual([5000]);
  });
});

describe('tar.gz bombs', () => {
  it('loadCifar10 refuses a 4.5 MiB tar.gz whose data_batch_1.bin inflates to 1 GiB (ratio ~230), within 500 MB of RSS', async () => {
    const archive = join(root, 'cifar-bomb.tar.gz');
    const size = 1024 * MB;
    const padding = (512 - (size % 512)) % 512;
    await writeGzipBomb(archive, {
      head: tarHeader('cifar-10-batches-bin/data_batch_1.bin', size),
      zeros: size + padding,
      tail: new Uint8Array(1024),
      level: 1,
    });
    const compressed = (await stat(archive)).size;
    expect(size / compressed).toBeGreaterThan(150);
    expect(size / compressed).toBeLessThan(1000); // under node-tar's maxDecompressionRatio
    const r = await measured(`loadCifar10 tar.gz bomb (${(compressed / MB).toFixed(1)} MB -> 1 GiB entry)`, () => loadCifar10({ archive }));
    expect(r.error).toBeInstanceOf(DataError);
    expect((r.error as DataError).code).toBe('TOO_LARGE');
    expect((r.error as DataError).file).toBe(`${archive}: cifar-10-batches-bin/data_batch_1.bin`);
    expect((r.error as Error).message).toMatch(
      /cifar-10-batches-bin\/data_batch_1\.bin: the entry declares 1,073,741,824 bytes, more than 30,730,000 bytes \(the default maxFileBytes: a CIFAR-10 batch holds 10,000 images of 3,073 bytes\)/,
    );
    expect(r.growth).toBeLessThan(RSS_BUDGET);
  });

  it('readTarEntries caps each entry it reads and the archive as a whole', async () => {
    const archive = join(root, 'three.tar');
    await writeFile(archive, makeTar(['a', 'b', 'c'].map((p) => ({ path: `x/${p}.bin`, data: testBytes(1000, 1) }))));
    await expect(readTarEntries(archive, (p) => p === 'x/b.bin', { maxEntryBytes: 999 })).rejects.toThrow(
      /three\.tar: x\/b\.bin: the entry declares 1,000 bytes, more than 999 bytes \(maxEntryBytes\)/,
    );
    // An entry that is not read is not held to maxEntryBytes, but counts toward maxTotalBytes.
    expect((await readTarEntries(archive, (p) => p === 'x/b.bin', { maxEntryBytes: 1000 })).size).toBe(1);
    await expect(readTarEntries(archive, () => false, { maxTotalBytes: 2500 })).rejects.toThrow(
      /three\.tar: x\/c\.bin: the archive's entries add up to more than 2,500 bytes \(maxTotalBytes\)/,
    );
  });

  it('extractTarSafely refuses an archive that would write more than maxTotalBytes, writing nothing', async () => {
    const archive = join(root, 'disk-bomb.tar.gz');
    await writeFile(archive, gzip(makeTar(['a', 'b', 'c'].map((p) => ({ path: `x/${p}.bin`, data: new Uint8Array(4000) })))));
    const dest = join(root, 'disk-bomb-out');
    const err = await extractTarSafely(archive, dest, { maxTotalBytes: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).code).toBe('TOO_LARGE');
    expect((err as Error).message).toMatch(/disk-bomb\.tar\.gz: x\/c\.bin: the archive's entries add up to more than 10,000 bytes \(maxTotalBytes\)/);
    expect((await readdir(root)).filter((f) => f.startsWith('disk-bomb-out'))).toEqual([]);
  });

  it('keeps the official batch names and sizes loadable', async () => {
    // 3 images per batch, well within the caps: the caps change nothing for real data.
    const dir = join(root, 'ok', 'cifar-10-batches-bin');
    await mkdir(dir, { recursive: true });
    for (const name of [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]) await writeFile(join(dir, name), new Uint8Array(3 * 3073));
    const archive = join(root, 'ok.tar.gz');
    const { create } = await import('tar');
    await create({ gzip: true, file: archive, cwd: join(root, 'ok') }, ['cifar-10-batches-bin']);
    expect((await loadCifar10({ archive })).train.count).toBe(15);
  });
});

// Last: at its default cap of 256 MiB this test holds the most memory, and every test's bound counts from the
// file's start.
describe('gzip bombs of unknown size', () => {
  it('gunzipIfNamed refuses 1 MiB of gzip that inflates to 1 GiB, at its default cap, within 500 MB of RSS', async () => {
    const bytes = new Uint8Array(await readFile(zeroBomb));
    expect(bytes.length).toBeLessThan(1.1 * MB);
    const r = await measured('gunzipIfNamed 1 MiB -> 1 GiB', async () => gunzipIfNamed(bytes, 'zeros.gz'));
    expect(r.value).toBeUndefined();
    expect(r.error).toBeInstanceOf(DataError);
    expect((r.error as DataError).code).toBe('TOO_LARGE');
    expect((r.error as Error).message).toMatch(
      /^zeros\.gz: the gzip data inflates to more than 268,435,456 bytes \(the default cap for data of unknown size; pass \{ maxBytes \} to allow more\)/,
    );
    expect(r.growth).toBeLessThan(RSS_BUDGET);
    // An explicit cap is honoured and named.
    expect(() => gunzipIfNamed(bytes, 'zeros.gz', { maxBytes: 1000 })).toThrow(/^zeros\.gz: the gzip data inflates to more than 1,000 bytes \(maxBytes\)/);
  });
});
