/**
 * Anomaly detection by reconstruction error (Géron, ch. 17: one of the three uses of autoencoders): a model trained
 * on normal images reconstructs them well and anything else badly, so the per-image reconstruction loss is an
 * anomaly score. `gm anomaly` scores test images with a checkpoint's `reconstruct`, summarises the scores per class,
 * and, given the normal classes, measures how well the scores separate the others from them (ROC AUC).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { inputToUnit, subset, type ImageDataset } from '@gm/data';
import { loadData, type LoadedData } from './data';
import { CliError } from './errors';
import { inputOf, need, reconstructionPicture } from './pictures';
import { writePng } from './png';
import type { Reporter } from './progress';
import type { DataSpec } from './spec';
import type { GenerativeModel } from './registry';

/** Per-image reconstruction losses: binary cross-entropy or squared error, each averaged over the pixels. */
export type AnomalyScore = 'bce' | 'mse';
export const ANOMALY_SCORES: readonly AnomalyScore[] = ['bce', 'mse'];

/** Probabilities are clipped to [ε, 1 − ε] before the logs, as the autoencoders' training loss does. */
const EPSILON = 1e-7;

/**
 * The loss the model trains its reconstructions with: squared error for an autoencoder trained on it or a Gaussian
 * VAE, and for models of 8-bit pixels; binary cross-entropy for the others (inputs and reconstructions in [0, 1]).
 */
export function defaultScore(model: GenerativeModel): AnomalyScore {
  const config = (model as { config?: { loss?: unknown; likelihood?: unknown; vae?: { likelihood?: unknown } } }).config;
  if (config?.loss === 'meanSquaredError' || config?.likelihood === 'gaussian' || config?.vae?.likelihood === 'gaussian') return 'mse';
  return model.inputConvention === 'unit' || model.inputConvention === 'binary' ? 'bce' : 'mse';
}

/** Per-image reconstruction loss of display intensities `x` (targets) and `r` (reconstructions), `count` images. */
export function perImageLoss(x: Float32Array, r: Float32Array, count: number, score: AnomalyScore): Float64Array {
  if (x.length !== r.length || x.length % count !== 0) throw new Error(`perImageLoss: ${x.length} targets and ${r.length} reconstructions do not make ${count} images`);
  const size = x.length / count;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let sum = 0;
    for (let k = i * size; k < (i + 1) * size; k++) {
      const t = x[k] as number;
      const v = r[k] as number;
      if (score === 'mse') {
        sum += (t - v) ** 2;
      } else {
        const p = Math.min(1 - EPSILON, Math.max(EPSILON, v));
        sum -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
      }
    }
    out[i] = sum / size;
  }
  return out;
}

/** Anomaly scores of the first `n` images of `ds`: their reconstruction losses under `model`, in batches. */
export function reconstructionScores(model: GenerativeModel, ds: ImageDataset, n: number, score: AnomalyScore, batchSize = 250): Float64Array {
  const { reconstruct } = need(model, 'anomaly');
  const count = Math.min(n, ds.count);
  const out = new Float64Array(count);
  for (let start = 0; start < count; start += batchSize) {
    const m = Math.min(batchSize, count - start);
    const x = inputOf(model, ds, start, m);
    const r = reconstruct(x);
    const a = inputToUnit(x.dataSync() as Float32Array, model.inputConvention);
    const b = inputToUnit(r.dataSync() as Float32Array, model.inputConvention);
    tf.dispose([x, r]);
    out.set(perImageLoss(a, b, m, score), start);
  }
  return out;
}

