/**
 * The convolutional autoencoder of Géron's *Hands-on ML*, ch. 17: 'same' convolutions and 2×2 max-pooling down to
 * a small stack of feature maps (the codings), stride-2 transposed convolutions back up to the image.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { GmError, type CheckpointStore, type EvaluateOptions, type InputConvention, type Metric, type TrainingBatch, type TrainingData } from '@gm/core';
import type { Activation } from '@gm/layers';
import { readCheckpoint } from '../io/checkpoint';
import { buildFromParts, ModelBase, type CheckpointContent } from '../model-base';
import type { TrainerDefaults } from '../train/trainer';
import { AUTOENCODER_PART, kernelInitializer, layerOf, type AutoencoderEvaluation } from './autoencoder';
import { checkActivation, checkPositiveInt, checkSeed, checkWidths } from './config';
import { RECONSTRUCTION_LOSSES, reconstructionLoss, roundedAccuracy, type ReconstructionLoss } from './losses';

type Layer = tfl.layers.Layer;

/** Checkpoint kind of a {@link ConvAutoencoder}. */
export const CONV_AUTOENCODER_KIND = 'conv-autoencoder';

/** Architecture and objective of a {@link ConvAutoencoder}; every field has the lecture's default. */
export interface ConvAutoencoderConfig {
  /** One image, `[height, width, channels]` (default `[28, 28, 1]`, MNIST). */
  inputShape?: readonly number[];
  /**
   * Filters of the encoder's convolutions, one 2×2 max-pooling after each (default `[16, 32, 64]`); the decoder's
   * transposed convolutions mirror them (`[32, 16, channels]`). Height and width are halved (rounded down) once per
   * entry and must stay ≥ 1.
   */
  filters?: number[];
  /** Kernel size of every convolution and transposed convolution (default 3; must be 3 when a pooled size is odd). */
  kernelSize?: number;
  /** Activation of every layer but the sigmoid output (default 'selu', with LeCun-normal kernels as in the lecture). */
  activation?: Activation;
  /** Reconstruction loss (default 'binaryCrossentropy'; the output is a sigmoid either way). */
  loss?: ReconstructionLoss;
  /** Seed of the weight initialisation and the default seed of training (unseeded when absent). */
  seed?: number | null;
}

/** A {@link ConvAutoencoderConfig} with every default filled in (what a checkpoint stores). */
export interface ResolvedConvAutoencoderConfig {
  inputShape: [number, number, number];
  filters: number[];
  kernelSize: number;
  activation: Activation;
  loss: ReconstructionLoss;
  seed: number | null;
}

/** How the decoder undoes one pooling level: 'same' doubles a size, 'valid' (kernel 3) makes it 2s + 1. */
type Padding = 'same' | 'valid';

const NAME = 'ConvAutoencoder';

/** Checks a config and fills in its defaults; errors name the field (`where` e.g. "ConvAutoencoder: config"). */
export function resolveConvAutoencoderConfig(config: ConvAutoencoderConfig = {}, where = `${NAME}: config`): ResolvedConvAutoencoderConfig {
  if (typeof config !== 'object' || config === null) throw new Error(`${where} must be an object (every field is optional); got ${JSON.stringify(config)}`);
  const shape = config.inputShape ?? [28, 28, 1];
  if (!Array.isArray(shape) || shape.length !== 3) {
    throw new Error(`${where}.inputShape must be [height, width, channels]; got ${JSON.stringify(shape)}`);
  }
  const inputShape = checkWidths(shape, `${where}.inputShape`) as [number, number, number];
  const filters = checkWidths(config.filters ?? [16, 32, 64], `${where}.filters`);
  const kernelSize = checkPositiveInt(config.kernelSize ?? 3, `${where}.kernelSize`);
  const activation = checkActivation(config.activation, 'selu', `${where}.activation`);
  const loss = config.loss ?? 'binaryCrossentropy';
  if (!RECONSTRUCTION_LOSSES.includes(loss)) {
    throw new Error(`${where}.loss must be one of ${RECONSTRUCTION_LOSSES.join(', ')}; got ${JSON.stringify(loss)}`);
  }
  const seed = checkSeed(config.seed, `${where}.seed`);
  const resolved = { inputShape, filters, kernelSize, activation, loss, seed };
  convGeometry(resolved, where);
  return resolved;
}

