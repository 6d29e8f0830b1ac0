/**
 * Greedy layer-wise pretraining (Bengio et al. 2007; Géron, ch. 17): train a shallow autoencoder on the inputs,
 * train the next shallow autoencoder on its codings, and so on; then stack the encoders (in order) and the decoders
 * (in reverse order) into one deep autoencoder and fine-tune it end to end.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FitResult } from '@gm/core';
import { StackedAutoencoder, TiedAutoencoder, checkBatch } from './autoencoder';
import type { AutoencoderFitOptions } from './autoencoder';
import { resolveAutoencoderConfig, type AutoencoderConfig } from './config';

export interface GreedyLayerwiseOptions {
  /**
   * Training of the shallow autoencoders: one set of options for all, or one per layer (phases may differ in
   * optimizer, rate and epochs — Géron's recipe trains the first with SGD 1.5, the second with SGD 0.05). Validation
   * data given as a tensor is encoded by the layers below for each deeper one (other forms: first layer only).
   */
  layerFit: AutoencoderFitOptions | readonly AutoencoderFitOptions[];
  /** Fine-tuning of the stacked autoencoder (omit or `epochs: 0` to skip). */
  fineTune?: AutoencoderFitOptions;
  /** Called before shallow autoencoder `index` (0-based) starts training. */
  onLayerStart?(index: number, shallow: StackedAutoencoder | TiedAutoencoder): void;
  /** Called after shallow autoencoder `index` is trained, before it is stacked and disposed. */
  onLayerEnd?(index: number, shallow: StackedAutoencoder | TiedAutoencoder, history: FitResult): void;
}

export interface GreedyLayerwiseResult {
  /** The stacked (and fine-tuned) deep autoencoder. */
  autoencoder: StackedAutoencoder | TiedAutoencoder;
  /** Training history of each shallow autoencoder. */
  layerHistories: FitResult[];
  /** Fine-tuning history (undefined when skipped). */
  fineTune?: FitResult;
}

/** Config of shallow autoencoder `i` of the greedy scheme for the deep `config`. */
export function shallowAutoencoderConfig(config: AutoencoderConfig, i: number): AutoencoderConfig {
  const c = resolveAutoencoderConfig(config, 'greedyLayerwise: config');
  const depth = c.hidden.length;
  if (!Number.isInteger(i) || i < 0 || i >= depth) throw new Error(`shallowAutoencoderConfig: layer index must be in [0, ${depth}); got ${i}`);
  const first = i === 0;
  return {
    inputDim: first ? c.inputDim : (c.hidden[i - 1] as number),
    hidden: [c.hidden[i] as number],
    activation: c.activation,
    codingActivation: i === depth - 1 ? c.codingActivation : c.activation,
    // The first one reconstructs the inputs like the deep model; the others reconstruct hidden activations.
    outputActivation: first ? c.outputActivation : c.activation,
    loss: first ? c.loss : 'meanSquaredError',
    tied: c.tied,
    seed: c.seed === null ? null : c.seed + 1000 * (i + 1),
  };
}

/**
 * Trains `config` (a StackedAutoencoder or TiedAutoencoder config) greedily on `x`, layer by layer, then stacks and
 * fine-tunes. Shallow models are disposed; intermediate codings too.
 *
 * @example
 * ```ts
 * const { autoencoder } = await trainGreedyLayerwise({ inputDim: 784, hidden: [100, 30], seed: 1 }, xTrain, {
 *   layerFit: { epochs: 3, batchSize: 64 },
 *   fineTune: { epochs: 2, batchSize: 64, validationData: xValid },
 * });
 * ```
 */
export async function trainGreedyLayerwise(
  config: AutoencoderConfig,
  x: tf.Tensor,
  options: GreedyLayerwiseOptions,
): Promise<GreedyLayerwiseResult> {
  const Cls = config.tied === true ? TiedAutoencoder : StackedAutoencoder;
  const deep = new Cls(config);
  checkBatch(x, deep.config.inputDim, 'trainGreedyLayerwise: x');
  const depth = deep.config.hidden.length;
  const phases = Array.isArray(options.layerFit) ? (options.layerFit as readonly AutoencoderFitOptions[]) : Array.from({ length: depth }, () => options.layerFit as AutoencoderFitOptions);
  if (phases.length !== depth) {
    deep.dispose();
    throw new Error(`trainGreedyLayerwise: options.layerFit has ${phases.length} entries; the autoencoder has ${depth} layers (give one per layer, or one object for all)`);
  }
  const layerHistories: FitResult[] = [];
  let inputs: tf.Tensor = x;
  let valid: tf.Tensor | undefined;
  try {
    for (let i = 0; i < depth; i++) {
      const shallow = new Cls(shallowAutoencoderConfig(config, i));
      try {
        options.onLayerStart?.(i, shallow);
        const phase = phases[i] as AutoencoderFitOptions;
        // The first layer validates on what it was given; a deeper one on a tensor encoded by the layers below.
        const validationData = i === 0 ? phase.validationData : valid;
        const fitOptions: AutoencoderFitOptions = { ...phase };
        if (validationData === undefined) delete fitOptions.validationData;
        else fitOptions.validationData = validationData;
        const history = await shallow.fit(inputs, fitOptions);
        layerHistories.push(history);
        options.onLayerEnd?.(i, shallow, history);
        // Copy the trained shallow layers into their places: encoder i, and the decoder layer mirroring it.
        deep.encoderLayers[i]?.setWeights(shallow.encoderLayers[0]?.getWeights() ?? []);
        deep.decoderLayers[depth - 1 - i]?.setWeights(shallow.decoderLayers[0]?.getWeights() ?? []);
        if (i < depth - 1) {
          const next = shallow.encode(inputs);
          if (inputs !== x) inputs.dispose();
          inputs = next;
          const source = i === 0 ? phase.validationData : valid;
          const nextValid = source instanceof tf.Tensor ? shallow.encode(source) : undefined;
          valid?.dispose();
          valid = nextValid;
        }
      } finally {
        shallow.dispose();
      }
    }
  } catch (error) {
    deep.dispose();
    throw error;
  } finally {
    if (inputs !== x) inputs.dispose();
    valid?.dispose();
  }
  const fineTune = options.fineTune !== undefined && options.fineTune.epochs > 0 ? await deep.fit(x, options.fineTune) : undefined;
  return { autoencoder: deep, layerHistories, fineTune };
}
