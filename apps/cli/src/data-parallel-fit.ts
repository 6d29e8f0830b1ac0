/**
 * `gm train vae --workers N`: the VAE trained data-parallel on N threads (this one + N − 1 worker_threads) with
 * @gm/backend/data-parallel. It plugs into @gm/models' trainer as a custom step: the trainer draws the batches
 * (seeded order, full batches only: every step takes exactly `--batch` examples, split across the threads), keeps
 * the callbacks, validation, NaN guard and checkpoints; the step runs on every core.
 */
import { createDataParallelTrainer } from '@gm/backend/data-parallel';
import { vaeReplica, vaeReplicaConfig, type CustomStep, type VAE } from '@gm/models';
import { CliError } from './errors';

export interface DataParallelStep {
  step: CustomStep;
  dispose(): Promise<void>;
}

export async function dataParallelStep(vae: VAE, o: { batchSize: number; learningRate: number; seed: number; examples: number }, workers: number): Promise<DataParallelStep> {
  const batch = o.batchSize;
  if (vae.config.architecture !== 'mlp') throw new CliError('--workers: only the MLP VAE trains data-parallel so far (drop --architecture conv or --workers)');
  if (batch < workers) throw new CliError(`--workers ${workers} needs --batch ≥ ${workers} (one example per thread at least); got ${batch}`);
  if (o.examples < batch) throw new CliError(`--workers trains on full batches: needs at least --batch (${batch}) training images; got ${o.examples}`);
  const trainer = await createDataParallelTrainer({
    replica: { module: import.meta.resolve('@gm/models'), exportName: 'createVaeReplica', config: vaeReplicaConfig(vae, o.seed) },
    localReplica: vaeReplica(vae, o.seed),
    replicas: workers,
    batchSize: batch,
    optimizer: { name: 'adam', learningRate: o.learningRate },
  });
  let step = 0;
  return {
    step: (b) => {
      trainer.inputView(step, 'x').set(b.x.dataSync() as Float32Array);
      return trainer.step(step++);
    },
    dispose: () => trainer.dispose(),
  };
}