/**
 * ROC AUC of `scores` for telling positives (anomalies) from negatives, by the rank statistic (Mann–Whitney U):
 * the probability that a random positive scores above a random negative, ties counting one half.
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number {
  const n = scores.length;
  if (positive.length !== n) throw new Error(`rocAuc: ${n} scores but ${positive.length} labels`);
  for (let i = 0; i < n; i++) if (Number.isNaN(scores[i] as number)) throw new Error(`rocAuc: score ${i} is NaN`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let rankSum = 0;
  let positives = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1] as number] === scores[order[i] as number]) j++;
    const rank = (i + j) / 2 + 1; // the average 1-based rank of the tie group i..j
    for (let k = i; k <= j; k++) {
      if (positive[order[k] as number] === true) {
        rankSum += rank;
        positives++;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) throw new Error(`rocAuc: needs both positives and negatives, got ${positives} and ${negatives}`);
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export interface ScoreSummary {
  count: number;
  mean: number;
  std: number;
  min: number;
  median: number;
  p90: number;
  p99: number;
  max: number;
}

/** The value below which a fraction `q` of the sorted values lie (linear interpolation between order statistics). */
function quantile(sorted: Float64Array, q: number): number {
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return (sorted[lo] as number) + (at - lo) * ((sorted[hi] as number) - (sorted[lo] as number));
}

export function summarize(scores: Float64Array): ScoreSummary {
  const sorted = Float64Array.from(scores).sort();
  const n = sorted.length;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  return { count: n, mean, std, min: sorted[0] as number, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), max: sorted[n - 1] as number };
}

/**
 * The images of `ds` whose labels are in `classes`, then the first `limit` of them. A CliError naming `flag` when
 * `ds` has no image of one of the classes (`which` names the split).
 */
export function keepClasses(ds: ImageDataset, classes: readonly number[], flag: string, which: string, limit?: number): ImageDataset {
  const present = labelsPresent(ds.labels);
  const missing = classes.filter((c) => !present.includes(c));
  if (missing.length > 0) throw new CliError(`${flag}: no ${which} image has label ${missing.join(' or ')} (labels present: ${present.join(', ')})`);
  const wanted = new Set(classes);
  const keep: number[] = [];
  for (let i = 0; i < ds.count && (limit === undefined || keep.length < limit); i++) if (wanted.has(ds.labels[i] as number)) keep.push(i);
  return subset(ds, Int32Array.from(keep));
}

/**
 * `--data` (as `loadData`) keeping only the images of `classes` in both splits (`gm train --labels`), then the first
 * `limits.train` / `limits.test` of them; the dataset's name says which classes.
 */
export async function loadClasses(spec: DataSpec, classes: readonly number[], limits: { train?: number; test?: number }): Promise<LoadedData> {
  const data = await loadData(spec);
  const train = keepClasses(data.train, classes, '--labels', 'training', limits.train);
  // Validation on the same classes; a small test split may lack some of them.
  const inTest = classes.filter((c) => data.test.labels.includes(c));
  const test = inTest.length === 0 ? subset(data.test, new Int32Array(0)) : keepClasses(data.test, inTest, '--labels', 'test', limits.test);
  return { ...data, name: `${data.name}, labels ${classes.join(',')}`, train, test };
}

function labelsPresent(labels: ArrayLike<number>): number[] {
  return [...new Set(Array.from(labels))].sort((a, b) => a - b);
}

export interface AnomalyOptions {
  model: string;
  /** Score the first n test images (default all). */
  n?: number;
  /** The classes the model was trained on; the others are the anomalies the AUC is about. */
  normal?: number[];
  score?: AnomalyScore;
  /** How many of the highest-scoring images the picture and the report show. */
  top: number;
  /** PNG of the `top` most anomalous images above their reconstructions. */
  out?: string;
  /** CSV file of every score: index,label,score. */
  scores?: string;
}

