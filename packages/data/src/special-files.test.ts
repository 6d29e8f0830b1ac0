// Special files (issue 15): a path that is a FIFO or a device must be refused as "not a regular file" rather than
// opened and read forever, and regular files larger than a loader allows are refused without being read.
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdir, mkdtemp, open, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCifar10 } from './cifar.js';
import { CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES } from './cifar-format.js';
import { DataError } from './errors.js';
import { readIdxFile } from './files.js';
import { writeIdxImages, writeIdxLabels } from './idx.js';
import { loadMnist } from './mnist.js';
import { MNIST_FILES } from './mnist-format.js';
import { gzip, testBytes } from './test-helpers.js';

let root: string;
const fifos: string[] = [];

function mkfifo(path: string): string {
  execFileSync('mkfifo', [path]);
  fifos.push(path);
  return path;
}

/** Opens every FIFO for writing and closes it again, so a reader stuck in open() (the bug) sees end of file. */
async function releaseFifos(): Promise<void> {
  for (const f of fifos) {
    try {
      await (await open(f, constants.O_WRONLY | constants.O_NONBLOCK)).close();
    } catch {
      // no reader waiting (ENXIO): nothing to release
    }
  }
}

async function mnistDir(name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MNIST_FILES.trainImages), gzip(writeIdxImages(testBytes(2 * 784, 1), 2, 28, 28)));
  await writeFile(join(dir, MNIST_FILES.trainLabels), gzip(writeIdxLabels(Uint8Array.from([1, 2]))));
  await writeFile(join(dir, MNIST_FILES.testImages), gzip(writeIdxImages(testBytes(784, 2), 1, 28, 28)));
  await writeFile(join(dir, MNIST_FILES.testLabels), gzip(writeIdxLabels(Uint8Array.from([3]))));
  return dir;
}

async function cifarDir(name: string): Promise<string> {
  const dir = join(root, name, 'cifar-10-batches-bin');
  await mkdir(dir, { recursive: true });
  for (const b of [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]) await writeFile(join(dir, b), new Uint8Array(2 * 3073));
  return dir;
}

async function refusal(promise: Promise<unknown>): Promise<DataError> {
  const t0 = performance.now();
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(performance.now() - t0).toBeLessThan(2000);
  expect(err).toBeInstanceOf(DataError);
  return err as DataError;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gm-special-'));
});
afterAll(async () => {
  await releaseFifos();
  await rm(root, { recursive: true, force: true });
});

describe('special files', { timeout: 5000 }, () => {
  it('loadMnist refuses a FIFO in place of a file as "not a regular file"', async () => {
    const dir = await mnistDir('mnist-fifo');
    await rm(join(dir, MNIST_FILES.trainImages));
    mkfifo(join(dir, MNIST_FILES.trainImages));
    const err = await refusal(loadMnist({ dir }));
    expect(err.code).toBe('NOT_REGULAR_FILE');
    expect(err.file).toBe(join(dir, MNIST_FILES.trainImages));
    expect(err.message).toMatch(/train-images-idx3-ubyte\.gz: not a regular file \(a FIFO\): expected a regular file/);
  });

  it('loadMnist refuses a link to /dev/zero as "not a regular file"', async () => {
    const dir = await mnistDir('mnist-zero');
    await rm(join(dir, MNIST_FILES.testLabels));
    await symlink('/dev/zero', join(dir, MNIST_FILES.testLabels));
    const err = await refusal(loadMnist({ dir }));
    expect(err.code).toBe('NOT_REGULAR_FILE');
    expect(err.message).toMatch(/t10k-labels-idx1-ubyte\.gz: not a regular file \(a character device\)/);
  });

  it('loadCifar10 refuses an archive that is a FIFO or /dev/zero', async () => {
    const fifo = mkfifo(join(root, 'cifar-10-binary.tar.gz'));
    const a = await refusal(loadCifar10({ archive: fifo }));
    expect(a.code).toBe('NOT_REGULAR_FILE');
    expect(a.message).toMatch(/cifar-10-binary\.tar\.gz: not a regular file \(a FIFO\)/);
    const b = await refusal(loadCifar10({ archive: '/dev/zero' }));
    expect(b.code).toBe('NOT_REGULAR_FILE');
    expect(b.message).toBe('/dev/zero: not a regular file (a character device): expected a regular file');
  });

  it('loadCifar10 refuses a batch that is a link to /dev/zero or a FIFO', async () => {
    const dir = await cifarDir('cifar-zero');
    await rm(join(dir, 'data_batch_3.bin'));
    await symlink('/dev/zero', join(dir, 'data_batch_3.bin'));
    expect((await refusal(loadCifar10({ dir }))).message).toMatch(/data_batch_3\.bin: not a regular file \(a character device\)/);
    await rm(join(dir, 'data_batch_3.bin'));
    mkfifo(join(dir, 'data_batch_3.bin'));
    expect((await refusal(loadCifar10({ dir }))).message).toMatch(/data_batch_3\.bin: not a regular file \(a FIFO\)/);
  });

  it('readIdxFile refuses a FIFO and a device', async () => {
    const fifo = mkfifo(join(root, 'labels-idx1-ubyte'));
    expect((await refusal(readIdxFile(fifo))).code).toBe('NOT_REGULAR_FILE');
    expect((await refusal(readIdxFile('/dev/zero'))).code).toBe('NOT_REGULAR_FILE');
  });

  it('refuses a regular batch file larger than a CIFAR-10 batch can be, without reading it', async () => {
    const dir = await cifarDir('cifar-sparse');
    // 1 GiB, sparse: costs no disk, and nothing may read it.
    await truncate(join(dir, 'data_batch_2.bin'), 1024 * 1024 * 1024);
    const err = await refusal(loadCifar10({ dir }));
    expect(err.code).toBe('TOO_LARGE');
    expect(err.message).toMatch(
      /data_batch_2\.bin: the file has 1,073,741,824 bytes, more than 30,730,000 bytes \(the default maxFileBytes: a CIFAR-10 batch holds 10,000 images of 3,073 bytes\)/,
    );
    // The cap can be lowered (and raised) per call.
    await truncate(join(dir, 'data_batch_2.bin'), 2 * 3073);
    await expect(loadCifar10({ dir, maxFileBytes: 3073 })).rejects.toThrow(/data_batch_1\.bin: the file has 6,146 bytes, more than 3,073 bytes \(maxFileBytes\)/);
    expect((await loadCifar10({ dir, maxFileBytes: 2 * 3073 })).train.count).toBe(10);
  });
});
