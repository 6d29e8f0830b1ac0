/**
 * The names and one-line summaries of the models `gm train` knows, without loading TensorFlow.js (for --help and
 * argument errors). registry.ts builds one entry per name here and checks that the two lists agree.
 */
export const MODEL_SUMMARIES = [
  { name: 'vae', summary: 'variational autoencoder (MLP or conv; bernoulli, discretized-logistic (-mixture) or gaussian likelihood; ELBO, β-VAE or IWAE objective)' },
  { name: 'stacked-ae', summary: 'stacked autoencoder (SELU, sigmoid output, binary cross-entropy)' },
  { name: 'tied-ae', summary: 'autoencoder with decoder weights tied to the encoder (DenseTranspose)' },
  { name: 'denoising-ae', summary: 'denoising autoencoder (Gaussian noise and/or dropout on the inputs while training)' },
  { name: 'sparse-ae', summary: 'sparse autoencoder (sigmoid codings, KL penalty toward a target activation, or --activity-l1)' },
  { name: 'linear-ae', summary: 'linear autoencoder with mean squared error (spans the PCA subspace)' },
  { name: 'contractive-ae', summary: 'contractive autoencoder: penalty λ‖∂codings/∂x‖² on the encoder Jacobian (--contractive 1e-3)' },
  { name: 'conv-ae', summary: "Géron's convolutional autoencoder: 3×3 convolutions and max-pooling down (--filters 16,32,64), transposed convolutions up" },
  { name: 'made', summary: 'MADE: masked autoencoder for distribution estimation (exact likelihood of binary pixels)' },
  { name: 'iaf-vae', summary: 'VAE whose posterior is sharpened by flow steps: IAF (default), planar or radial (--posterior-flow, --flow-steps)' },
  { name: 'realnvp', summary: 'multi-scale Real NVP flow on 8-bit images (exact dequantized likelihood; --filters 32)' },
  { name: 'maf', summary: 'masked autoregressive flow on the flattened 8-bit pixels (--flow-steps 5, --hidden 1024; --transform spline: autoregressive NSF)' },
  { name: 'nsf', summary: 'neural spline flow (rational-quadratic couplings) on the flattened 8-bit pixels (--flow-steps 4, --hidden 512)' },
  { name: 'glow', summary: 'Glow flow on 8-bit images: ActNorm, 1×1 convolutions, learned priors (--condition label for one per class)' },
] as const;

export type ModelName = (typeof MODEL_SUMMARIES)[number]['name'];

export function summaryOf(name: ModelName): string {
  return (MODEL_SUMMARIES.find((m) => m.name === name) as (typeof MODEL_SUMMARIES)[number]).summary;
}
