/**
 * BB-ANS with gm's trained VAE, measured: the pieces shared by `vae-rate.ts` (the full report) and the `rans` /
 * `bbans` suites of `pnpm bench`. Every timing is taken as wall time and as this process's CPU time
 * (process.cpuUsage: user + system): the machines are shared, so wall time alone says more about the neighbours.
 *
 * The coder gets the VAE as plain data (`vae.codingModel()`) and evaluates its networks itself, with its own
 * deterministic arithmetic: dense layers on @gm/bitsback's dense engine (wasm SIMD128, or its JavaScript twin),
 * activations with gm's exact elementary functions. tfjs is used here only to train the brief VAE and for −ELBO.
 * The engine handed to the coder is wrapped, so the time spent in its dense layers is measured directly.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { PNG } from 'pngjs';
import { initBackend, type BackendName } from '@gm/backend';
import { crc32, type CodingModel, type GaussianLatentCoding } from '@gm/core';
import { binarizeStatic } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { fileStore } from '@gm/models/node';
import { toBinCenters } from '@gm/metrics';
import { VAE } from '@gm/models';
import {
  chunkSummary,
  codingModelFingerprint,
  compress,
  createDenseEngine,
  decodeChunk,
  decompress,
  GmzError,
  modelCoder,
  splitGmz,
  type CompressOptions,
  type DenseBackend,
  type DenseEngine,
  type GmzChunkSummary,
} from '@gm/bitsback';
import { rateReport, type RateReport } from '@gm/bitsback/node';

export const D = 784;

/** Coding settings of a run: everything `compress` takes except the engine, which the run supplies (and times). */
export type CodingSettings = Omit<CompressOptions, 'engine'>;

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

export interface LoadedVae {
  vae: VAE;
  dir: string;
  /** What the coder codes with: the VAE as plain data. */
  coding: GaussianLatentCoding;
  /** The coding model's fingerprint (64 hex digits), as a .gmz header records it. */
  fingerprint: string;
  /** 'checkpoint <dir> (N epochs)' or 'briefly trained here (N epochs)'. */
  source: string;
  likelihood: string;
}

export async function loadVae(dir: string, source?: string): Promise<LoadedVae> {
  if (!existsSync(join(dir, 'gm-checkpoint.json'))) throw new Error(`${dir} is not a gm checkpoint folder (no gm-checkpoint.json)`);
  const vae = await VAE.load(fileStore(dir));
  const c = vae.config;
  const coding = vae.codingModel();
  return {
    vae,
    dir,
    coding,
    fingerprint: codingModelFingerprint(coding),
    source: source ?? `checkpoint ${dir} (${vae.epochsTrained} epochs)`,
    likelihood: c.likelihood,
  };
}

/**
 * Trains the reference architecture (MLP 784-100-40, ReLU) for a few epochs on the 8,000 bundled training digits —
 * binarized for 'bernoulli', bin centres for 'discretized-logistic' — saves it to `dir` and loads it back, so it
 * goes through the same checkpoint path as a real checkpoint. Reuses `dir` if it already holds one.
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

/** The mean k-sample importance-sampled bound −log p̂(x) in bits/dim (what BB-CIS with k particles codes at). */
export function isBoundBitsPerDim(v: LoadedVae, pixels: Uint8Array, count: number, k: number): number {
  const raw = tf.tensor2d(pixels, [count, D], 'float32');
  const x = v.likelihood === 'bernoulli' ? raw : toBinCenters(raw, 256);
  const ll = v.vae.logLikelihood(x, k, { seed: 12345 });
  const mean = tf.tidy(() => tf.mean(ll).dataSync()[0] as number);
  tf.dispose([raw, x, ll]);
  return -mean / (D * Math.LN2);
}

/** Wall and CPU time spent inside a dense engine's `run` (copy in, kernel, copy out), accumulated. */
export interface EngineTimes extends Timing {
  calls: number;
}

/**
 * Wraps a dense engine so the time spent in its dense-layer evaluations is accumulated in `times`. The wrapper
 * delegates every call, so the coder gets the very same outputs (the handles are the inner engine's own).
 */
