// Benchmark: parse a synthetic 60,000-image MNIST-sized IDX file (60,000 × 28 × 28 = 47,040,016 bytes).
// Run after `npx tsup`: `node scripts/bench-idx.mjs` (or `pnpm --filter @gm/data bench`).
// Pixels are the bundled real digits tiled six times, so the gzip figures reflect real MNIST compressibility.
import { gunzipIfNamed, gzipIfNamed, parseIdxImages, writeIdxImages } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';

const COUNT = 60_000;
const reps = Number(process.env.BENCH_REPS ?? 20);

const { all } = loadBundledMnist();
const pixels = new Uint8Array(COUNT * 784);
for (let at = 0; at < pixels.length; at += all.images.length) pixels.set(all.images.subarray(0, Math.min(all.images.length, pixels.length - at)), at);
const file = writeIdxImages(pixels, COUNT, 28, 28);
const gz = gzipIfNamed(file, 'train-images-idx3-ubyte.gz');

function bench(name, bytesIn, fn) {
  for (let i = 0; i < 3; i++) fn(); // warm-up
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const out = fn();
    times.push(performance.now() - t0);
    if (out.count !== COUNT || out.images[12345] !== pixels[12345]) throw new Error('wrong parse');
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const mbps = bytesIn / 1e6 / (median / 1000);
  const uncompressedMbps = file.length / 1e6 / (median / 1000);
  console.log(
    `${name}: median ${median.toFixed(2)} ms over ${reps} runs (min ${times[0].toFixed(2)} ms); ` +
      `${mbps.toFixed(0)} MB/s of input, ${uncompressedMbps.toFixed(0)} MB/s of IDX (${file.length} bytes)`,
  );
  return { name, medianMs: median, minMs: times[0], mbPerSecInput: mbps, mbPerSecIdx: uncompressedMbps, inputBytes: bytesIn };
}

const results = [
  bench('parseIdxImages (plain, 60000x28x28)', file.length, () => parseIdxImages(file, 'train-images-idx3-ubyte')),
  bench('gunzip + parseIdxImages (.gz)', gz.length, () =>
    parseIdxImages(gunzipIfNamed(gz, 'train-images-idx3-ubyte.gz'), 'train-images-idx3-ubyte.gz'),
  ),
];
console.log(JSON.stringify({ bench: '@gm/data idx parse', node: process.version, results }));
