/**
 * `gm train <model> --workers N`: any model trained data-parallel on N threads (this one + N − 1 worker_threads) with
 * @gm/backend/data-parallel — the VAE through its own replica (β, IWAE), every other family through @gm/models'
 * generic one (its own training loss; workers rebuild it from its checkpoint). It plugs into @gm/models' trainer as a custom step: the trainer draws the batches
 * (seeded order, full batches only: every step takes exactly `--batch` examples, split across the threads), keeps
 * the callbacks, validation, NaN guard and checkpoints; the step runs on every core.
 */
import { createDataParallelTrainer } from '@gm/backend/data-parallel';
import { modelReplica, modelReplicaConfig, VAE, vaeReplica, vaeReplicaConfig, type CustomStep, type ModelBase } from '@gm/models';
import { CliError } from './errors';

export interface DataParallelStep {
  step: CustomStep;
  dispose(): Promise<void>;
}

export async function dataParallelStep(model: ModelBase, o: { batchSize: number; learningRate: number; seed: number; examples: number }, workers: number): Promise<DataParallelStep> {
  const batch = o.batchSize;
  if (batch < workers) throw new CliError(`--workers ${workers} needs --batch ≥ ${workers} (one example per thread at least); got ${batch}`);
  if (o.examples < batch) throw new CliError(`--workers trains on full batches: needs at least --batch (${batch}) training images; got ${o.examples}`);
  const vae = model instanceof VAE ? model : undefined;
  const trainer = await createDataParallelTrainer({
    replica: {
      module: import.meta.resolve('@gm/models'),
      ...(vae ? { exportName: 'createVaeReplica', config: vaeReplicaConfig(vae, o.seed) } : { exportName: 'createModelReplica', config: await modelReplicaConfig(model, o.seed) }),
    },
    localReplica: vae ? vaeReplica(vae, o.seed) : modelReplica(model, o.seed),
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
