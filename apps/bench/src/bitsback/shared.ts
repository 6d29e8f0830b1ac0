/**
 * BB-ANS with gm's trained VAE, measured: the pieces shared by `vae-rate.ts` (the full report) and the `rans` /
 * `bbans` suites of `pnpm bench`. Every timing is taken as wall time and as this process's CPU time
 * (process.cpuUsage: user + system): the machines are shared, so wall time alone says more about the neighbours.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { PNG } from 'pngjs';
import { initBackend, type BackendName } from '@gm/backend';
import { binarizeStatic } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { fileStore } from '@gm/models/node';
import { toBinCenters } from '@gm/metrics';
import { VAE } from '@gm/models';
import {
  compress,
  crc32,
  decompress,
  GmzError,
  modelFingerprint,
  rateReport,
  type BitsBackModel,
  type CompressOptions,
  type RateReport,
} from '@gm/bitsback';

export const D = 784;

/** Wall and CPU milliseconds of one piece of work. */
export interface Timing {
  wallMs: number;
  cpuMs: number;
}

export function cpuNowMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; time: Timing }> {
  const c0 = cpuNowMs();
  const t0 = performance.now();
  const value = await fn();
  return { value, time: { wallMs: performance.now() - t0, cpuMs: cpuNowMs() - c0 } };
}

export async function setupBackend(backend: BackendName = 'wasm'): Promise<string> {
  const choice = await initBackend({ backend });
  return `${choice.backend}${choice.fastMatMul ? ' (fast MatMul)' : ''}`;
}

/** The 2,000 bundled test digits: binarized (pixel byte > 127 → 1) and the raw 8-bit bytes. */
export function testDigits(): { binary: Uint8Array; u8: Uint8Array; count: number; train: Uint8Array; trainCount: number } {
  const { train, test } = loadBundledMnist();
  return { binary: binarizeStatic(test.images), u8: test.images, count: test.count, train: train.images, trainCount: train.count };
}

/** Every file of a checkpoint folder (sorted relative paths and bytes): the model's fingerprint for .gmz. */
export function checkpointFingerprint(dir: string): string {
  const parts: Array<string | Uint8Array> = [];
  const walk = (rel: string): void => {
    const abs = join(dir, rel);
    for (const name of readdirSync(abs).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else parts.push(r, readFileSync(join(dir, r)));
    }
  };
  walk('');
  return modelFingerprint(parts);
}

export interface LoadedVae {
  vae: VAE;
  dir: string;
  fingerprint: string;
  /** 'checkpoint <dir> (N epochs)' or 'briefly trained here (N epochs)'. */
  source: string;
  likelihood: string;
}

export async function loadVae(dir: string, source?: string): Promise<LoadedVae> {
  if (!existsSync(join(dir, 'gm-checkpoint.json'))) throw new Error(`${dir} is not a gm checkpoint folder (no gm-checkpoint.json)`);
  const vae = await VAE.load(fileStore(dir));
  const c = vae.config;
  return {
    vae,
    dir,
    fingerprint: checkpointFingerprint(dir),
    source: source ?? `checkpoint ${dir} (${vae.epochsTrained} epochs)`,
    likelihood: c.likelihood,
  };
}

/**
 * Trains the reference architecture (MLP 784-100-40, ReLU) for a few epochs on the 8,000 bundled training digits —
 * binarized for 'bernoulli', bin centres for 'discretized-logistic' — saves it to `dir` and loads it back, so it
 * goes through the same checkpoint path and fingerprint as a real checkpoint. Reuses `dir` if it already holds one.
 */