/** `gm anomaly` on a loaded model and its data's test split. */
export function anomalyReport(model: GenerativeModel, test: ImageDataset, dataName: string, imageShape: readonly [number, number, number], o: AnomalyOptions, reporter: Reporter) {
  const score = o.score ?? defaultScore(model);
  if (!ANOMALY_SCORES.includes(score)) throw new CliError(`--score: expected one of ${ANOMALY_SCORES.join(', ')}, got "${String(score)}"`);
  const count = Math.min(o.n ?? test.count, test.count);
  if (count === 0) throw new CliError(`--data: the test split of ${dataName} has no images to score`);
  const labels = test.labels.subarray(0, count);
  const present = labelsPresent(labels);
  let normal: Set<number> | undefined;
  if (o.normal !== undefined) {
    const missing = o.normal.filter((c) => !present.includes(c));
    if (missing.length > 0) throw new CliError(`--normal: no scored test image has label ${missing.join(', ')} (labels present: ${present.join(', ')})`);
    normal = new Set(o.normal);
    if (present.every((c) => normal!.has(c))) {
      throw new CliError(`--normal: every scored test image is of a normal class (${present.join(', ')}); leave some classes out so there are anomalies to rank`);
    }
  }
  const t0 = performance.now();
  const scores = reconstructionScores(model, test, count, score);
  const summary = summarize(scores);
  const byLabel = present.map((label) => {
    let sum = 0;
    let k = 0;
    for (let i = 0; i < count; i++) {
      if (labels[i] !== label) continue;
      sum += scores[i] as number;
      k++;
    }
    return { label, count: k, mean: sum / k, ...(normal === undefined ? {} : { normal: normal.has(label) }) };
  });
  let separation: { rocAuc: number; normalMean: number; anomalousMean: number; normalCount: number; anomalousCount: number } | undefined;
  if (normal !== undefined) {
    const positive = Array.from(labels, (l) => !normal!.has(l));
    const mean = (want: boolean) => {
      let sum = 0;
      let k = 0;
      for (let i = 0; i < count; i++) {
        if (positive[i] !== want) continue;
        sum += scores[i] as number;
        k++;
      }
      return { mean: sum / k, k };
    };
    const a = mean(true);
    const b = mean(false);
    separation = { rocAuc: rocAuc(scores, positive), normalMean: b.mean, anomalousMean: a.mean, normalCount: b.k, anomalousCount: a.k };
  }
  const ranked = Array.from({ length: count }, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
  const top = ranked.slice(0, Math.min(o.top, count)).map((index) => ({ index, label: labels[index] as number, score: scores[index] as number }));
  const seconds = (performance.now() - t0) / 1000;

  const fmt = (v: number) => v.toFixed(4);
  reporter.line(`${model.describe()}`);
  reporter.line(`${dataName}, test split: ${count} images scored by their reconstruction ${score === 'bce' ? 'binary cross-entropy' : 'squared error'} (mean per pixel)`);
  reporter.line(`  mean ${fmt(summary.mean)}  std ${fmt(summary.std)}  min ${fmt(summary.min)}  median ${fmt(summary.median)}  p90 ${fmt(summary.p90)}  p99 ${fmt(summary.p99)}  max ${fmt(summary.max)}`);
  reporter.line('  mean score by label:');
  for (const c of byLabel) reporter.line(`    ${String(c.label).padStart(3)}  ${fmt(c.mean)}  (${c.count} images${c.normal === undefined ? '' : c.normal ? ', normal' : ''})`);
  if (separation !== undefined) {
    reporter.line(
      `  ROC AUC ${separation.rocAuc.toFixed(4)} for telling the ${separation.anomalousCount} images of other classes from the ${separation.normalCount} of the normal classes ${o.normal!.join(',')} (0.5: chance, 1: every anomaly scores above every normal image)`,
    );
  }
  reporter.line(`  most anomalous: ${top.map((t) => `#${t.index} (label ${t.label}, ${fmt(t.score)})`).join(', ')}`);
  let file: string | null = null;
  if (o.out !== undefined && top.length > 0) {
    const picked = subset(test, Int32Array.from(top.map((t) => t.index)));
    writePng(o.out, reconstructionPicture(model, picked, imageShape, top.length).png);
    file = resolve(o.out);
    reporter.line(`wrote ${o.out}: the ${top.length} most anomalous test images, each row followed by its reconstructions`);
  }
  if (o.scores !== undefined) {
    writeFileSync(o.scores, `index,label,score\n${Array.from(scores, (s, i) => `${i},${labels[i]},${s}`).join('\n')}\n`);
    reporter.line(`wrote ${o.scores}: the score of every image`);
  }
  return {
    checkpoint: o.model,
    kind: model.kind,
    score,
    images: count,
    summary,
    byLabel,
    normal: o.normal ?? null,
    rocAuc: separation?.rocAuc ?? null,
    normalMean: separation?.normalMean ?? null,
    anomalousMean: separation?.anomalousMean ?? null,
    top,
    file,
    scoresFile: o.scores === undefined ? null : resolve(o.scores),
    seconds,
  };
}
