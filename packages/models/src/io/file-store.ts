/**
 * Checkpoints in a Node folder. A write builds the whole checkpoint in a sibling staging folder and swaps it in with
 * renames; if a process dies between the two renames, the next read or write finds the previous checkpoint under
 * its `.old-*` name and puts it back, and folders left by killed writers are removed.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { GmError, type CheckpointStore } from '@gm/core';

const SAVING = '.saving-';
const OLD = '.old-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const exists = (p: string) => stat(p).then(() => true, () => false);

/** Puts back a checkpoint a dead writer left under its `.old-*` name, and removes dead writers' staging folders. */
async function recover(target: string): Promise<void> {
  const parent = dirname(target);
  const base = basename(target);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return;
  }
  const debris = names.filter((n) => n.startsWith(`${base}${SAVING}`) || n.startsWith(`${base}${OLD}`));
  for (const n of debris) {
    // `<base>.saving-<pid>-<random>` / `<base>.old-<pid>-<random>`: another live process's folder is left alone.
    const pid = Number(n.slice(base.length).split('-')[1]);
    if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) continue;
    const p = join(parent, n);
    if (n.startsWith(`${base}${OLD}`) && !(await exists(target))) await rename(p, target);
    else await rm(p, { recursive: true, force: true });
  }
}

/** The moments of a write that a fault-injection hook is told about (tests kill the process there). */
export type FileStoreStage = 'staged' | 'old-moved-aside' | 'swapped';

export interface FileStoreOptions {
  /** Called at each stage of a write; for tests that kill the process mid-save. */
  onStage?: (stage: FileStoreStage) => void;
}

/**
 * A checkpoint folder on disk.
 *
 * @example
 * ```ts
 * import { fileStore } from '@gm/models/node';
 * await vae.save(fileStore('checkpoints/vae'));
 * const again = await VAE.load(fileStore('checkpoints/vae'));
 * ```
 */
export function fileStore(dir: string, options: FileStoreOptions = {}): CheckpointStore {
  const stage = options.onStage ?? (() => {});
  const target = resolve(dir);
  return {
    label: dir,
    async read(path) {
      const file = join(target, path);
      if (!file.startsWith(target)) throw new GmError('BAD_ARGUMENT', file, 'a path inside the checkpoint folder');
      try {
        return new Uint8Array(await readFile(file));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          await recover(target);
          try {
            return new Uint8Array(await readFile(file));
          } catch {
            throw new GmError('NOT_FOUND', join(dir, path), 'no such file');
          }
        }
        throw new GmError('NOT_FOUND', join(dir, path), `cannot read (${code ?? String(error)})`);
      }
    },
    async write(files) {
      await recover(target);
      const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`;
      const staging = `${target}${SAVING}${tag}`;
      const old = `${target}${OLD}${tag}`;
      try {
        for (const [path, bytes] of files) {
          const file = join(staging, path);
          if (!file.startsWith(staging)) throw new GmError('BAD_ARGUMENT', path, 'a relative path inside the checkpoint');
          await mkdir(dirname(file), { recursive: true });
          await writeFile(file, bytes);
        }
        await mkdir(dirname(target), { recursive: true });
        stage('staged');
        const hadOld = await exists(target);
        if (hadOld) await rename(target, old);
        stage('old-moved-aside');
        await rename(staging, target);
        stage('swapped');
        if (hadOld) await rm(old, { recursive: true, force: true });
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        throw error;
      }
    },
  };
}