/**
 * The spatial sizes after each pooling (`sizes[0]` the image, `sizes[depth]` the codings) and the padding of the
 * transposed convolution that restores each level. Throws naming `inputShape` or `kernelSize` when the decoder
 * cannot give back the image's size.
 */
function convGeometry(c: Pick<ResolvedConvAutoencoderConfig, 'inputShape' | 'filters' | 'kernelSize'>, where: string): { sizes: [number, number][]; paddings: Padding[] } {
  const [H, W] = c.inputShape;
  const sizes: [number, number][] = [[H, W]];
  const paddings: Padding[] = [];
  const trail = () => sizes.map(([h, w]) => `${h}×${w}`).join(' → ');
  for (let i = 0; i < c.filters.length; i++) {
    const [h, w] = sizes[i] as [number, number];
    if (h < 2 || w < 2) {
      throw new Error(
        `${where}.inputShape ${H}×${W} is too small for ${c.filters.length} poolings (filters has ${c.filters.length} entries): ${trail()} cannot be halved again; use a larger image or fewer filters`,
      );
    }
    if (h % 2 !== w % 2) {
      throw new Error(
        `${where}.inputShape ${H}×${W}: height and width must both be even or both odd at each pooling (${trail()}), so one transposed convolution restores both`,
      );
    }
    if (h % 2 === 1 && c.kernelSize !== 3) {
      throw new Error(
        `${where}.kernelSize must be 3 when a pooled size is odd (${trail()} → ${Math.floor(h / 2)}×${Math.floor(w / 2)}: a 'valid' stride-2 transposed convolution of kernel k gives 2·s + k − 2, which is ${h}×${w} only for k = 3); got ${c.kernelSize} — or use sizes divisible by 2^${c.filters.length}`,
      );
    }
    paddings.push(h % 2 === 0 ? 'same' : 'valid');
    sizes.push([Math.floor(h / 2), Math.floor(w / 2)]);
  }
  return { sizes, paddings };
}

/** The MaxPoolGrad kernels already probed (re-probed when a backend's kernel is replaced), and whether they were right. */
const probedMaxPoolGrads = new WeakMap<object, boolean>();

/**
 * Whether `backend`'s max-pooling gradient goes to each window's maximum, also in a window of negative values: a
 * 2×4 probe, once per registered kernel. Stock tfjs-backend-wasm 4.22 fails it.
 */
function maxPoolGradIsRight(backend: string): boolean {
  const kernel = tf.getKernel('MaxPoolGrad', backend);
  if (kernel === undefined) return false;
  let right = probedMaxPoolGrads.get(kernel);
  if (right === undefined) {
    const dx = tf.tidy(() => {
      const x = tf.tensor4d([1, 2, -1, -2, 3, 4, -3, -4], [1, 2, 4, 1]);
      const weights = tf.tensor4d([1, 2], [1, 1, 2, 1]);
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'), weights)))(x);
    });
    right = Array.from(dx.dataSync()).join() === [0, 0, 2, 0, 0, 1, 0, 0].join();
    dx.dispose();
    probedMaxPoolGrads.set(kernel, right);
  }
  return right;
}

