/**
 * The conditioner of a coupling layer: the small network that reads the conditioning half (and an optional context)
 * and outputs the transform's parameters. Dense layers for vectors, 'same'-padded convolutions for images; the last
 * layer starts at zero, so a fresh coupling outputs constant parameters (the identity, for gm's couplings).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { checkPositiveInt, checkPositiveIntArray, GmError } from '@gm/core';
import { conv2dSameBias } from './conv-same';
import { activate, glorot, optionalSeed, parseActivation, zeros, type Activation } from './util';

/** What a coupling layer's constructor takes for its conditioner. */
export interface ConditionerArgs {
  hidden?: number[];
  activation?: Activation;
  seed?: number | null;
  contextSize?: number | null;
}

/** A coupling layer's conditioner arguments, checked (`where` names the layer): hidden defaults to [64, 64], relu. */
export function resolveConditionerArgs(where: string, args: ConditionerArgs): { hidden: number[]; activation: Activation; seed: number | undefined; contextSize: number | undefined } {
  const hidden = args.hidden ?? [64, 64];
  if (!Array.isArray(hidden)) throw new GmError('BAD_ARGUMENT', `${where}: hidden`, 'an array of widths', hidden);
  if (args.contextSize !== undefined && args.contextSize !== null) checkPositiveInt(`${where}: contextSize`, args.contextSize);
  return {
    hidden: checkPositiveIntArray(`${where}: hidden`, hidden, { allowEmpty: true }),
    activation: parseActivation(args.activation ?? 'relu', where),
    seed: optionalSeed(where, args.seed),
    contextSize: args.contextSize ?? undefined,
  };
}

export interface ConditionerShape {
  /** Width of the conditioning input (features or channels), context excluded. */
  inWidth: number;
  hidden: readonly number[];
  /** Width of the output (features or channels). */
  outWidth: number;
  /** Conv kernel size for images; undefined for vectors. */
  kernelSize?: number;
  contextSize?: number;
  seed?: number;
}

/** The weights of a conditioner, created on `layer` (so they are its trainable weights and saved with it). */
export interface ConditionerWeights {
  kernels: LayerVariable[];
  biases: LayerVariable[];
  isImage: boolean;
  contextSize: number | undefined;
}

/** A layer's `addWeight` (protected in tfjs, so layers hand it over as a function). */
export type AddWeight = (name: string, shape: number[], initializer: ReturnType<typeof zeros>) => LayerVariable;

/** Adds the conditioner's weights to a layer (through its `addWeight`): Glorot-uniform hidden layers, a zero last layer. */
export function addConditioner(addWeight: AddWeight, shape: ConditionerShape): ConditionerWeights {
  const isImage = shape.kernelSize !== undefined;
  const ks = shape.kernelSize ?? 1;
  const kernels: LayerVariable[] = [];
  const biases: LayerVariable[] = [];
  let inWidth = shape.inWidth + (shape.contextSize ?? 0);
  shape.hidden.forEach((width, i) => {
    kernels.push(addWeight(`kernel_${i}`, isImage ? [ks, ks, inWidth, width] : [inWidth, width], glorot(shape.seed, i)));
    biases.push(addWeight(`bias_${i}`, [width], zeros()));
    inWidth = width;
  });
  kernels.push(addWeight('kernel_out', isImage ? [ks, ks, inWidth, shape.outWidth] : [inWidth, shape.outWidth], zeros()));
  biases.push(addWeight('bias_out', [shape.outWidth], zeros()));
  return { kernels, biases, isImage, contextSize: shape.contextSize };
}

/**
 * Runs the conditioner on `h` (`[batch, D]` or `[batch, H, W, C]`) with the context, when the layer has one
 * (vectors: concatenated; images: tiled over the pixels as extra channels). `where` names the layer in errors.
 */
export function runConditioner(weights: ConditionerWeights, activation: Activation, h: Tensor, context: Tensor | undefined, where: string): Tensor {
  const { contextSize, isImage } = weights;
  if ((context === undefined) !== (contextSize === undefined)) {
    throw new GmError('BAD_ARGUMENT', where, contextSize === undefined ? 'was built without contextSize: pass no context' : `needs a context [batch, ${contextSize}] (options.context)`);
  }
  if (context !== undefined) {
    if (context.rank !== 2 || context.shape[1] !== contextSize || context.shape[0] !== h.shape[0]) {
      throw new GmError('BAD_SHAPE', where, `context has shape [${context.shape.join(', ')}], expected [${h.shape[0]}, ${contextSize}]`);
    }
    const c = isImage
      ? tf.tile(tf.reshape(context, [context.shape[0] as number, 1, 1, contextSize as number]), [1, h.shape[1] as number, h.shape[2] as number, 1])
      : context;
    h = tf.concat([h, c], -1);
  }
  const last = weights.kernels.length - 1;
  for (let i = 0; i <= last; i++) {
    const kernel = (weights.kernels[i] as LayerVariable).read();
    const bias = (weights.biases[i] as LayerVariable).read();
    h = isImage ? conv2dSameBias(h as tf.Tensor4D, kernel as tf.Tensor4D, bias) : tf.add(tf.matMul(h, kernel), bias);
    if (i < last) h = activate(activation, h);
  }
  return h;
}
