/** CIFAR-10 (Node): the six batch files from a folder or the official archive, downloaded, verified and cached. */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { concatDatasets, toNHWC, type ImageDataset, type ImageLayout } from './dataset.js';
import { DataError } from './errors.js';
import { defaultCacheDir, ensureCached, fileExists, type DownloadOptions } from './files.js';
import { readTarEntries } from './tarball.js';
import {
  CIFAR10_ARCHIVE,
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
