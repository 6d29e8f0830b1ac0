/**
 * BB-ANS with gm's trained VAE on the 2,000 bundled test digits — issue 6's headline figures.
 *
 *   node apps/bench/dist/bitsback/vae-rate.js <binary-vae-checkpoint> [--u8 <8-bit-vae-checkpoint>] [options]
 *
 * Binary part: the digits binarized (pixel byte > 127), compressed to a .gmz with BB-ANS under the Bernoulli VAE,
 * decompressed and checked byte for byte; the whole file (header, start-up state, checksums) in bits/dim over
 * 1,568,000 pixels next to the model's mean test −ELBO (analytic KL; 10 posterior samples, and 1), clean bits,
 * gzip -9 and brotli of the same bits packed as one blob, a PNG per image (1-bit and 8-bit grayscale), images/s
 * each way (wall and CPU time, and the share spent inside the model), and fail-clean checks (wrong model,
 * truncated and bit-flipped files). 8-bit part: the same with the discretized-logistic VAE on the raw bytes.
 *
 * Options:
 *   --brief-epochs N       no checkpoint given: train the reference architecture N epochs here (default 5)
 *   --u8 DIR               8-bit discretized-logistic VAE checkpoint; without it --u8-brief-epochs (default 2)
 *   --skip-u8              binary part only;  --skip-binary: 8-bit part only
 *   --lanes 128 --chunk 2000 --bucket-bits 10 --posterior-precision 28 --likelihood-precision 24   (binary)
 *   --u8-lanes 128 --u8-chunk 2000 --u8-bucket-bits 12 --u8-likelihood-precision 24                   (8-bit)
 *   --repeats 3            timed compress/decompress repetitions (the median by CPU time is reported)
 *   --profile              CPU-profile one compress + decompress and print where the time goes
 *   --skip-fail-checks     --backend wasm|cpu|node (default wasm)
 *   --out DIR              where the .gmz files and results.json go (default reports/bitsback)
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { VAE } from '@gm/models';
import type { BackendName } from '@gm/backend';
import type { BitsBackModel, CompressOptions } from '@gm/bitsback';
import {
  briefVae,
  codingRun,
  D,
  failChecks,
  loadVae,
  negElboBitsPerDim,
  pngSizes,
  rateOf,
  setupBackend,
  testDigits,
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
    repeats: { type: 'string', default: '3' },
    profile: { type: 'boolean', default: false },
    'skip-fail-checks': { type: 'boolean', default: false },
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

/** A model of the same architecture with other (random) weights: the "wrong model under the right fingerprint". */
function wrongModel(v: LoadedVae): BitsBackModel {
  const c = v.vae.config;
  const other = new VAE({
    inputShape: [...c.inputShape],
    hidden: c.architecture === 'mlp' ? [...c.hidden] : [100],
    latentDim: c.latentDim,
    likelihood: c.likelihood,
    seed: c.seed + 7,
  });
  return other.toBitsBackModel();
}

