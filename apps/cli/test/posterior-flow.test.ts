import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, runJson, tempDir, TINY } from './helpers';

const dir = tempDir('posterior-flow');

interface TrainReport {
  model: string;
  kind: string;
  epochsTrained: number;
  epochs: Array<{ loss: number; valLoss?: number }>;
}

describe('gm train iaf-vae --posterior-flow', () => {
  it.each(['planar', 'radial'])('trains a %s posterior, writes it in the checkpoint, and evaluates it (IS ≥ ELBO)', async (flow) => {
    const out = join(dir, flow);
    const r = await runJson<TrainReport>(['train', 'iaf-vae', ...TINY, '--epochs', '2', '--hidden', '32', '--latent', '4', '--flow-steps', '3', '--posterior-flow', flow, '--out', out]);
    expect(r).toMatchObject({ model: 'iaf-vae', kind: 'iaf-vae', epochsTrained: 2 });
    expect(r.epochs[1]!.loss).toBeLessThan(r.epochs[0]!.loss);
    const config = JSON.parse(readFileSync(join(out, 'gm-checkpoint.json'), 'utf8')).config;
    expect(config).toMatchObject({ flow, flowSteps: 3, latentDim: 4 });
    const e = await runJson<{ kind: string; model: string; metrics: Record<string, number> }>(['eval', '--model', out, '--k', '5', '--test-limit', '50']);
    expect(e.kind).toBe('iaf-vae');
    expect(e.metrics.isNll).toBeLessThan(e.metrics.negElbo as number);
  });

  it('--posterior-flow iaf is the default IAF checkpoint (no flow field); bad names and --resume are refused', async () => {
    const out = join(dir, 'iaf');
    await runJson(['train', 'iaf-vae', ...TINY, '--hidden', '16', '--latent', '4', '--flow-steps', '1', '--posterior-flow', 'iaf', '--out', out]);
    expect(JSON.parse(readFileSync(join(out, 'gm-checkpoint.json'), 'utf8')).config).not.toHaveProperty('flow');
    const bad = await run(['train', 'iaf-vae', ...TINY, '--posterior-flow', 'sylvester', '--out', join(dir, 'bad')]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--posterior-flow <name>' argument 'sylvester' is invalid\. Allowed choices are iaf, planar, radial/);
    const resumed = await run(['train', 'iaf-vae', '--resume', out, '--posterior-flow', 'radial', '--epochs', '1']);
    expect(resumed.status).not.toBe(0);
    expect(resumed.stderr).toMatch(/--resume continues the checkpoint's own architecture; drop --posterior-flow/);
    const help = await run(['train', '--help']);
    expect(help.stdout).toMatch(/--posterior-flow <name>/);
  });
});
