/** Small shared helpers: activations, optional arguments and config plumbing (checks and randomness: @gm/core). */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { initializers } from '@tensorflow/tfjs-layers';
import type { layers } from '@tensorflow/tfjs-layers';
import { checkBoolean, checkInteger } from '@gm/core';
import { applyDenseActivation } from '@gm/core/ops';

/** Constructor arguments every tfjs layer accepts (name, trainable, inputShape, batchInputShape, dtype, …). */
export type BaseLayerArgs = NonNullable<ConstructorParameters<typeof layers.Layer>[0]>;

/** Element-wise activations the gm layers accept. Names are single lowercase words so they survive the
 * snake_case ⇄ camelCase conversion tfjs-layers applies to every string in a saved config. */
export type Activation = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'selu' | 'elu' | 'softplus' | 'softmax';

/** Every activation name gm's layers accept. */
export const ACTIVATIONS: readonly Activation[] = [
  'linear',
  'relu',
  'sigmoid',
  'tanh',
  'selu',
  'elu',
  'softplus',
  'softmax',
];

export function parseActivation(value: unknown, where: string): Activation {
  if (value === undefined || value === null) return 'linear';
  if (typeof value === 'string' && (ACTIVATIONS as readonly string[]).includes(value)) return value as Activation;
  throw new Error(`${where}: activation must be one of ${ACTIVATIONS.join(', ')}; got ${JSON.stringify(value)}`);
}

/** Applies an activation (a no-op for 'linear', so no op is spent on it); the fused layer's own set from @gm/core/ops. */
export function activate(name: Activation, x: Tensor): Tensor {
  if (name === 'selu') return tf.selu(x);
  if (name === 'softmax') return tf.softmax(x);
  return applyDenseActivation(name, x);
}

/** An optional integer seed (undefined when absent); throws a GmError naming `where` otherwise. */
export function optionalSeed(where: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  checkInteger(`${where}: seed`, value);
  return value;
}

/** An optional boolean with a default; throws a GmError naming `where` when it is not a boolean. */
export function optionalBoolean(where: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  checkBoolean(where, value);
  return value;
}

/** Glorot-uniform initializer, seeded when a seed is given (each weight gets its own offset of the seed). */
export function glorot(seed: number | undefined, offset: number) {
  return initializers.glorotUniform(seed === undefined ? {} : { seed: seed + offset });
}

export const zeros = () => initializers.zeros();
export const ones = () => initializers.ones();

/** The single tensor of a layer's inputs, with a clear error otherwise. */
export function oneTensor(inputs: Tensor | Tensor[], where: string): Tensor {
  if (Array.isArray(inputs)) {
    if (inputs.length !== 1) throw new Error(`${where}: expected one input tensor; got ${inputs.length}`);
    return inputs[0] as Tensor;
  }
  return inputs;
}

/** The training flag from a layer's kwargs (tfjs passes `training` as a boolean, or not at all). */
export function isTraining(kwargs: { training?: unknown } | undefined): boolean {
  return kwargs?.training === true;
}

/** A tfjs-layers shape: `null` for the batch (or any unknown) dimension. */
export type Shape = (number | null)[];

/** The keyword arguments tfjs-layers passes to a layer's `call` / `apply` (e.g. `{ training: true }`). */
export type Kwargs = Record<string, unknown>;

/** Normalises a `computeOutputShape` / `build` argument that must be one shape. */
export function oneShape(inputShape: Shape | Shape[], where: string): Shape {
  if (Array.isArray(inputShape[0]) || (inputShape.length > 0 && inputShape.every((s) => Array.isArray(s)))) {
    const shapes = inputShape as Shape[];
    if (shapes.length !== 1) throw new Error(`${where}: expected one input; got ${shapes.length}`);
    return shapes[0] as Shape;
  }
  return inputShape as Shape;
}

/** Normalises a `computeOutputShape` / `build` argument into a list of shapes. */
export function shapeList(inputShape: Shape | Shape[]): Shape[] {
  if (inputShape.length > 0 && inputShape.every((s) => Array.isArray(s))) return inputShape as Shape[];
  return [inputShape as Shape];
}

/**
 * Builds a layer's weights now — at construction when its input shape is known, or on the first use as a bijector —
 * by applying it once to zeros, as tfjs does on a first call: the weights get their scoped names (which saving and
 * loading match on) and the layer counts as used (so `dispose()` frees them). `extra` adds inputs after the main one
 * (a context of that width).
 */
export function buildLayer(layer: layers.Layer, inputShape: readonly (number | null)[], extra: readonly number[] = []): void {
  if (layer.built) return;
  const shape = inputShape.slice(1).map((d) => d ?? 1);
  tf.tidy(() => {
    const x = tf.zeros([1, ...shape]);
    layer.apply(extra.length === 0 ? x : [x, ...extra.map((w) => tf.zeros([1, w]))]);
  });
}

/**
 * The log-det per example of a per-channel (last-axis) scaling of `x`: `Σ_channels log|scale|` (given as
 * `sumLogScale`, a scalar) times the positions per example (H·W for images, 1 for vectors), as `[batch]`.
 */
export function channelwiseLogDet(x: Tensor, sumLogScale: Tensor): Tensor {
  const positions = x.size / (x.shape[0] as number) / (x.shape[x.rank - 1] as number);
  return tf.broadcastTo(tf.reshape(tf.mul(sumLogScale, positions), [1]), [x.shape[0] as number]);
}
