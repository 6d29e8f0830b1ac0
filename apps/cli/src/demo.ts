/**
 * `gm demo`: the README's main command. On the default backend and the bundled digits it trains the reference VAE
 * (784-100-40, ReLU, Bernoulli likelihood on statically binarized pixels), evaluates its test −ELBO and
 * importance-sampled log-likelihood, draws samples, reconstructions, interpolations and the latent map, bits-back
 * compresses the test digits, checks that decompression gives them back byte for byte, and prints bits/dim next to
 * gzip -9, brotli and PNG.
 */
import { join, resolve } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { gmAdam, initBackend, type BackendChoice, type BackendName } from '@gm/backend';
import { binarizeStatic } from '@gm/data';
import { loadData, toModelInput } from './data';
import { saveCheckpoint } from './checkpoint';
import { codingModelOf, compressPixels, decompressBytes, describeChunks, formatRateTable, rateTable, type RateRow } from './codec';
import { writePng } from './png';
import { interpolationPicture, latentMapPicture, reconstructionPicture, samplesPicture } from './pictures';
import type { Reporter } from './progress';
import { modelEntry, type GenerativeModel, type Metric } from './registry';

export interface DemoOptions {
  epochs: number;
  batch: number;
  seed: number;
  k: number;
  out: string;
  trainSize?: number;
  testSize?: number;
  mapPoints: number;
  backend?: BackendName;
}

