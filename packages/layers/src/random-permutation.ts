import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, serialization } from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { GmError, permutation, type Bijector } from '@gm/core';
import { buildLayer, oneShape, oneTensor, type BaseLayerArgs, type Kwargs, type Shape } from './util';

/** `gather(x, index)` on the last axis whose gradient is the gather by the inverse permutation (tfjs's own gather
 * gradient needs UnsortedSegmentSum, which the wasm backend lacks). */
function permuteLastAxis(x: Tensor, index: Tensor, inverse: Tensor): Tensor {
  const axis = x.rank - 1;
  const permute = tf.customGrad((input) => ({ value: tf.gather(input as Tensor, index, axis), gradFunc: (dy: Tensor) => tf.gather(dy, inverse, axis) }));
  return permute(x);
}

export interface RandomPermutationArgs extends BaseLayerArgs {
  /** Seed of the permutation (a non-negative integer; saved in the layer's config, so a loaded layer permutes alike). */
  seed: number;
}

/**
 * A fixed, seeded shuffle of the last axis: `y[..., i] = x[..., perm[i]]`, log-det 0. Between the couplings of a flow
 * on long vectors (flattened images) it lets every dimension be transformed conditioned on every other over a few
 * steps — the mixing the neural-spline-flow paper uses for high dimensions, where a learned D×D `Invertible1x1`
 * costs O(D³) to invert and is unstable at Adam's default rate. The permutation follows from the seed alone
 * (@gm/core's `permutation`), so it is the same on every machine.
 */
export class RandomPermutation extends layers.Layer implements Bijector {
  static className = 'GmRandomPermutation';
  static readonly gmLayer = true;

  readonly seed: number;
  private forwardIndex: Tensor | undefined;
  private inverseIndex: Tensor | undefined;

  constructor(args: RandomPermutationArgs) {
    super(args);
    if (typeof args?.seed !== 'number' || !Number.isInteger(args.seed) || args.seed < 0) {
      throw new GmError('BAD_ARGUMENT', `RandomPermutation "${this.name}": seed`, 'a non-negative integer', args?.seed);
    }
    this.seed = args.seed;
    if (this.batchInputShape !== null && this.batchInputShape !== undefined) buildLayer(this, this.batchInputShape);
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = oneShape(inputShape, `RandomPermutation "${this.name}"`);
    const d = shape[shape.length - 1];
    if (shape.length < 2 || typeof d !== 'number' || d < 2) {
      throw new GmError('BAD_SHAPE', `RandomPermutation "${this.name}"`, 'an input whose last dimension is known and at least 2', `[${shape.map(String).join(', ')}]`);
    }
    const perm = permutation(d, this.seed);
    const inverse = new Int32Array(d);
    perm.forEach((from, i) => (inverse[from] = i));
    this.disposeIndices();
    this.forwardIndex = tf.keep(tf.tensor1d(Int32Array.from(perm), 'int32'));
    this.inverseIndex = tf.keep(tf.tensor1d(inverse, 'int32'));
    this.built = true;
  }

  /** The permutation: output i reads input `perm[i]`. */
  get permutation(): Int32Array {
    return this.forwardIndex === undefined ? new Int32Array(0) : (this.forwardIndex.dataSync() as Int32Array).slice();
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return oneShape(inputShape, `RandomPermutation "${this.name}"`);
  }

  override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
    return this.forward(oneTensor(inputs, `RandomPermutation "${this.name}"`)).y;
  }

  forward(x: Tensor): { y: Tensor; logDet: Tensor } {
    buildLayer(this, x.shape);
    return tf.tidy(() => ({ y: permuteLastAxis(x, this.forwardIndex as Tensor, this.inverseIndex as Tensor), logDet: tf.zeros([x.shape[0] as number]) }));
  }

  inverse(y: Tensor): { x: Tensor; logDet: Tensor } {
    buildLayer(this, y.shape);
    return tf.tidy(() => ({ x: permuteLastAxis(y, this.inverseIndex as Tensor, this.forwardIndex as Tensor), logDet: tf.zeros([y.shape[0] as number]) }));
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }

  protected override disposeWeights(): number {
    this.disposeIndices();
    return super.disposeWeights();
  }

  private disposeIndices(): void {
    this.forwardIndex?.dispose();
    this.inverseIndex?.dispose();
    this.forwardIndex = undefined;
    this.inverseIndex = undefined;
  }
}
