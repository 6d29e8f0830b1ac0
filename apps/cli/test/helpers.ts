import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

export const gm = fileURLToPath(new URL('../dist/gm.js', import.meta.url));

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The tests' own cache folder, so that `gm train`'s kept choices (./src/workers-choice.ts) never touch the user's. */
export const CACHE_HOME = mkdtempSync(join(tmpdir(), 'gm-cli-cache-'));

/**
 * Runs the built `gm` as a user would (a subprocess, not a TTY), with GM_BACKEND cleared so the default choice runs
 * and XDG_CACHE_HOME set to {@link CACHE_HOME}.
 */
export function run(args: string[], options: { cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [gm, ...args],
      { encoding: 'utf8', env: { ...process.env, GM_BACKEND: '', XDG_CACHE_HOME: CACHE_HOME }, timeout: 170_000, maxBuffer: 64 << 20, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

/** Runs `gm … --json`, expects success, and parses the report. */
export async function runJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const r = await run([...args, '--json']);
  if (r.status !== 0) throw new Error(`gm ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `gm-cli-${prefix}-`));
}

export function readPng(file: string): PNG {
  return PNG.sync.read(readFileSync(file));
}

/** Number of distinct RGB colours in a PNG (a blank or uniform picture has 1). */
export function colours(png: PNG): number {
  const seen = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) seen.add(((png.data[i] as number) << 16) | ((png.data[i + 1] as number) << 8) | (png.data[i + 2] as number));
  return seen.size;
}

/** Tiny, quick training settings shared by the tests. */
export const TINY = ['--train-limit', '300', '--test-limit', '100', '--epochs', '1', '--batch', '50'];
