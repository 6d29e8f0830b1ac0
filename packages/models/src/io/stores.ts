/**
 * Where checkpoints live, in any JavaScript environment: memory, a URL (read-only, fetch), a folder the user picked
 * in a page (read-only), a zip file (one download, one upload), IndexedDB, and file downloads. Node folders are
 * `fileStore` of `@gm/models/node`. Every store reads a checkpoint's files by relative path and, where it can,
 * replaces the whole set at once.
 */
import { unzipSync, zipSync } from 'fflate';
import { GmError, type CheckpointStore } from '@gm/core';

function notFound(label: string, path: string, why = 'no such file'): GmError {
  return new GmError('NOT_FOUND', `${label}/${path}`, why);
}

/**
 * A store in memory (tests, workers, moving a checkpoint between stores).
 *
 * @example
 * ```ts
 * const store = memoryStore();
 * await vae.save(store);
 * const copy = await VAE.load(store);
 * ```
 */
export function memoryStore(initial?: ReadonlyMap<string, Uint8Array>, label = 'memory'): CheckpointStore & { files: Map<string, Uint8Array> } {
  const store = {
    label,
    files: new Map(initial ?? []),
    async read(path: string) {
      const bytes = store.files.get(path);
      if (bytes === undefined) throw notFound(label, path);
      return bytes;
    },
    async write(files: ReadonlyMap<string, Uint8Array>) {
      store.files = new Map(files);
    },
  };
  return store;
}

/** Every file of a store, for the paths its manifest lists (a checkpoint knows its own files). */
export async function readAll(store: CheckpointStore, paths: readonly string[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const p of paths) out.set(p, await store.read(p));
  return out;
}

/** A checkpoint folder served over HTTP(S) (read-only); `base` is the folder's URL. */
export function urlStore(base: string, fetchImpl: typeof fetch = (input, init) => fetch(input, init)): CheckpointStore {
  const root = base.endsWith('/') ? base : `${base}/`;
  return {
    label: root.slice(0, -1),
    async read(path) {
      const href = new URL(path, new URL(root, (globalThis as { location?: { href: string } }).location?.href)).href;
      let response: Response;
      try {
        response = await fetchImpl(href);
      } catch (error) {
        throw new GmError('NOT_FOUND', href, `cannot fetch (${(error as Error).message})`);
      }
      if (!response.ok) throw new GmError('NOT_FOUND', href, `HTTP ${response.status} ${response.statusText}`.trim());
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

/**
 * A checkpoint folder picked in a page with `<input type="file" webkitdirectory>` (read-only). Each File's
 * `webkitRelativePath` starts with the picked folder's name, which is dropped; a checkpoint one level down (the user
 * picked its parent) is found too. `paths` gives explicit relative paths instead.
 */
export function filesStore(files: ArrayLike<File> | Iterable<File>, paths?: readonly string[]): CheckpointStore {
  const list = Array.from(files as Iterable<File>);
  const byPath = new Map<string, File>();
  let folder = '';
  list.forEach((file, i) => {
    const parts = (paths?.[i] ?? (file.webkitRelativePath || file.name)).split('/');
    if (paths === undefined && parts.length > 1) folder = parts.shift() ?? '';
    byPath.set(parts.join('/'), file);
  });
  const manifest = 'gm-checkpoint.json';
  if (!byPath.has(manifest)) {
    const nested = [...byPath.keys()].filter((p) => p.endsWith(`/${manifest}`));
    if (nested.length === 1) {
      const prefix = (nested[0] as string).slice(0, -manifest.length);
      for (const [p, f] of [...byPath]) {
        byPath.delete(p);
        if (p.startsWith(prefix)) byPath.set(p.slice(prefix.length), f);
      }
      folder = `${folder}/${prefix.slice(0, -1)}`;
    }
  }
  const label = folder === '' ? 'picked files' : folder;
  return {
    label,
    async read(path) {
      const file = byPath.get(path);
      if (file === undefined) throw notFound(label, path, 'not among the picked files');
      return new Uint8Array(await file.arrayBuffer());
    },
  };
}

/** A whole checkpoint as one zip file (to download, upload or send). */
export function zipCheckpoint(files: ReadonlyMap<string, Uint8Array>): Uint8Array {
  return zipSync(Object.fromEntries(files), { level: 0 });
}

/** A read-only store over a zip written by {@link zipCheckpoint} (e.g. a `.zip` the user dropped on a page). */
export function zipStore(zip: Uint8Array, label = 'checkpoint.zip'): CheckpointStore {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip);
  } catch (error) {
    throw new GmError('CORRUPT', label, `not a zip file (${(error as Error).message})`);
  }
  return memoryStore(new Map(Object.entries(entries)), label);
}

/**
 * Writing triggers a browser download of the checkpoint as one zip named `fileName` (write-only: load it back with
 * {@link zipStore} on the picked file).
 */
export function downloadStore(fileName: string): CheckpointStore {
  return {
    label: fileName,
    async read(path) {
      throw notFound(fileName, path, 'a download store is write-only; load the downloaded zip with zipStore');
    },
    async write(files) {
      const doc = (globalThis as { document?: Document }).document;
      if (doc === undefined) throw new GmError('UNSUPPORTED', fileName, 'downloads need a browser page (document)');
      const url = URL.createObjectURL(new Blob([zipCheckpoint(files) as Uint8Array<ArrayBuffer>], { type: 'application/zip' }));
      const a = doc.createElement('a');
      a.href = url;
      a.download = fileName;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    },
  };
}

const DB_STORE = 'checkpoints';

function openDb(name: string): Promise<IDBDatabase> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (idb === undefined) return Promise.reject(new GmError('UNSUPPORTED', `indexeddb://${name}`, 'IndexedDB is not available here'));
  return new Promise((resolve, reject) => {
    const req = idb.open('gm', 1);
    req.onupgradeneeded = () => req.result.createObjectStore(DB_STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new GmError('UNSUPPORTED', `indexeddb://${name}`, `cannot open IndexedDB (${req.error?.message ?? 'unknown error'})`));
  });
}

/**
 * A checkpoint in the page's IndexedDB under `name`. A write replaces the whole checkpoint in one transaction, so a
 * closed tab never leaves half of it.
 */
export function indexedDbStore(name: string): CheckpointStore {
  const label = `indexeddb://${name}`;
  return {
    label,
    async read(path) {
      const db = await openDb(name);
      try {
        const value = await new Promise<unknown>((resolve, reject) => {
          const req = db.transaction(DB_STORE, 'readonly').objectStore(DB_STORE).get(name);
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
        const bytes = (value as Record<string, Uint8Array> | undefined)?.[path];
        if (bytes === undefined) throw notFound(label, path);
        return bytes;
      } finally {
        db.close();
      }
    },
    async write(files) {
      const db = await openDb(name);
      try {
        await new Promise<void>((resolve, reject) => {
          const tx = db.transaction(DB_STORE, 'readwrite');
          tx.objectStore(DB_STORE).put(Object.fromEntries(files), name);
          tx.oncomplete = () => resolve();
          tx.onerror = () => reject(new GmError('UNSUPPORTED', label, `write failed (${tx.error?.message ?? 'unknown error'})`));
        });
      } finally {
        db.close();
      }
    },
  };
}