async function dataset(
  name: 'binary' | 'u8',
  v: LoadedVae,
  images: Uint8Array,
  settings: CompressOptions,
  repeats: number,
): Promise<{ report: DatasetReport; profile: ProfileSummary | null }> {
  const count = images.length / D;
  log(`\n## ${name === 'binary' ? 'binarized digits (pixel byte > 127), Bernoulli VAE' : '8-bit digits, discretized-logistic VAE'}`);
  log(`model: ${v.source}; likelihood ${v.likelihood}`);
  const { fingerprint: _fp, ...shown } = settings;
  log(`settings: ${JSON.stringify(shown)}`);
  const negElbo10 = negElboBitsPerDim(v, images, count, 10);
  const negElbo1 = negElboBitsPerDim(v, images, count, 1);
  const model = v.vae.toBitsBackModel();
  const run = await codingRun(images, model, settings, repeats);
  const rate = rateOf(run.file, images, negElbo10);
  const png = pngSizes(images, name === 'binary');
  const checks = values['skip-fail-checks'] ? [] : await failChecks(run.file, images, model, v.fingerprint, wrongModel(v));
  let prof: ProfileSummary | null = null;
  if (values.profile) {
    const t = await profile(async () => {
      const { compress, decompress } = await import('@gm/bitsback');
      const file = await compress(images, model, settings);
      await decompress(file, model, { fingerprint: settings.fingerprint });
    });
    prof = t.summary;
  }
  const bpd = (bytes: number): number => (8 * bytes) / (count * D);
  log(`round trip: ${run.exact ? `exact (every one of ${count * D} pixels, ${repeats} runs)` : `MISMATCH at pixel ${run.firstMismatch}`}`);
  log(`file: ${rate.fileBytes} bytes = ${f4(rate.bitsPerDim)} bits/dim over ${rate.dims} pixels (header, start-up state, checksums included), ${rate.chunks} chunk(s)`);
  log(`model −ELBO (analytic KL): ${f4(negElbo10)} bits/dim (10 posterior samples), ${f4(negElbo1)} (1 sample)`);
  log(`ratio file / −ELBO: ${f4(rate.bitsPerDim / negElbo10)} (10 samples), ${f4(rate.bitsPerDim / negElbo1)} (1 sample)`);
  log(`clean bits used: ${rate.cleanBits} (${f4(rate.cleanBits / rate.dims)} bits/dim if they were paid for)`);
  log(`gzip -9: ${rate.gzip.bytes} B = ${f4(rate.gzip.bitsPerDim)} bits/dim; brotli q11: ${rate.brotli.bytes} B = ${f4(rate.brotli.bitsPerDim)} bits/dim (same pixels as one ${name === 'binary' ? 'bit-packed' : 'byte-per-pixel'} blob)`);
  log(
    `PNG per image, summed: ${png.oneBitBytes === null ? '' : `1-bit grayscale ${png.oneBitBytes} B = ${f4(bpd(png.oneBitBytes))} bits/dim; `}` +
      `8-bit grayscale (pngjs) ${png.eightBitBytes} B = ${f4(bpd(png.eightBitBytes))} bits/dim; read back exactly: ${png.verified}`,
  );
  for (const [dir, t] of [['compress', run.compress], ['decompress', run.decompress]] as const) {
    log(
      `${dir}: ${t.imagesPerSecCpu.toFixed(0)} images/s by CPU time (${t.cpuMs.toFixed(0)} ms), ${t.imagesPerSecWall.toFixed(0)} by wall time (${t.wallMs.toFixed(0)} ms); ` +
        `inside the model ${t.modelCpuMs.toFixed(0)} ms CPU / ${t.modelWallMs.toFixed(0)} ms wall over ${t.modelCalls} calls (${((100 * t.modelCpuMs) / t.cpuMs).toFixed(0)}% of CPU)`,
    );
  }
  log(`repeats (CPU ms compress/decompress): ${run.repeats.map((r) => `${r.compressCpuMs.toFixed(0)}/${r.decompressCpuMs.toFixed(0)}`).join(', ')}`);
  for (const c of checks) log(`fail-clean: ${c.name}: ${c.ok ? '' : 'FAILED — '}${c.error} after ${c.ms.toFixed(1)} ms: ${c.message.slice(0, 140)}`);
  if (prof !== null) {
    log(`profile of one compress + decompress (${prof.totalMs.toFixed(0)} ms sampled, self time):`);
    for (const [g, ms] of Object.entries(prof.groups).sort((a, b) => b[1] - a[1])) log(`  ${g.padEnd(38)} ${ms.toFixed(0).padStart(6)} ms ${((100 * ms) / prof.totalMs).toFixed(1).padStart(5)}%`);
    log('  top functions:');
    for (const t of prof.top.slice(0, 12)) log(`    ${t.ms.toFixed(0).padStart(6)} ms  ${t.fn}  ${t.where}`);
  }
  const report: DatasetReport = {
    dataset: name,
    model: v.source,
    settings: { ...settings, fingerprint: v.fingerprint },
    images: count,
    dims: count * D,
    exact: run.exact,
    rate,
    negElbo10,
    negElbo1,
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
  log(`# BB-ANS with gm's VAE on the 2,000 bundled test digits — backend ${backend}, node ${process.version}`);
  log('Throughput: images/s by CPU time of this process (process.cpuUsage, user + system) and by wall time; the machine is shared.');
  const digits = testDigits();
  const repeats = Math.max(1, int('repeats'));
  const ckpt = positionals[0];
  const results: Record<string, unknown> = { date: started, backend, node: process.version };
  if (!values['skip-binary']) {
    const bin = ckpt !== undefined ? await loadVae(resolve(ckpt)) : await briefVae(join(tmpdir(), `gm-bench-vae-brief-bernoulli-${int('brief-epochs')}`), 'bernoulli', int('brief-epochs'), log);
    const binSettings: CompressOptions = {
      fingerprint: bin.fingerprint,
      shape: [28, 28],
      pixels: 'binary',
      lanes: int('lanes'),
      chunkSize: int('chunk'),
      bucketBits: int('bucket-bits'),
      posteriorPrecision: int('posterior-precision'),
      likelihoodPrecision: int('likelihood-precision'),
    };
    const b = await dataset('binary', bin, digits.binary, binSettings, repeats);
    results.binary = { ...b.report, profile: b.profile };
  }
  if (!values['skip-u8']) {
    const u8 =
      values.u8 !== undefined
        ? await loadVae(resolve(values.u8))
        : await briefVae(join(tmpdir(), `gm-bench-vae-brief-logistic-${int('u8-brief-epochs')}`), 'discretized-logistic', int('u8-brief-epochs'), log);
    const u8Settings: CompressOptions = {
      fingerprint: u8.fingerprint,
      shape: [28, 28],
      pixels: 'u8',
      lanes: int('u8-lanes'),
      chunkSize: int('u8-chunk'),
      bucketBits: int('u8-bucket-bits'),
      posteriorPrecision: int('posterior-precision'),
      likelihoodPrecision: int('u8-likelihood-precision'),
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
