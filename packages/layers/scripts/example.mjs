// The README's example, runnable after `npx tsup`: node scripts/example.mjs
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { AffineCoupling, DenseTranspose, madeDegrees, MaskedDense, outputDegrees, registerGmLayers, resampleMadeMasks } from '@gm/layers';

await tf.setBackend('cpu');
registerGmLayers();

const d1 = tfl.layers.dense({ units: 100, activation: 'selu', inputShape: [784] });
const d2 = tfl.layers.dense({ units: 30, activation: 'selu' });
const tiedAe = tfl.sequential({
  layers: [d1, d2, new DenseTranspose({ tiedTo: d2, activation: 'selu' }), new DenseTranspose({ tiedTo: d1, activation: 'sigmoid' })],
});
console.log('tied AE weights:', tiedAe.weights.length);

const coupling = new AffineCoupling({ mask: 'alternating', hidden: [64, 64], seed: 1 });
const x = tf.randomNormal([8, 4]);
const { y, logDet } = coupling.forward(x);
const back = coupling.inverse(y).x;
console.log('fresh coupling: max|y−x| =', tf.max(tf.abs(tf.sub(y, x))).dataSync()[0], 'logDet =', Array.from(logDet.dataSync()));
console.log('max|inverse(y)−x| =', tf.max(tf.abs(tf.sub(back, x))).dataSync()[0]);

const D = 784;
const deg = madeDegrees({ inputSize: D, hiddenSizes: [500], ordering: 'random', seed: 1 });
const input = tfl.input({ shape: [D] });
const hidden = new MaskedDense({ units: 500, inputDegrees: deg[0], outputDegrees: deg[1], activation: 'relu' });
const out = new MaskedDense({ units: 2 * D, inputDegrees: deg[1], outputDegrees: outputDegrees(deg[0], 2), maskType: 'output', directDegrees: deg[0] });
const params = out.apply([hidden.apply(input), input]);
console.log('MADE output shape:', params.shape);
resampleMadeMasks([hidden, out], { seed: 2 });
console.log('resampled hidden degrees (first 10):', hidden.degrees.outputDegrees.slice(0, 10));