export function timedEngine(engine: DenseEngine): { engine: DenseEngine; times: EngineTimes; reset(): void } {
  const times: EngineTimes = { wallMs: 0, cpuMs: 0, calls: 0 };
  const wrapped: DenseEngine = {
    backend: engine.backend,
    load: (layer) => engine.load(layer),
    run(handle, x, rows, u) {
      const c0 = cpuNowMs();
      const t0 = performance.now();
      const y = engine.run(handle, x, rows, u);
      times.wallMs += performance.now() - t0;
      times.cpuMs += cpuNowMs() - c0;
      times.calls++;
      return y;
    },
    dispose: () => engine.dispose(),
  };
  return {
    engine: wrapped,
    times,
    reset() {
      times.wallMs = times.cpuMs = times.calls = 0;
    },
  };
}

/** One direction of a throughput run: totals, and how much of them the dense engine took. */
export interface DirectionTiming {
  wallMs: number;
  cpuMs: number;
  imagesPerSecWall: number;
  imagesPerSecCpu: number;
  /** Time inside the dense engine's dense-layer evaluations (the networks' matrix products). */
  denseWallMs: number;
  denseCpuMs: number;
  denseCalls: number;
}

export interface CodingRun {
  file: Uint8Array;
  exact: boolean;
  firstMismatch: number | null;
  /** The dense engine the coder evaluated the networks with. */
  denseBackend: DenseBackend;
  compress: DirectionTiming;
  decompress: DirectionTiming;
  /** Every repetition (compress/decompress CPU ms), for a view of the noise. */
  repeats: Array<{ compressCpuMs: number; compressWallMs: number; decompressCpuMs: number; decompressWallMs: number }>;
}

function direction(count: number, t: Timing, dense: EngineTimes): DirectionTiming {
  return {
    wallMs: t.wallMs,
    cpuMs: t.cpuMs,
    imagesPerSecWall: (count / t.wallMs) * 1000,
    imagesPerSecCpu: (count / t.cpuMs) * 1000,
    denseWallMs: dense.wallMs,
    denseCpuMs: dense.cpuMs,
    denseCalls: dense.calls,
  };
}

/**
 * Compresses `images` to a .gmz and decompresses it `repeats` times (after a warm-up on the first 200 images),
 * checking every byte each time, on one dense engine (`backend`, default: wasm SIMD128 where it runs, else JS)
 * whose dense-layer time is measured. Reports the run with the median compress CPU time.
 */
export async function codingRun(images: Uint8Array, model: CodingModel, settings: CodingSettings, repeats: number, backend?: DenseBackend): Promise<CodingRun> {
  const count = images.length / D;
  const inner = createDenseEngine(backend === undefined ? {} : { backend });
  const t = timedEngine(inner);
  const options: CompressOptions = { ...settings, engine: t.engine };
  // Each compress / decompress loads the weights into the engine again; free them between runs.
  const warm = images.subarray(0, Math.min(count, 200) * D);
  const warmFile = await compress(warm, model, { ...options, chunkSize: Math.min(settings.chunkSize ?? 500, 200) });
  inner.dispose();
  await decompress(warmFile, model, { engine: t.engine });
  inner.dispose();
  const runs: Array<{ file: Uint8Array; exact: boolean; firstMismatch: number | null; c: DirectionTiming; d: DirectionTiming }> = [];
  for (let r = 0; r < repeats; r++) {
    t.reset();
    const c = await timed(() => compress(images, model, options));
    const cDir = direction(count, c.time, t.times);
    inner.dispose();
    t.reset();
    const d = await timed(() => decompress(c.value, model, { engine: t.engine }));
    const dDir = direction(count, d.time, t.times);
    inner.dispose();
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
    denseBackend: inner.backend,
    compress: mid.c,
    decompress: dMid.d,
    repeats: runs.map((r) => ({ compressCpuMs: r.c.cpuMs, compressWallMs: r.c.wallMs, decompressCpuMs: r.d.cpuMs, decompressWallMs: r.d.wallMs })),
  };
}

/** Unsigned LEB128 varint at the start of `bytes` (the container's varints). */
function leadingVarint(bytes: Uint8Array): number {
  let v = 0;
  let scale = 1;
  for (let i = 0; i < 7 && i < bytes.length; i++) {
    v += (bytes[i]! & 0x7f) * scale;
    if ((bytes[i]! & 0x80) === 0) return v;
    scale *= 128;
  }
  throw new Error('a model chunk payload does not start with a varint');
}

/** How a .gmz file's chunks are stored, and the clean bits its bits-back chunks drew. */
export interface ChunkReport {
  chunks: GmzChunkSummary[];
  /**
   * Clean bits drawn over all bits-back chunks: 16 per clean unit, the count each model-coded chunk of a
   * Gaussian-latent file stores first in its payload (model-coder.ts). Deflated chunks draw none.
   */
  cleanBits: number;
}

