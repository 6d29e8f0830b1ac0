/**
 * The autoencoder family (issue 4): stacked, tied (DenseTranspose), denoising, sparse (KL or L1 activity),
 * contractive and linear autoencoders,
 * greedy layer-wise pretraining, and a classifier over a pretrained encoder.
 */
export {
  Autoencoder,
  ContractiveAutoencoder,
  StackedAutoencoder,
  TiedAutoencoder,
  DenoisingAutoencoder,
  SparseAutoencoder,
  LinearAutoencoder,
  AUTOENCODER_CLASSES,
  AUTOENCODER_PART,
  loadAutoencoder,
  type AutoencoderClass,
  type AutoencoderEvaluation,
  type AutoencoderFitOptions,
  type AutoencoderVariant,
  type ForwardOptions,
} from './autoencoder';
export {
  ConvAutoencoder,
  CONV_AUTOENCODER_KIND,
  resolveConvAutoencoderConfig,
  type ConvAutoencoderConfig,
  type ResolvedConvAutoencoderConfig,
} from './conv-autoencoder';
export {
  resolveAutoencoderConfig,
  type AutoencoderConfig,
  type NoiseConfig,
  type ResolvedAutoencoderConfig,
  type SparsityConfig,
} from './config';
export { activationDerivative, contractivePenalty, encoderJacobian, type DenseStep } from './contractive';
export {
  BCE_EPSILON,
  activityL1Penalty,
  RECONSTRUCTION_LOSSES,
  bernoulliKl,
  binaryCrossentropy,
  meanSquaredError,
  reconstructionLoss,
  roundedAccuracy,
  sparseSoftmaxCrossentropy,
  sparsityPenalty,
  type ReconstructionLoss,
} from './losses';
export {
  shallowAutoencoderConfig,
  trainGreedyLayerwise,
  type GreedyLayerwiseOptions,
  type GreedyLayerwiseResult,
} from './greedy';
export {
  EncoderClassifier,
  ENCODER_CLASSIFIER_KIND,
  type ClassifierFitOptions,
  type EncoderClassifierConfig,
  type ResolvedEncoderClassifierConfig,
} from './classifier';
