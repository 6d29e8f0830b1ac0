/**
 * `gm demo`: the README's main command. Until @gm/models ships its VAE family, the demo trains the reference VAE
 * (the benchmarked architecture) on the bundled binarized digits and reports train and test −ELBO falling.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendChoice, type BackendName } from '@gm/backend';
import { batchIterator, loadBundledMnist, numBatches } from '@gm/data';
import { createReferenceVae } from '@gm/bench/reference-vae';

export interface DemoOptions {
  epochs: number;
  batch: number;
  seed: number;
  backend?: BackendName;
  json: boolean;
}

export interface DemoEpoch {
  epoch: number;
  trainNegElbo: number;
  testNegElbo: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface DemoReport {
  backend: BackendChoice;
  data: { train: number; test: number; binarization: string };
  model: string;
  /** Test −ELBO of the untrained model, so the report shows the fall. */
  initialTestNegElbo: number;
  epochs: DemoEpoch[];
  /** Tensors gained between the end of the first epoch and the end of the last (optimizer state is made in the
   * first step, so any growth after that is a leak). */
  leakedTensors: number;
  seconds: number;
}

const nats = (x: number) => x.toFixed(2);

export async function runDemo(options: DemoOptions, log: (line: string) => void): Promise<DemoReport> {
  const started = performance.now();
  const backend = await initBackend(options.backend === undefined ? {} : { backend: options.backend });
  const skipped = backend.skipped.map((s) => `skipped ${s.backend}: ${s.reason}`).join('; ');
  log(`backend: ${backend.backend} (${backend.reason}${skipped ? `; ${skipped}` : ''})${backend.fastMatMul ? ', fast MatMul kernels' : ''}`);

  const { train, test } = loadBundledMnist();
  log(`data: bundled MNIST, ${train.count} train / ${test.count} test digits, static binarization (pixel > 127)`);
  const model = 'reference VAE: MLP 784-512-256-(2×32) / 32-256-512-784, Bernoulli logits, Adam 1e-3';
  log(`model: ${model}, batch ${options.batch}, seed ${options.seed}`);

  const vae = createReferenceVae({ seed: options.seed });
  const testNegElbo = () => {
    let total = 0;
    for (const { xs, size } of batchIterator(test, { batchSize: 500, shuffle: false, transform: 'binarize', flatten: true })) {
      total += vae.negativeElbo(xs as tf.Tensor2D) * size;
    }
    return total / test.count;
  };

  const epochs: DemoEpoch[] = [];
  const initialTestNegElbo = testNegElbo();
  log(`epoch 0/${options.epochs}: test −ELBO ${nats(initialTestNegElbo)} nats (untrained)`);
  let tensorsAfterFirstEpoch = 0;
  const steps = numBatches(train.count, options.batch);
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const t0 = performance.now();
    let total = 0;
    for (const { xs, size } of batchIterator(train, {
      batchSize: options.batch,
      seed: options.seed,
      epoch,
      transform: 'binarize',
      flatten: true,
    })) {
      total += vae.trainStep(xs as tf.Tensor2D) * size;
    }
    const seconds = (performance.now() - t0) / 1000;
    const row: DemoEpoch = {
      epoch,
      trainNegElbo: total / train.count,
      testNegElbo: testNegElbo(),
      seconds,
      imagesPerSecond: train.count / seconds,
    };
    epochs.push(row);
    if (epoch === 1) tensorsAfterFirstEpoch = tf.memory().numTensors;
    log(
      `epoch ${epoch}/${options.epochs}: train −ELBO ${nats(row.trainNegElbo)}  test −ELBO ${nats(row.testNegElbo)} nats` +
        `  (${steps} steps, ${seconds.toFixed(1)} s, ${Math.round(row.imagesPerSecond)} img/s)`,
    );
  }
  const leakedTensors = tf.memory().numTensors - tensorsAfterFirstEpoch;
  vae.dispose();
  return {
    backend,
    data: { train: train.count, test: test.count, binarization: 'static, pixel > 127' },
    model,
    initialTestNegElbo,
    epochs,
    leakedTensors,
    seconds: (performance.now() - started) / 1000,
  };
}
