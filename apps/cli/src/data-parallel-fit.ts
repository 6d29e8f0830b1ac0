/**
 * `gm train vae --workers N`: the VAE trained data-parallel on N threads (this one + N − 1 worker_threads) with
 * @gm/backend/data-parallel. Every step takes exactly `--batch` examples, split across the threads; each epoch is
 * ⌊images / batch⌋ such steps over a fresh seeded shuffle. The loop (callbacks, validation, NaN guard) is @gm/models'
 * runFitLoop, on rank 0's replica, which is the CLI's own VAE.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { createDataParallelTrainer } from '@gm/backend/data-parallel';
import { permutation } from '@gm/core';
import { runFitLoop, vaeReplica, vaeReplicaConfig, type FitResult, type VAE } from '@gm/models';
import { CliError } from './errors';
import type { FitOptions } from './registry';

export async function fitVaeDataParallel(vae: VAE, x: tf.Tensor, o: FitOptions, workers: number): Promise<FitResult> {
  const n = x.shape[0] as number;
  const batch = o.batchSize;
  if (vae.config.architecture !== 'mlp') throw new CliError('--workers: only the MLP VAE trains data-parallel so far (drop --architecture conv or --workers)');
  if (batch < workers) throw new CliError(`--workers ${workers} needs --batch ≥ ${workers} (one example per thread at least); got ${batch}`);
  if (n < batch) throw new CliError(`--workers trains on full batches: needs at least --batch (${batch}) training images; got ${n}`);
  const rows = x.dataSync() as Float32Array;
  const rowSize = rows.length / n;
  const trainer = await createDataParallelTrainer({
    replica: { module: import.meta.resolve('@gm/models'), exportName: 'createVaeReplica', config: vaeReplicaConfig(vae, o.seed) },
    localReplica: vaeReplica(vae, o.seed),
    replicas: workers,
    batchSize: batch,
    optimizer: { name: 'adam', learningRate: o.learningRate },
  });
  const batches = Math.floor(n / batch);
  let step = 0;
  try {
    return runFitLoop({
      epochs: o.epochs,
      initialEpoch: vae.epochsTrained + 1,
      variables: vae.trainableVariables(),
      batchesPerEpoch: batches,
      *trainEpoch(epoch) {
        const order = permutation(n, (o.seed * 1_000_003 + epoch) >>> 0);
        for (let b = 0; b < batches; b++) {
          const view = trainer.inputView(step, 'x');
          for (let r = 0; r < batch; r++) {
            const i = order[b * batch + r] as number;
            view.set(rows.subarray(i * rowSize, (i + 1) * rowSize), r * rowSize);
          }
          yield { loss: trainer.step(step++), size: batch };
        }
      },
      ...(o.validationData === undefined ? {} : { validate: () => vae.negativeElbo(o.validationData as tf.Tensor, { seed: o.seed }) }),
      ...(o.onBatchEnd === undefined ? {} : { onBatchEnd: o.onBatchEnd }),
      onEpochEnd: (logs) => {
        vae.epochsTrained = logs.epoch;
        o.onEpochEnd?.(logs);
      },
    });
  } finally {
    await trainer.dispose();
  }
}
