/**
 * Runs that lose nothing (issue 15, items 1–2): a checkpoint after every epoch with the history in the same write,
 * Ctrl-C / SIGTERM stop after the current batch with a clear message, a hard kill keeps the last finished epoch, and
 * a divergence never replaces a good checkpoint.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gm, run, runJson, tempDir } from './helpers';

/** Starts `gm train`, sends `signal` once `epochs` epoch lines were printed; resolves with the exit status and output. */
function trainUntil(args: string[], epochs: number, signal: NodeJS.Signals): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [gm, 'train', ...args], { env: { ...process.env, GM_BACKEND: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!sent && (stdout.match(/^epoch \d+\/\d+:/gm) ?? []).length >= epochs) {
        sent = true;
        child.kill(signal);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, sig) => done({ status: code ?? (sig === null ? null : 128), stdout, stderr }));
  });
}

const sidecarHistory = (dir: string): number => (JSON.parse(readFileSync(join(dir, 'gm-cli.json'), 'utf8')) as { history: unknown[] }).history.length;
const LONG = ['vae', '--train-limit', '400', '--test-limit', '100', '--epochs', '200', '--batch', '50', '--hidden', '16', '--latent', '4'];

describe('interrupted and killed training keep every finished epoch', () => {
  const dir = tempDir('interrupt');

  it.each(['SIGINT', 'SIGTERM'] as const)('%s stops after the current batch: the checkpoint holds the finished epochs and their history', async (signal) => {
    const out = join(dir, signal);
    const r = await trainUntil([...LONG, '--out', out], 3, signal);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`gm: interrupted: .*${signal} holds the \\d+ epochs trained so far; continue with gm train vae --resume`));
    const epochs = Number(/holds the (\d+) epochs/.exec(r.stderr)?.[1]);
    expect(epochs).toBeGreaterThanOrEqual(3);
    expect(sidecarHistory(out)).toBe(epochs);
    const e = await runJson<{ metrics: { negElbo: number } }>(['eval', '--model', out, '--test-limit', '50', '--k', '2']);
    expect(Number.isFinite(e.metrics.negElbo)).toBe(true);
  });

  it('a hard kill (SIGKILL) as epoch 3 ends leaves a checkpoint of epoch 2 or 3, loadable and resumable', async () => {
    const out = join(dir, 'killed');
    // The epoch line prints before that epoch's checkpoint is written: the kill may land in that write.
    await trainUntil([...LONG, '--out', out], 3, 'SIGKILL');
    expect(sidecarHistory(out)).toBeGreaterThanOrEqual(2);
    const resumed = await runJson<{ epochsTrained: number }>(['train', 'vae', '--resume', out, '--train-limit', '400', '--test-limit', '100', '--epochs', '1', '--batch', '50']);
    expect(resumed.epochsTrained).toBeGreaterThanOrEqual(3);
    expect(sidecarHistory(out)).toBe(resumed.epochsTrained);
  });

  it('a divergence on the last update exits 1 and never replaces the good checkpoint', async () => {
    const good = join(dir, 'good');
    await runJson(['train', 'vae', '--train-limit', '200', '--test-limit', '100', '--epochs', '1', '--batch', '100', '--hidden', '16', '--latent', '4', '--out', good]);
    const before = readFileSync(join(good, 'gm-checkpoint.json'));
    const r = await run(['train', 'vae', '--resume', good, '--lr', '1e3', '--epochs', '1', '--train-limit', '100', '--batch', '100']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/gm: training failed: training diverged: .* at epoch 2; weights restored to the end of epoch 1/);
    expect(readFileSync(join(good, 'gm-checkpoint.json')).equals(before)).toBe(true);
    expect((await run(['eval', '--model', good, '--test-limit', '50'])).status).toBe(0);
  });
});
