/**
 * The lecture's training choices through `gm train` (issue 19): --optimizer/--lr/--momentum, --l2, --activation,
 * greedy layer-wise pretraining with per-layer rates, and the contractive and L1-sparse autoencoders. Each reaches
 * the checkpoint (config or sidecar), resumes with what it was trained with, and misuse is refused by name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { histogram, unitMeans, type Histogram } from '../src/codings';
import { run, runJson, tempDir, TINY } from './helpers';

interface TrainReport {
  kind: string;
  description: string;
  epochsTrained: number;
  epochs: { epoch: number; loss: number }[];
}
interface EvalReport {
  metrics: Record<string, number>;
}

const dir = tempDir('lecture-training');
const manifestOf = (checkpoint: string) => JSON.parse(readFileSync(join(checkpoint, 'gm-checkpoint.json'), 'utf8')) as { kind: string; config: Record<string, unknown> };
const sidecarOf = (checkpoint: string) => JSON.parse(readFileSync(join(checkpoint, 'gm-cli.json'), 'utf8')) as { training?: Record<string, unknown> };

describe('gm train: optimizers, L2, activations', () => {
  it('--optimizer nesterov --momentum 0.8 --l2 --activation elu: recorded, resumed with the same, a different one refused', async () => {
    const out = join(dir, 'nesterov');
    const r = await runJson<TrainReport>(['train', 'stacked-ae', ...TINY, '--epochs', '2', '--optimizer', 'nesterov', '--momentum', '0.8', '--lr', '0.05', '--l2', '1e-4', '--activation', 'elu', '--out', out]);
    expect(r.description).toMatch(/784-100-30, elu\/elu\/sigmoid/);
    expect(sidecarOf(out).training).toEqual({ optimizer: 'nesterov', momentum: 0.8 });
    expect(manifestOf(out).config).toMatchObject({ activation: 'elu' });
    const [a, b] = r.epochs as [TrainReport['epochs'][0], TrainReport['epochs'][0]];
    expect(b.loss).toBeLessThan(a.loss);
    const resumed = await runJson<TrainReport>(['train', 'stacked-ae', ...TINY, '--resume', out]);
    expect(resumed.epochsTrained).toBe(3);
    const refused = await run(['train', 'stacked-ae', ...TINY, '--resume', out, '--optimizer', 'adam']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/--optimizer: the checkpoint was trained with nesterov \(momentum 0\.8\) and holds its state/);
  });

  it('Adadelta with no --lr trains at its own rate 1; --momentum without a momentum optimizer and --activation on a flow are refused', async () => {
    const chollet = ['train', 'stacked-ae', ...TINY, '--hidden', 'none', '--latent', '32', '--activation', 'relu', '--optimizer', 'adadelta'];
    const r = await runJson<TrainReport>([...chollet, '--out', join(dir, 'chollet')]);
    expect(r.description).toMatch(/784-32, relu\/relu\/sigmoid/);
    // Seeded runs: the default rate gives exactly the run at --lr 1, and not the run at 1e-3.
    const one = await runJson<TrainReport>([...chollet, '--lr', '1', '--out', join(dir, 'chollet-1')]);
    const small = await runJson<TrainReport>([...chollet, '--lr', '0.001', '--out', join(dir, 'chollet-small')]);
    expect(r.epochs[0]!.loss).toBe(one.epochs[0]!.loss);
    expect(small.epochs[0]!.loss).not.toBe(one.epochs[0]!.loss);
    const m = await run(['train', 'stacked-ae', ...TINY, '--optimizer', 'sgd', '--momentum', '0.9', '--out', join(dir, 'bad')]);
    expect(m.stderr).toMatch(/--momentum: the momentum of --optimizer momentum or nesterov; this run uses sgd/);
    const f = await run(['train', 'glow', ...TINY, '--activation', 'relu', '--out', join(dir, 'bad')]);
    expect(f.stderr).toMatch(/--activation: a flag of .*gm train stacked-ae.* only \(glow does not use it\); drop it/);
  });
});

describe('gm train: the lecture\'s autoencoders', () => {
  it('--greedy trains one shallow autoencoder per layer at its own rate, then fine-tunes; the result evaluates', async () => {
    const out = join(dir, 'greedy');
    const r = await run(['train', 'stacked-ae', ...TINY, '--greedy', '--optimizer', 'sgd', '--layer-epochs', '2', '--layer-lr', '1.5,0.05', '--lr', '0.1', '--out', out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/greedy pretraining, layer 1 of 2: sgd, rate 1\.5, 2 epochs/);
    expect(r.stdout).toMatch(/greedy pretraining, layer 2 of 2: sgd, rate 0\.05, 2 epochs/);
    expect(r.stdout).toMatch(/layer 2\/2 \(100→30\), epoch 2/);
    expect(manifestOf(out).kind).toBe('stacked-autoencoder');
    const e = await runJson<EvalReport>(['eval', '--model', out, '--test-limit', '50']);
    expect(e.metrics.roundedAccuracy).toBeGreaterThan(0.7);
    const bad = await run(['train', 'stacked-ae', ...TINY, '--greedy', '--layer-lr', '1,2,3', '--out', join(dir, 'bad')]);
    expect(bad.stderr).toMatch(/--layer-lr: one rate for every layer or one per layer \(2 layers: 100, 30\); got 3/);
    const notGreedy = await run(['train', 'stacked-ae', ...TINY, '--layer-epochs', '2', '--out', join(dir, 'bad')]);
    expect(notGreedy.stderr).toMatch(/--layer-epochs, --layer-lr: settings of --greedy pretraining; add --greedy/);
    const vae = await run(['train', 'vae', ...TINY, '--greedy', '--out', join(dir, 'bad')]);
    expect(vae.stderr).toMatch(/--greedy: layer-wise pretraining builds a stacked-ae or tied-ae, not a vae/);
  });

  it('contractive-ae --contractive and sparse-ae --activity-l1 reach the config and report their penalty', async () => {
    const cae = join(dir, 'contractive');
    const c = await runJson<TrainReport>(['train', 'contractive-ae', ...TINY, '--contractive', '0.01', '--out', cae]);
    expect(c.kind).toBe('contractive-autoencoder');
    expect(manifestOf(cae).config).toMatchObject({ contractive: 0.01 });
    const ce = await runJson<EvalReport>(['eval', '--model', cae, '--test-limit', '50']);
    expect(ce.metrics.penalty).toBeGreaterThan(0);
    expect(ce.metrics.loss).toBeCloseTo((ce.metrics.reconstructionLoss as number) + (ce.metrics.penalty as number), 5);
    const sae = join(dir, 'sparse-l1');
    await runJson<TrainReport>(['train', 'sparse-ae', ...TINY, '--activity-l1', '1e-3', '--out', sae]);
    expect(manifestOf(sae).config).toMatchObject({ activityL1: 1e-3, sparsity: null, codingActivation: 'sigmoid' });
    const conv = join(dir, 'conv-ae');
    const cv = await runJson<TrainReport>(['train', 'conv-ae', ...TINY, '--filters', '8,16,16', '--out', conv]);
    expect(cv.kind).toBe('conv-autoencoder');
    expect(cv.description).toMatch(/conv 3×3 \[8, 16, 16\] with 2×2 max-pooling → 3×3×16 codings/);
    const cve = await runJson<EvalReport>(['eval', '--model', conv, '--test-limit', '50']);
    expect(cve.metrics.roundedAccuracy).toBeGreaterThan(0.5);
    const both = await run(['train', 'sparse-ae', ...TINY, '--activity-l1', '1e-3', '--sparsity-target', '0.1', '--out', join(dir, 'bad')]);
    expect(both.stderr).toMatch(/--activity-l1 replaces the KL penalty of --sparsity-target\/--sparsity-weight/);
  });
});

describe('gm codings', () => {
  it('histogram and unit means in closed form', () => {
    const h = histogram([0, 0.1, 0.25, 0.5, 0.75, 1], 4);
    expect(h.edges).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(h.counts).toEqual([2, 1, 1, 2]); // the last bin holds its right edge
    expect(histogram([3, 3], 5).counts).toEqual([2, 0, 0, 0, 0]);
    expect(() => histogram([1, Number.NaN], 2)).toThrow(/histogram: value 1 is NaN/);
    expect(Array.from(unitMeans(Float32Array.from([1, 2, 3, 4, 5, 6]), 3))).toEqual([2.5, 3.5, 4.5]);
  });

  it('draws images beside their codings and histograms every activation and each unit\'s mean; refuses a model without codings', async () => {
    const sae = join(dir, 'sparse-codings');
    await runJson<TrainReport>(['train', 'sparse-ae', ...TINY, '--latent', '50', '--out', sae]);
    const out = join(dir, 'codings.png');
    const hist = join(dir, 'activations.png');
    const r = await runJson<{ codingsSize: number; images: number; meanActivation: number; activations: Histogram; unitMeans: Histogram }>([
      'codings', '--model', sae, '--stats', '100', '--n', '6', '--out', out, '--histogram', hist,
    ]);
    expect(r.codingsSize).toBe(50);
    expect(r.images).toBe(100);
    expect(r.activations.counts.reduce((a, b) => a + b, 0)).toBe(100 * 50);
    expect(r.unitMeans.counts.reduce((a, b) => a + b, 0)).toBe(50);
    // Sigmoid codings: activations in (0, 1), and the unit means average to the mean activation.
    expect(r.activations.edges[0]).toBeGreaterThan(0);
    expect(r.activations.edges.at(-1)).toBeLessThan(1);
    expect(r.meanActivation).toBeGreaterThanOrEqual(r.unitMeans.edges[0]! - 1e-9);
    expect(r.meanActivation).toBeLessThanOrEqual(r.unitMeans.edges.at(-1)! + 1e-9);
    const png = PNG.sync.read(readFileSync(out));
    expect([png.width, png.height]).toEqual([2 + 10 * 30, 2 + 2 * 30]); // 5 pairs per row (2-px gaps): 6 images → 2 rows
    expect(PNG.sync.read(readFileSync(hist)).width).toBeGreaterThan(0);
    const made = join(dir, 'made-codings');
    await runJson<TrainReport>(['train', 'made', ...TINY, '--hidden', '32', '--out', made]);
    const bad = await run(['codings', '--model', made, '--out', join(dir, 'x.png')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/a "made" has no codings/);
  });
});
