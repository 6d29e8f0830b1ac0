/**
 * Benchmarks, exported so the repo's bench harness (and packages/bitsback/scripts) can call them. Each returns
 * plain numbers; nothing here is used by the coder itself.
 */
import type { CodingModel } from '@gm/core';
import { chunkSummary, compress, decompress, splitGmz, type CompressOptions, type GmzChunkSummary } from '../gmz';
import { createMessage, flatten, frequencyTable, popSymbols, pushSymbols, unflatten, type FrequencyTable } from '../rans';
import { quantizeFrequencies } from '../codecs';

/** The fixed 256-symbol table of the rANS benchmark: a two-sided geometric distribution around 128 at `precision`. */
export function benchTable(precision = 16): FrequencyTable {
  const w = Array.from({ length: 256 }, (_, s) => Math.exp(-Math.abs(s - 128) / 24));
  return frequencyTable(quantizeFrequencies(w, precision), precision);
}

/** Options for {@link benchRans}. */
export interface RansBenchOptions {
  /** Symbols per run (default 10,000,000). */
  symbols?: number;
  /** Table precision (default 16). */
  precision?: number;
  /** Interleaved lanes (default 4: the register-resident fast path). */
  lanes?: number;
  /** Timed runs; the best is reported (default 5, after one warm-up run). */
  runs?: number;
  /** Seed of the symbol stream (default 1). */
  seed?: number;
}

/** Result of {@link benchRans}. */
export interface RansBenchResult {
  symbols: number;
  precision: number;
  lanes: number;
  encodeSymbolsPerSec: number;
  decodeSymbolsPerSec: number;
  /** Median over the runs, for a view of the noise. */
  encodeMedianPerSec: number;
  decodeMedianPerSec: number;
  /** Flattened size in bits per symbol, and the table's entropy for comparison. */
  bitsPerSymbol: number;
  entropyBits: number;
  /** Every run decoded every symbol exactly. */
  exact: boolean;
}

/**
 * Raw rANS throughput: pushes `symbols` symbols drawn from {@link benchTable} (one `pushSymbols` call), flattens,
 * unflattens and pops them back (one `popSymbols` call), checking every symbol.
 */
export function benchRans(options: RansBenchOptions = {}): RansBenchResult {
  const n = options.symbols ?? 10_000_000;
  const precision = options.precision ?? 16;
  const lanes = options.lanes ?? 4;
  const runs = options.runs ?? 5;
  const table = benchTable(precision);
  // Symbols drawn by inverse CDF from a seeded LCG, so the stream has the table's statistics.
  const syms = new Uint8Array(n);
  let x = (options.seed ?? 1) >>> 0;
  const M = 2 ** precision;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    syms[i] = lookup(table, Math.floor((x / 4294967296) * M));
  }
  let entropy = 0;
  for (let s = 0; s < 256; s++) {
    const p = table.freqs[s]! / M;
    if (p > 0) entropy -= p * Math.log2(p);
  }
  const out = new Uint8Array(n);
  // Warm the JIT up to its optimising tier on small runs, so the timed runs measure optimised code, not OSR.
  const warm = syms.subarray(0, Math.min(n, 1 << 16) & ~3);
  for (let k = 0; k < 30; k++) {
    const m = pushSymbols(createMessage(lanes, { capacity: warm.length + 64 }), warm, table);
    popSymbols(m, warm.length, table, out);
  }
  const enc: number[] = [];
  const dec: number[] = [];
  let exact = true;
  let bits = 0;
  for (let r = 0; r <= runs; r++) {
    const t0 = performance.now();
    const m = pushSymbols(createMessage(lanes, { capacity: n + 64 }), syms, table);
    const t1 = performance.now();
    const bytes = flatten(m);
    bits = (8 * bytes.length) / n;
    const m2 = unflatten(bytes, { onEmpty: 'throw' });
    out.fill(0);
    const t2 = performance.now();
    popSymbols(m2, n, table, out);
    const t3 = performance.now();
    for (let i = 0; i < n; i++) {
      if (out[i] !== syms[i]) {
        exact = false;
        break;
      }
    }
    if (r > 0) {
      enc.push((n / (t1 - t0)) * 1000);
      dec.push((n / (t3 - t2)) * 1000);
    }
  }
  const med = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
  return {
    symbols: n,
    precision,
    lanes,
    encodeSymbolsPerSec: Math.max(...enc),
    decodeSymbolsPerSec: Math.max(...dec),
    encodeMedianPerSec: med(enc),
    decodeMedianPerSec: med(dec),
    bitsPerSymbol: bits,
    entropyBits: entropy,
    exact,
  };
}

function lookup(t: FrequencyTable, slot: number): number {
  let lo = 0;
  let hi = 255;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (t.starts[mid]! <= slot) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Result of {@link benchCompression}. */
export interface CompressionBenchResult {
  images: number;
  compressImagesPerSec: number;
  decompressImagesPerSec: number;
  /** Whether every byte came back. */
  exact: boolean;
  /** Size of the .gmz file. */
  fileBytes: number;
  /** The whole file in bits per pixel. */
  bitsPerDim: number;
  /** How each chunk was stored. */
  chunks: GmzChunkSummary[];
}

/**
 * The coder end to end: compresses `images` with a coding model into a .gmz, decompresses, checks every byte, and
 * reports images/s both ways, the rate and how each chunk was stored.
 */
export async function benchCompression(images: Uint8Array, model: CodingModel, options: CompressOptions): Promise<CompressionBenchResult> {
  const D = options.shape.reduce((a, b) => a * b, 1);
  const count = images.length / D;
  const t0 = performance.now();
  const bytes = await compress(images, model, options);
  const t1 = performance.now();
  const back = await decompress(bytes, model, options.engine === undefined ? {} : { engine: options.engine });
  const t2 = performance.now();
  let exact = back.images.length === images.length;
  for (let i = 0; exact && i < images.length; i++) if (back.images[i] !== images[i]) exact = false;
  return {
    images: count,
    compressImagesPerSec: (count / (t1 - t0)) * 1000,
    decompressImagesPerSec: (count / (t2 - t1)) * 1000,
    exact,
    fileBytes: bytes.length,
    bitsPerDim: (8 * bytes.length) / images.length,
    chunks: chunkSummary(splitGmz(bytes)),
  };
}
