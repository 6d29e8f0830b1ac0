/**
 * Child process: times the reference VAE step on the wasm backend with the stock SIMD binary or the threaded-SIMD
 * binary (1 or 2 XNNPACK threads, via ./node-wasm-threads). Prints one JSON line.
 * Usage: node dist/parallel/threads-step.js <simd|threaded> [threads] [warmup] [steps]
 * Math.random is seeded, so the weights, the batch and the noise are identical in every variant and the loss
 * trajectories can be compared.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@gm/backend';
import { createReferenceVaeStep } from '../reference-vae';
import { withNodeWasmThreads } from './node-wasm-threads';
import { seedMathRandom } from './seeded-random';
import { cpuDelta, threadCpu, type CpuSnapshot } from './thread-cpu';

const [binary = 'simd', threadsArg = '1', warmupArg = '3', stepsArg = '10'] = process.argv.slice(2);

async function main() {
  let threads = 1;
  if (binary === 'threaded') {
    const { info } = await withNodeWasmThreads(Number(threadsArg), () => initBackend({ backend: 'wasm' }));
    threads = info.threads;
  } else {
    await initBackend({ backend: 'wasm' });
  }
  seedMathRandom(1234);
  const vae = createReferenceVaeStep(0);
  const losses: number[] = [];
  const times: number[] = [];
  const warmup = Number(warmupArg);
  const steps = Number(stepsArg);
  let before: CpuSnapshot = new Map();
  for (let i = 0; i < warmup + steps; i++) {
    if (i === warmup) before = threadCpu();
    const t0 = performance.now();
    losses.push(vae.step());
    if (i >= warmup) times.push(performance.now() - t0);
  }
  const cpu = cpuDelta(before, threadCpu());
  vae.dispose();
  const sorted = [...times].sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      binary,
      threads,
      backend: tf.getBackend(),
      msPerStepMedian: sorted[Math.floor(sorted.length / 2)],
      cpu,
      times,
      losses,
    }) + '\n',
  );
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
