// BB-ANS end to end on real MNIST digits with a synthetic linear model of the reference VAE's shape
// (784 binary pixels, 40 latents), handed to the coder as a coding model (plain data, as `vae.codingModel()` gives):
// images/s each way, rate vs the model's exact −ELBO, gzip -9, brotli. apps/bench's `bbans` suite and
// vae-rate.js run the same measurement with the trained VAE.
// Run after `npx tsup`:  node scripts/bench-bbans.mjs [--count 2000] [--lanes 32] [--chunk 500] [--latent 40] [--pixels binary|u8]
//   [--source mnist|model] [--engine wasm-simd128|js] [--fallback]
//   [--model free]  (free: a dense engine whose layers cost nothing — each layer's output for a zero input, cached —
//                    to time the coder without the networks' matrix products)
// Every chunk is BB-ANS coded unless --fallback lets a chunk be stored deflated when that is smaller.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDenseEngine } from '@gm/bitsback';
import { baselineSizes } from '@gm/bitsback/node';
import { benchCompression, linearBernoulliModel, linearLogisticModel } from '@gm/bitsback/testing';

const { values } = parseArgs({ options: {
  count: { type: 'string' }, lanes: { type: 'string' }, chunk: { type: 'string' }, latent: { type: 'string' },
  pixels: { type: 'string' }, source: { type: 'string' }, model: { type: 'string' }, engine: { type: 'string' },
  fallback: { type: 'boolean', default: false },
} });
const count = Number(values.count ?? 2000);
const lanes = Number(values.lanes ?? 32);
const chunkSize = Number(values.chunk ?? 500);
const latentDim = Number(values.latent ?? 40);
const pixels = values.pixels ?? 'binary';
const source = values.source ?? 'mnist'; // 'mnist' (real digits) or 'model' (samples of the synthetic model)
if (pixels !== 'binary' && pixels !== 'u8') throw new Error(`--pixels must be binary or u8, got ${pixels}`);
if (values.engine !== undefined && values.engine !== 'wasm-simd128' && values.engine !== 'js') throw new Error(`--engine must be wasm-simd128 or js, got ${values.engine}`);
if (values.model !== undefined && values.model !== 'free') throw new Error(`--model must be free (or absent), got ${values.model}`);

const model = pixels === 'binary'
  ? linearBernoulliModel({ latentDim, pixelsPerImage: 784, seed: 1, weightScale: source === 'mnist' ? 0.3 : 1 })
  : linearLogisticModel({ latentDim, pixelsPerImage: 784, seed: 1, weightScale: 0.1 });

function mnistDigits(n) {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
  const per = Math.ceil(n / 10);
  const out = new Uint8Array(n * 784);
  let o = 0;
  for (let d = 0; d < 10 && o < out.length; d++) {
    const data = JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')).data;
    for (let i = 0; i < per * 784 && o < out.length; i++) {
      const b = Math.round(data[i] * 255);
      out[o++] = pixels === 'binary' ? (b > 127 ? 1 : 0) : b;
    }
  }
  return out;
}

/**
 * --model free: a dense engine whose layers cost nothing. Each layer's output for a batch size is computed once,
 * for a zero input, and copied out on every later call: outputs depend only on the layer and the batch size, so
 * encoder and decoder still agree and the file round-trips, while the time left is the coder's own (quantised CDFs,
 * rANS, activations, checksums). The rate is not the model's.
 */
function freeEngine(inner) {
  const cache = new Map(); // layer handle → (rows → output)
  return {
    backend: inner.backend,
    load: (layer) => inner.load(layer),
    run(handle, x, rows, u) {
      let byRows = cache.get(handle);
      if (byRows === undefined) cache.set(handle, (byRows = new Map()));
      let y = byRows.get(rows);
      if (y === undefined) {
        y = inner.run(handle, new Float32Array(x.length), rows, u === undefined ? undefined : new Float32Array(u.length));
        byRows.set(rows, y);
      }
      return y.slice(); // the coder applies activations in place
    },
    dispose() {
      cache.clear();
      inner.dispose();
    },
  };
}

const images = source === 'mnist' ? mnistDigits(count) : model.sample(count, 7);
const dense = createDenseEngine(values.engine === undefined ? {} : { backend: values.engine });
// compress and decompress each load the weights anew (new handles); a free engine's outputs are a zero input's, so
// both sides still get the same ones.
const engine = values.model === 'free' ? freeEngine(dense) : dense;
const negElbo = values.model === 'free' ? null : model.negElboBits(images).reduce((a, b) => a + b, 0) / (count * 784);
const options = { shape: [28, 28], lanes, chunkSize, fallback: values.fallback, engine };
await benchCompression(images.subarray(0, Math.min(count, 200) * 784), model.coding, { ...options, chunkSize: 100 }); // JIT warm-up
let cs = 1;
const c0 = performance.now();
for (let i = 0; i < 1e8; i++) { cs ^= cs << 13; cs ^= cs >>> 17; cs ^= cs << 5; }
const calibNsPerIter = ((performance.now() - c0) * 1e6) / 1e8; // how much of a core we got (≈2.6 ns when idle here)
const r = await benchCompression(images, model.coding, options);
const base = baselineSizes(images, pixels === 'binary');
const dims = count * 784;
const bpd = (bytes) => (8 * bytes) / dims;
const ratio = negElbo === null ? null : r.bitsPerDim / negElbo;
const deflated = r.chunks.filter((c) => c.method === 'deflate').length;
console.log(`BB-ANS ${count} ${source} images (${pixels}), model ${values.model ?? 'synthetic-linear'}, latent ${latentDim}, lanes ${lanes}, chunks of ${chunkSize}, dense engine ${engine.backend}: ` +
  `compress ${r.compressImagesPerSec.toFixed(0)} img/s, decompress ${r.decompressImagesPerSec.toFixed(0)} img/s, exact ${r.exact}; ` +
  `file ${r.fileBytes} B = ${r.bitsPerDim.toFixed(4)} bits/dim` + (negElbo === null ? ', ' : ` vs −ELBO ${negElbo.toFixed(4)} (ratio ${ratio.toFixed(4)}), `) +
  `${r.chunks.length} chunk(s), ${deflated} deflated; gzip -9 ${bpd(base.gzipBytes).toFixed(4)}, brotli ${bpd(base.brotliBytes).toFixed(4)} bits/dim; calibration ${calibNsPerIter.toFixed(2)} ns/iter (${cs & 1})`);
console.log(JSON.stringify({
  ...r,
  negElboBitsPerDim: negElbo,
  ratioToElbo: ratio,
  gzip: { bytes: base.gzipBytes, bitsPerDim: bpd(base.gzipBytes) },
  brotli: { bytes: base.brotliBytes, bitsPerDim: bpd(base.brotliBytes) },
  denseBackend: engine.backend,
  calibNsPerIter,
  model: { latentDim, pixels, source, kind: values.model ?? 'synthetic-linear' },
}));
