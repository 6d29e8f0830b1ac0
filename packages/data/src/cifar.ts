/** CIFAR-10, binary version: 1 label byte + 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue; CHW) per image. */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { concatDatasets, makeDataset, toNCHW, toNHWC, type ImageDataset, type ImageLayout } from './dataset.js';
import { DataError } from './errors.js';
import { defaultCacheDir, ensureCached, fileExists, type DownloadOptions } from './files.js';
import { readTarEntries } from './tarball.js';

/** Class names by label. */
export const CIFAR10_LABELS = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

export const CIFAR10_TRAIN_FILES = [
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
] as const;
export const CIFAR10_TEST_FILE = 'test_batch.bin';
/** The official archive's name and sha256. */
export const CIFAR10_ARCHIVE = 'cifar-10-binary.tar.gz';
export const CIFAR10_SHA256 = 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd';
/** The folder inside the archive. */
export const CIFAR10_FOLDER = 'cifar-10-batches-bin';
export const DEFAULT_CIFAR10_MIRROR = 'https://www.cs.toronto.edu/~kriz/';

const H = 32;
const W = 32;
const C = 3;
const RECORD = 1 + C * H * W;

/**
 * Parses one CIFAR-10 binary batch file into a CHW dataset (the file's own order) with label names. Use
 * {@link toNHWC} for the HWC view tfjs expects.
 */
export function parseCifar10Batch(bytes: Uint8Array, file = '<CIFAR-10 buffer>'): ImageDataset {
  if (bytes.length === 0 || bytes.length % RECORD !== 0) {
    throw new DataError(
      'TRUNCATED',
      file,
      `truncated or malformed CIFAR-10 batch: expected a positive multiple of ${RECORD} bytes (1 label + ${C * H * W} pixels per image), got ${bytes.length}`,
    );
  }
  const count = bytes.length / RECORD;
  const images = new Uint8Array(count * (RECORD - 1));
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * RECORD;
    const label = bytes[at]!;
    if (label > 9) {
      throw new DataError('BAD_LABEL', file, `image ${i} (byte ${at}) has label ${label}, expected 0..9`);
    }
    labels[i] = label;
    images.set(bytes.subarray(at + 1, at + RECORD), i * (RECORD - 1));
  }
  return makeDataset({ images, labels, shape: [C, H, W], layout: 'CHW', count, labelNames: CIFAR10_LABELS }, file);
}

/** Serializes a 32×32×3 dataset (either layout) to the CIFAR-10 binary batch format. */
export function writeCifar10Batch(ds: ImageDataset): Uint8Array {
  const chw = ds.layout === 'CHW' ? ds : toNCHW(ds);
  if (chw.shape[0] !== C || chw.shape[1] !== H || chw.shape[2] !== W) {
    throw new DataError('BAD_DIMENSIONS', 'writeCifar10Batch', `expected 3×32×32 images, got ${ds.shape.join('×')} ${ds.layout}`);
  }
  const out = new Uint8Array(ds.count * RECORD);
  for (let i = 0; i < ds.count; i++) {
    out[i * RECORD] = chw.labels[i]!;
    out.set(chw.images.subarray(i * (RECORD - 1), (i + 1) * (RECORD - 1)), i * RECORD + 1);
  }
  return out;
}

/** CIFAR-10's train (50,000) and test (10,000) sets. */
export interface Cifar10Splits {
  train: ImageDataset;
  test: ImageDataset;
}

export interface LoadCifar10Options extends DownloadOptions {
  /** A folder holding the six batch files, directly or in `cifar-10-batches-bin/`. */
  dir?: string;
  /** A `cifar-10-binary.tar.gz` (or .tar) archive to read the batches from. */
  archive?: string;
  /** Download the archive from `mirror` into `cacheDir`, verify its sha256, and reuse it next time. */
  download?: boolean;
  /** Base URL the archive name is appended to (default {@link DEFAULT_CIFAR10_MIRROR}). */
  mirror?: string;
  /** Cache folder (default `$XDG_CACHE_HOME/gm/cifar10` or `~/.cache/gm/cifar10`). */
  cacheDir?: string;
  /** Expected sha256 of the archive, overriding {@link CIFAR10_SHA256}. */
  sha256?: string;
  /** Byte order of the returned images: `'HWC'` (default, what tfjs wants) or the file's `'CHW'`. */
  layout?: ImageLayout;
}

function fromBatches(named: Array<[string, Uint8Array]>, layout: ImageLayout): ImageDataset {
  const ds = concatDatasets(named.map(([file, bytes]) => parseCifar10Batch(bytes, file)));
  return layout === 'HWC' ? toNHWC(ds) : ds;
}

async function batchesFromDir(dir: string): Promise<Array<[string, Uint8Array]>> {
  const nested = join(dir, CIFAR10_FOLDER);
  const base = (await fileExists(join(nested, CIFAR10_TEST_FILE))) ? nested : dir;
  const out: Array<[string, Uint8Array]> = [];
  for (const name of [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]) {
    const path = join(base, name);
    if (!(await fileExists(path))) {
      throw new DataError('MISSING_FILE', path, `CIFAR-10 batch not found: expected ${name} in ${dir} or ${nested}`);
    }
    out.push([path, await readFile(path)]);
  }
  return out;
}

async function batchesFromArchive(archive: string): Promise<Array<[string, Uint8Array]>> {
  const wantedNames = new Set<string>([...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]);
  const entries = await readTarEntries(archive, (p) => wantedNames.has(basename(p)));
  const byName = new Map([...entries].map(([p, bytes]) => [basename(p), [p, bytes] as const]));
  return [...wantedNames].map((name) => {
    const hit = byName.get(name);
    if (hit === undefined) {
      throw new DataError('MISSING_FILE', archive, `CIFAR-10 archive has no ${name}: expected ${CIFAR10_FOLDER}/${name}`);
    }
    return [`${archive}: ${hit[0]}`, hit[1]];
  });
}

/**
 * Loads CIFAR-10 from a folder of batch files, from the `cifar-10-binary.tar.gz` archive, or by downloading that
 * archive (verified against its sha256, cached). Archive entries with absolute paths or `..` are refused.
 *
 * @example
 * ```ts
 * const { train, test } = await loadCifar10({ archive: 'cifar-10-binary.tar.gz' });
 * train.shape;                          // [32, 32, 3] (HWC)
 * train.labelNames?.[train.labels[0]!]; // e.g. 'frog'
 * ```
 */
export async function loadCifar10(options: LoadCifar10Options): Promise<Cifar10Splits> {
  const layout = options.layout ?? 'HWC';
  let batches: Array<[string, Uint8Array]>;
  if (options.dir !== undefined) {
    batches = await batchesFromDir(options.dir);
  } else if (options.archive !== undefined) {
    batches = await batchesFromArchive(options.archive);
  } else if (options.download) {
    const cacheDir = options.cacheDir ?? defaultCacheDir('cifar10');
    const mirror = options.mirror ?? DEFAULT_CIFAR10_MIRROR;
    const { path } = await ensureCached(CIFAR10_ARCHIVE, mirror, cacheDir, options.sha256 ?? CIFAR10_SHA256, options);
    batches = await batchesFromArchive(path);
  } else {
    throw new DataError('BAD_ARGUMENT', 'loadCifar10', 'expected { dir }, { archive } or { download: true }');
  }
  return {
    train: fromBatches(batches.slice(0, CIFAR10_TRAIN_FILES.length), layout),
    test: fromBatches(batches.slice(CIFAR10_TRAIN_FILES.length), layout),
  };
}
