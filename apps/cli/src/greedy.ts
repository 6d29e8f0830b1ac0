/**
 * `gm train stacked-ae|tied-ae --greedy`: greedy layer-wise pretraining (@gm/models' `trainGreedyLayerwise`) of
 * the model the flags describe — one shallow autoencoder per layer, each with its own epochs and rate
 * (`--layer-epochs`, `--layer-lr`) — stacked into the deep model, which `gm train` then fine-tunes for `--epochs`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { StackedAutoencoder, TiedAutoencoder, trainGreedyLayerwise, type AutoencoderFitOptions } from '@gm/models';
import type { ImageDataset } from '@gm/data';
import { CliError } from './errors';
import { optimizerOf, type OptimizerRecord } from './optimizers';
import { inputOf } from './pictures';
import type { Reporter } from './progress';
import type { GenerativeModel } from './registry';

export interface GreedySettings {
  batch: number;
  seed: number;
  epochs: number;
  /** Epochs of each shallow autoencoder (default `epochs`). */
  layerEpochs?: number;
  /** Rate of each shallow autoencoder: one per layer, or one for all (default `learningRate`). */
  layerLr?: number[];
  learningRate: number;
  optimizer: OptimizerRecord;
  l2?: number;
}

/** Pretrains `fresh` (a new stacked or tied autoencoder, disposed here) layer by layer; returns the stacked model. */
export async function pretrainGreedily(fresh: GenerativeModel, entryName: string, train: ImageDataset, o: GreedySettings, reporter: Reporter): Promise<GenerativeModel> {
  if (!(fresh instanceof StackedAutoencoder || fresh instanceof TiedAutoencoder)) {
    fresh.dispose();
    throw new CliError(`--greedy: layer-wise pretraining builds a stacked-ae or tied-ae, not a ${entryName}`);
  }
  const config = fresh.config;
  const depth = config.hidden.length;
  const rates = o.layerLr ?? [o.learningRate];
  if (rates.length !== 1 && rates.length !== depth) {
    fresh.dispose();
    throw new CliError(`--layer-lr: one rate for every layer or one per layer (${depth} layers: ${config.hidden.join(', ')}); got ${rates.length}`);
  }
  const optimizer = optimizerOf(o.optimizer);
  const phases: AutoencoderFitOptions[] = Array.from({ length: depth }, (_, i) => ({
    epochs: o.layerEpochs ?? o.epochs,
    batchSize: o.batch,
    learningRate: rates[rates.length === 1 ? 0 : i] as number,
    optimizer,
    seed: o.seed + i,
    ...(o.l2 === undefined ? {} : { l2: o.l2 }),
  }));
  const x = inputOf(fresh, train, 0, train.count);
  fresh.dispose();
  try {
    let layer = 0;
    const { autoencoder } = await trainGreedyLayerwise(config, x, {
      layerFit: phases.map((p) => ({
        ...p,
        onEpochEnd: (l) => reporter.line(`  layer ${layer + 1}/${depth} (${layer === 0 ? config.inputDim : config.hidden[layer - 1]}→${config.hidden[layer]}), epoch ${l.epoch}: loss ${l.loss.toFixed(4)}`),
      })),
      onLayerStart: (i) => {
        layer = i;
        reporter.line(`greedy pretraining, layer ${i + 1} of ${depth}: ${o.optimizer.optimizer}, rate ${phases[i]?.learningRate}, ${phases[i]?.epochs} epochs`);
      },
    });
    reporter.line(`stacked the ${depth} pretrained layers; fine-tuning the whole autoencoder`);
    return autoencoder;
  } finally {
    tf.dispose(x);
  }
}