export interface DemoEpoch {
  epoch: number;
  trainNegElbo: number;
  testNegElbo: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface DemoReport {
  backend: BackendChoice;
  data: { name: string; train: number; test: number; binarization: string };
  model: string;
  /** Test −ELBO of the untrained model, so the report shows the fall. */
  initialTestNegElbo: number;
  epochs: DemoEpoch[];
  evaluation: { negElbo: number; negElboBitsPerDim: number; isNll: number; isNllBitsPerDim: number; k: number; seconds: number };
  checkpoint: string;
  pictures: { samples: string; reconstructions: string; interpolations: string; latentMap: string };
  latentMap: { points: number; method: string };
  compression: {
    file: string;
    images: number;
    bytes: number;
    bitsPerDim: number;
    roundTrip: boolean;
    compressSeconds: number;
    decompressSeconds: number;
    table: RateRow[];
  };
  /**
   * Tensors leaked: gained between the end of the first and the last epoch (optimizer state is made in the first
   * step), plus those gained between the end of training and the end of the demo (evaluation, pictures, coding).
   */
  leakedTensors: number;
  seconds: number;
}

const nats = (x: number) => x.toFixed(2);
const metric = (m: Metric[], name: string) => m.find((x) => x.name === name)?.value ?? Number.NaN;

export async function runDemo(options: DemoOptions, reporter: Reporter): Promise<DemoReport> {
  const started = performance.now();
  const log = (line: string) => reporter.line(line);
  const backend = await initBackend(options.backend === undefined ? {} : { backend: options.backend });
  log(`backend: ${backend.summary}`);

  const data = await loadData({ kind: 'mnist-bundled' }, { ...(options.trainSize === undefined ? {} : { train: options.trainSize }), ...(options.testSize === undefined ? {} : { test: options.testSize }) });
  const { train, test, shape } = data;
  log(`data: ${data.name}, ${train.count} train / ${test.count} test digits, static binarization (pixel > 127)`);

  const model = modelEntry('vae').create({ hidden: [100], latent: 40, likelihood: 'bernoulli', seed: options.seed }, shape);
  log(`model: ${model.describe()}; Adam 1e-3, batch ${options.batch}, ${options.epochs} epochs, seed ${options.seed}`);

  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const xTrain = toModelInput(train.images, train.count, model.inputShape, 'binary');
  const xTest = toModelInput(test.images, test.count, model.inputShape, 'binary');
  const testNegElbo = () => metricNegElbo(model, xTest, options.seed);
  const initialTestNegElbo = testNegElbo();
  log(`epoch 0/${options.epochs}: test −ELBO ${nats(initialTestNegElbo)} nats (untrained)`);

  const epochs: DemoEpoch[] = [];
  let tensorsAfterFirstEpoch = 0;
  let tensorsAfterLastEpoch = 0;
  const callbacks = reporter.training(options.epochs, 1);
  await model.fit(xTrain, {
    epochs: options.epochs,
    optimizer: gmAdam,
    batchSize: options.batch,
    learningRate: 1e-3,
    seed: options.seed,
    validationData: xTest,
    onBatchEnd: callbacks.onBatchEnd,
    onEpochEnd: (l) => {
      epochs.push({ epoch: l.epoch, trainNegElbo: l.loss, testNegElbo: l.valLoss ?? Number.NaN, seconds: l.seconds, imagesPerSecond: l.examplesPerSecond });
      if (l.epoch === 1) tensorsAfterFirstEpoch = tf.memory().numTensors;
      tensorsAfterLastEpoch = tf.memory().numTensors;
      callbacks.onEpochEnd(l);
    },
  });

  const tensorsAfterTraining = tf.memory().numTensors;
  const checkpoint = join(out, 'checkpoint');
  await saveCheckpoint(model, 'vae', checkpoint, {
    imageShape: shape,
    data: 'mnist-bundled',
    history: epochs.map((e) => ({ epoch: e.epoch, loss: e.trainNegElbo, valLoss: e.testNegElbo, seconds: e.seconds })),
  });
  log(`checkpoint: ${checkpoint} (use it with gm eval / sample / compress --model ${checkpoint})`);

  const t0 = performance.now();
  const m = model.evaluate(xTest, { k: options.k, seed: options.seed + 1 });
  const evaluation = {
    negElbo: metric(m, 'negElbo'),
    negElboBitsPerDim: metric(m, 'negElboBitsPerDim'),
    isNll: metric(m, 'isNll'),
    isNllBitsPerDim: metric(m, 'isNllBitsPerDim'),
    k: options.k,
    seconds: (performance.now() - t0) / 1000,
  };
  log(
    `test −ELBO ${nats(evaluation.negElbo)} nats (${evaluation.negElboBitsPerDim.toFixed(4)} bits/dim); ` +
      `IS −log p(x), k=${options.k}: ${nats(evaluation.isNll)} nats (${evaluation.isNllBitsPerDim.toFixed(4)} bits/dim) [${evaluation.seconds.toFixed(1)} s]`,
  );

  const pictures = {
    samples: join(out, 'samples.png'),
    reconstructions: join(out, 'reconstructions.png'),
    interpolations: join(out, 'interpolations.png'),
    latentMap: join(out, 'latent-map.png'),
  };
  writePng(pictures.samples, samplesPicture(model, shape, 64, options.seed + 2).png);
  log(`wrote ${pictures.samples}: 64 samples (decoder means of z ~ N(0, I)), 8×8`);
  writePng(pictures.reconstructions, reconstructionPicture(model, test, shape, 50).png);
  log(`wrote ${pictures.reconstructions}: 50 test digits, each row of 10 followed by its reconstructions`);
  const interp = interpolationPicture(model, test, shape, 8, 10);
  writePng(pictures.interpolations, interp.png);
  log(`wrote ${pictures.interpolations}: ${interp.pairs.length} rows, 10 steps between the codings of two test digits of different classes`);
  const map = latentMapPicture(model, test, shape, options.mapPoints, options.seed + 3);
  writePng(pictures.latentMap, map.png);
  log(`wrote ${pictures.latentMap}: UMAP of the ${model.codingsSize}-D posterior means of ${map.points} test digits, coloured by label`);

  // Bits-back: the test digits, binarized as the model sees them.
  const pixels = binarizeStatic(test.images);
  const gmzFile = join(out, 'test-digits.gmz');
  const coding = codingModelOf(model);
  let t = performance.now();
  // The demo shows bits-back itself next to the model's bounds, so every chunk is coded with the model (gm compress
  // stores a chunk deflated when that is smaller, as it may be for the quick demo's barely trained model).
  const { bytes: gmz, chunks } = await compressPixels(coding, pixels, test.count, [shape[0], shape[1]], reporter, { fallback: false });
  const compressSeconds = (performance.now() - t) / 1000;
  writeFileSync(gmzFile, gmz);
  t = performance.now();
  const back = await decompressBytes(coding, gmz, gmzFile, reporter);
  const decompressSeconds = (performance.now() - t) / 1000;
  const roundTrip = back.pixels.length === pixels.length && back.pixels.every((v, i) => v === pixels[i]);
  log(
    `bits-back: ${test.count} digits → ${gmzFile}, ${gmz.length.toLocaleString('en-US')} bytes in ${compressSeconds.toFixed(1)} s; ` +
      `decompressed in ${decompressSeconds.toFixed(1)} s; round trip ${roundTrip ? 'exact, byte for byte' : 'FAILED'}; ${describeChunks(chunks)}`,
  );
  if (!roundTrip) throw new Error('bits-back round trip failed: the decompressed digits differ from the originals');
  const table = rateTable({ bytes: gmz.length, chunks }, coding.kind, pixels, 'binary', test.count, shape, {
    negElboBitsPerDim: evaluation.negElboBitsPerDim,
    isBitsPerDim: evaluation.isNllBitsPerDim,
    k: options.k,
  });
  log('');
  log(`${test.count} binarized test digits (${pixels.length.toLocaleString('en-US')} pixels):`);
  log(formatRateTable(table));

  const leakedTensors = tensorsAfterLastEpoch - tensorsAfterFirstEpoch + (tf.memory().numTensors - tensorsAfterTraining);
  tf.dispose([xTrain, xTest]);
  model.dispose();
  return {
    backend,
    data: { name: data.name, train: train.count, test: test.count, binarization: 'static, pixel > 127' },
    model: model.describe(),
    initialTestNegElbo,
    epochs,
    evaluation,
    checkpoint,
    pictures,
    latentMap: { points: map.points, method: map.method },
    compression: {
      file: gmzFile,
      images: test.count,
      bytes: gmz.length,
      bitsPerDim: (8 * gmz.length) / pixels.length,
      roundTrip,
      compressSeconds,
      decompressSeconds,
      table,
    },
    leakedTensors,
    seconds: (performance.now() - started) / 1000,
  };
}

function metricNegElbo(model: GenerativeModel, x: tf.Tensor, seed: number): number {
  return metric(model.evaluate(x, { k: 1, seed }), 'negElbo');
}
