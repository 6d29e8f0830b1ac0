/**
 * Child process of `pnpm bench`: times the reference VAE step on one backend and prints one JSON line.
 * Usage: node vae-step-worker.js <node|wasm|wasm-xnnpack|wasm-stock|cpu> [warmup steps] [steps] [warm-up ms]
 *   wasm: gm's own SIMD GEMM and fused Adam (what initBackend sets up);
 *   wasm-xnnpack: gm's MatMul overrides without gm's kernels (explicit transposes + tfjs's XNNPACK, tf.train.adam);
 *   wasm-stock: tfjs-wasm as shipped;
 *   wasm-2workers: gm's kernels, data-parallel on both cores (@gm/backend/data-parallel: this thread + 1 worker).
 * Each backend runs in its own process so one backend's state (kernels, memory) cannot colour another's numbers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, releaseGmKernels, type BackendName } from '@gm/backend';
import { createReferenceVaeStep, REFERENCE, type ReferenceVaeStep } from './reference-vae';
import { fillNormal, mulberry32 } from './parallel/seeded-random';
import { REFERENCE_VAE_CONFIG } from './parallel/vae-replica';
import { WARMUP_MS, warmUp } from './warmup';

/** The reference step split across this thread and one worker_thread (same model, loss, batch and optimizer). */
async function createDataParallelStep(): Promise<ReferenceVaeStep & { close(): Promise<void> }> {
  const { createDataParallelTrainer } = await import('@gm/backend/data-parallel');
  const { batch, inputDim, learningRate } = REFERENCE;
  const trainer = await createDataParallelTrainer({
    replica: { module: new URL('./parallel/vae-replica.js', import.meta.url).href, config: REFERENCE_VAE_CONFIG },
    replicas: 2,
    batchSize: batch,
    optimizer: { name: 'adam', learningRate },
  });
  const rand = mulberry32(0);
  const x = Float32Array.from({ length: batch * inputDim }, () => (rand() > 0.5 ? 1 : 0));
  let step = 0;
  return {
    step() {
      trainer.inputView(step, 'x').set(x);
      fillNormal(trainer.inputView(step, 'eps'), mulberry32(1_000_003 + step));
      return trainer.step(step++);
    },
    dispose() {},
    close: () => trainer.dispose(),
  };
}

const [variant = 'wasm', warmupArg = '5', stepsArg = '30', warmupMsArg = String(WARMUP_MS)] = process.argv.slice(2);
const backend = (variant.startsWith('wasm') ? 'wasm' : variant) as BackendName;

async function main() {
  const choice = await initBackend({ backend, fastMatMul: variant !== 'wasm-stock' });
  if (variant === 'wasm-2workers' && !choice.gmKernels) throw new Error('wasm-2workers needs gm kernels');
  // Without gm's kernels bound, the MatMul overrides fall back to XNNPACK and gmAdam to tf.train.adam.
  if (variant === 'wasm-xnnpack') releaseGmKernels(tf.backend());
  const parallel = variant === 'wasm-2workers' ? await createDataParallelStep() : undefined;
  const vae = parallel ?? createReferenceVaeStep(0);
  const warmup = Number(warmupArg);
  const steps = Number(stepsArg);
  const losses = warmUp(() => vae.step(), warmup, Number(warmupMsArg));
  const times: number[] = [];
  const tensorsBefore = tf.memory().numTensors;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    losses.push(vae.step());
    times.push(performance.now() - t0);
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  vae.dispose();
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] as number;
  process.stdout.write(
    JSON.stringify({
      variant,
      backend: choice.backend,
      fastMatMul: choice.fastMatMul,
      gmKernels: choice.gmKernels && variant !== 'wasm-xnnpack',
      steps,
      msPerStepMedian: median,
      msPerStepMin: times[0],
      imagesPerSecond: (128 / median) * 1000,
      firstLoss: losses[0],
      lastLoss: losses.at(-1),
      leakedTensors: leaked,
    }) + '\n',
  );
  await parallel?.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
