/**
 * `pnpm bench` suites for @gm/bitsback:
 * - `rans`: raw rANS encode/decode throughput (10 M symbols from the fixed 256-symbol table, precision 16) via
 *   @gm/bitsback's `benchRans`.
 * - `bbans`: BB-ANS images/s compress/decompress of the 2,000 binarized bundled test digits and the rate ratio to
 *   the model's −ELBO. The VAE checkpoint comes from the environment variable `GM_BBANS_CHECKPOINT`; without it a
 *   VAE of the reference architecture is trained briefly here (`GM_BBANS_BRIEF_EPOCHS`, default 5), and the output
 *   says which. The coder gets the VAE as plain data (`vae.codingModel()`) and evaluates its networks itself on
 *   @gm/bitsback's dense engine (`GM_BBANS_ENGINE`: wasm-simd128 or js; default wasm SIMD128 where it runs), whose
 *   share of the CPU time is measured. Coding settings: `GM_BBANS_LANES` (default 128), `GM_BBANS_CHUNK` (default
 *   2000) and `GM_BBANS_BUCKET_BITS` (default 10); posterior precision 28, likelihood precision 24; no deflate
 *   fallback, so every chunk is BB-ANS coded and both directions time BB-ANS.
 */
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { createMessage, flatten, lookupSymbol, popSymbols, pushSymbols, unflatten, type DenseBackend } from '@gm/bitsback';
import { benchRans, benchTable } from '@gm/bitsback/testing';

interface SuiteResult {
  suite: string;
  rows: Record<string, string | number | boolean | null>[];
  notes: string[];
}

/** How much of a core this process gets: ns per iteration of a fixed xorshift loop (≈2.6 ns on an idle core here). */
function calibration(): { wallNs: number; cpuNs: number; sink: number } {
  let s = 1;
  const n = 5e7;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
  }
  const c = process.cpuUsage(c0);
  return { wallNs: ((performance.now() - t0) * 1e6) / n, cpuNs: ((c.user + c.system) * 1e3) / n, sink: s & 1 };
}

/**
 * The same measurement as benchRans (its table, 4 lanes, one pushSymbols / popSymbols call over the whole stream)
 * timed by this process's CPU time instead of wall time: the best of `runs`, every symbol checked.
 */
function ransCpu(symbols: number, runs: number): { encode: number; decode: number; exact: boolean } {
  const table = benchTable(16);
  const syms = new Uint8Array(symbols);
  let x = 1;
  for (let i = 0; i < symbols; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    syms[i] = lookupSymbol(table, Math.floor((x / 4294967296) * 65536));
  }
  const out = new Uint8Array(symbols);
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let encode = 0;
  let decode = 0;
  let exact = true;
  for (let r = 0; r <= runs; r++) {
    const empty = createMessage(4, { capacity: symbols + 64 });
    const c0 = cpu();
    const m = pushSymbols(empty, syms, table);
    const c1 = cpu();
    const m2 = unflatten(flatten(m), { onEmpty: 'throw' });
    out.fill(0);
    const c2 = cpu();
    popSymbols(m2, symbols, table, out);
    const c3 = cpu();
    for (let i = 0; exact && i < symbols; i++) if (out[i] !== syms[i]) exact = false;
    if (r === 0) continue; // warm-up
    encode = Math.max(encode, (symbols / Math.max(c1 - c0, 1e-3)) * 1000);
    decode = Math.max(decode, (symbols / Math.max(c3 - c2, 1e-3)) * 1000);
  }
  return { encode, decode, exact };
}

export async function ransSuite(options: { quick: boolean }): Promise<SuiteResult> {
  const symbols = options.quick ? 2_000_000 : 10_000_000;
  const runs = options.quick ? 2 : 5;
  const cal0 = calibration();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = benchRans({ symbols, precision: 16, runs });
  const c = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  const cpuShare = ((c.user + c.system) / 1000 / wall) * 100;
  const byCpu = ransCpu(symbols, runs);
  const cal1 = calibration();
  const m = (v: number): number => Number((v / 1e6).toFixed(1));
  return {
    suite: 'rans',
    rows: [
      { direction: 'encode', 'Msymbols/s wall, best': m(r.encodeSymbolsPerSec), 'wall, median': m(r.encodeMedianPerSec), 'Msymbols/s CPU, best': m(byCpu.encode), exact: r.exact && byCpu.exact },
      { direction: 'decode', 'Msymbols/s wall, best': m(r.decodeSymbolsPerSec), 'wall, median': m(r.decodeMedianPerSec), 'Msymbols/s CPU, best': m(byCpu.decode), exact: r.exact && byCpu.exact },
    ],
    notes: [
      `${(symbols / 1e6).toFixed(0)} M symbols from @gm/bitsback's fixed 256-symbol table (benchTable), precision ${r.precision}, ${r.lanes} lanes; wall: benchRans (best and median of ${runs} timed runs after a warm-up); CPU: the same pushSymbols / popSymbols calls timed by process.cpuUsage (best of ${runs}).`,
      `${r.bitsPerSymbol.toFixed(4)} bits/symbol flattened vs table entropy ${r.entropyBits.toFixed(4)}; every symbol decoded exactly: ${r.exact}.`,
      `This process got ${cpuShare.toFixed(0)}% of a core during the suite (CPU ${((c.user + c.system) / 1000).toFixed(0)} ms / wall ${wall.toFixed(0)} ms); calibration loop ${cal0.wallNs.toFixed(2)}→${cal1.wallNs.toFixed(2)} ns/iter wall, ${cal0.cpuNs.toFixed(2)}→${cal1.cpuNs.toFixed(2)} CPU (≈2.6 on an idle core).`,
    ],
  };
}

