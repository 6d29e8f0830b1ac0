// Benchmark: importance-sampled log-likelihood with k samples over N examples, a D_z-d Normal posterior from a
// linear encoder and a 784-d Bernoulli likelihood from a tiny linear decoder, on the wasm backend (default).
//
//   cd packages/metrics && npx tsup && node scripts/bench-is.mjs [--examples 2000] [--k 1000] [--latent 40]
//                                                                 [--max-elements 4194304] [--backend wasm|cpu]
//                                                                 [--hidden 0]   (100: the reference 784-100-40 VAE)
//
// Prints the wall time of importanceSampledLogLikelihood (plus a warm-up on a small slice, not timed), the mean
// estimate, and the number of tensors before/after (must be equal).
import os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Bernoulli, Normal, StandardNormal, elbo, importanceSampledLogLikelihood, bitsPerDim } from '@gm/metrics';

const { values } = parseArgs({
  options: {
    examples: { type: 'string', default: '2000' },
    k: { type: 'string', default: '1000' },
    latent: { type: 'string', default: '40' },
    'max-elements': { type: 'string', default: String(2 ** 22) },
    backend: { type: 'string', default: 'wasm' },
    hidden: { type: 'string', default: '0' },
  },
});
const N = Number(values.examples);
const K = Number(values.k);
const L = Number(values.latent);
const D = 784;
const maxElements = Number(values['max-elements']);
const H = Number(values.hidden); // 0: linear encoder/decoder; H > 0: one ReLU layer of H units each (784-H-L VAE)

await tf.setBackend(values.backend);
await tf.ready();

// A tiny VAE with fixed random weights (seeded); the data are seeded random binary "images".
const dense = (inDim, outDim, std, seed) => ({ w: tf.randomNormal([inDim, outDim], 0, std, 'float32', seed), b: tf.zeros([outDim]) });
const layer = (p, h, activation) => tf.fused.matMul({ a: h, b: p.w, bias: p.b, activation }); // as tfjs-layers' Dense
const enc = H > 0 ? [dense(D, H, 0.05, 3), dense(H, 2 * L, 0.1, 5)] : [dense(D, 2 * L, 0.02, 3)];
const dec = H > 0 ? [dense(L, H, 0.3, 1), dense(H, D, 0.3, 2)] : [dense(L, D, 0.3, 1)];
const mlp = (layers, h) => layers.reduce((acc, p, i) => layer(p, acc, i < layers.length - 1 ? 'relu' : 'linear'), h);
const x = tf.tidy(() => tf.cast(tf.less(tf.randomUniform([N, D], 0, 1, 'float32', 4), 0.15), 'float32'));

const model = {
  prior: new StandardNormal([L]),
  posterior: (xb) => {
    const [mean, logStd] = tf.split(mlp(enc, xb), 2, 1);
    return new Normal(mean, tf.sub(logStd, 1));
  },
  likelihood: (z) => new Bernoulli(tf.add(mlp(dec, z), -1)),
};

// Warm-up: kernels compiled / caches filled, excluded from the timing.
tf.tidy(() => importanceSampledLogLikelihood(model, tf.slice(x, 0, 10), 10, { seed: 0 }));

const before = tf.memory().numTensors;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const ll = importanceSampledLogLikelihood(model, x, K, { seed: 1, maxElements });
const llData = await ll.data();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const mean = llData.reduce((a, b) => a + b, 0) / llData.length;
const lower = tf.tidy(() => tf.mean(elbo(model, x, { samples: 1, seed: 2 }).elbo));
const elboMean = (await lower.data())[0];
lower.dispose();
ll.dispose();
const after = tf.memory().numTensors;

console.log(
  JSON.stringify(
    {
      backend: tf.getBackend(),
      examples: N,
      k: K,
      latent: L,
      hidden: H,
      dataDims: D,
      maxElements,
      seconds: Number(seconds.toFixed(2)),
      cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
      loadAverage: os.loadavg().map((v) => Number(v.toFixed(2))),
      cores: os.cpus().length,
      meanLogLikelihoodNats: Number(mean.toFixed(3)),
      bitsPerDim: Number(bitsPerDim(-mean, D).toFixed(4)),
      meanElboNats: Number(elboMean.toFixed(3)),
      tensorsBefore: before,
      tensorsAfter: after,
    },
    null,
    2,
  ),
);
