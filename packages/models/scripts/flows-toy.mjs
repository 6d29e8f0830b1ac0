#!/usr/bin/env node
/**
 * Every flow of @gm/layers on the 2-D toy sets with one training budget (issue 17's toy table). From
 * packages/models, after `npx tsup` in layers and models:
 *
 *   node scripts/flows-toy.mjs <out-dir> [--epochs 30] [--train 8000] [--test 2000] [--seed 1] [--batch 256] [--lr 1e-3]
 *        [--sets moons,rings,mixture,eight-gaussians,checkerboard] [--flows realnvp,glow,maf,nsf,nsf-ar]
 *
 * Each flow is composed from bijectors under a TransformedDistribution with a standard-Normal base and trained by
 * @gm/models' `fit` (Adam, clipNorm 100) — the same epochs, batch, learning rate and data for every flow:
 *   realnvp  8 affine couplings (alternating masks, dense 64-64 nets)
 *   glow     4 × [ActNorm, invertible 1×1 (LU), affine coupling 64-64]
 *   maf      5 MAF steps (MADE 64-64, alternating orders)
 *   nsf      4 rational-quadratic spline couplings (8 bins on [−4, 4], dense 64-64 nets)
 *   nsf-ar   4 autoregressive rational-quadratic spline steps (MADE 64-64, same splines, alternating orders)
 * Prints the test NLL (nats per point) per set and flow and writes `<set>-<flow>.png` (data | density | samples),
 * `sheet.png` (all of them at half size: a row per set, a column per flow) and results.json. `--sheet-only` rebuilds
 * `sheet.png` from the pictures already in <out-dir>.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { gmAdam, initBackend } from '@gm/backend';
import { ActNorm, AffineCoupling, Chain, Invertible1x1, MaskedAutoregressiveFlow, SplineCoupling, TransformedDistribution } from '@gm/layers';
import { StandardNormal } from '@gm/metrics';
import { fit } from '@gm/models';
import { histogram, TOY_SETS, writePanels, writeSheet } from './realnvp-lib.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    epochs: { type: 'string', default: '30' },
    train: { type: 'string', default: '8000' },
    test: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '1' },
    batch: { type: 'string', default: '256' },
    lr: { type: 'string', default: '1e-3' },
    sets: { type: 'string', default: 'moons,rings,mixture,eight-gaussians,checkerboard' },
    flows: { type: 'string', default: 'realnvp,glow,maf,nsf,nsf-ar' },
    'sheet-only': { type: 'boolean', default: false },
  },
});
const out = positionals[0] ?? 'flows-toy-out';
fs.mkdirSync(out, { recursive: true });
const sheet = () => writeSheet(path.join(out, 'sheet.png'), values.sets.split(',').map((set) => values.flows.split(',').map((flow) => path.join(out, `${set}-${flow}.png`))));
if (values['sheet-only']) {
  sheet();
  process.exit(0);
}
const choice = await initBackend();
console.log(`backend: ${choice.summary}`);
const [epochs, nTrain, nTest, seed, batchSize, learningRate] = ['epochs', 'train', 'test', 'seed', 'batch', 'lr'].map((k) => Number(values[k]));

const SETS = TOY_SETS;
const FLOWS = {
  realnvp: (s) => Array.from({ length: 8 }, (_, i) => new AffineCoupling({ inputShape: [2], mask: 'alternating', invertMask: i % 2 === 1, hidden: [64, 64], seed: s + i })),
  glow: (s) =>
    Array.from({ length: 4 }, (_, i) => [
      new ActNorm({ inputShape: [2] }),
      new Invertible1x1({ inputShape: [2], seed: s + 10 + i }),
      new AffineCoupling({ inputShape: [2], mask: 'half', invertMask: i % 2 === 1, hidden: [64, 64], seed: s + i }),
    ]).flat(),
  maf: (s) => Array.from({ length: 5 }, (_, i) => new MaskedAutoregressiveFlow({ dim: 2, hidden: [64, 64], ordering: i % 2 === 0 ? 'natural' : 'reversed', seed: s + i })),
  nsf: (s) => Array.from({ length: 4 }, (_, i) => new SplineCoupling({ inputShape: [2], bins: 8, bound: 4, invertMask: i % 2 === 1, hidden: [64, 64], seed: s + i })),
  'nsf-ar': (s) => Array.from({ length: 4 }, (_, i) => new MaskedAutoregressiveFlow({ dim: 2, hidden: [64, 64], transform: 'spline', bins: 8, bound: 4, ordering: i % 2 === 0 ? 'natural' : 'reversed', seed: s + i })),
};

const results = {};
for (const setName of values.sets.split(',')) {
  const set = SETS[setName];
  if (set === undefined) throw new Error(`--sets: unknown set "${setName}" (${Object.keys(SETS).join(', ')})`);
  const train = tf.tensor2d(set.make(nTrain, seed).points, [nTrain, 2]);
  const test = tf.tensor2d(set.make(nTest, seed + 1000).points, [nTest, 2]);
  const dataHist = histogram(set.make(8000, seed + 2000).points, 200, set.box);
  results[setName] = {};
  for (const flowName of values.flows.split(',')) {
    const make = FLOWS[flowName];
    if (make === undefined) throw new Error(`--flows: unknown flow "${flowName}" (${Object.keys(FLOWS).join(', ')})`);
    const steps = make(seed);
    const flow = new TransformedDistribution(new StandardNormal([2]), new Chain(steps));
    const variables = flow.bijector.trainableVariables();
    const parameters = variables.reduce((a, v) => a + v.size, 0);
    const model = { trainableVariables: () => variables, loss: ({ x }) => tf.neg(tf.mean(flow.logProb(x, { training: true }))) };
    const t0 = performance.now();
    await fit(model, train, { epochs, batchSize, learningRate, optimizer: gmAdam, clipNorm: 100, seed });
    const seconds = (performance.now() - t0) / 1000;
    const testNll = tf.tidy(() => -tf.mean(flow.logProb(test)).dataSync()[0]);
    // data | density on the box | samples
    const res = 200;
    const [x0, x1, y0, y1] = set.box;
    const coords = new Float32Array(res * res * 2);
    for (let r = 0; r < res; r++) {
      for (let c = 0; c < res; c++) {
        coords[2 * (r * res + c)] = x0 + ((c + 0.5) / res) * (x1 - x0);
        coords[2 * (r * res + c) + 1] = y1 - ((r + 0.5) / res) * (y1 - y0);
      }
    }
    const density = tf.tidy(() => Float64Array.from(flow.logProb(tf.tensor2d(coords, [res * res, 2])).dataSync(), (v) => Math.exp(v)));
    const massInBox = density.reduce((a, b) => a + b, 0) * ((x1 - x0) / res) * ((y1 - y0) / res);
    const samples = tf.tidy(() => flow.sample(8000, seed + 7).dataSync());
    writePanels(path.join(out, `${setName}-${flowName}.png`), [dataHist, density, histogram(samples, res, set.box)], res);
    results[setName][flowName] = { testNll, parameters, trainSeconds: seconds, massInBox };
    console.log(`${setName} ${flowName}: test NLL ${testNll.toFixed(4)} nats/point, ${parameters} parameters, ${seconds.toFixed(1)} s, mass in box ${massInBox.toFixed(3)}`);
    steps.forEach((s) => (typeof s.dispose === 'function' ? s.dispose() : undefined));
  }
  tf.dispose([train, test]);
}
const flows = values.flows.split(',');
console.log(`\n| set | ${flows.join(' | ')} |\n| --- | ${flows.map(() => '---').join(' | ')} |`);
for (const [setName, row] of Object.entries(results)) console.log(`| ${setName} | ${flows.map((f) => row[f].testNll.toFixed(3)).join(' | ')} |`);
sheet();
fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify({ backend: choice.summary, epochs, batchSize, learningRate, nTrain, nTest, seed, results }, null, 2));
