/**
 * How many threads `gm train` uses when `--workers` does not say: both cores when a measurement says it pays, and
 * the same choice every time after that. A choice made by timing would make a seeded run depend on the machine's
 * load (two threads draw one thread's noise but sum the batch's gradient in another order: the same steps up to
 * float rounding, which over a long run can grow into other, equally good weights); so the
 * first measurement for a model, batch size and backend on this machine is kept in a small file (as FFTW keeps its
 * "wisdom") and reused, and `--workers auto` measures again. Runs too short to gain from threads stay on one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile, defaultCacheDir } from '@gm/data/node';
import type { WorkersCalibration } from './data-parallel-fit';

/** Fewer steps than this train on one thread unless asked: starting and timing threads would not pay back. */
export const STEPS_WORTH_THREADS = 200;

/** The file of kept choices: `$XDG_CACHE_HOME/gm/cli/workers.json` (or `~/.cache/gm/cli/workers.json`). */
export function workersFile(): string {
  return join(defaultCacheDir('cli'), 'workers.json');
}

interface KeptChoice extends WorkersCalibration {
  /** ISO date of the measurement. */
  measuredAt: string;
}

interface WorkersFile {
  format: 'gm-workers';
  version: 1;
  /** By {@link choiceKey}. */
  choices: Record<string, KeptChoice>;
}

/** What a kept choice is for: the model's architecture, the batch, the backend, the cores and gm's version. */
export function choiceKey(o: { model: string; batch: number; backend: string; cores: number; version: string }): string {
  return `${o.model} | batch ${o.batch} | ${o.backend} | ${o.cores} cores | gm ${o.version}`;
}

/** The kept choices, or none; a file that is not ours is reported through `warn` and then replaced. */
async function readChoices(path: string, warn: (line: string) => void): Promise<WorkersFile['choices']> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return {};
  }
  try {
    const file = JSON.parse(text) as Partial<WorkersFile>;
    if (file.format === 'gm-workers' && file.version === 1 && typeof file.choices === 'object' && file.choices !== null) return file.choices;
    warn(`${path}: not a gm workers file (format "gm-workers", version 1); measuring again and replacing it`);
  } catch {
    warn(`${path}: not valid JSON; measuring again and replacing it`);
  }
  return {};
}

export interface WorkersQuestion {
  /** `--workers auto`: measure now (and keep the result), whatever was kept. */
  measure: boolean;
  /** Why this run cannot train data-parallel, if it cannot. */
  refusal?: string;
  cores: number;
  /** Steps the run will take. */
  steps: number;
  key: string;
  /** Times one thread against two (data-parallel-fit's calibrateWorkers). */
  calibrate: () => Promise<WorkersCalibration>;
  warn: (line: string) => void;
}

/** The number of threads to train on, and why (kept choices say when they were measured and where they are kept). */
export async function chooseWorkers(q: WorkersQuestion): Promise<WorkersCalibration> {
  if (q.refusal !== undefined) return { workers: 1, reason: q.refusal };
  if (q.cores < 2) return { workers: 1, reason: `this machine has ${q.cores} core` };
  if (!q.measure && q.steps < STEPS_WORTH_THREADS) {
    return { workers: 1, reason: `a short run (${q.steps} steps, under ${STEPS_WORTH_THREADS}): threads would not pay back their start; --workers 2 or auto to use them` };
  }
  const path = workersFile();
  const choices = await readChoices(path, q.warn);
  const kept = choices[q.key];
  if (!q.measure && kept !== undefined) {
    const { measuredAt, ...choice } = kept;
    return { ...choice, reason: `${choice.reason} (measured ${measuredAt.slice(0, 10)}, kept in ${path}; --workers auto measures again)` };
  }
  const measured = await q.calibrate();
  if (measured.oneThreadMs !== undefined) {
    choices[q.key] = { ...measured, measuredAt: new Date().toISOString() };
    const file: WorkersFile = { format: 'gm-workers', version: 1, choices };
    try {
      await atomicWriteFile(path, new TextEncoder().encode(`${JSON.stringify(file, null, 2)}\n`));
    } catch (error) {
      q.warn(`could not keep the choice in ${path} (${(error as Error).message}); the next run measures again`);
    }
  }
  return measured;
}
