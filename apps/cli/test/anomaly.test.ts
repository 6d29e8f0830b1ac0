// gm anomaly: anomaly scores by reconstruction error, the ROC AUC by the rank statistic, gm train --labels.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { perImageLoss, rocAuc, summarize } from '../src/anomaly';
import { readPng, run, runJson, tempDir } from './helpers';

describe('rocAuc', () => {
  it('is the fraction of (anomaly, normal) pairs the scores order right, ties counting one half', () => {
    // Pairs (positive, negative): 0.35 > 0.1 yes, 0.35 > 0.4 no, 0.8 > 0.1 yes, 0.8 > 0.4 yes → 3/4.
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
    // Positives {1, 3}, negatives {1, 2}: 1 vs 1 tie (½), 1 vs 2 no, 3 vs 1 yes, 3 vs 2 yes → 2.5/4.
    expect(rocAuc([1, 1, 2, 3], [true, false, false, true])).toBe(0.625);
    // Positives {5, 5, 2}, negatives {5, 1}: 5v5 ½, 5v1 1, 5v5 ½, 5v1 1, 2v5 0, 2v1 1 → 4/6.
    expect(rocAuc([5, 5, 2, 5, 1], [true, true, true, false, false])).toBeCloseTo(4 / 6, 12);
    expect(rocAuc([3, 4, 1, 2], [true, true, false, false])).toBe(1);
    expect(rocAuc([3, 4, 1, 2], [false, false, true, true])).toBe(0);
    expect(rocAuc([7, 7, 7, 7], [true, false, true, false])).toBe(0.5);
  });

  it('agrees with counting every pair on random scores with many ties', () => {
    let s = 12345;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const scores = Array.from({ length: 300 }, () => Math.floor(rnd() * 20));
    const positive = scores.map(() => rnd() < 0.4);
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < 300; i++) {
      for (let j = 0; j < 300; j++) {
        if (!positive[i] || positive[j]) continue;
        pairs++;
        wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
    }
    expect(rocAuc(scores, positive)).toBeCloseTo(wins / pairs, 12);
  });

  it('needs both classes and as many labels as scores', () => {
    expect(() => rocAuc([1, 2], [true, true])).toThrow(/needs both positives and negatives, got 2 and 0/);
    expect(() => rocAuc([1, 2], [true])).toThrow(/2 scores but 1 labels/);
    expect(() => rocAuc([1, Number.NaN], [true, false])).toThrow(/score 1 is NaN/);
  });
});

describe('per-image scores', () => {
  it('are the mean binary cross-entropy or squared error over each image', () => {
    const x = new Float32Array([1, 0, 1, 1]);
    const r = new Float32Array([0.5, 0.5, 1, 0.25]);
    const bce = perImageLoss(x, r, 2, 'bce');
    expect(bce[0]).toBeCloseTo(Math.log(2), 6); // −(ln ½ + ln ½) / 2
    expect(bce[1]).toBeCloseTo(-(Math.log(1 - 1e-7) + Math.log(0.25)) / 2, 6); // p = 1 is clipped to 1 − 1e-7
    expect(Array.from(perImageLoss(x, r, 2, 'mse'))).toEqual([0.25, 0.75 ** 2 / 2]);
  });

  it('summarise with interpolated quantiles', () => {
    const s = summarize(new Float64Array([5, 1, 4, 2, 3]));
    expect(s).toMatchObject({ count: 5, mean: 3, min: 1, median: 3, max: 5 });
    expect(s.std).toBeCloseTo(Math.sqrt(2), 12);
    expect(s.p90).toBeCloseTo(4.6, 12);
  });
});

interface AnomalyReport {
  kind: string;
  score: string;
  images: number;
  summary: { count: number; mean: number; min: number; max: number };
  byLabel: { label: number; count: number; mean: number; normal?: boolean }[];
  normal: number[] | null;
  rocAuc: number | null;
  normalMean: number | null;
  anomalousMean: number | null;
  top: { index: number; label: number; score: number }[];
  file: string | null;
  scoresFile: string | null;
}

const dir = tempDir('anomaly');
const normalOnly = join(dir, 'ae-0-4');
const everyDigit = join(dir, 'ae-all');
// Enough digits and epochs for the reconstructions to tell digit shapes apart (a few seconds each).
const TRAIN = ['--train-limit', '2000', '--test-limit', '300', '--epochs', '5', '--batch', '50', '--seed', '1'];

beforeAll(async () => {
  const [a] = await Promise.all([
    runJson<{ data: { train: number; test: number } }>(['train', 'stacked-ae', ...TRAIN, '--labels', '0,1,2,3,4', '--out', normalOnly]),
    runJson(['train', 'stacked-ae', ...TRAIN, '--out', everyDigit]),
  ]);
  expect(a.data).toMatchObject({ train: 2000, test: 300 });
});

