#!/usr/bin/env node
/**
 * The README's MADE and IAF-VAE examples, runnable (small sizes): `npx tsup && node scripts/made-iaf-example.mjs`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { initBackend } from '@gm/backend';
import { binarizeStatic } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { importanceSampledLogLikelihood } from '@gm/metrics';
import { decodeAutoregressive, encodeAutoregressive } from '@gm/bitsback';
import { IafVae, MADE } from '@gm/models';

await initBackend(); // wasm with the fast MatMul kernels in Node
const { train, test } = loadBundledMnist();
const xTrain = tf.tensor2d(binarizeStatic(train.images.subarray(0, 1000 * 784)), [1000, 784]);
const testBits = binarizeStatic(test.images.subarray(0, 100 * 784));
const xTest = tf.tensor2d(testBits, [100, 784]);

// MADE with a pool of 4 masks (connectivity-agnostic training), 1-mask vs ensemble NLL, samples, compression.
const made = new MADE({ inputSize: 784, hidden: [200], masks: 4, seed: 1 });
made.fit(xTrain, { epochs: 1, batchSize: 100, onEpochEnd: (l) => console.log(`MADE epoch ${l.epoch}: ${l.loss.toFixed(1)} nats`) });
console.log('MADE test NLL, mask 0:', made.negativeLogLikelihood(xTest).toFixed(2));
console.log('MADE test NLL, 4-mask ensemble:', made.negativeLogLikelihood(xTest, { ensemble: true }).toFixed(2));
const samples = made.sample(4, { seed: 2 }); // [4, 784] exact samples
samples.dispose();
const codecModel = made.toCodecModel();
const bytes = encodeAutoregressive(testBits.subarray(0, 10 * 784), codecModel, { batch: 10 });
const back = decodeAutoregressive(bytes, codecModel, 10, { batch: 10 });
console.log(`MADE codec: ${((bytes.length * 8) / (10 * 784)).toFixed(4)} bits/dim, exact: ${back.every((v, i) => v === testBits[i])}`);
await made.save('/tmp/gm-example/made');
(await MADE.load('/tmp/gm-example/made')).dispose();
made.dispose();

// IAF-VAE: the reference VAE 784-100-40 plus a 50-unit context and 2 IAF steps.
const iaf = new IafVae({ inputShape: [784], hidden: [100], latentDim: 40, flowSteps: 2, contextSize: 50, seed: 1 });
iaf.fit(xTrain, { epochs: 1, batchSize: 100 });
console.log('IAF-VAE test −ELBO:', iaf.negativeElbo(xTest, { samples: 10 }).toFixed(2));
const ll = importanceSampledLogLikelihood(iaf, xTest, 100, { seed: 3 });
console.log('IAF-VAE test IS log-likelihood (k = 100):', tf.mean(ll).dataSync()[0].toFixed(2));
ll.dispose();
await iaf.save('/tmp/gm-example/iaf-vae');
(await IafVae.load('/tmp/gm-example/iaf-vae')).dispose();
iaf.dispose();
