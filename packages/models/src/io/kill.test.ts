/**
 * Nothing the user had is lost (issue 15, items 2–3): a process killed at a random moment while it saves
 * checkpoints, or exactly between the steps of a save, always leaves a checkpoint that loads, and the next save
 * clears whatever the dead writer left behind.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '@gm/core';
import { VAE } from '../vae/vae';
import { fileStore } from './file-store';

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A writer: loads the checkpoint, then saves changed weights over it in a loop; kills itself at `stage` of save `nth`. */
const WRITER = `
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { VAE } from '@gm/models';
import { fileStore } from '@gm/models/node';
const [dir, stage, nth] = process.argv.slice(1);
await tf.setBackend('cpu');
const vae = await VAE.load(fileStore(dir));
for (let i = 0; ; i++) {
  const w = vae.trainableVariables()[0];
  w.assign(tf.add(w, 0.001));
  await vae.save(fileStore(dir, { onStage: (s) => { if (s === stage && i === Number(nth)) process.kill(process.pid, 'SIGKILL'); } }));
  if (i === 0) process.stdout.write('saving\\n');
}
`;

function runWriter(dir: string, stage: string, nth: number, killAfterMs: number | null): Promise<void> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER, dir, stage, String(nth)], { cwd: PACKAGE, stdio: ['ignore', 'pipe', 'inherit'] });
    let timer: NodeJS.Timeout | undefined;
    // Timed kills start counting once the writer is saving (after its imports and first load).
    child.stdout.once('data', () => {
      if (killAfterMs !== null) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.on('exit', () => {
      if (timer !== undefined) clearTimeout(timer);
      done();
    });
  });
}

describe('killed writers never lose the checkpoint', () => {
  const work = mkdtempSync(join(tmpdir(), 'gm-kill-'));
  const dir = join(work, 'vae');
  beforeAll(async () => {
    await tf.setBackend('cpu');
    const vae = new VAE({ inputShape: [16], hidden: [8], latentDim: 2, seed: 1 });
    await vae.save(fileStore(dir));
    vae.dispose();
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('30 kills — at random moments and aimed between the steps of a save — each leave a loadable checkpoint, and the next save leaves no debris', async () => {
    const rnd = mulberry32(15);
    const stages = ['staged', 'old-moved-aside', 'swapped'];
    for (let k = 0; k < 30; k++) {
      const aimed = k % 2 === 0;
      await runWriter(dir, aimed ? stages[(k / 2) % 3]! : 'never', aimed ? Math.floor(rnd() * 3) : -1, aimed ? null : 20 + Math.floor(rnd() * 400));
      const vae = await VAE.load(fileStore(dir));
      expect(vae.trainableVariables().length).toBeGreaterThan(0);
      await vae.save(fileStore(dir));
      vae.dispose();
      expect({ kill: k, left: readdirSync(work).filter((n) => n !== 'vae') }).toEqual({ kill: k, left: [] });
    }
  }, 600_000);
});