/** A batch of images `[batch, H, W, C]` from `x` of that shape or flat `[batch, H·W·C]` (the flat flag says which). */
function asImages(x: unknown, shape: readonly number[], where: string): { images: tf.Tensor4D; flat: boolean } {
  const size = shape.reduce((a, b) => a * b, 1);
  const want = `[batch, ${shape.join(', ')}] or [batch, ${size}]`;
  if (!(x instanceof tf.Tensor)) throw new GmError('BAD_ARGUMENT', where, `a tf.Tensor of shape ${want}`, x === null ? null : typeof x);
  const n = x.shape[0] ?? 0;
  if (x.rank === 2 && x.shape[1] === size && n > 0) return { images: tf.reshape(x, [n, ...shape]) as unknown as tf.Tensor4D, flat: true };
  if (x.rank === shape.length + 1 && shape.every((d, i) => x.shape[i + 1] === d) && n > 0) return { images: x as tf.Tensor4D, flat: false };
  throw new GmError('BAD_SHAPE', where, `expected shape ${want} with batch ≥ 1, got [${x.shape.join(', ')}]`);
}

/**
 * A convolutional autoencoder for images (Géron, *Hands-on ML*, ch. 17). For 28×28×1 digits with the defaults:
 * encoder conv 3×3 'same' (16, SELU) → max-pool 2 → conv (32) → max-pool 2 → conv (64) → max-pool 2, giving 3×3×64
 * codings (576 values); decoder transposed conv 3×3 stride 2 'valid' (32, SELU) → 7×7, 'same' (16, SELU) → 14×14,
 * 'same' (1, sigmoid) → 28×28×1; binary cross-entropy. Other sizes work where the decoder can restore them (see
 * {@link ConvAutoencoderConfig.filters}). Inputs are images in [0, 1], `[batch, H, W, C]` (or flat
 * `[batch, H·W·C]`: the outputs then come back flat too); codings are flat, `[batch, codingsSize]`.
 *
 * Training on wasm needs `initBackend()` from @gm/backend first: stock tfjs-backend-wasm 4.22 has no
 * Conv2DBackpropFilter and its MaxPoolGrad misroutes pooling windows whose values are all ≤ 0 (SELU makes many), and
 * `initBackend` registers gm's kernels for both (`fit` refuses, with that advice, on a backend without them). cpu,
 * webgl and node have every kernel this model uses; cpu is slow at Conv2DBackpropFilter (~0.4 s per 28×28 digit and
 * step with the default filters), so train on wasm or node.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { initBackend } from '@gm/backend';
 * import { ConvAutoencoder, memoryStore } from '@gm/models';
 *
 * await initBackend();                                     // node, else wasm with gm's kernels, else cpu
 * const ae = new ConvAutoencoder({ seed: 42 });           // 28×28×1, filters [16, 32, 64], SELU, BCE
 * const x = tf.randomUniform([64, 28, 28, 1]);             // images in [0, 1]
 * await ae.fit(x, { epochs: 1, batchSize: 32 });
 * const codings = ae.encode(x);                            // [64, 576] (3×3×64 feature maps, flattened)
 * const images = ae.reconstruct(x);                        // [64, 28, 28, 1]
 * const metrics = ae.evaluate(x);                          // loss, reconstructionLoss, penalty (0), roundedAccuracy
 * const store = memoryStore();
 * await ae.save(store);
 * const again = await ConvAutoencoder.load(store);
 * tf.dispose([x, codings, images]);
 * ae.dispose();
 * again.dispose();
 * ```
 */
export class ConvAutoencoder extends ModelBase {
  readonly kind: string = CONV_AUTOENCODER_KIND;
  readonly inputConvention: InputConvention = 'unit';
  /** The configuration with every default filled in. */
  readonly config: ResolvedConvAutoencoderConfig;
  /** The whole network, image → reconstruction: one tfjs graph (what a checkpoint stores). */
  readonly model: tfl.LayersModel;
  /** Encoder layers (convolution, pooling, …), input side first; the last one outputs the codings' feature maps. */
  readonly encoderLayers: Layer[];
  /** Decoder layers (transposed convolutions), codings side first; the last one outputs the reconstruction. */
  readonly decoderLayers: Layer[];
  /** Shape of one example's codings as feature maps, `[h, w, filters]` (e.g. `[3, 3, 64]`). */
  readonly codingsShape: readonly [number, number, number];
  private readonly paddings: Padding[];

