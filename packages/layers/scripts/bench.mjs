// Times one training step (forward + backward + Adam update) of small models built from @gm/layers, on the wasm
// backend (stock kernels: @gm/layers does not depend on @gm/backend) or GM_BACKEND=cpu.
// Run after `npx tsup`:  node scripts/bench.mjs
// GM_FAST_MATMUL=1 also installs @gm/backend's fast wasm MatMul kernels (from the sibling package's dist; the
// library itself does not depend on @gm/backend), as a training app would.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  AffineCoupling,
  DenseTranspose,
  FlowBatchNorm,
  MaskedDense,
  Sampling,
  madeDegrees,
  outputDegrees,
} from '@gm/layers';

const backend = process.env.GM_BACKEND ?? 'wasm';
await tf.setBackend(backend);
await tf.ready();
if (process.env.GM_FAST_MATMUL === '1') {
  const gmBackend = await import('@gm/backend');
  gmBackend.installFastWasmMatMul();
  console.log(`fast wasm MatMul installed: ${gmBackend.isFastWasmMatMulInstalled()}`);
}

function timeSteps(name, lossFn, vars, steps = 10) {
  const opt = tf.train.adam(1e-3);
  const step = () => tf.dispose(opt.minimize(lossFn, true, vars));
  step();
  step(); // warm-up
  const n = tf.memory().numTensors;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const ms = (performance.now() - t0) / steps;
  const leak = tf.memory().numTensors - n;
  opt.dispose();
  console.log(`${name.padEnd(58)} ${ms.toFixed(1).padStart(8)} ms/step   tensor leak/steps: ${leak}`);
  return ms;
}

const x784 = tf.randomUniform([64, 784], 0, 1, 'float32', 1);

{
  // Tied autoencoder 784-100-30-100-784 (SELU, sigmoid output, BCE).
  const d1 = tfl.layers.dense({ units: 100, activation: 'selu', inputShape: [784] });
  const d2 = tfl.layers.dense({ units: 30, activation: 'selu' });
  const model = tfl.sequential({
    layers: [d1, d2, new DenseTranspose({ tiedTo: d2, activation: 'selu' }), new DenseTranspose({ tiedTo: d1, activation: 'sigmoid' })],
  });
  const vars = model.trainableWeights.map((w) => w.read());
  timeSteps('tied AE 784-100-30 (DenseTranspose), batch 64', () => {
    const p = tf.clipByValue(model.apply(x784), 1e-6, 1 - 1e-6);
    return tf.neg(tf.mean(tf.add(tf.mul(x784, tf.log(p)), tf.mul(tf.sub(1, x784), tf.log(tf.sub(1, p))))));
  }, vars);
}

{
  // VAE-style sampling head 784 → 2×20 → Sampling → 784.
  const input = tfl.input({ shape: [784] });
  const h = tfl.layers.dense({ units: 200, activation: 'relu' }).apply(input);
  const mean = tfl.layers.dense({ units: 20 }).apply(h);
  const logVar = tfl.layers.dense({ units: 20 }).apply(h);
  const z = new Sampling({ seed: 1 }).apply([mean, logVar]);
  const out = tfl.layers.dense({ units: 784, activation: 'sigmoid' }).apply(tfl.layers.dense({ units: 200, activation: 'relu' }).apply(z));
  const model = tfl.model({ inputs: input, outputs: out });
  const vars = model.trainableWeights.map((w) => w.read());
  timeSteps('VAE 784-200-20 with Sampling, batch 64', () => tf.mean(tf.square(tf.sub(model.apply(x784, { training: true }), x784))), vars);
}

{
  // MADE 784-500-784 with direct connection.
  const deg = madeDegrees({ inputSize: 784, hiddenSizes: [500], ordering: 'natural' });
  const input = tfl.input({ shape: [784] });
  const h = new MaskedDense({ units: 500, inputDegrees: deg[0], outputDegrees: deg[1], activation: 'relu', seed: 1 }).apply(input);
  const logits = new MaskedDense({ units: 784, inputDegrees: deg[1], outputDegrees: outputDegrees(deg[0]), maskType: 'output', directDegrees: deg[0], seed: 2 }).apply([h, input]);
  const model = tfl.model({ inputs: input, outputs: logits });
  const vars = model.trainableWeights.map((w) => w.read());
  timeSteps('MADE 784-500-784 (+direct), batch 64', () => tf.losses.sigmoidCrossEntropy(x784, model.apply(x784)), vars);
}

