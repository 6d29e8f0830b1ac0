/**
 * BB-ANS with gm's trained VAE on the 2,000 bundled test digits — issue 6's headline figures.
 *
 *   node apps/bench/dist/bitsback/vae-rate.js <binary-vae-checkpoint> [--u8 <8-bit-vae-checkpoint>] [options]
 *
 * Binary part: the digits binarized (pixel byte > 127), compressed to a .gmz with BB-ANS under the Bernoulli VAE,
 * decompressed and checked byte for byte; the whole file (header, start-up state, checksums) in bits/dim over
 * 1,568,000 pixels next to the model's mean test −ELBO (analytic KL; 10 posterior samples, and 1), clean bits,
 * gzip -9 and brotli of the same bits packed as one blob, a PNG per image (1-bit and 8-bit grayscale), images/s
 * each way (wall and CPU time, and the share spent in the coder's dense engine), and fail-clean checks (another
 * model, truncated and bit-flipped files). 8-bit part: the same with the discretized-logistic VAE on the raw bytes.
 *
 * The coder gets each VAE as plain data (`vae.codingModel()`) and evaluates its networks with its own
 * deterministic arithmetic on a dense engine (wasm SIMD128, or the JavaScript twin); the tfjs backend (--backend)
 * only trains the brief VAEs and computes −ELBO. Every chunk is BB-ANS coded unless --fallback lets a chunk be
 * stored deflated when that is smaller (the report says which chunks were).
 *
 * Options:
 *   --brief-epochs N       no checkpoint given: train the reference architecture N epochs here (default 5)
 *   --u8 DIR               8-bit discretized-logistic VAE checkpoint; without it --u8-brief-epochs (default 2)
 *   --skip-u8              binary part only;  --skip-binary: 8-bit part only
 *   --lanes 128 --chunk 2000 --bucket-bits 10 --posterior-precision 28 --likelihood-precision 24   (binary)
 *   --u8-lanes 128 --u8-chunk 2000 --u8-bucket-bits 12 --u8-likelihood-precision 24                   (8-bit)
 *   --particles K          importance-sampling particles (BB-CIS, coding at the K-particle bound; default 1: BB-ANS)
 *   --repeats 3            timed compress/decompress repetitions (the median by CPU time is reported)
 *   --count N              the first N test digits only (default all 2,000; a quick check, not the headline figures)
 *   --profile              CPU-profile one compress + decompress and print where the time goes
 *   --engine wasm-simd128|js   the coder's dense engine (default: wasm SIMD128 where it runs, else js)
 *   --fallback             store a chunk deflated when that is smaller than BB-ANS (default: always BB-ANS)
 *   --skip-fail-checks     --backend wasm|cpu|node (tfjs, for training and −ELBO; default wasm)
 *   --out DIR              where the .gmz files and results.json go (default reports/bitsback)
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { VAE } from '@gm/models';
import type { BackendName } from '@gm/backend';
import type { DenseBackend } from '@gm/bitsback';
import type { GaussianLatentCoding } from '@gm/core';
import {
  briefVae,
  chunkReport,
  codingRun,
  D,
  describeChunks,
  failChecks,
  loadVae,
  isBoundBitsPerDim,
  negElboBitsPerDim,
  pngSizes,
  rateOf,
  setupBackend,
  testDigits,
  type CodingSettings,
  type DatasetReport,
  type LoadedVae,
} from './shared';
import { profile, type ProfileSummary } from './profile';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'brief-epochs': { type: 'string', default: '5' },
    u8: { type: 'string' },
    'u8-brief-epochs': { type: 'string', default: '2' },
    'skip-u8': { type: 'boolean', default: false },
    'skip-binary': { type: 'boolean', default: false },
    lanes: { type: 'string', default: '128' },
    chunk: { type: 'string', default: '2000' },
    'bucket-bits': { type: 'string', default: '10' },
    'posterior-precision': { type: 'string', default: '28' },
    'likelihood-precision': { type: 'string', default: '24' },
    'u8-lanes': { type: 'string', default: '128' },
    'u8-chunk': { type: 'string', default: '2000' },
    'u8-bucket-bits': { type: 'string', default: '12' },
    'u8-likelihood-precision': { type: 'string', default: '24' },
    particles: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '3' },
    count: { type: 'string', default: '2000' },
    profile: { type: 'boolean', default: false },
    'skip-fail-checks': { type: 'boolean', default: false },
    engine: { type: 'string' },
    fallback: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'wasm' },
    out: { type: 'string', default: join(process.cwd(), 'reports', 'bitsback') },
  },
});

const int = (name: keyof typeof values): number => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer, got ${String(values[name])}`);
  return v;
};
const log = (s: string): void => console.log(s);
const f4 = (v: number): string => v.toFixed(4);

const engineArg = values.engine;
if (engineArg !== undefined && engineArg !== 'wasm-simd128' && engineArg !== 'js') throw new Error(`--engine must be wasm-simd128 or js, got ${engineArg}`);
const engine: DenseBackend | undefined = engineArg;

/** A model of the same architecture with other (random) weights: the "wrong model" of the fail-clean checks. */
function wrongModel(v: LoadedVae): GaussianLatentCoding {
  const c = v.vae.config;
  const other = new VAE({
    inputShape: [...c.inputShape],
    hidden: c.architecture === 'mlp' ? [...c.hidden] : [100],
    latentDim: c.latentDim,
    likelihood: c.likelihood,
    seed: c.seed + 7,
  });
  // The coding model is plain data (typed arrays copied out of the layers), so the VAE can go right away.
  const coding = other.codingModel();
  other.dispose();
  return coding;
}

