// Tar archives (issue 15, items 12 and 13): CIFAR-10 batches only from their canonical paths, no duplicates; device
// entries, FIFOs and broken hard links refused with DataErrors naming the archive and the entry.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCifar10 } from './cifar.js';
import { CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES } from './cifar-format.js';
import { toNCHW } from './dataset.js';
import { extractTarSafely, readTarEntries } from './tarball.js';
import { gzip, makeTar, rejection, testBytes, type TarType } from './test-helpers.js';

const RECORD = 3073;
let root: string;

function batch(n: number, seed: number): Uint8Array {
  const out = testBytes(n * RECORD, seed);
  for (let i = 0; i < n; i++) out[i * RECORD] = (seed + i) % 10;
  return out;
}

const names = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE];
const real = names.map((name, i) => ({ path: `cifar-10-batches-bin/${name}`, data: batch(2, 10 + i) }));

async function archiveOf(name: string, entries: Parameters<typeof makeTar>[0]): Promise<string> {
  const path = join(root, name);
  await writeFile(path, gzip(makeTar(entries)));
  return path;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gm-tar-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('CIFAR-10 batches come only from cifar-10-batches-bin/', () => {
  it('ignores a decoy other/data_batch_1.bin placed after the real one', async () => {
    const decoy = { path: 'other/data_batch_1.bin', data: batch(2, 99) };
    const archive = await archiveOf('decoy.tar.gz', [...real, decoy]);
    const { train } = await loadCifar10({ archive, layout: 'CHW' });
    expect(train.count).toBe(10);
    expect(toNCHW(train).images.subarray(0, 3072)).toEqual(real[0]!.data.subarray(1, RECORD));
    expect(train.labels[0]).toBe(real[0]!.data[0]);
  });

  it('does not take a batch from anywhere else when the canonical one is missing', async () => {
    const archive = await archiveOf('decoy-only.tar.gz', [
      ...real.filter((e) => !e.path.endsWith('data_batch_1.bin')),
      { path: 'elsewhere/cifar-10-batches-bin/data_batch_1.bin', data: batch(2, 98) },
    ]);
    const err = await rejection(loadCifar10({ archive }));
    expect(err.code).toBe('MISSING_FILE');
    expect(err.message).toBe(`${archive}: CIFAR-10 archive has no data_batch_1.bin: expected cifar-10-batches-bin/data_batch_1.bin`);
  });

  it('refuses a batch that appears twice at its canonical path', async () => {
    const archive = await archiveOf('twice.tar.gz', [...real, { path: 'cifar-10-batches-bin/data_batch_2.bin', data: batch(2, 97) }]);
    const err = await rejection(loadCifar10({ archive }));
    expect(err.code).toBe('UNSAFE_TAR_ENTRY');
    expect(err.file).toBe(`${archive}: cifar-10-batches-bin/data_batch_2.bin`);
    expect(err.message).toMatch(/cifar-10-batches-bin\/data_batch_2\.bin: the entry appears twice in the archive: expected each wanted file once/);
    // Also when one copy is spelled "./cifar-10-batches-bin/…".
    const dotted = await archiveOf('twice-dotted.tar.gz', [...real, { path: './cifar-10-batches-bin/test_batch.bin', data: batch(2, 96) }]);
    expect((await rejection(loadCifar10({ archive: dotted }))).message).toMatch(/\.\/cifar-10-batches-bin\/test_batch\.bin: the entry appears twice/);
  });

  it('accepts the canonical folder written as ./cifar-10-batches-bin/', async () => {
    const archive = await archiveOf('dotted.tar.gz', real.map((e) => ({ ...e, path: `./${e.path}` })));
    expect((await loadCifar10({ archive })).test.count).toBe(2);
  });
});

describe('device entries, FIFOs and broken hard links', () => {
  const kinds: Array<[TarType, string, string]> = [
    ['3', 'character device', 'dev/tty0'],
    ['4', 'block device', 'dev/sda'],
    ['6', 'FIFO', 'x/pipe'],
  ];
  for (const [type, kind, path] of kinds) {
    it(`refuses a ${kind} entry in extractTarSafely and readTarEntries, naming the archive and the entry`, async () => {
      const archive = await archiveOf(`dev-${type}.tar.gz`, [{ path: 'x/a.bin', data: Uint8Array.from([1]) }, { path, type }]);
      const dest = join(root, `out-dev-${type}`);
      for (const attempt of [() => extractTarSafely(archive, dest), () => readTarEntries(archive, () => true)]) {
        const err = await rejection(attempt());
        expect(err.code).toBe('UNSAFE_TAR_ENTRY');
        expect(err.file).toBe(`${archive}: ${path}`);
        expect(err.message).toBe(`${archive}: ${path}: refusing a ${kind} entry: expected files, folders and links`);
      }
      expect((await readdir(root)).filter((f) => f.startsWith(`out-dev-${type}`))).toEqual([]);
    });
  }

  it('refuses a hard link to a file the archive does not hold before it', async () => {
    for (const [name, entries] of [
      ['missing', [{ path: 'x/link', type: '1' as const, linkpath: 'x/nowhere.bin' }]],
      ['later', [{ path: 'x/link', type: '1' as const, linkpath: 'x/a.bin' }, { path: 'x/a.bin', data: Uint8Array.from([1]) }]],
    ] as const) {
      const archive = await archiveOf(`hardlink-${name}.tar.gz`, [...entries]);
      const dest = join(root, `out-hardlink-${name}`);
      for (const attempt of [() => extractTarSafely(archive, dest), () => readTarEntries(archive, () => true)]) {
        const err = await rejection(attempt());
        expect(err.code).toBe('UNSAFE_TAR_ENTRY');
        expect(err.file).toBe(`${archive}: x/link`);
        expect(err.message).toMatch(/x\/link: refusing a hard link to x\/(nowhere|a)\.bin: expected a file stored earlier in the archive/);
      }
      expect((await readdir(root)).filter((f) => f.startsWith(`out-hardlink-${name}`))).toEqual([]);
    }
  });

  it('still extracts a hard link to an earlier file', async () => {
    const archive = await archiveOf('hardlink-ok.tar.gz', [
      { path: 'x/a.bin', data: Uint8Array.from([7, 8]) },
      { path: 'x/b.bin', type: '1', linkpath: 'x/a.bin' },
    ]);
    const dest = join(root, 'out-hardlink-ok');
    await extractTarSafely(archive, dest);
    expect([...(await readFile(join(dest, 'x', 'b.bin')))]).toEqual([7, 8]);
  });

  it('turns an error of tar itself during extraction into a DataError naming the archive and the entry', async () => {
    // A file whose path is a non-empty folder by then: tar (strict) cannot replace it and fails with ENOTEMPTY.
    const archive = await archiveOf('clash.tar.gz', [
      { path: 'x/a.bin/', type: '5' },
      { path: 'x/a.bin/inner', data: Uint8Array.from([1]) },
      { path: 'x/a.bin', data: Uint8Array.from([2]) },
    ]);
    const err = await rejection(extractTarSafely(archive, join(root, 'out-clash')));
    expect(err.code).toBe('UNSAFE_TAR_ENTRY');
    expect(err.file).toBe(`${archive}: x/a.bin`);
    expect(err.message).toMatch(/x\/a\.bin: cannot extract the entry: ENOTEMPTY/);
    expect((await readdir(root)).filter((f) => f.startsWith('out-clash'))).toEqual([]);
  });
});