export async function briefVae(dir: string, likelihood: 'bernoulli' | 'discretized-logistic', epochs: number, log: (s: string) => void): Promise<LoadedVae> {
  const source = `briefly trained here (${epochs} epochs, ${likelihood}), saved in ${dir}`;
  if (existsSync(join(dir, 'gm-checkpoint.json'))) {
    const v = await loadVae(dir, source);
    if (v.vae.epochsTrained === epochs && v.likelihood === likelihood) return v;
    v.vae.dispose();
  }
  const { train, trainCount } = testDigits();
  const vae = new VAE({ inputShape: [D], hidden: [100], latentDim: 40, likelihood, seed: 1 });
  const raw = tf.tensor2d(likelihood === 'bernoulli' ? binarizeStatic(train) : train, [trainCount, D], 'float32');
  const x = likelihood === 'bernoulli' ? raw : toBinCenters(raw, 256);
  const t = await timed(() =>
    vae.fit(x, {
      epochs,
      batchSize: 100,
      learningRate: 1e-3,
      onEpochEnd: ({ epoch, loss }) => log(`  brief ${likelihood} VAE: epoch ${epoch}/${epochs}, train −ELBO ${loss.toFixed(2)} nats`),
    }),
  );
  tf.dispose([raw, x]);
  log(`  trained in ${(t.time.wallMs / 1000).toFixed(1)} s wall, ${(t.time.cpuMs / 1000).toFixed(1)} s CPU`);
  await vae.save(fileStore(dir));
  vae.dispose();
  return loadVae(dir, source);
}

/** Mean test −ELBO in bits/dim (analytic KL), with `samples` posterior samples per image. */
export function negElboBitsPerDim(v: LoadedVae, pixels: Uint8Array, count: number, samples: number): number {
  const raw = tf.tensor2d(pixels, [count, D], 'float32');
  const x = v.likelihood === 'bernoulli' ? raw : toBinCenters(raw, 256);
  const nats = v.vae.negativeElbo(x, { samples, seed: 12345 });
  tf.dispose([raw, x]);
  return nats / (D * Math.LN2);
}

/** Wall and CPU time spent inside the model's posterior / likelihood calls, accumulated. */
export interface ModelTimes {
  posterior: Timing & { calls: number };
  likelihood: Timing & { calls: number };
}

/** Wraps a bits-back model so the time spent inside it is accumulated in `times`. */
export function timedModel(model: BitsBackModel): { model: BitsBackModel; times: ModelTimes; reset(): void } {
  const times: ModelTimes = { posterior: { wallMs: 0, cpuMs: 0, calls: 0 }, likelihood: { wallMs: 0, cpuMs: 0, calls: 0 } };
  const wrap = <A extends unknown[], R>(slot: Timing & { calls: number }, fn: (...a: A) => R | Promise<R>) =>
    async (...a: A): Promise<R> => {
      const c0 = cpuNowMs();
      const t0 = performance.now();
      const r = await fn(...a);
      slot.wallMs += performance.now() - t0;
      slot.cpuMs += cpuNowMs() - c0;
      slot.calls++;
      return r;
    };
  const wrapped: BitsBackModel = {
    latentDim: model.latentDim,
    posterior: wrap(times.posterior, (x: Float32Array, b: number) => model.posterior(x, b)),
    likelihood: wrap(times.likelihood, (z: Float32Array, b: number) => model.likelihood(z, b)),
  };
  return {
    model: wrapped,
    times,
    reset() {
      for (const s of [times.posterior, times.likelihood]) s.wallMs = s.cpuMs = s.calls = 0;
    },
  };
}

/** One direction of a throughput run: totals, and how much of them the model took. */
export interface DirectionTiming {
  wallMs: number;
  cpuMs: number;
  imagesPerSecWall: number;
  imagesPerSecCpu: number;
  modelWallMs: number;
  modelCpuMs: number;
  modelCalls: number;
}

export interface CodingRun {
  file: Uint8Array;
  exact: boolean;
  firstMismatch: number | null;
  compress: DirectionTiming;
  decompress: DirectionTiming;
  /** Every repetition (compress/decompress CPU ms), for a view of the noise. */
  repeats: Array<{ compressCpuMs: number; compressWallMs: number; decompressCpuMs: number; decompressWallMs: number }>;
}