  /**
   * @param config architecture and objective (checked; errors name the field). Every field is optional.
   * @param restored internal: a loaded model to adopt instead of building fresh layers.
   */
  constructor(config: ConvAutoencoderConfig = {}, restored?: tfl.LayersModel) {
    super();
    const where = `${NAME}: config`;
    this.config = resolveConvAutoencoderConfig(config, where);
    const { sizes, paddings } = convGeometry(this.config, where);
    const [h, w] = sizes[sizes.length - 1] as [number, number];
    this.codingsShape = [h, w, this.config.filters[this.config.filters.length - 1] as number];
    this.paddings = paddings;
    [this.model, this.encoderLayers, this.decoderLayers] = restored === undefined ? this.buildFresh() : this.adopt(restored);
  }

  /** Encoder and decoder layers, named as checkpoints name them. */
  private makeLayers(): [Layer[], Layer[]] {
    const c = this.config;
    const depth = c.filters.length;
    const encoder: Layer[] = [];
    c.filters.forEach((filters, i) => {
      const init = kernelInitializer(c.activation, c.seed, i);
      encoder.push(tfl.layers.conv2d({ filters, kernelSize: c.kernelSize, padding: 'same', activation: c.activation, kernelInitializer: init, name: `encoder_conv_${i}` }));
      encoder.push(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'valid', name: `encoder_pool_${i}` }));
    });
    const decoder: Layer[] = [];
    for (let j = 0; j < depth; j++) {
      const i = depth - 1 - j; // the pooling level this layer undoes
      const filters = i === 0 ? c.inputShape[2] : (c.filters[i - 1] as number);
      const activation: Activation = i === 0 ? 'sigmoid' : c.activation;
      decoder.push(
        tfl.layers.conv2dTranspose({
          filters,
          kernelSize: c.kernelSize,
          strides: 2,
          padding: this.paddings[i] as Padding,
          activation,
          kernelInitializer: kernelInitializer(activation, c.seed, 100 + j),
          name: `decoder_${j}`,
        }),
      );
    }
    return [encoder, decoder];
  }

  private buildFresh(): [tfl.LayersModel, Layer[], Layer[]] {
    const [encoder, decoder] = this.makeLayers();
    const input = tfl.input({ shape: [...this.config.inputShape], name: 'input' });
    let h: SymbolicTensor = input;
    for (const layer of [...encoder, ...decoder]) h = layer.apply(h) as SymbolicTensor;
    return [tfl.model({ inputs: input, outputs: h, name: 'conv_autoencoder' }), encoder, decoder];
  }

  private adopt(model: tfl.LayersModel): [tfl.LayersModel, Layer[], Layer[]] {
    const where = `${NAME}: checkpoint part "${AUTOENCODER_PART}"`;
    const depth = this.config.filters.length;
    const encoder: Layer[] = [];
    for (let i = 0; i < depth; i++) encoder.push(layerOf(model, `encoder_conv_${i}`, where), layerOf(model, `encoder_pool_${i}`, where));
    const decoder = Array.from({ length: depth }, (_, j) => layerOf(model, `decoder_${j}`, where));
    const out = model.outputs[0]?.shape ?? [];
    const want = [null, ...this.config.inputShape];
    if (out.length !== want.length || out.some((d, k) => d !== want[k])) {
      throw new GmError('CORRUPT', where, `the saved network outputs [${out.join(', ')}], the config builds [${want.map(String).join(', ')}]`);
    }
    return [model, encoder, decoder];
  }

  /** Size of one example's codings, flattened: h·w·filters (576 for 28×28 digits with the defaults). */
  get codingsSize(): number {
    return this.codingsShape[0] * this.codingsShape[1] * this.codingsShape[2];
  }

  get inputShape(): readonly number[] {
    return this.config.inputShape;
  }

  describe(): string {
    const c = this.config;
    const [h, w, f] = this.codingsShape;
    const k = `${c.kernelSize}×${c.kernelSize}`;
    return `${this.kind}, ${c.inputShape.join('×')} → conv ${k} [${c.filters.join(', ')}] with 2×2 max-pooling → ${h}×${w}×${f} codings (${this.codingsSize}) → transposed conv ${k} stride 2 [${[...c.filters.slice(0, -1).reverse(), c.inputShape[2]].join(', ')}], ${c.activation}/sigmoid, ${c.loss}`;
  }

  trainableVariables(): tf.Variable[] {
    return this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  private run(layers: Layer[], x: tf.Tensor): tf.Tensor {
    let h = x;
    for (const layer of layers) h = layer.apply(h) as tf.Tensor;
    return h;
  }

  /** Codings (flat, `[batch, codingsSize]`) and reconstruction (`[batch, H, W, C]`) of images `[batch, H, W, C]`. */
  forward(x: tf.Tensor): { codings: tf.Tensor2D; reconstruction: tf.Tensor4D } {
    this.live('forward');
    return tf.tidy(() => {
      const { images } = asImages(x, this.config.inputShape, `${NAME}.forward: x`);
      const maps = this.run(this.encoderLayers, images);
      const reconstruction = this.run(this.decoderLayers, maps) as tf.Tensor4D;
      return { codings: tf.reshape(maps, [images.shape[0], this.codingsSize]) as tf.Tensor2D, reconstruction };
    });
  }

  /** Codings `[batch, codingsSize]` (the deepest feature maps, flattened) of images `[batch, H, W, C]` or `[batch, H·W·C]`. */
  encode(x: tf.Tensor): tf.Tensor2D {
    this.live('encode');
    return tf.tidy(() => {
      const { images } = asImages(x, this.config.inputShape, `${NAME}.encode: x`);
      return tf.reshape(this.run(this.encoderLayers, images), [images.shape[0], this.codingsSize]) as tf.Tensor2D;
    });
  }

  /** Images `[batch, H, W, C]` from codings `[batch, codingsSize]` (or feature maps `[batch, ...codingsShape]`). */
  decode(codings: tf.Tensor): tf.Tensor4D {
    this.live('decode');
    return tf.tidy(() => {
      const { images: maps } = asImages(codings, this.codingsShape, `${NAME}.decode: codings`);
      return this.run(this.decoderLayers, maps) as tf.Tensor4D;
    });
  }

  /** `decode(encode(x))`, in the layout of `x` (images, or flat when `x` is flat). */
  reconstruct(x: tf.Tensor): tf.Tensor {
    this.live('reconstruct');
    return tf.tidy(() => {
      const { images, flat } = asImages(x, this.config.inputShape, `${NAME}.reconstruct: x`);
      const r = this.run(this.decoderLayers, this.run(this.encoderLayers, images));
      return flat ? tf.reshape(r, x.shape) : r;
    });
  }

  /** Reconstruction loss of a batch (mean over pixels and examples). */
  private batchLoss(x: tf.Tensor, where: string): tf.Scalar {
    return tf.tidy(() => {
      const { images } = asImages(x, this.config.inputShape, where);
      return reconstructionLoss(this.config.loss, images, this.run(this.decoderLayers, this.run(this.encoderLayers, images)));
    });
  }

  /** The training loss of a batch: the reconstruction loss (no noise, no penalty). */
  loss(batch: TrainingBatch): tf.Scalar {
    return this.batchLoss(batch.x, `${NAME}.fit: x`);
  }

  /** Validation: the same objective. */
  validationLoss(batch: TrainingBatch): tf.Scalar {
    return this.batchLoss(batch.x, `${NAME}.fit: validationData`);
  }

  protected fitDefaults(): TrainerDefaults {
    return { where: `${NAME}.fit`, batchSize: 32, seed: this.config.seed ?? 0, learningRate: 1e-3 };
  }

  /**
   * Checks the data's shape and that the backend differentiates every layer correctly: stock tfjs-backend-wasm 4.22
   * has no Conv2DBackpropFilter, and its MaxPoolGrad misroutes windows whose values are all ≤ 0 (SELU makes many);
   * `initBackend()` from @gm/backend registers gm's kernels for both.
   */
  protected override beforeFit(data: TrainingData): void {
    if (data instanceof tf.Tensor) asImages(data, this.config.inputShape, `${NAME}.fit: x`);
    const backend = tf.getBackend();
    const fix = `call initBackend() from @gm/backend, which registers gm's, or train on the cpu, webgl or node backend — inference works here`;
    for (const kernel of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad']) {
      if (tf.getKernel(kernel, backend) === undefined) {
        throw new GmError('UNSUPPORTED', `${NAME}.fit`, `training needs the ${kernel} kernel, which the "${backend}" backend lacks (tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter): ${fix}`);
      }
    }
    if (!maxPoolGradIsRight(backend)) {
      throw new GmError(
        'UNSUPPORTED',
        `${NAME}.fit`,
        `the "${backend}" backend's MaxPoolGrad kernel sends the gradient of a pooling window whose values are all ≤ 0 to the wrong pixel (tfjs-backend-wasm 4.22's does): ${fix}`,
      );
    }
  }

  /** Test figures, as the dense autoencoders report them: loss, reconstruction loss, penalty (always 0), rounded accuracy. */
  evaluate(x: tf.Tensor, options: EvaluateOptions = {}): Metric[] {
    const e = this.reconstructionMetrics(x, options.batchSize === undefined ? {} : { batchSize: options.batchSize });
    const unit = this.config.loss === 'binaryCrossentropy' ? 'mean BCE' : 'mean squared error';
    return [
      { name: 'loss', value: e.loss, unit },
      { name: 'reconstructionLoss', value: e.reconstructionLoss, unit },
      { name: 'penalty', value: e.penalty, unit: 'none (no penalty term)' },
      { name: 'roundedAccuracy', value: e.roundedAccuracy, unit: 'fraction' },
    ];
  }

  /** Loss and rounded accuracy on `x` (inference mode), computed in batches of `batchSize` (default 256). */
  reconstructionMetrics(x: tf.Tensor, options: { batchSize?: number } = {}): AutoencoderEvaluation {
    this.live('reconstructionMetrics');
    const where = `${NAME}.reconstructionMetrics: x`;
    asImages(x, this.config.inputShape, where);
    const batchSize = options.batchSize ?? 256;
    checkPositiveInt(batchSize, `${NAME}.evaluate: options.batchSize`);
    const n = x.shape[0] as number;
    let loss = 0;
    let accuracy = 0;
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const values = tf.tidy(() => {
        const { images } = asImages(tf.slice(x, [start], [size]), this.config.inputShape, where);
        const r = this.run(this.decoderLayers, this.run(this.encoderLayers, images));
        return tf.stack([reconstructionLoss(this.config.loss, images, r), roundedAccuracy(images, r)]);
      });
      const [l, a] = values.dataSync();
      values.dispose();
      loss += (l as number) * size;
      accuracy += (a as number) * size;
    }
    return { loss: loss / n, reconstructionLoss: loss / n, penalty: 0, roundedAccuracy: accuracy / n };
  }

  protected checkpointContent(): CheckpointContent {
    return { config: this.config, parts: { [AUTOENCODER_PART]: this.model } };
  }

  /** Loads a checkpoint written by `save` of a ConvAutoencoder (another kind is an error naming both kinds). */
  static async load(store: CheckpointStore): Promise<ConvAutoencoder> {
    const reader = await readCheckpoint<ConvAutoencoderConfig>(store, CONV_AUTOENCODER_KIND);
    return buildFromParts(reader, [AUTOENCODER_PART], (parts) => {
      ConvAutoencoder.checkStoredParts(reader.store.label, reader.manifest.config, parts);
      return new ConvAutoencoder(reader.manifest.config, parts[AUTOENCODER_PART]);
    });
  }

  protected disposeModel(): void {
    this.model.dispose();
  }
}
