/**
 * Loading any gm checkpoint as the model that wrote it: the manifest's kind picks the class. Apps (the CLI, the
 * web demo) load through this, so a new model family is one more entry here.
 */
import { GmError, type CheckpointStore, type GenerativeModel } from '@gm/core';
import { AUTOENCODER_CLASSES, loadAutoencoder } from './autoencoders/autoencoder';
import { CONV_AUTOENCODER_KIND, ConvAutoencoder } from './autoencoders/conv-autoencoder';
import { IAF_VAE_CHECKPOINT_KIND, IafVae } from './iaf/iaf-vae';
import { readCheckpoint } from './io/checkpoint';
import { MADE, MADE_CHECKPOINT_KIND } from './made/made';
import { REALNVP_IMAGE_CHECKPOINT_KIND, RealNVPImage } from './realnvp/realnvp-image';
import { REALNVP_CHECKPOINT_KIND, RealNVP } from './realnvp/realnvp';
import { SPLINE_FLOW_CHECKPOINT_KIND, SplineFlow } from './nsf/spline-flow';
import { GLOW_CHECKPOINT_KIND, Glow } from './glow/glow';
import { MAF_CHECKPOINT_KIND, MAF } from './maf/maf';
import { VAE, VAE_CHECKPOINT_KIND } from './vae/vae';

/** Checkpoint kind → how to load it. */
export const MODEL_LOADERS: Readonly<Record<string, (store: CheckpointStore) => Promise<GenerativeModel>>> = {
  [VAE_CHECKPOINT_KIND]: (s) => VAE.load(s),
  [IAF_VAE_CHECKPOINT_KIND]: (s) => IafVae.load(s),
  [MADE_CHECKPOINT_KIND]: (s) => MADE.load(s),
  [REALNVP_CHECKPOINT_KIND]: (s) => RealNVP.load(s),
  [REALNVP_IMAGE_CHECKPOINT_KIND]: (s) => RealNVPImage.load(s),
  [SPLINE_FLOW_CHECKPOINT_KIND]: (s) => SplineFlow.load(s),
  [GLOW_CHECKPOINT_KIND]: (s) => Glow.load(s),
  [MAF_CHECKPOINT_KIND]: (s) => MAF.load(s),
  [CONV_AUTOENCODER_KIND]: (s) => ConvAutoencoder.load(s),
  ...Object.fromEntries(AUTOENCODER_CLASSES.map((c) => [c.variant.kind, (s: CheckpointStore) => loadAutoencoder(s)])),
};

/**
 * Loads the checkpoint in `store` as whichever gm model wrote it.
 *
 * @example
 * ```ts
 * const model = await loadModel(urlStore('/models/vae'));
 * model.describe(); // "VAE, MLP 784-512-256-32, …"
 * ```
 */
export async function loadModel(store: CheckpointStore): Promise<GenerativeModel> {
  const { manifest } = await readCheckpoint(store);
  const load = MODEL_LOADERS[manifest.kind];
  if (load === undefined) {
    throw new GmError('WRONG_KIND', `${store.label}/gm-checkpoint.json`, `holds a "${manifest.kind}", which is not a gm model (known: ${Object.keys(MODEL_LOADERS).join(', ')})`);
  }
  return load(store);
}