export function chunkReport(file: Uint8Array): ChunkReport {
  const g = splitGmz(file);
  let units = 0;
  if (g.header.modelKind === 'gaussian-latent') for (const c of g.chunks) if (c.method === 'model') units += leadingVarint(c.payload);
  return { chunks: chunkSummary(g), cleanBits: 16 * units };
}

/** "1 chunk of 2000 images, coded with the model" / "3 of 4 chunks coded with the model, 1 deflated (…)". */
export function describeChunks(chunks: readonly GmzChunkSummary[]): string {
  const model = chunks.filter((c) => c.method === 'model');
  const deflated = chunks.length - model.length;
  const sizes = [...new Set(chunks.map((c) => c.images))].join('/');
  const n = `${chunks.length} chunk${chunks.length === 1 ? '' : 's'} of ${sizes} images`;
  if (deflated === 0) return `${n}, all coded with the model`;
  return `${n}: ${model.length} coded with the model, ${deflated} stored deflated (deflate was smaller)`;
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

/**
 * Decompresses damaged files and decodes with another model, and records the error each gives and how long it
 * took. The fingerprint comes from the coding model itself, so "another model" is refused by the header check;
 * the coder-level check hands the first model-coded chunk to a coder of the other model directly (past the
 * fingerprint check) to show that the coder itself refuses it rather than returning garbage.
 */
export async function failChecks(
  file: Uint8Array,
  images: Uint8Array,
  model: CodingModel,
  wrongModel: CodingModel | null,
  backend?: DenseBackend,
): Promise<FailCheck[]> {
  const out: FailCheck[] = [];
  const engine = backend === undefined ? {} : { engine: backend };
  const sameAs = (got: Uint8Array, want: Uint8Array): boolean => got.length === want.length && got.every((v, i) => v === want[i]);
  const attempt = async (name: string, decode: () => Promise<Uint8Array> | Uint8Array, want: Uint8Array): Promise<void> => {
    const t0 = performance.now();
    try {
      const back = await decode();
      out.push({ name, error: 'NO ERROR', message: sameAs(back, want) ? 'decoded the original images' : 'returned different images (garbage!)', ms: performance.now() - t0, ok: false });
    } catch (e) {
      const err = e as Error;
      const code = e instanceof GmzError ? `/${e.code}` : '';
      out.push({ name, error: `${err.name}${code}`, message: err.message, ms: performance.now() - t0, ok: true });
    }
  };
  const whole = (bytes: Uint8Array, m: CodingModel) => async () => (await decompress(bytes, m, engine)).images;
  if (wrongModel !== null) {
    await attempt('another model (same architecture, other weights)', whole(file, wrongModel), images);
    const g = splitGmz(file);
    const k = g.chunks.findIndex((c) => c.method === 'model');
    if (k >= 0) {
      const first = g.chunks.slice(0, k).reduce((a, c) => a + c.count, 0);
      const chunk = g.chunks[k]!;
      await attempt(
        `other weights past the fingerprint check (chunk ${k}, coder level)`,
        () => decodeChunk(chunk, modelCoder(wrongModel, g.header.settings, backend), g.header),
        images.subarray(first * D, (first + chunk.count) * D),
      );
    }
  }
  await attempt('truncated to half', whole(file.subarray(0, file.length >> 1), model), images);
  await attempt('truncated by 1 byte', whole(file.subarray(0, file.length - 1), model), images);
  await attempt('empty file', whole(new Uint8Array(0), model), images);
  for (const [where, at] of [
    ['header', 20],
    ['payload middle', file.length >> 1],
    ['last byte', file.length - 1],
  ] as const) {
    const flipped = file.slice();
    flipped[at]! ^= 0x10;
    await attempt(`bit flipped (${where}, byte ${at})`, whole(flipped, model), images);
  }
  return out;
}

/** Everything measured for one dataset (binary or 8-bit). */
export interface DatasetReport {
  dataset: string;
  model: string;
  /** The coding model's fingerprint (what the file's header records). */
  fingerprint: string;
  settings: CodingSettings;
  denseBackend: DenseBackend;
  images: number;
  dims: number;
  exact: boolean;
  rate: RateReport;
  cleanBits: number;
  /** Importance-sampling particles of the file (1: BB-ANS) and, with more, the model's bound at that many samples. */
  particles: number;
  isBound: number | undefined;
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
