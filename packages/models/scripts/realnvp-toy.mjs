#!/usr/bin/env node
/**
 * Real NVP on the 2-D toy sets (issue 9). From packages/models, after `npx tsup`:
 *
 *   node scripts/realnvp-toy.mjs <out-dir> [--epochs 40] [--train 8000] [--test 2000] [--seed 1] [--sets moons,rings,eight-gaussians] [--lr 1e-3]
 *        [--batch 256] [--minutes M]   (M: training-time budget per set; stops after the epoch that exceeds it)
 *
 * For each set: a RealNVP (8 alternating couplings, dense s/t nets 64-64, standard-Normal base) trained with Adam
 * (`--lr`, default 1e-3, `--batch`, default 256, clipNorm 100) on `--train` points, on wasm; reports the test NLL (nats per point) and writes
 * `<set>.png`: data histogram | model density exp(log p) on the same box | histogram of 8,000 samples (T = 1).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { gmAdam, initBackend } from '@gm/backend';
import { RealNVP } from '@gm/models';
import { histogram, TOY_SETS, writePanels } from './realnvp-lib.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    epochs: { type: 'string', default: '40' },
    train: { type: 'string', default: '8000' },
    test: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '1' },
    sets: { type: 'string', default: 'moons,rings,eight-gaussians' },
    lr: { type: 'string', default: '1e-3' },
    batch: { type: 'string', default: '256' },
    minutes: { type: 'string' },
  },
});
const out = positionals[0] ?? 'realnvp-toy-out';
fs.mkdirSync(out, { recursive: true });
const backend = await initBackend();
console.log(`backend: ${JSON.stringify(backend.backend ?? backend)}`);
const epochs = Number(values.epochs);
const nTrain = Number(values.train);
const nTest = Number(values.test);
const seed = Number(values.seed);

const SETS = TOY_SETS;
const results = {};
for (const name of values.sets.split(',')) {
  const set = SETS[name];
  if (set === undefined) throw new Error(`--sets: unknown set "${name}" (${Object.keys(SETS).join(", ")})`);
  const train = tf.tensor2d(set.make(nTrain, seed).points, [nTrain, 2]);
  const testPts = set.make(nTest, seed + 1000).points;
  const test = tf.tensor2d(testPts, [nTest, 2]);
  const flow = new RealNVP({ dim: 2, couplings: 8, hidden: [64, 64], seed });
  const t0 = performance.now();
  await flow.fit(train, {
    epochs,
    batchSize: Number(values.batch),
    learningRate: Number(values.lr),
    optimizer: gmAdam,
    clipNorm: 100,
    validationData: test,
    onEpochEnd: (l) => {
      const over = values.minutes !== undefined && (performance.now() - t0) / 60000 > Number(values.minutes);
      if (l.epoch % 5 === 0 || l.epoch === 1 || l.epoch === epochs || over) {
        console.log(`${name} epoch ${l.epoch}: train NLL ${l.loss.toFixed(3)} test NLL ${l.valLoss.toFixed(3)} (${l.seconds.toFixed(1)} s)`);
      }
      return over ? 'stop' : undefined;
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const testNll = flow.nll(test);
  // Pictures: data | density | samples on the same box.
  const res = 200;
  const [x0, x1, y0, y1] = set.box;
  const coords = new Float32Array(res * res * 2);
  for (let r = 0; r < res; r++) {
    for (let c = 0; c < res; c++) {
      coords[2 * (r * res + c)] = x0 + ((c + 0.5) / res) * (x1 - x0);
      coords[2 * (r * res + c) + 1] = y1 - ((r + 0.5) / res) * (y1 - y0);
    }
  }
  const grid = tf.tensor2d(coords, [res * res, 2]);
  const lp = flow.logProb(grid);
  const density = Float64Array.from(lp.dataSync(), (v) => Math.exp(v));
  const cell = ((x1 - x0) / res) * ((y1 - y0) / res);
  const massInBox = density.reduce((a, b) => a + b, 0) * cell;
  const samples = flow.sample(8000, { seed: seed + 7 });
  const sampleHist = histogram(samples.dataSync(), res, set.box);
  const dataHist = histogram(set.make(8000, seed + 2000).points, res, set.box);
  writePanels(path.join(out, `${name}.png`), [dataHist, density, sampleHist], res);
  results[name] = { testNll, learningRate: Number(values.lr), batchSize: Number(values.batch), epochsRun: flow.epochsTrained, trainSeconds: seconds, epochs, massInBox, trainPoints: nTrain, testPoints: nTest };
  console.log(`${name}: test NLL ${testNll.toFixed(4)} nats/point, mass of p in the picture box ${massInBox.toFixed(4)}, ${seconds.toFixed(1)} s training`);
  tf.dispose([train, test, grid, lp, samples]);
  flow.dispose();
}
const processCpuSeconds = (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify({ backend: tf.getBackend(), processCpuSeconds, results }, null, 2));
console.log(JSON.stringify(results, null, 2));
