// BB-ANS end to end on real MNIST digits with a synthetic linear model of the reference VAE's shape
// (784 binary pixels, 40 latents): images/s each way, rate vs the model's exact −ELBO, gzip -9, brotli.
// The trained VAE does not exist yet; run the same benchBBANS with it once @gm/models has it.
// Run after `npx tsup`:  node scripts/bench-bbans.mjs [--count 2000] [--lanes 32] [--chunk 500] [--latent 40] [--pixels binary|u8]
//   [--source mnist|model] [--model free]  (free: cached model outputs, to time the coder without the model)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchBBANS, linearBernoulliModel, linearLogisticModel } from '@gm/bitsback';

const { values } = parseArgs({ options: {
  count: { type: 'string' }, lanes: { type: 'string' }, chunk: { type: 'string' }, latent: { type: 'string' },
  pixels: { type: 'string' }, source: { type: 'string' }, model: { type: 'string' },
} });
const count = Number(values.count ?? 2000);
const lanes = Number(values.lanes ?? 32);
const chunkSize = Number(values.chunk ?? 500);
const latentDim = Number(values.latent ?? 40);
const pixels = values.pixels ?? 'binary';
const source = values.source ?? 'mnist'; // 'mnist' (real digits) or 'model' (samples of the synthetic model)

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

const images = source === 'mnist' ? mnistDigits(count) : model.sample(count, 7);
let negElbo = values.model === 'free' ? null : model.negElboBits(images).reduce((a, b) => a + b, 0) / (count * 784);
// --model free: a model whose outputs cost nothing (cached arrays sliced per batch), to time the coder alone.
if (values.model === 'free') {
  const zs = new Float32Array(lanes * latentDim);
  const probs = model.likelihood(zs, lanes);
  const q = model.posterior(Float32Array.from(images.subarray(0, lanes * 784)), lanes);
  const free = {
    latentDim,
    posterior: (_x, b) => ({ mean: q.mean.subarray(0, b * latentDim), std: q.std.subarray(0, b * latentDim) }),
    likelihood: (_z, b) => (probs.kind === 'bernoulli' ? { kind: 'bernoulli', probs: probs.probs.subarray(0, b * 784) } : { ...probs, mean: probs.mean.subarray(0, b * 784), logScale: probs.logScale.subarray(0, b * 784) }),
  };
  Object.assign(model, free);
  negElbo = null; // the cached outputs are not the model the −ELBO belongs to
}
const options = { fingerprint: `synthetic-linear-${pixels}-${latentDim}`, shape: [28, 28], pixels, lanes, chunkSize };
await benchBBANS(images.subarray(0, Math.min(count, 200) * 784), model, { ...options, chunkSize: 100 }); // JIT warm-up
let cs = 1;
const c0 = performance.now();
for (let i = 0; i < 1e8; i++) { cs ^= cs << 13; cs ^= cs >>> 17; cs ^= cs << 5; }
const calibNsPerIter = ((performance.now() - c0) * 1e6) / 1e8; // how much of a core we got (≈2.6 ns when idle here)
const r = await benchBBANS(images, model, options, negElbo);
const rep = r.report;
console.log(`BB-ANS ${count} ${source} images (${pixels}), model ${values.model ?? 'synthetic-linear'}, latent ${latentDim}, lanes ${lanes}, chunks of ${chunkSize}: ` +
  `compress ${r.compressImagesPerSec.toFixed(0)} img/s, decompress ${r.decompressImagesPerSec.toFixed(0)} img/s, exact ${r.exact}; ` +
  `file ${rep.fileBytes} B = ${rep.bitsPerDim.toFixed(4)} bits/dim` + (negElbo === null ? ', ' : ` vs −ELBO ${negElbo.toFixed(4)} (ratio ${rep.ratioToElbo.toFixed(4)}), `) +
  `clean bits ${rep.cleanBits}; gzip -9 ${rep.gzip.bitsPerDim.toFixed(4)}, brotli ${rep.brotli.bitsPerDim.toFixed(4)} bits/dim; calibration ${calibNsPerIter.toFixed(2)} ns/iter (${cs & 1})`);
console.log(JSON.stringify({ ...r, negElboBitsPerDim: negElbo, calibNsPerIter, model: { latentDim, pixels, source, kind: values.model ?? 'synthetic-linear' } }));