async function dataset(
  name: 'binary' | 'u8',
  v: LoadedVae,
  images: Uint8Array,
  settings: CodingSettings,
  repeats: number,
): Promise<{ report: DatasetReport; profile: ProfileSummary | null }> {
  const count = images.length / D;
  log(`\n## ${name === 'binary' ? 'binarized digits (pixel byte > 127), Bernoulli VAE' : '8-bit digits, discretized-logistic VAE'}`);
  log(`model: ${v.source}; likelihood ${v.likelihood}; coding-model fingerprint ${v.fingerprint.slice(0, 16)}…`);
  log(`settings: ${JSON.stringify(settings)}`);
  const negElbo10 = negElboBitsPerDim(v, images, count, 10);
  const negElbo1 = negElboBitsPerDim(v, images, count, 1);
  const k = settings.particles ?? 1;
  const isBound = k > 1 ? isBoundBitsPerDim(v, images, count, k) : undefined;
  const model = v.coding;
  const run = await codingRun(images, model, settings, repeats, engine);
  const rate = rateOf(run.file, images, negElbo10);
  const stored = chunkReport(run.file);
  const png = pngSizes(images, name === 'binary');
  const checks = values['skip-fail-checks'] ? [] : await failChecks(run.file, images, model, wrongModel(v), engine);
  let prof: ProfileSummary | null = null;
  if (values.profile) {
    const t = await profile(async () => {
      const { compress, decompress } = await import('@gm/bitsback');
      const opts = engine === undefined ? {} : { engine };
      const file = await compress(images, model, { ...settings, ...opts });
      await decompress(file, model, opts);
    });
    prof = t.summary;
  }
  const bpd = (bytes: number): number => (8 * bytes) / (count * D);
  log(`round trip: ${run.exact ? `exact (every one of ${count * D} pixels, ${repeats} runs)` : `MISMATCH at pixel ${run.firstMismatch}`}`);
  log(`file: ${rate.fileBytes} bytes = ${f4(rate.bitsPerDim)} bits/dim over ${rate.dims} pixels (header, start-up state, checksums included); ${describeChunks(stored.chunks)}`);
  log(`model −ELBO (analytic KL): ${f4(negElbo10)} bits/dim (10 posterior samples), ${f4(negElbo1)} (1 sample)`);
  log(`ratio file / −ELBO: ${f4(rate.bitsPerDim / negElbo10)} (10 samples), ${f4(rate.bitsPerDim / negElbo1)} (1 sample)`);
  if (isBound !== undefined) log(`model's ${k}-sample importance-sampled bound: ${f4(isBound)} bits/dim; file / bound ${f4(rate.bitsPerDim / isBound)}`);
  log(`clean bits used: ${stored.cleanBits} (${f4(stored.cleanBits / rate.dims)} bits/dim if they were paid for)`);
  log(`gzip -9: ${rate.gzip.bytes} B = ${f4(rate.gzip.bitsPerDim)} bits/dim; brotli q11: ${rate.brotli.bytes} B = ${f4(rate.brotli.bitsPerDim)} bits/dim (same pixels as one ${name === 'binary' ? 'bit-packed' : 'byte-per-pixel'} blob)`);
  log(
    `PNG per image, summed: ${png.oneBitBytes === null ? '' : `1-bit grayscale ${png.oneBitBytes} B = ${f4(bpd(png.oneBitBytes))} bits/dim; `}` +
      `8-bit grayscale (pngjs) ${png.eightBitBytes} B = ${f4(bpd(png.eightBitBytes))} bits/dim; read back exactly: ${png.verified}`,
  );
  for (const [dir, t] of [['compress', run.compress], ['decompress', run.decompress]] as const) {
    log(
      `${dir}: ${t.imagesPerSecCpu.toFixed(0)} images/s by CPU time (${t.cpuMs.toFixed(0)} ms), ${t.imagesPerSecWall.toFixed(0)} by wall time (${t.wallMs.toFixed(0)} ms); ` +
        `inside the ${run.denseBackend} dense engine ${t.denseCpuMs.toFixed(0)} ms CPU / ${t.denseWallMs.toFixed(0)} ms wall over ${t.denseCalls} layer evaluations (${((100 * t.denseCpuMs) / t.cpuMs).toFixed(0)}% of CPU)`,
    );
  }
  log(`repeats (CPU ms compress/decompress): ${run.repeats.map((r) => `${r.compressCpuMs.toFixed(0)}/${r.decompressCpuMs.toFixed(0)}`).join(', ')}`);
  for (const c of checks) log(`fail-clean: ${c.name}: ${c.ok ? '' : 'FAILED — '}${c.error} after ${c.ms.toFixed(1)} ms: ${c.message.slice(0, 140)}`);
  if (prof !== null) {
    log(`profile of one compress + decompress (${prof.totalMs.toFixed(0)} ms sampled, self time; the profiler's own ${prof.profilerMs.toFixed(0)} ms left out):`);
    for (const [g, ms] of Object.entries(prof.groups).sort((a, b) => b[1] - a[1])) log(`  ${g.padEnd(38)} ${ms.toFixed(0).padStart(6)} ms ${((100 * ms) / prof.totalMs).toFixed(1).padStart(5)}%`);
    log('  top functions:');
    for (const t of prof.top.slice(0, 12)) log(`    ${t.ms.toFixed(0).padStart(6)} ms  ${t.fn}  ${t.where}`);
  }
  const report: DatasetReport = {
    dataset: name,
    model: v.source,
    fingerprint: v.fingerprint,
    settings,
    denseBackend: run.denseBackend,
    images: count,
    dims: count * D,
    exact: run.exact,
    rate,
    cleanBits: stored.cleanBits,
    negElbo10,
    negElbo1,
    particles: k,
    isBound,
    ratio10: rate.bitsPerDim / negElbo10,
    ratio1: rate.bitsPerDim / negElbo1,
    png,
    compress: run.compress,
    decompress: run.decompress,
    repeats: run.repeats,
    failChecks: checks,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `test-${name}.gmz`), run.file);
  return { report, profile: prof };
}

