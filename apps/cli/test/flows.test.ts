import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPng, run, runJson, tempDir } from './helpers';

const dir = tempDir('flows');

describe('gm train glow', () => {
  it('trains a class-conditional Glow, evaluates p(x | label) in bits/dim and samples a chosen class at a temperature', async () => {
    const out = join(dir, 'glow');
    const t = await runJson<{ kind: string; epochsTrained: number }>(['train', 'glow', '--condition', 'label', '--train-limit', '40', '--test-limit', '20', '--batch', '20', '--epochs', '1', '--steps-per-scale', '1', '--filters', '4', '--out', out]);
    expect(t).toMatchObject({ kind: 'glow', epochsTrained: 1 });
    expect(JSON.parse(readFileSync(join(out, 'gm-checkpoint.json'), 'utf8')).config).toMatchObject({ classes: 10, stepsPerScale: 1, filters: 4 });

    const e = await runJson<{ kind: string; metrics: Record<string, number> }>(['eval', '--model', out, '--test-limit', '20']);
    expect(e.kind).toBe('glow');
    expect(e.metrics.nllBitsPerDim).toBeGreaterThan(0);
    expect(e.metrics.nllBitsPerDim).toBeLessThan(16);
    expect(e.metrics.nll).toBeCloseTo((e.metrics.nllBitsPerDim as number) * 784 * Math.LN2, 3);

    const file = join(dir, 'threes.png');
    const s = await runJson<{ label: number; temperature: number }>(['sample', '--model', out, '--n', '4', '--label', '3', '--temperature', '0.7', '--out', file]);
    expect(s).toMatchObject({ label: 3, temperature: 0.7 });
    expect(readPng(file).width).toBe(2 * 28 + 3 * 2);
    const rows = await run(['sample', '--model', out, '--n', '9', '--out', join(dir, 'rows.png')]);
    expect(rows.stdout + rows.stderr).toMatch(/one row per class/);

    const bad = await run(['sample', '--model', out, '--label', '10', '--out', join(dir, 'x.png')]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--label: expected a class in 0\.\.9, got 10/);
  });

  it('refuses --condition for a model that is not class-conditional, and --label or --temperature where they mean nothing', async () => {
    const r = await run(['train', 'vae', '--condition', 'label', '--train-limit', '20', '--epochs', '1', '--out', join(dir, 'vae')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--condition label: gm train vae is not class-conditional \(glow/);
    await runJson(['train', 'glow', '--train-limit', '20', '--test-limit', '10', '--batch', '10', '--epochs', '1', '--steps-per-scale', '1', '--filters', '4', '--out', join(dir, 'plain')]);
    const label = await run(['sample', '--model', join(dir, 'plain'), '--label', '3', '--out', join(dir, 'y.png')]);
    expect(label.stderr).toMatch(/--label: the glow .* is not class-conditional/);
    await runJson(['train', 'vae', '--train-limit', '20', '--test-limit', '10', '--epochs', '1', '--hidden', '8', '--latent', '2', '--out', join(dir, 'vae2')]);
    const temp = await run(['sample', '--model', join(dir, 'vae2'), '--temperature', '0.5', '--out', join(dir, 'z.png')]);
    expect(temp.stderr).toMatch(/--temperature: a "vae" samples at temperature 1 only/);
  });
});

describe('gm train maf | nsf', () => {
  it('trains MAF and NSF on the flattened 8-bit pixels, evaluates bits/dim and samples pixels', async () => {
    for (const [model, extra] of [
      ['maf', ['--hidden', '32', '--flow-steps', '1']], // sampling takes one pass per pixel and step
      ['nsf', ['--hidden', '16', '--flow-steps', '1']], // its 784 × 784 invertible 1×1 mixing is slow to build and invert in JS
    ] as const) {
      const out = join(dir, model);
      const t = await runJson<{ kind: string; epochsTrained: number; epochs: { loss: number }[] }>(['train', model, ...extra, '--train-limit', '40', '--test-limit', '20', '--batch', '20', '--epochs', '1', '--out', out]);
      expect(t).toMatchObject({ kind: model, epochsTrained: 1 });
      expect(JSON.parse(readFileSync(join(out, 'gm-checkpoint.json'), 'utf8')).config).toMatchObject({ dim: 784, levels: 256 });
      const e = await runJson<{ metrics: Record<string, number> }>(['eval', '--model', out, '--test-limit', '20']);
      expect(e.metrics.nllBitsPerDim).toBeGreaterThan(0);
      expect(e.metrics.nll).toBeCloseTo((e.metrics.nllBitsPerDim as number) * 784 * Math.LN2, 3);
      const file = join(dir, `${model}.png`);
      await runJson(['sample', '--model', out, '--n', '4', '--temperature', '0.7', '--out', file]);
      expect(readPng(file).width).toBe(2 * 28 + 3 * 2);
    }
    const bad = await run(['train', 'nsf', '--transform', 'spline', '--train-limit', '20', '--epochs', '1', '--out', join(dir, 'x')]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--transform: only maf/);
  });
});
