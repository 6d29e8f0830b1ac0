export type { Distribution, SampleWithLogProb, DistributionOptions } from './distribution';
export { Normal, StandardNormal, klDivergence } from './normal';
export { Bernoulli } from './bernoulli';
export {
  DiscretizedLogistic,
  DiscretizedLogisticMixture,
  discretizedLogisticLogProbElementwise,
  toBinCenters,
  fromBinCenters,
  type DiscretizedOptions,
} from './discretized-logistic';
export {
  elbo,
  importanceSampledLogLikelihood,
  type LatentVariableModel,
  type Posterior,
  type ElboOptions,
  type ElboResult,
  type ImportanceSamplingOptions,
} from './elbo';
export { bitsPerDim, type BitsPerDimOptions } from './bits';
export { logMeanExp, log1mexp } from './util';
export { randomStandardNormal } from './seed';