function direction(count: number, t: Timing, m: ModelTimes): DirectionTiming {
  return {
    wallMs: t.wallMs,
    cpuMs: t.cpuMs,
    imagesPerSecWall: (count / t.wallMs) * 1000,
    imagesPerSecCpu: (count / t.cpuMs) * 1000,
    modelWallMs: m.posterior.wallMs + m.likelihood.wallMs,
    modelCpuMs: m.posterior.cpuMs + m.likelihood.cpuMs,
    modelCalls: m.posterior.calls + m.likelihood.calls,
  };
}

/**
 * Compresses `images` to a .gmz and decompresses it `repeats` times (after a warm-up on the first 200 images),
 * checking every byte each time. Reports the run with the median compress CPU time.
 */
export async function codingRun(images: Uint8Array, model: BitsBackModel, options: CompressOptions, repeats: number): Promise<CodingRun> {
  const count = images.length / D;
  const t = timedModel(model);
  const warm = images.subarray(0, Math.min(count, 200) * D);
  const warmFile = await compress(warm, t.model, { ...options, chunkSize: Math.min(options.chunkSize ?? 500, 200) });
  await decompress(warmFile, t.model, { fingerprint: options.fingerprint });
  const runs: Array<{ file: Uint8Array; exact: boolean; firstMismatch: number | null; c: DirectionTiming; d: DirectionTiming }> = [];
  for (let r = 0; r < repeats; r++) {
    t.reset();
    const c = await timed(() => compress(images, t.model, options));
    const cDir = direction(count, c.time, t.times);
    t.reset();
    const d = await timed(() => decompress(c.value, t.model, { fingerprint: options.fingerprint }));
    const dDir = direction(count, d.time, t.times);
    let firstMismatch: number | null = d.value.images.length === images.length ? null : Math.min(d.value.images.length, images.length);
    for (let i = 0; firstMismatch === null && i < images.length; i++) if (d.value.images[i] !== images[i]) firstMismatch = i;
    runs.push({ file: c.value, exact: firstMismatch === null, firstMismatch, c: cDir, d: dDir });
  }
  const sorted = [...runs].sort((a, b) => a.c.cpuMs - b.c.cpuMs);
  const mid = sorted[Math.floor(sorted.length / 2)]!;
  const dSorted = [...runs].sort((a, b) => a.d.cpuMs - b.d.cpuMs);
  const dMid = dSorted[Math.floor(dSorted.length / 2)]!;
  return {
    file: mid.file,
    exact: runs.every((r) => r.exact),
    firstMismatch: runs.find((r) => !r.exact)?.firstMismatch ?? null,
    compress: mid.c,
    decompress: dMid.d,
    repeats: runs.map((r) => ({ compressCpuMs: r.c.cpuMs, compressWallMs: r.c.wallMs, decompressCpuMs: r.d.cpuMs, decompressWallMs: r.d.wallMs })),
  };
}

/** A hand-written PNG: 1-bit grayscale, no filter, zlib level 9 (pngjs writes only 8- and 16-bit images). */
export function png1Bit(bits: Uint8Array, width: number, height: number): Uint8Array {
  const stride = Math.ceil(width / 8);
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) if (bits[y * width + x] !== 0) raw[row + 1 + (x >> 3)]! |= 0x80 >> (x & 7);
  }
  const chunk = (type: string, data: Uint8Array): Uint8Array => {
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  const h = new DataView(ihdr.buffer);
  h.setUint32(0, width);
  h.setUint32(4, height);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // grayscale
  const parts = [Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** 8-bit grayscale PNG by pngjs (deflate level 9). */
export function png8Bit(gray: Uint8Array, width: number, height: number): Uint8Array {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8, deflateLevel: 9 });
  png.data = Buffer.from(gray);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8, deflateLevel: 9 });
}

/** Gray value of pixel i of a PNG read back by pngjs (RGBA out). */
function readGray(bytes: Uint8Array): Uint8Array {
  const img = PNG.sync.read(Buffer.from(bytes));
  const out = new Uint8Array(img.width * img.height);
  for (let i = 0; i < out.length; i++) out[i] = img.data[4 * i]!;
  return out;
}