const outDir = resolve(values.out as string);

async function main(): Promise<void> {
  const backend = await setupBackend(values.backend as BackendName);
  const started = new Date().toISOString();
  const { createDenseEngine } = await import('@gm/bitsback');
  const denseBackend = createDenseEngine(engine === undefined ? {} : { backend: engine }).backend;
  log(`# BB-ANS with gm's VAE on the 2,000 bundled test digits — coder dense engine ${denseBackend}, tfjs backend ${backend} (training and −ELBO), node ${process.version}`);
  log('Throughput: images/s by CPU time of this process (process.cpuUsage, user + system) and by wall time; the machine is shared.');
  const all = testDigits();
  const count = Math.min(all.count, Math.max(1, int('count')));
  const digits = { ...all, count, binary: all.binary.subarray(0, count * D), u8: all.u8.subarray(0, count * D) };
  if (count < all.count) log(`QUICK CHECK: the first ${count} of the ${all.count} test digits only (--count).`);
  const repeats = Math.max(1, int('repeats'));
  const ckpt = positionals[0];
  const results: Record<string, unknown> = { date: started, backend, denseBackend, node: process.version };
  if (!values['skip-binary']) {
    const bin = ckpt !== undefined ? await loadVae(resolve(ckpt)) : await briefVae(join(tmpdir(), `gm-bench-vae-brief-bernoulli-${int('brief-epochs')}`), 'bernoulli', int('brief-epochs'), log);
    const binSettings: CodingSettings = {
      shape: [28, 28],
      fallback: values.fallback,
      lanes: int('lanes'),
      chunkSize: int('chunk'),
      bucketBits: int('bucket-bits'),
      posteriorPrecision: int('posterior-precision'),
      likelihoodPrecision: int('likelihood-precision'),
      particles: int('particles'),
    };
    const b = await dataset('binary', bin, digits.binary, binSettings, repeats);
    results.binary = { ...b.report, profile: b.profile };
  }
  if (!values['skip-u8']) {
    const u8 =
      values.u8 !== undefined
        ? await loadVae(resolve(values.u8))
        : await briefVae(join(tmpdir(), `gm-bench-vae-brief-logistic-${int('u8-brief-epochs')}`), 'discretized-logistic', int('u8-brief-epochs'), log);
    const u8Settings: CodingSettings = {
      shape: [28, 28],
      fallback: values.fallback,
      lanes: int('u8-lanes'),
      chunkSize: int('u8-chunk'),
      bucketBits: int('u8-bucket-bits'),
      posteriorPrecision: int('posterior-precision'),
      likelihoodPrecision: int('u8-likelihood-precision'),
      particles: int('particles'),
    };
    const u = await dataset('u8', u8, digits.u8, u8Settings, repeats);
    results.u8 = { ...u.report, profile: u.profile };
  }
  results.tensorsLeft = tf.memory().numTensors;
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, values['skip-binary'] ? 'results-u8.json' : values['skip-u8'] ? 'results-binary.json' : 'results.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(results, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
  log(`\nwrote ${file} and the .gmz files next to it`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
