/** Benchmark: parse a synthetic 60,000-image MNIST-sized IDX file, plain and gzipped (MB/s of file bytes). */
import { gunzipIfNamed, gzipIfNamed, parseIdxImages, writeIdxImages } from '@gm/data';

export interface IdxParseRow {
  [key: string]: string | number;
  input: string;
  megabytes: number;
  msMedian: number;
  megabytesPerSecond: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function time(repeats: number, fn: () => unknown): number {
  fn(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export function runIdxParseBench(repeats = 7): IdxParseRow[] {
  const count = 60_000;
  const pixels = new Uint8Array(count * 28 * 28);
  // Digit-like content (mostly zeros, some strokes) so gzip sees realistic redundancy.
  let state = 12345;
  for (let i = 0; i < pixels.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    pixels[i] = state >>> 24 < 50 ? state & 0xff : 0;
  }
  const plain = writeIdxImages(pixels, count, 28, 28);
  const gz = gzipIfNamed(plain, 'train-images-idx3-ubyte.gz');
  const check = parseIdxImages(plain);
  if (check.count !== count || check.images[12345] !== pixels[12345]) throw new Error('idx-parse bench: parse mismatch');
  const plainMs = time(repeats, () => parseIdxImages(plain, 'train-images-idx3-ubyte'));
  const gzMs = time(repeats, () => parseIdxImages(gunzipIfNamed(gz, 'train-images-idx3-ubyte.gz'), 'train-images-idx3-ubyte.gz'));
  const mb = (n: number) => n / 1e6;
  return [
    { input: 'idx3 plain, 60,000×28×28', megabytes: Number(mb(plain.byteLength).toFixed(1)), msMedian: Number(plainMs.toFixed(2)), megabytesPerSecond: Math.round(mb(plain.byteLength) / (plainMs / 1000)) },
    { input: 'idx3 gzipped (gunzip + parse)', megabytes: Number(mb(gz.byteLength).toFixed(1)), msMedian: Number(gzMs.toFixed(2)), megabytesPerSecond: Math.round(mb(plain.byteLength) / (gzMs / 1000)) },
  ];
}