describe('gm anomaly', () => {
  it('ranks the digits an autoencoder never saw above the ones it was trained on (ROC AUC), unlike one trained on every digit', async () => {
    const out = join(dir, 'anomalies.png');
    const scores = join(dir, 'scores.csv');
    const r = await runJson<AnomalyReport>(['anomaly', '--model', normalOnly, '--normal', '0,1,2,3,4', '--top', '12', '--out', out, '--scores', scores]);
    const control = await runJson<AnomalyReport>(['anomaly', '--model', everyDigit, '--normal', '0,1,2,3,4']);
    console.log(`ROC AUC, digits 5–9 vs 0–4 on the 2,000 test digits: trained on 0–4 ${r.rocAuc!.toFixed(3)}, trained on every digit ${control.rocAuc!.toFixed(3)}`);
    expect(r).toMatchObject({ kind: 'stacked-autoencoder', score: 'bce', images: 2000, normal: [0, 1, 2, 3, 4] });
    expect(r.rocAuc!).toBeGreaterThan(0.65);
    expect(control.rocAuc!).toBeLessThan(0.6);
    expect(r.rocAuc! - control.rocAuc!).toBeGreaterThan(0.1);
    expect(r.anomalousMean!).toBeGreaterThan(r.normalMean!);
    expect(r.byLabel.map((c) => c.label)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(r.byLabel.map((c) => c.normal)).toEqual([true, true, true, true, true, false, false, false, false, false]);
    expect(r.byLabel.reduce((s, c) => s + c.count, 0)).toBe(2000);
    // The top list is the highest scores, in order, and the summary agrees with it.
    expect(r.top).toHaveLength(12);
    expect(r.top[0]!.score).toBe(r.summary.max);
    for (let i = 1; i < r.top.length; i++) expect(r.top[i]!.score).toBeLessThanOrEqual(r.top[i - 1]!.score);
    const csv = readFileSync(scores, 'utf8').trim().split('\n');
    expect(csv[0]).toBe('index,label,score');
    expect(csv).toHaveLength(2001);
    const fromCsv = csv.slice(1).map((l) => Number(l.split(',')[2]));
    expect(Math.max(...fromCsv)).toBe(r.summary.max);
    expect(Number(csv[1 + r.top[0]!.index]!.split(',')[2])).toBe(r.top[0]!.score);
    // 12 images in rows of 10: two rows of originals, each followed by its reconstructions.
    const png = readPng(out);
    expect([png.width, png.height]).toEqual([10 * 28 + 11 * 2, 4 * 28 + 5 * 2]);
  });

  it('scores a subset with another loss, and prints a plain summary', async () => {
    const r = await runJson<AnomalyReport>(['anomaly', '--model', normalOnly, '--n', '100', '--score', 'mse']);
    expect(r).toMatchObject({ score: 'mse', images: 100, rocAuc: null, normal: null, file: null, scoresFile: null });
    expect(r.summary.count).toBe(100);
    expect(r.summary.max).toBeLessThan(0.3);
    const plain = await run(['anomaly', '--model', normalOnly, '--n', '200', '--normal', '0,1,2,3,4']);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toMatch(/200 images scored by their reconstruction binary cross-entropy/);
    expect(plain.stdout).toMatch(/ROC AUC 0\.\d{4} for telling the \d+ images of other classes from the \d+ of the normal classes 0,1,2,3,4/);
    expect(plain.stdout).toMatch(/most anomalous: #\d+ \(label \d, 0\.\d{4}\)/);
  });

  it.each([
    ['a label that is not a number', ['anomaly', '--model', normalOnly, '--normal', '0,one'], /--normal <labels>' argument '0,one' is invalid\. expected comma-separated class labels/],
    ['a repeated label', ['anomaly', '--model', normalOnly, '--normal', '1,1'], /expected each label once, got "1,1"/],
    ['a label the data lacks', ['anomaly', '--model', normalOnly, '--normal', '3,12'], /gm: --normal: no scored test image has label 12 \(labels present: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9\)/],
    ['no anomalies left', ['anomaly', '--model', normalOnly, '--normal', '0,1,2,3,4,5,6,7,8,9'], /gm: --normal: every scored test image is of a normal class/],
    ['an unknown score', ['anomaly', '--model', normalOnly, '--score', 'l1'], /Allowed choices are bce, mse/],
    ['no --model', ['anomaly'], /required option '--model <dir>' not specified/],
    ['training on a label the data lacks', ['train', 'stacked-ae', '--labels', '0,42', '--out', join(dir, 'never')], /gm: --labels: no training image has label 42 \(labels present: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9\)/],
  ])('refuses %s', async (_, args, message) => {
    const r = await run(args);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
  });
});