export async function bbansSuite(options: { quick: boolean }): Promise<SuiteResult> {
  const { briefVae, chunkReport, codingRun, describeChunks, loadVae, negElboBitsPerDim, rateOf, setupBackend, testDigits } = await import('./shared');
  const backend = await setupBackend('wasm');
  const ckpt = process.env.GM_BBANS_CHECKPOINT;
  const epochs = Number(process.env.GM_BBANS_BRIEF_EPOCHS ?? (options.quick ? 2 : 5));
  const lanes = Number(process.env.GM_BBANS_LANES ?? 128);
  const chunkSize = Number(process.env.GM_BBANS_CHUNK ?? 2000);
  const engineEnv = process.env.GM_BBANS_ENGINE;
  if (engineEnv !== undefined && engineEnv !== '' && engineEnv !== 'wasm-simd128' && engineEnv !== 'js') {
    throw new Error(`GM_BBANS_ENGINE must be wasm-simd128 or js, got ${engineEnv}`);
  }
  const engine = engineEnv === undefined || engineEnv === '' ? undefined : (engineEnv as DenseBackend);
  const notes: string[] = [];
  const v =
    ckpt !== undefined && ckpt !== ''
      ? await loadVae(resolve(ckpt))
      : await briefVae(join(tmpdir(), `gm-bench-vae-brief-bernoulli-${epochs}`), 'bernoulli', epochs, () => {});
  notes.push(
    ckpt !== undefined && ckpt !== ''
      ? `Model: the VAE checkpoint from GM_BBANS_CHECKPOINT — ${v.source}.`
      : `Model: NO checkpoint given (set GM_BBANS_CHECKPOINT=<dir>), so a VAE 784-100-40 was ${v.source}: its rate is not the reference model's.`,
  );
  const digits = testDigits();
  const bucketBits = Number(process.env.GM_BBANS_BUCKET_BITS ?? 10);
  const settings = { shape: [28, 28], lanes, chunkSize, bucketBits, posteriorPrecision: 28, likelihoodPrecision: 24, fallback: false };
  const run = await codingRun(digits.binary, v.coding, settings, options.quick ? 1 : 3, engine);
  const negElbo = negElboBitsPerDim(v, digits.binary, digits.count, 10);
  const rate = rateOf(run.file, digits.binary, negElbo);
  const stored = chunkReport(run.file);
  const pct = (part: number, whole: number): number => Number(((100 * part) / whole).toFixed(1));
  const row = (direction: string, t: typeof run.compress): SuiteResult['rows'][number] => ({
    direction,
    'images/s (CPU)': Math.round(t.imagesPerSecCpu),
    'images/s (wall)': Math.round(t.imagesPerSecWall),
    'CPU ms': Math.round(t.cpuMs),
    'dense engine': run.denseBackend,
    'dense CPU ms': Math.round(t.denseCpuMs),
    'dense % of CPU': pct(t.denseCpuMs, t.cpuMs),
    exact: run.exact,
  });
  notes.push(
    `2,000 binarized bundled test digits; coder dense engine ${run.denseBackend} (tfjs backend ${backend}: brief training and −ELBO only); lanes ${lanes}, chunk ${chunkSize}, buckets 2^${bucketBits}, posterior precision 28, likelihood precision 24, no deflate fallback (${describeChunks(stored.chunks)}).`,
    `Rate: ${rate.fileBytes} B = ${rate.bitsPerDim.toFixed(4)} bits/dim (whole file) vs −ELBO ${negElbo.toFixed(4)} (10 samples, analytic KL): ratio ${(rate.ratioToElbo ?? NaN).toFixed(4)}; gzip -9 ${rate.gzip.bitsPerDim.toFixed(4)}, brotli ${rate.brotli.bitsPerDim.toFixed(4)}; clean bits ${stored.cleanBits}.`,
    'images/s by CPU time of this process (process.cpuUsage) and by wall time; the median of the timed runs by CPU time. The machine is shared: CPU time is the steadier figure.',
    `dense CPU ms: time inside the dense engine's dense-layer evaluations (engine.run: copy in, kernel, copy out; ${run.compress.denseCalls} calls compressing, ${run.decompress.denseCalls} decompressing), measured by wrapping the engine handed to compress/decompress; the rest is the coder (quantised CDFs, rANS, activations with gm's exact functions, checksums).`,
  );
  v.vae.dispose();
  return { suite: 'bbans', rows: [row('compress', run.compress), row('decompress', run.decompress)], notes };
}
