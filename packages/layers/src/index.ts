export { Chain, Invert, ElementwiseBijector, sumToBatch, trainableVariablesOf, stateVariablesOf, type Bijector, type BijectorOptions } from './bijector';
export { TransformedDistribution, type TransformedDistributionOptions } from './transformed-distribution';
export { Logit, type LogitArgs } from './logit';
export { UniformDequantization, type UniformDequantizationArgs } from './dequantize';
export { MultiScale } from './multi-scale';
export { GatedIafStep, type GatedIafStepArgs, type IafStepSlots } from './iaf-step';
export { ResidualCoupling, type ResidualCouplingArgs } from './residual-coupling';
export { DenseTranspose, tieDenseTransposeLayers, type DenseTransposeArgs } from './dense-transpose';
export { Sampling, type SamplingArgs } from './sampling';
export {
  inputDegrees,
  hiddenDegrees,
  madeDegrees,
  maskFromDegrees,
  outputDegrees,
  type Ordering,
  type HiddenDegreeMode,
  type MadeDegreesOptions,
} from './made';
export {
  MaskedDense,
  resampleMadeMasks,
  type MaskedDenseArgs,
  type MaskedDenseDegrees,
  type MaskType,
  type ResampleMadeOptions,
} from './masked-dense';
export { AffineCoupling, couplingMask, type AffineCouplingArgs, type CouplingMask } from './affine-coupling';
export { conv2dSame, conv2dSameBias, conv2dSameIm2col } from './conv-same';
export { SplineCoupling, type SplineCouplingArgs } from './spline-coupling';
export { ActNorm, type ActNormArgs } from './act-norm';
export { RandomPermutation, type RandomPermutationArgs } from './random-permutation';
export {
  AmortizedPlanarFlow,
  AmortizedRadialFlow,
  PlanarFlow,
  RadialFlow,
  planarParameters,
  planarParameterSize,
  radialParameters,
  radialParameterSize,
  type AmortizedPlanarRadialArgs,
  type ParameterNetwork,
  type PlanarRadialArgs,
} from './planar-radial';
export { MaskedAutoregressiveFlow, inverseAutoregressiveFlow, type MaskedAutoregressiveArgs } from './masked-autoregressive';
export { resolveConditionerArgs, type ConditionerArgs } from './conditioner';
export { Invertible1x1, type Invertible1x1Args } from './invertible-1x1';
export { ContextAffine, type ContextAffineArgs } from './context-affine';
export {
  rationalQuadraticForward,
  rationalQuadraticInverse,
  rqParamsPerElement,
  RQ_IDENTITY_DERIVATIVE,
  type RationalQuadraticOptions,
} from './rational-quadratic';
export { Squeeze, type SqueezeArgs } from './squeeze';
export { FlowBatchNorm, type FlowBatchNormArgs } from './flow-batch-norm';
export { registerGmLayers, GM_LAYER_CLASSES, GM_PACKAGE } from './register';
export { ACTIVATIONS, type Activation, type Kwargs, type Shape } from './util';
export { portableDenseColumns, portableNetwork } from './portable';
export { fusedDenseLayer, fusedNetwork } from './fused-network';
