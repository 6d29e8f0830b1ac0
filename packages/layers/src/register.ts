import { serialization } from '@tensorflow/tfjs-core';
import { AffineCoupling } from './affine-coupling';
import { DenseTranspose } from './dense-transpose';
import { FlowBatchNorm } from './flow-batch-norm';
import { MaskedDense } from './masked-dense';
import { Sampling } from './sampling';
import { ResidualCoupling } from './residual-coupling';
import { Squeeze } from './squeeze';
import { SplineCoupling } from './spline-coupling';
import { ActNorm } from './act-norm';
import { Invertible1x1 } from './invertible-1x1';
import { ContextAffine } from './context-affine';
import { RandomPermutation } from './random-permutation';

/** Package name gm's classes are registered under (core's custom-object key becomes `gm>ClassName`). */
export const GM_PACKAGE = 'gm';

/** Every custom layer class of @gm/layers. */
export const GM_LAYER_CLASSES = [DenseTranspose, Sampling, MaskedDense, AffineCoupling, ResidualCoupling, SplineCoupling, ActNorm, Invertible1x1, ContextAffine, Squeeze, FlowBatchNorm, RandomPermutation] as const;

/**
 * Registers gm's layers with TensorFlow.js serialization so that saved models containing them load again. Call it
 * once before `tf.loadLayersModel` / `tf.models.modelFromJSON` (it is idempotent). It is an explicit function, not
 * an import side effect, so bundlers cannot tree-shake the registration away.
 *
 * How tfjs 4.22 names them: `registerClass(cls, 'gm')` files each class under `gm>ClassName` in tfjs-core's custom
 * object map, but tfjs-layers writes the bare `static className` into saved configs and looks it up in a map keyed by
 * the bare name. So the bare names must be unique across everything registered in the process; gm's all start with
 * `Gm` (`GmDenseTranspose`, `GmSampling`, …) and this function refuses to replace a foreign class of the same name.
 *
 * @returns the registered class names.
 */
export function registerGmLayers(): string[] {
  const map = serialization.SerializationMap.getMap().classNameMap;
  for (const cls of GM_LAYER_CLASSES) {
    const existing = map[cls.className]?.[0] as { gmLayer?: unknown } | undefined;
    if (existing !== undefined && existing !== (cls as unknown) && existing.gmLayer !== true) {
      throw new Error(`registerGmLayers: another class is already registered as "${cls.className}"`);
    }
    serialization.registerClass(cls as unknown as serialization.SerializableConstructor<serialization.Serializable>, GM_PACKAGE);
  }
  return GM_LAYER_CLASSES.map((c) => c.className);
}
