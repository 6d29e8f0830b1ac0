/** CIFAR-10 (Node): the six batch files from a folder or the official archive, downloaded, verified and cached. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { concatDatasets, toNHWC, type ImageDataset, type ImageLayout } from './dataset.js';
import { DataError } from './errors.js';
import { defaultCacheDir, ensureCached, readRegularFileWithin, statRegularFile, type DownloadOptions } from './files.js';
import { limitFrom, type Limit } from './limits.js';
import { normalizeTarPath, readEntriesWithin } from './tarball.js';
import {
  CIFAR10_ARCHIVE,
  CIFAR10_ARCHIVE_BYTES,
  CIFAR10_BATCH_BYTES,
  CIFAR10_FOLDER,
  CIFAR10_SHA256,
  CIFAR10_TEST_FILE,
  CIFAR10_TRAIN_FILES,
  DEFAULT_CIFAR10_MIRROR,
  parseCifar10Batch,
  type Cifar10Splits,
} from './cifar-format.js';

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
  /**
   * The most bytes one batch file (or archive entry) may have: default {@link CIFAR10_BATCH_BYTES}, 30,730,000,
   * the official 10,000 images of 3,073 bytes. Larger batches are refused before they are read.
   */
  maxFileBytes?: number;
  /**
   * The most bytes the archive's entries may have together (default 256 MiB; the official archive holds
   * 184 MB). Checked from the entry headers as the archive is read.
   */
  maxArchiveBytes?: number;
}

/** The default of {@link LoadCifar10Options.maxArchiveBytes}. */
const DEFAULT_MAX_CIFAR10_ARCHIVE_BYTES = 256 * 1024 * 1024;

function fromBatches(named: Array<[string, Uint8Array]>, layout: ImageLayout): ImageDataset {
  const ds = concatDatasets(named.map(([file, bytes]) => parseCifar10Batch(bytes, file)));
  return layout === 'HWC' ? toNHWC(ds) : ds;
}

async function batchesFromDir(dir: string, limit: Limit): Promise<Array<[string, Uint8Array]>> {
  const nested = join(dir, CIFAR10_FOLDER);
  const hasNested = await stat(join(nested, CIFAR10_TEST_FILE)).then(
    () => true,
    () => false,
  );
  const base = hasNested ? nested : dir;
  const out: Array<[string, Uint8Array]> = [];
  for (const name of [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]) {
    const path = join(base, name);
    // A FIFO or device under a batch's name is refused, not taken for a missing file (or read forever).
    if ((await statRegularFile(path)) === undefined) {
      throw new DataError('MISSING_FILE', path, `CIFAR-10 batch not found: expected ${name} in ${dir} or ${nested}`);
    }
    out.push([path, await readRegularFileWithin(path, limit)]);
  }
  return out;
}

/** The batches' paths inside the archive: `cifar-10-batches-bin/<name>` and nowhere else. */
const CANONICAL = new Map<string, string>([...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].map((name) => [`${CIFAR10_FOLDER}/${name}`, name]));

async function batchesFromArchive(archive: string, limit: Limit, archiveLimit: Limit): Promise<Array<[string, Uint8Array]>> {
  const wantedNames = new Set<string>([...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]);
  // Only the canonical paths count: a batch of the same name elsewhere (a decoy) is ignored, and a batch that
  // appears twice at its path is refused by readEntriesWithin.
  const entries = await readEntriesWithin(archive, (p) => CANONICAL.has(normalizeTarPath(p)), limit, archiveLimit);
  const byName = new Map([...entries].map(([p, bytes]) => [CANONICAL.get(normalizeTarPath(p))!, [p, bytes] as const]));
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
 * archive (verified against its sha256, cached). In an archive, the batches are read from `cifar-10-batches-bin/`
 * only (a batch there twice is refused); entries with absolute paths or `..`, devices, FIFOs and hard links to
 * nothing are refused. Batch files larger than `maxFileBytes` and FIFOs or devices in place of files are refused
 * before they are read.
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
  const limit = limitFrom(
    'loadCifar10',
    'maxFileBytes',
    options.maxFileBytes,
    CIFAR10_BATCH_BYTES,
    'the default maxFileBytes: a CIFAR-10 batch holds 10,000 images of 3,073 bytes',
  );
  const archiveLimit = limitFrom('loadCifar10', 'maxArchiveBytes', options.maxArchiveBytes, DEFAULT_MAX_CIFAR10_ARCHIVE_BYTES);
  let batches: Array<[string, Uint8Array]>;
  if (options.dir !== undefined) {
    batches = await batchesFromDir(options.dir, limit);
  } else if (options.archive !== undefined) {
    batches = await batchesFromArchive(options.archive, limit, archiveLimit);
  } else if (options.download) {
    const cacheDir = options.cacheDir ?? defaultCacheDir('cifar10');
    const mirror = options.mirror ?? DEFAULT_CIFAR10_MIRROR;
    const sha256 = options.sha256 ?? CIFAR10_SHA256;
    // The official archive's size is known: a mirror sending more is cut off there.
    const expectedBytes = sha256.toLowerCase() === CIFAR10_SHA256 ? CIFAR10_ARCHIVE_BYTES : undefined;
    const { path } = await ensureCached(CIFAR10_ARCHIVE, mirror, cacheDir, sha256, { ...options, expectedBytes });
    batches = await batchesFromArchive(path, limit, archiveLimit);
  } else {
    throw new DataError('BAD_ARGUMENT', 'loadCifar10', 'expected { dir }, { archive } or { download: true }');
  }
  return {
    train: fromBatches(batches.slice(0, CIFAR10_TRAIN_FILES.length), layout),
    test: fromBatches(batches.slice(CIFAR10_TRAIN_FILES.length), layout),
  };
}