export interface PngSizes {
  /** Sum over the images of a 1-bit grayscale PNG each (binary images only). */
  oneBitBytes: number | null;
  /** Sum over the images of an 8-bit grayscale PNG each, written by pngjs. */
  eightBitBytes: number;
  /** Every PNG read back by pngjs gives the image's pixels. */
  verified: boolean;
}

/** PNG per image, summed: 1-bit (binary) and 8-bit grayscale; each file decoded again by pngjs and compared. */
export function pngSizes(images: Uint8Array, binary: boolean): PngSizes {
  const count = images.length / D;
  let one = 0;
  let eight = 0;
  let verified = true;
  for (let i = 0; i < count; i++) {
    const img = images.subarray(i * D, (i + 1) * D);
    const gray = binary ? img.map((v) => (v !== 0 ? 255 : 0)) : img;
    const p8 = png8Bit(gray, 28, 28);
    eight += p8.length;
    const back8 = readGray(p8);
    for (let k = 0; verified && k < D; k++) if (back8[k] !== gray[k]) verified = false;
    if (binary) {
      const p1 = png1Bit(img, 28, 28);
      one += p1.length;
      const back1 = readGray(p1);
      for (let k = 0; verified && k < D; k++) if (back1[k] !== gray[k]) verified = false;
    }
  }
  return { oneBitBytes: binary ? one : null, eightBitBytes: eight, verified };
}

export interface FailCheck {
  name: string;
  /** Error name and GmzError code, or 'NO ERROR' (a failure of the check). */
  error: string;
  message: string;
  ms: number;
  ok: boolean;
}

/** Decompresses damaged files / with a wrong model and records the error each gives and how long it took. */
export async function failChecks(
  file: Uint8Array,
  images: Uint8Array,
  model: BitsBackModel,
  fingerprint: string,
  wrongModel: BitsBackModel | null,
): Promise<FailCheck[]> {
  const out: FailCheck[] = [];
  const attempt = async (name: string, bytes: Uint8Array, m: BitsBackModel, fp: string): Promise<void> => {
    const t0 = performance.now();
    try {
      const back = await decompress(bytes, m, { fingerprint: fp });
      const same = back.images.length === images.length && back.images.every((v, i) => v === images[i]);
      out.push({ name, error: 'NO ERROR', message: same ? 'decoded the original images' : 'returned different images (garbage!)', ms: performance.now() - t0, ok: false });
    } catch (e) {
      const err = e as Error;
      const code = e instanceof GmzError ? `/${e.code}` : '';
      out.push({ name, error: `${err.name}${code}`, message: err.message, ms: performance.now() - t0, ok: true });
    }
  };
  await attempt('wrong fingerprint (another model)', file, model, `${fingerprint}-other`);
  if (wrongModel !== null) await attempt('wrong weights under the right fingerprint', file, wrongModel, fingerprint);
  await attempt('truncated to half', file.subarray(0, file.length >> 1), model, fingerprint);
  await attempt('truncated by 1 byte', file.subarray(0, file.length - 1), model, fingerprint);
  await attempt('empty file', new Uint8Array(0), model, fingerprint);
  for (const [where, at] of [
    ['header', 20],
    ['payload middle', file.length >> 1],
    ['last byte', file.length - 1],
  ] as const) {
    const flipped = file.slice();
    flipped[at]! ^= 0x10;
    await attempt(`bit flipped (${where}, byte ${at})`, flipped, model, fingerprint);
  }
  return out;
}

/** Everything measured for one dataset (binary or 8-bit). */
export interface DatasetReport {
  dataset: string;
  model: string;
  settings: CompressOptions;
  images: number;
  dims: number;
  exact: boolean;
  rate: RateReport;
  negElbo10: number;
  negElbo1: number;
  ratio10: number;
  ratio1: number;
  png: PngSizes;
  compress: DirectionTiming;
  decompress: DirectionTiming;
  repeats: CodingRun['repeats'];
  failChecks: FailCheck[];
}

export function rateOf(file: Uint8Array, images: Uint8Array, negElbo: number): RateReport {
  return rateReport(file, images, negElbo);
}
