/**
 * `gm train vae --likelihood gaussian --beta 4` and `gm train vae --objective iwae --k 5` (issue 19): the options
 * reach the checkpoint's config, the checkpoints evaluate with `gm eval`, and misplaced flags are refused by name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, runJson, tempDir, TINY } from './helpers';

interface TrainReport {
  kind: string;
  description: string;
  epochsTrained: number;
  epochs: { epoch: number; loss: number; valLoss?: number }[];
}
interface EvalReport {
  kind: string;
  metrics: Record<string, number>;
}

const dir = tempDir('vae-objectives');
const configOf = (checkpoint: string): Record<string, unknown> => JSON.parse(readFileSync(join(checkpoint, 'gm-checkpoint.json'), 'utf8')).config;

describe('gm train vae with the lecture\'s objectives', () => {
  it('--likelihood gaussian --beta 4: a Gaussian β-VAE whose checkpoint says so, evaluates, samples, and is refused by the coder', async () => {
    const out = join(dir, 'gaussian-beta');
    const r = await runJson<TrainReport>(['train', 'vae', ...TINY, '--epochs', '2', '--hidden', '32', '--latent', '4', '--likelihood', 'gaussian', '--beta', '4', '--observation-std', '0.2', '--out', out]);
    expect(r.kind).toBe('vae');
    expect(r.description).toMatch(/gaussian likelihood \(σ 0\.2\), N\(0, I\) prior, trained as a β-VAE \(β = 4\)/);
    expect(configOf(out)).toMatchObject({ likelihood: 'gaussian', observationStd: 0.2, beta: 4, objective: 'elbo' });
    expect(configOf(out)).not.toHaveProperty('k');
    const [a, b] = r.epochs as [TrainReport['epochs'][0], TrainReport['epochs'][0]];
    expect(b.loss).toBeLessThan(a.loss);
    const e = await runJson<EvalReport>(['eval', '--model', out, '--test-limit', '50', '--k', '5']);
    const m = e.metrics;
    expect(Object.values(m).every(Number.isFinite)).toBe(true);
    expect(m.isSamples).toBe(5);
    expect(m.isNll).toBeLessThan(m.negElbo as number);
    // nats of the density on [0, 1] intensities; bits/dim of the density in pixel units 0..255.
    expect(m.negElboBitsPerDim).toBeCloseTo(((m.negElbo as number) + 784 * Math.log(255)) / (784 * Math.LN2), 6);
    const s = await runJson<{ images: number }>(['sample', '--model', out, '--n', '4', '--out', join(dir, 'gaussian-samples.png')]);
    expect(s.images).toBe(4);
    const c = await run(['compress', 'mnist-bundled:test', join(dir, 'gaussian.gmz'), '--model', out, '--limit', '5']);
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/a "vae" cannot compress: .*a Gaussian VAE models continuous intensities/);
  });

  it('--objective iwae --k 5: the checkpoint records the objective and k, the logged loss is the −IWAE bound, gm eval works', async () => {
    const out = join(dir, 'iwae');
    const r = await runJson<TrainReport>(['train', 'vae', ...TINY, '--epochs', '2', '--hidden', '32', '--latent', '4', '--objective', 'iwae', '--k', '5', '--out', out]);
    expect(r.description).toMatch(/bernoulli likelihood, N\(0, I\) prior, trained on the IWAE bound \(k = 5\)/);
    expect(configOf(out)).toMatchObject({ likelihood: 'bernoulli', objective: 'iwae', k: 5, beta: 1 });
    const [a, b] = r.epochs as [TrainReport['epochs'][0], TrainReport['epochs'][0]];
    expect(b.loss).toBeLessThan(a.loss);
    expect(b.valLoss).toBeTypeOf('number');
    const e = await runJson<EvalReport>(['eval', '--model', out, '--test-limit', '50', '--k', '20']);
    expect(e.kind).toBe('vae');
    expect(e.metrics.isSamples).toBe(20);
    expect(e.metrics.isNll).toBeLessThan(e.metrics.negElbo as number);
    // Resuming continues the checkpoint's own objective unless --objective/--k/--beta say otherwise; the architecture stays.
    const resumed = await runJson<TrainReport>(['train', 'vae', '--resume', out, '--out', join(dir, 'iwae-resumed'), ...TINY]);
    expect(resumed.epochsTrained).toBe(3);
    expect(configOf(join(dir, 'iwae-resumed'))).toMatchObject({ objective: 'iwae', k: 5 });
    const moreSamples = await runJson<TrainReport>(['train', 'vae', '--resume', out, '--k', '10', '--out', join(dir, 'iwae-k10'), ...TINY]);
    expect(moreSamples.description).toMatch(/trained on the IWAE bound \(k = 10\)/);
    expect(configOf(join(dir, 'iwae-k10'))).toMatchObject({ objective: 'iwae', k: 10, hidden: [32], latentDim: 4 });
    const refused = await run(['train', 'vae', '--resume', out, '--hidden', '64', ...TINY]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/--resume continues the checkpoint's own architecture; drop --hidden/);
    const noBeta = await run(['train', 'vae', '--resume', out, '--beta', '2', ...TINY]);
    expect(noBeta.status).toBe(1);
    expect(noBeta.stderr).toMatch(/--beta: β weights the ELBO's KL term, and --objective iwae has none/);
  });

  it('--resume with --objective iwae fine-tunes an ELBO checkpoint on the IWAE bound: same networks, epochs and optimizer carry on', async () => {
    const elbo = join(dir, 'elbo');
    const first = await runJson<TrainReport>(['train', 'vae', ...TINY, '--epochs', '2', '--hidden', '32', '--latent', '4', '--out', elbo]);
    expect(configOf(elbo)).toMatchObject({ objective: 'elbo', beta: 1 });
    const tuned = join(dir, 'elbo-iwae');
    const r = await runJson<TrainReport>(['train', 'vae', '--resume', elbo, ...TINY, '--objective', 'iwae', '--k', '3', '--epochs', '2', '--out', tuned]);
    expect(r.epochsTrained).toBe(4);
    expect(r.description).toMatch(/MLP 784-32-4, .*trained on the IWAE bound \(k = 3\)/);
    expect(r.epochs.map((e) => e.epoch)).toEqual([3, 4]);
    // The IWAE-trained epochs log the −IWAE bound, which lies below the −ELBO the ELBO epochs logged.
    expect(r.epochs[1]?.valLoss as number).toBeLessThan(first.epochs[1]?.valLoss as number);
    expect(configOf(tuned)).toMatchObject({ objective: 'iwae', k: 3, hidden: [32], latentDim: 4 });
    const back = await runJson<TrainReport>(['train', 'vae', '--resume', tuned, ...TINY, '--objective', 'elbo', '--out', join(dir, 'iwae-elbo')]);
    expect(back.epochsTrained).toBe(5);
    expect(configOf(join(dir, 'iwae-elbo'))).toMatchObject({ objective: 'elbo' });
    expect(configOf(join(dir, 'iwae-elbo'))).not.toHaveProperty('k');
    const refused = await run(['train', 'vae', '--resume', elbo, '--k', '5', ...TINY]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/--k: the importance samples per image of --objective iwae; .* trains on the ELBO, so add --objective iwae/);
  });

  it('--mixture-components 3: a discretized-logistic-mixture VAE with 3 logistics per pixel, recorded in its checkpoint', async () => {
    const out = join(dir, 'mixture3');
    const r = await runJson<TrainReport>(['train', 'vae', ...TINY, '--hidden', '32', '--latent', '4', '--likelihood', 'discretized-logistic-mixture', '--mixture-components', '3', '--out', out]);
    expect(r.description).toMatch(/discretized-logistic-mixture likelihood \(3 components\)/);
    expect(configOf(out)).toMatchObject({ likelihood: 'discretized-logistic-mixture', mixtureComponents: 3 });
    const e = await runJson<EvalReport>(['eval', '--model', out, '--test-limit', '20', '--k', '2']);
    expect(Number.isFinite(e.metrics.isNll)).toBe(true);
    const refused = await run(['train', 'vae', '--resume', out, '--mixture-components', '5', ...TINY]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/--resume continues the checkpoint's own architecture; drop --mixture-components/);
  });

  it('refuses misplaced objective flags, naming the flag and what to do', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['vae', '--k', '5'], /--k: the importance samples per image of --objective iwae .*add --objective iwae/],
      [['vae', '--objective', 'iwae', '--beta', '2'], /--beta: β weights the ELBO's KL term, and --objective iwae has none/],
      [['vae', '--observation-std', '0.2'], /--observation-std: the fixed σ of --likelihood gaussian; add --likelihood gaussian \(this model's likelihood is bernoulli\)/],
      [['made', '--beta', '4', '--objective', 'iwae'], /--beta, --objective: flags of gm train vae only \(made does not use them\); drop them/],
      [['iaf-vae', '--k', '5'], /--k: a flag of gm train vae only/],
      [['vae', '--mixture-components', '3'], /--mixture-components: the logistics per pixel of --likelihood discretized-logistic-mixture; add --likelihood discretized-logistic-mixture \(this model's likelihood is bernoulli\)/],
      [['made', '--mixture-components', '3'], /--mixture-components: a flag of gm train vae, gm train iaf-vae only/],
      [['vae', '--objective', 'vimco'], /argument 'vimco' is invalid\. Allowed choices are elbo, iwae/],
      [['vae', '--beta', '-1'], /--beta <x>' argument '-1' is invalid\. expected a positive number/],
    ];
    for (const [args, message] of cases) {
      const r = await run(['train', ...args, ...TINY, '--out', join(dir, 'refused')]);
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }
  });
});
