import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { colours, readPng, run, tempDir } from './helpers';

interface DemoReport {
  backend: { backend: string; fastMatMul: boolean };
  data: { train: number; test: number };
  initialTestNegElbo: number;
  epochs: { epoch: number; trainNegElbo: number; testNegElbo: number }[];
  evaluation: { negElbo: number; negElboBitsPerDim: number; isNll: number; isNllBitsPerDim: number; k: number };
  checkpoint: string;
  pictures: Record<'samples' | 'reconstructions' | 'interpolations' | 'latentMap', string>;
  latentMap: { points: number; method: string };
  compression: { file: string; images: number; bytes: number; bitsPerDim: number; roundTrip: boolean; table: { method: string; bytes: number | null; bitsPerDim: number }[] };
  leakedTensors: number;
}

describe('gm demo (reduced settings)', () => {
  const out = tempDir('demo');
  const args = ['demo', '--epochs', '2', '--train-size', '1000', '--test-size', '200', '--k', '10', '--map-points', '150', '--out', out];

  it('trains, evaluates, draws, compresses with an exact round trip and reports JSON', async () => {
    const r = await run([...args, '--json']);
    expect(r.stderr).not.toMatch(/gm: /);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as DemoReport;
    expect(report.backend.backend).toBe('wasm');
    expect(report.backend.fastMatMul).toBe(true);
    expect(report.data).toMatchObject({ train: 1000, test: 200 });
    expect(report.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    // An untrained decoder with logits near 0 costs ≈ 784·log 2 ≈ 543 nats; two epochs must bring the test −ELBO down.
    expect(report.initialTestNegElbo).toBeGreaterThan(450);
    const [first, second] = report.epochs as [DemoReport['epochs'][0], DemoReport['epochs'][0]];
    expect(second.testNegElbo).toBeLessThan(first.testNegElbo);
    expect(first.testNegElbo).toBeLessThan(report.initialTestNegElbo);
    // bits/dim = nats / (784 ln 2); IS with k samples is a tighter bound than the ELBO.
    expect(report.evaluation.negElboBitsPerDim).toBeCloseTo(report.evaluation.negElbo / (784 * Math.LN2), 6);
    expect(report.evaluation.isNll).toBeLessThan(report.evaluation.negElbo);
    expect(report.evaluation.k).toBe(10);
    // Bits-back: exact round trip, file rate within a few percent of the −ELBO it targets.
    expect(report.compression.roundTrip).toBe(true);
    expect(report.compression.images).toBe(200);
    expect(readFileSync(report.compression.file).length).toBe(report.compression.bytes);
    expect(report.compression.bitsPerDim).toBeCloseTo((8 * report.compression.bytes) / (200 * 784), 9);
    expect(report.compression.bitsPerDim / report.evaluation.negElboBitsPerDim).toBeGreaterThan(0.95);
    expect(report.compression.bitsPerDim / report.evaluation.negElboBitsPerDim).toBeLessThan(1.1);
    const methods = report.compression.table.map((row) => row.method);
    for (const m of [/bits-back/, /gzip -9/, /brotli/, /PNG, one file per image/, /PNG, all images in one sheet/]) expect(methods.some((x) => m.test(x))).toBe(true);
    const raw = report.compression.table.find((row) => row.method.startsWith('raw'));
    expect(raw?.bytes).toBe((200 * 784) / 8);
    expect(raw?.bitsPerDim).toBe(1);
    // The demo codes every chunk with the model: the file is header and framing + clean bits (> 0) + the images' code.
    const part = (re: RegExp) => report.compression.table.find((row) => re.test(row.method))?.bytes as number;
    expect(part(/initial bits/)).toBeGreaterThan(0);
    expect(part(/header and chunk framing/) + part(/initial bits/) + part(/net coded rate/)).toBe(report.compression.bytes);
    // Pictures: the right sizes, not blank.
    const samples = readPng(report.pictures.samples);
    expect([samples.width, samples.height]).toEqual([8 * 28 + 9 * 2, 8 * 28 + 9 * 2]);
    const rec = readPng(report.pictures.reconstructions);
    expect([rec.width, rec.height]).toEqual([10 * 28 + 11 * 2, 10 * 28 + 11 * 2]);
    const interp = readPng(report.pictures.interpolations);
    expect([interp.width, interp.height]).toEqual([10 * 28 + 11 * 2, 8 * 28 + 9 * 2]);
    const map = readPng(report.pictures.latentMap);
    expect(report.latentMap).toEqual({ points: 150, method: 'umap' });
    for (const png of [samples, rec, interp, map]) expect(colours(png)).toBeGreaterThan(10);
    expect(existsSync(join(report.checkpoint, 'gm-checkpoint.json'))).toBe(true);
    expect(report.leakedTensors).toBe(0);
  });

  it('prints progress lines and the rate table without --json', async () => {
    const r = await run(['demo', '--epochs', '1', '--train-size', '300', '--test-size', '60', '--k', '5', '--map-points', '60', '--out', join(out, 'plain')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/epoch 1\/1: loss [\d.]+ {2}validation [\d.]+ {2}\([\d.]+ s, \d+ img\/s\)/);
    expect(r.stdout).toMatch(/round trip exact, byte for byte/);
    expect(r.stdout).toMatch(/method +bytes +bits\/dim +vs bits-back/);
    expect(r.stdout).toMatch(/gzip -9 +[\d,]+ +[\d.]+ +[\d.]+×/);
    expect(r.stdout.includes('\u001b[')).toBe(false); // no progress-bar escapes when stdout is not a terminal
  });
});