{
  // Real NVP on vectors: 4 couplings (dense 256-256) + flow batch norm, D = 784.
  const flows = [];
  for (let i = 0; i < 4; i++) {
    flows.push(new AffineCoupling({ mask: 'alternating', invertMask: i % 2 === 1, hidden: [256, 256], seed: i }));
    flows.push(new FlowBatchNorm());
  }
  let h = x784;
  for (const f of flows) h = tf.tidy(() => f.forward(h).y);
  const vars = flows.flatMap((f) => f.trainableWeights.map((w) => w.read()));
  timeSteps('Real NVP vectors: 4×(coupling 256-256 + BN), D 784, batch 64', () => {
    let y = x784;
    let ld = tf.zeros([64]);
    for (const f of flows) {
      const r = f.forward(y, true);
      y = r.y;
      ld = tf.add(ld, r.logDet);
    }
    return tf.mean(tf.sub(tf.mul(0.5, tf.sum(tf.square(y), 1)), ld));
  }, vars, 5);
}

{
  // Real NVP on images: 28×28×1 checkerboard coupling, conv 3×3 with 32-32 filters, batch 16.
  const img = tf.randomUniform([16, 28, 28, 1], 0, 1, 'float32', 2);
  const flows = [0, 1].map((i) => new AffineCoupling({ mask: 'checkerboard', invertMask: i === 1, hidden: [32, 32], seed: i }));
  for (const f of flows) tf.tidy(() => f.forward(img));
  const vars = flows.flatMap((f) => f.trainableWeights.map((w) => w.read()));
  timeSteps('Real NVP images: 2 checkerboard couplings conv 32-32, 28×28, b 16', () => {
    let y = img;
    let ld = tf.zeros([16]);
    for (const f of flows) {
      const r = f.forward(y);
      y = r.y;
      ld = tf.add(ld, r.logDet);
    }
    return tf.mean(tf.sub(tf.mul(0.5, tf.sum(tf.square(y), [1, 2, 3])), ld));
  }, vars, 5);
}

{
  // DenseTranspose's product x·Kᵀ on stock kernels: one MatMul with transposeB vs explicit transpose + MatMul.
  const x = tf.randomNormal([64, 100], 0, 1, 'float32', 3);
  const k = tf.randomNormal([784, 100], 0, 1, 'float32', 4);
  const time = (f) => {
    for (let i = 0; i < 3; i++) tf.dispose(f());
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) tf.dispose(f());
    return (performance.now() - t0) / 20;
  };
  const a = time(() => tf.matMul(x, k, false, true).dataSync());
  const b = time(() => tf.tidy(() => tf.matMul(x, tf.transpose(k)).dataSync()));
  console.log(`x[64,100]·Kᵀ (K [784,100]): transposeB ${a.toFixed(2)} ms, explicit transpose ${b.toFixed(2)} ms`);
}
{
  // The coupling network's convolution: tf.conv2d (forward only on wasm) vs the im2col form used when the backend
  // cannot differentiate conv2d w.r.t. the filter.
  const { conv2dSameIm2col } = await import('@gm/layers');
  const x = tf.randomNormal([16, 28, 28, 32], 0, 1, 'float32', 5);
  const f = tf.randomNormal([3, 3, 32, 32], 0, 1, 'float32', 6);
  const time = (fn) => {
    for (let i = 0; i < 2; i++) tf.tidy(() => fn().dataSync());
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) tf.tidy(() => fn().dataSync());
    return (performance.now() - t0) / 5;
  };
  const a = time(() => tf.conv2d(x, f, 1, 'same'));
  const b = time(() => conv2dSameIm2col(x, f));
  console.log(`conv 3×3 32→32 on [16,28,28,32], forward: tf.conv2d ${a.toFixed(1)} ms, im2col ${b.toFixed(1)} ms`);
}
console.log(`backend: ${tf.getBackend()}`);
