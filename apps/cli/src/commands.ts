/**
 * The subcommands other than `demo`: train, eval, sample, reconstruct, interpolate, latent-map, compress,
 * decompress and bench. Each returns a JSON-able report; main.ts prints it with `--json`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '@gm/backend';
import { MAX_PARTICLES } from '@gm/bitsback';
import { IafVae, ModelBase, VAE, type EpochLogs, type FitResult, type SaveOptions } from '@gm/models';
import { fileStore } from '@gm/models/node';
import { chooseOptimizer, learningRateOf, optimizerOf } from './optimizers';
import { pretrainGreedily } from './greedy';
import type { OptimizerChoice } from './options';
import { gzipIfNamed, writeIdx } from '@gm/data';
import { toBinCenters } from '@gm/metrics';
import { atomicWriteFile, readRegularFile } from '@gm/data/node';
import { PNG } from 'pngjs';
import { loadData, loadImagesInput } from './data';
import { describeSpec, type DataSpec } from './spec';
import { checkShapes, loadCheckpoint, sidecarFiles, type TrainingRecord } from './checkpoint';
import { calibrateWorkers, dataParallelStep, type DataParallelStep, type WorkersCalibration } from './data-parallel-fit';
import { cliVersion } from './version';
import { chooseWorkers, choiceKey } from './workers-choice';
import { coderPixels, codingModelOf, compressPixels, decompressBytes, describeChunks, formatRateTable, rateTable, type RateRow } from './codec';
import { CliError } from './errors';
import { writePng } from './png';
import { inputOf, interpolationPicture, latentMapPicture, reconstructionPicture, samplesPicture, type LatentMapMethod } from './pictures';
import { anomalyReport, loadClasses, type AnomalyOptions } from './anomaly';
import { activationHistograms, codingsPicture, histogramLines, histogramsPng } from './codings';
import { interpolationGridPicture, noisyReconstructionPicture } from './lecture-pictures';
import type { Reporter } from './progress';
import { MODELS, entryForKind, modelEntry, type GenerativeModel, type Metric, type ModelFlags } from './registry';

/** The largest .gmz gm decompress reads (it holds the file in memory). */
const MAX_GMZ_BYTES = 2 ** 31 - 1;

export interface CommonOptions {
  backend?: BackendName;
  seed: number;
}

async function backendLine(options: CommonOptions, reporter: Reporter): Promise<string> {
  const b = await initBackend(options.backend === undefined ? {} : { backend: options.backend });
  reporter.line(`backend: ${b.summary}`);
  return b.backend;
}

// ------------------------------------------------------------------------------------------------ train
export interface TrainOptions extends CommonOptions, Omit<ModelFlags, 'seed'> {
  data: DataSpec;
  epochs: number;
  batch: number;
  /** Learning rate (default: the optimizer's). */
  lr?: number;
  optimizer?: OptimizerChoice;
  momentum?: number;
  /** L2 weight regularisation of the kernels. */
  l2?: number;
  /** stacked-ae, tied-ae: greedy layer-wise pretraining before the --epochs of fine-tuning. */
  greedy?: boolean;
  layerEpochs?: number;
  layerLr?: number[];
  out?: string;
  resume?: string;
  trainLimit?: number;
  testLimit?: number;
  /** Train (and validate) only on images of these labels (`--labels`). */
  labels?: number[];
  validation: boolean;
  /** Threads that train data-parallel (a number: exactly that many; 'auto': measure whether two pay, now; unset: the kept
   * measurement for this model here, or a new one for runs long enough to gain — ./workers-choice.ts). */
  workers?: number | 'auto';
  /** 'label': a class-conditional model of the data's labels. */
  condition?: 'label';
}

/** The labels of the first `n` images of `ds` as the int32 tensor class-conditional models read. */
function labelsOf(ds: { labels: Uint8Array }, n: number): tf.Tensor {
  return tf.tensor1d(Int32Array.from(ds.labels.subarray(0, n)), 'int32');
}

/** What a model trains and validates on: its inputs, with the labels for a class-conditional one. */
function trainingInput(model: GenerativeModel, ds: Parameters<typeof inputOf>[1]): { x: tf.Tensor; labels?: tf.Tensor } {
  const x = inputOf(model, ds, 0, ds.count);
  return (model.classes ?? 0) > 0 ? { x, labels: labelsOf(ds, ds.count) } : { x };
}

export async function train(modelName: string, o: TrainOptions, reporter: Reporter) {
  const entry = modelEntry(modelName);
  const backend = await backendLine(o, reporter);
  const archFlags = (['hidden', 'latent', 'likelihood', 'observationStd', 'mixtureComponents', 'beta', 'objective', 'k', 'architecture', 'filters', 'noiseStd', 'dropout', 'sparsityTarget', 'sparsityWeight', 'activityL1', 'contractive', 'activation', 'flowSteps', 'posteriorFlow', 'transform', 'scales', 'stepsPerScale', 'condition', 'greedy'] as const).filter(
    // A vae's training objective is no part of its architecture: --resume with --objective/--k/--beta fine-tunes on another one.
    (f) => o[f] !== undefined && !(entry.name === 'vae' && (f === 'objective' || f === 'k' || f === 'beta')),
  );
  if (o.resume !== undefined && archFlags.length > 0) {
    throw new CliError(`--resume continues the checkpoint's own architecture; drop ${archFlags.map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`);
  }
  const limits = { ...(o.trainLimit === undefined ? {} : { train: o.trainLimit }), ...(o.testLimit === undefined ? {} : { test: o.testLimit }) };
  const data = o.labels === undefined ? await loadData(o.data, limits) : await loadClasses(o.data, o.labels, limits);
  let history: TrainingRecord[] = [];
  const resumed = o.resume === undefined ? undefined : await loadCheckpoint(o.resume, '--resume', entry);
  if (resumed !== undefined) {
    checkShapes(resumed.imageShape, data.shape, `--data ${describeSpec(o.data)}`);
    history = [...(resumed.sidecar?.history ?? [])];
  }
  let classes: number | undefined;
  if (o.condition !== undefined) {
    if (o.condition !== 'label') throw new CliError(`--condition: expected "label", got "${String(o.condition)}"`);
    if (entry.conditional !== true) throw new CliError(`--condition label: gm train ${entry.name} is not class-conditional (${MODELS.filter((m) => m.conditional === true).map((m) => m.name).join(', ')} is)`);
    classes = data.train.labels.reduce((a, b) => Math.max(a, b), 0) + 1;
    if (classes < 2) throw new CliError(`--condition label: the training images of ${data.name} all have label 0; a class-conditional model needs at least two classes`);
  }
  const optimizerRecord = chooseOptimizer(o, resumed?.sidecar?.training ?? (resumed === undefined ? undefined : { optimizer: 'adam' }));
  const optimizer = optimizerOf(optimizerRecord);
  const learningRate = learningRateOf(optimizerRecord.optimizer, o.lr);
  if (o.greedy !== true && (o.layerEpochs !== undefined || o.layerLr !== undefined)) throw new CliError('--layer-epochs, --layer-lr: settings of --greedy pretraining; add --greedy');
  let model: GenerativeModel;
  try {
    model = resumed?.model ?? entry.create({ ...o, seed: o.seed, ...(classes === undefined ? {} : { classes }) }, data.shape);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`gm train ${modelName}: ${(error as Error).message}`);
  }
  if (resumed !== undefined && model instanceof VAE && (o.objective !== undefined || o.k !== undefined || o.beta !== undefined)) {
    const objective = o.objective ?? model.config.objective;
    if (o.k !== undefined && objective !== 'iwae') throw new CliError(`--k: the importance samples per image of --objective iwae; ${o.resume} trains on the ${objective === 'elbo' ? 'ELBO' : objective}, so add --objective iwae to fine-tune on the IWAE bound`);
    if (o.beta !== undefined && objective === 'iwae') throw new CliError("--beta: β weights the ELBO's KL term, and --objective iwae has none; drop --beta or add --objective elbo");
    const before = model.describe();
    model.setObjective({ objective, ...(o.k === undefined ? {} : { k: o.k }), ...(o.beta === undefined ? {} : { beta: o.beta }) });
    reporter.line(`objective: from now on ${objective === 'iwae' ? `the IWAE bound (k = ${model.config.k})` : model.config.beta === 1 ? 'the ELBO' : `the β-VAE objective (β = ${model.config.beta})`} (was: ${before})`);
  }
  if (o.greedy === true) {
    model = await pretrainGreedily(model, entry.name, data.train, { ...o, optimizer: optimizerRecord, learningRate }, reporter);
  }
  const out = resolve(o.out ?? o.resume ?? join('checkpoints', modelName));
  reporter.line(`data: ${data.name}, ${data.train.count} train / ${data.test.count} test images of ${data.shape.join('×')}`);
  reporter.line(`model: ${model.describe()}${resumed === undefined ? '' : ` (resumed from ${o.resume} after ${model.epochsTrained} epochs)`}`);
  const input = trainingInput(model, data.train);
  const validationInput = o.validation && data.test.count > 0 ? trainingInput(model, data.test) : undefined;
  const owned = [input.x, input.labels, validationInput?.x, validationInput?.labels].filter((t): t is tf.Tensor => t !== undefined);
  const x = input.labels === undefined ? input.x : input;
  const validation = validationInput === undefined ? undefined : validationInput.labels === undefined ? validationInput.x : validationInput;
  const first = model.epochsTrained + 1;
  const callbacks = reporter.training(o.epochs, first);
  const t0 = performance.now();
  const fresh: TrainingRecord[] = [];
  let workers = 1;
  let calibration: WorkersCalibration | undefined;
  let parallel: DataParallelStep | undefined;
  // Ctrl-C or a SIGTERM stops after the current batch; every finished epoch is already in the checkpoint.
  const controller = new AbortController();
  const interrupt = (signal: NodeJS.Signals): void => {
    reporter.line(`${signal}: stopping after this batch (the checkpoint keeps the last finished epoch)`);
    controller.abort();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const store = fileStore(out);
  const sidecar = (): NonNullable<SaveOptions['files']> =>
    sidecarFiles(model, entry.name, { imageShape: data.shape, data: describeSpec(o.data), history: [...history, ...fresh], training: optimizerRecord });
  let result: FitResult;
  try {
    // Why this run cannot train data-parallel, if it cannot: an error for --workers N, one thread for --workers auto.
    const refusal = !(model instanceof ModelBase)
      ? `${entry.name} does not train data-parallel`
      : input.labels !== undefined
        ? `a class-conditional ${entry.name} trains on one thread (the data-parallel step takes images only); drop --condition`
        : optimizerRecord.optimizer !== 'adam' || o.l2 !== undefined
          ? 'data-parallel training uses Adam without L2; drop --optimizer/--l2'
          : data.train.count < Math.max(2, o.batch)
            ? `data-parallel training takes full batches of --batch (${o.batch}) images; there are ${data.train.count}`
            : undefined;
    // The model's own gradient clipping (flows on images): the threads clip the whole batch's gradient the same way.
    const clipNorm = model instanceof ModelBase ? model.trainingDefaults().clipNorm : undefined;
    if (typeof o.workers === 'number') {
      workers = o.workers;
    } else {
      const base = model instanceof ModelBase ? model : undefined;
      const cores = availableParallelism();
      calibration = await chooseWorkers({
        measure: o.workers === 'auto',
        ...(refusal === undefined && base !== undefined ? {} : { refusal: refusal ?? `${entry.name} does not train data-parallel` }),
        cores,
        steps: o.epochs * Math.floor(data.train.count / o.batch),
        key: choiceKey({ model: model.describe(), batch: o.batch, backend: tf.getBackend(), cores, version: cliVersion }),
        calibrate: async () => {
          const batch = tf.slice(input.x, 0, o.batch);
          try {
            return await calibrateWorkers(base as ModelBase, batch, { learningRate, seed: o.seed, cores, ...(clipNorm === undefined ? {} : { clipNorm }) });
          } finally {
            batch.dispose();
          }
        },
        warn: (line) => reporter.line(line),
      });
      workers = calibration.workers;
      reporter.line(`workers: ${workers} (${calibration.reason})`);
    }
    if (workers > 1) {
      if (refusal !== undefined || !(model instanceof ModelBase)) throw new CliError(`--workers: ${refusal}; or drop --workers`);
      parallel = await dataParallelStep(model, { batchSize: o.batch, learningRate, seed: o.seed, examples: data.train.count, ...(clipNorm === undefined ? {} : { clipNorm }) }, workers);
    }
    result = await model.fit(x, {
      epochs: o.epochs,
      signal: controller.signal,
      // A checkpoint (weights, optimizer state and this CLI's history, in one atomic write) after every epoch.
      checkpoint: { store, everyEpochs: 1, files: sidecar },
      batchSize: o.batch,
      learningRate,
      optimizer,
      ...(o.l2 === undefined ? {} : { l2: o.l2 }),
      seed: o.seed,
      ...(validation === undefined ? {} : { validationData: validation }),
      ...(parallel === undefined ? {} : { customStep: parallel.step, customOptimizer: parallel.optimizer, dropRemainder: true }),
      onBatchEnd: callbacks.onBatchEnd,
      onEpochEnd: (l: EpochLogs) => {
        fresh.push({ epoch: l.epoch, loss: l.loss, ...(l.valLoss === undefined ? {} : { valLoss: l.valLoss }), seconds: l.seconds });
        callbacks.onEpochEnd(l);
      },
    });
  } catch (error) {
    tf.dispose(owned);
    model.dispose();
    if (error instanceof CliError) throw error;
    throw new CliError(`training failed: ${(error as Error).message}`);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await parallel?.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose(owned);
  history = [...history, ...fresh];
  if (result.stopReason === 'aborted') {
    const epochs = model.epochsTrained;
    model.dispose();
    throw new CliError(
      fresh.length === 0
        ? `interrupted during epoch ${epochs + 1}, before any epoch finished: nothing new was saved${resumed === undefined ? '' : ` (${out} still holds epoch ${epochs})`}`
        : `interrupted: ${out} holds the ${epochs} epoch${epochs === 1 ? '' : 's'} trained so far; continue with gm train ${modelName} --resume ${out}`,
    );
  }
  reporter.line(`saved ${model.kind} checkpoint (${model.epochsTrained} epoch${model.epochsTrained === 1 ? '' : 's'} trained) to ${out}`);
  const report = {
    model: entry.name,
    kind: model.kind,
    description: model.describe(),
    backend,
    data: { spec: describeSpec(o.data), train: data.train.count, test: data.test.count, imageShape: data.shape },
    checkpoint: out,
    resumedFrom: o.resume ?? null,
    epochsTrained: model.epochsTrained,
    epochs: fresh,
    seconds,
    workers,
    ...(calibration === undefined ? {} : { workersCalibration: calibration }),
  };
  model.dispose();
  return report;
}

// ------------------------------------------------------------------------------------------------ eval
export interface EvalOptions extends CommonOptions {
  model: string;
  data: DataSpec;
  k: number;
  testLimit?: number;
}

export async function evaluate(o: EvalOptions, reporter: Reporter) {
  const backend = await backendLine(o, reporter);
  const { model, imageShape } = await loadCheckpoint(o.model, '--model');
  try {
    const data = await loadData(o.data, o.testLimit === undefined ? {} : { test: o.testLimit });
    checkShapes(imageShape, data.shape, `--data ${describeSpec(o.data)}`);
    const { x, labels } = trainingInput(model, data.test);
    const t0 = performance.now();
    let metrics: Metric[];
    try {
      metrics = model.evaluate(x, { k: o.k, seed: o.seed, ...(labels === undefined ? {} : { labels }) });
    } finally {
      tf.dispose([x, ...(labels === undefined ? [] : [labels])]);
    }
    reporter.line(`${model.describe()}`);
    reporter.line(`${data.name}, test split, ${data.test.count} images${labels === undefined ? '' : ', log p(x | label) given each image\'s label'}:`);
    for (const m of metrics) reporter.line(`  ${m.name.padEnd(20)} ${Number.isInteger(m.value) ? String(m.value) : m.value.toFixed(4)}  ${m.unit}`);
    return {
      checkpoint: o.model,
      kind: model.kind,
      backend,
      data: { spec: describeSpec(o.data), images: data.test.count },
      metrics: Object.fromEntries(metrics.map((m) => [m.name, m.value])),
      units: Object.fromEntries(metrics.map((m) => [m.name, m.unit])),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    model.dispose();
  }
}

// ------------------------------------------------------------------------------------------------ pictures
export interface PictureOptions extends CommonOptions {
  model: string;
  out: string;
  data: DataSpec;
}

async function withModel<T>(o: PictureOptions, reporter: Reporter, needData: boolean, run: (ctx: Awaited<ReturnType<typeof loadCheckpoint>> & { data?: Awaited<ReturnType<typeof loadData>> }) => T): Promise<T> {
  await backendLine(o, reporter);
  const ckpt = await loadCheckpoint(o.model, '--model');
  try {
    let data;
    if (needData) {
      data = await loadData(o.data);
      checkShapes(ckpt.imageShape, data.shape, `--data ${describeSpec(o.data)}`);
    }
    return run(data === undefined ? ckpt : { ...ckpt, data });
  } finally {
    ckpt.model.dispose();
  }
}

export async function sample(o: PictureOptions & { n: number; label?: number; temperature?: number }, reporter: Reporter) {
  return withModel(o, reporter, false, ({ model, imageShape }) => {
    if (model.sample === undefined) {
      throw new CliError(`--model: a "${model.kind}" is not a generative model with a prior to sample from; gm sample needs a vae, an iaf-vae, a made or a flow`);
    }
    const classes = model.classes ?? 0;
    if (o.label !== undefined && classes === 0) throw new CliError(`--label: the ${model.kind} in ${o.model} is not class-conditional; drop --label (train one with gm train glow --condition label)`);
    if (o.label !== undefined && o.label >= classes) throw new CliError(`--label: expected a class in 0..${classes - 1}, got ${o.label}`);
    if (o.temperature !== undefined && entryForKind(model.kind)?.temperature !== true) {
      throw new CliError(`--temperature: a "${model.kind}" samples at temperature 1 only; --temperature is for flows`);
    }
    const picture = samplesPicture(model, imageShape, o.n, o.seed, { ...(o.label === undefined ? {} : { label: o.label }), ...(o.temperature === undefined ? {} : { temperature: o.temperature }) });
    writePng(o.out, picture.png);
    const what = picture.labels === undefined ? '' : o.label !== undefined ? ` of class ${o.label}` : ', one row per class';
    reporter.line(`wrote ${o.out}: ${o.n} samples of the ${model.kind}${what} (seed ${o.seed}${o.temperature === undefined ? '' : `, temperature ${o.temperature}`})`);
    return { file: resolve(o.out), kind: model.kind, images: o.n, seed: o.seed, label: o.label ?? null, temperature: o.temperature ?? 1 };
  });
}

export async function reconstruct(o: PictureOptions & { n: number; noise?: number }, reporter: Reporter) {
  return withModel(o, reporter, true, ({ model, data, imageShape }) => {
    const test = data!.test;
    if (o.noise !== undefined) {
      const { png, meanSquaredError, noisyMeanSquaredError } = noisyReconstructionPicture(model, test, imageShape, o.n, o.noise, o.seed);
      writePng(o.out, png);
      reporter.line(`wrote ${o.out}: ${Math.min(o.n, test.count)} test images with Gaussian noise σ = ${o.noise}, rows of noisy inputs, their reconstructions and the originals (mean squared error to the originals: noisy ${noisyMeanSquaredError.toFixed(4)}, reconstructed ${meanSquaredError.toFixed(4)})`);
      return { file: resolve(o.out), kind: model.kind, images: Math.min(o.n, test.count), noise: o.noise, meanSquaredError, noisyMeanSquaredError };
    }
    const { png, meanSquaredError } = reconstructionPicture(model, test, imageShape, o.n);
    writePng(o.out, png);
    reporter.line(`wrote ${o.out}: ${Math.min(o.n, test.count)} test images, each row followed by its reconstructions (mean squared error ${meanSquaredError.toFixed(4)})`);
    return { file: resolve(o.out), kind: model.kind, images: Math.min(o.n, test.count), meanSquaredError };
  });
}

export async function interpolate(o: PictureOptions & { rows: number; steps: number; grid?: boolean; corners?: number[] }, reporter: Reporter) {
  if (o.steps < 2) throw new CliError(`--steps: expected at least 2 (both ends are included), got ${o.steps}`);
  if (o.corners !== undefined && o.grid !== true) throw new CliError('--corners: the four corners are of a grid; add --grid');
  return withModel(o, reporter, true, ({ model, data, imageShape }) => {
    if (o.grid === true) {
      const { png, corners, labels } = interpolationGridPicture(model, data!.test, imageShape, o.steps, ...(o.corners === undefined ? [] : [o.corners]));
      writePng(o.out, png);
      reporter.line(`wrote ${o.out}: a ${o.steps} × ${o.steps} grid bilinear between the codings of test images ${corners.join(', ')} (labels ${labels.join(', ')}) at its corners`);
      return { file: resolve(o.out), kind: model.kind, grid: true, steps: o.steps, corners, labels };
    }
    const { png, pairs } = interpolationPicture(model, data!.test, imageShape, o.rows, o.steps);
    writePng(o.out, png);
    reporter.line(`wrote ${o.out}: ${pairs.length} rows × ${o.steps} steps between codings of test images of different labels`);
    return { file: resolve(o.out), kind: model.kind, rows: pairs.length, steps: o.steps, pairs };
  });
}

export async function latentMap(o: PictureOptions & { n: number; method?: LatentMapMethod; thumbnails?: boolean; perplexity?: number }, reporter: Reporter) {
  return withModel(o, reporter, true, ({ model, data, imageShape }) => {
    const map = latentMapPicture(model, data!.test, imageShape, o.n, o.seed, {
      ...(o.method === undefined ? {} : { method: o.method }),
      ...(o.thumbnails === undefined ? {} : { thumbnails: o.thumbnails }),
      ...(o.perplexity === undefined ? {} : { perplexity: o.perplexity }),
      ...(o.method === 'tsne' ? { onProgress: (done: number, total: number) => (done % 250 === 0 || done === total ? reporter.line(`t-SNE: ${done}/${total} iterations`) : undefined) } : {}),
    });
    writePng(o.out, map.png);
    const how = map.method === 'direct' ? 'the 2-D codings' : `${map.method === 'tsne' ? `t-SNE (perplexity ${map.perplexity?.toFixed(1)})` : 'UMAP'} of the ${map.codingsSize}-D codings`;
    reporter.line(`wrote ${o.out}: ${how} of ${map.points} test images, coloured by label${map.thumbnails > 0 ? `, ${map.thumbnails} of them drawn as thumbnails` : ''}`);
    return { file: resolve(o.out), kind: model.kind, points: map.points, method: map.method, codingsSize: map.codingsSize, thumbnails: map.thumbnails, perplexity: map.perplexity ?? null };
  });
}

export async function codings(o: PictureOptions & { n: number; histogram?: string; stats?: number }, reporter: Reporter) {
  return withModel(o, reporter, true, ({ model, data, imageShape }) => {
    const picture = codingsPicture(model, data!.test, imageShape, o.n);
    writePng(o.out, picture.png);
    reporter.line(`wrote ${o.out}: ${Math.min(o.n, data!.test.count)} test images, each beside its ${model.codingsSize} codings (black ${picture.range[0].toFixed(3)} … white ${picture.range[1].toFixed(3)})`);
    const h = activationHistograms(model, data!.test, o.stats ?? data!.test.count);
    reporter.line(`coding activations over ${h.images} test images (mean ${h.meanActivation.toFixed(4)}):`);
    for (const line of histogramLines(h.all)) reporter.line(line);
    reporter.line(`mean activation of each of the ${model.codingsSize} units:`);
    for (const line of histogramLines(h.means)) reporter.line(line);
    if (o.histogram !== undefined) {
      writePng(o.histogram, histogramsPng(h.all, h.means));
      reporter.line(`wrote ${o.histogram}: left, every coding activation; right, each unit's mean activation`);
    }
    return {
      file: resolve(o.out),
      histogramFile: o.histogram === undefined ? null : resolve(o.histogram),
      kind: model.kind,
      codingsSize: model.codingsSize,
      images: h.images,
      meanActivation: h.meanActivation,
      activations: h.all,
      unitMeans: h.means,
    };
  });
}

export async function anomaly(o: Omit<PictureOptions, 'out'> & AnomalyOptions, reporter: Reporter) {
  return withModel({ ...o, out: o.out ?? '' }, reporter, true, ({ model, data, imageShape }) => anomalyReport(model, data!.test, data!.name, imageShape, o, reporter));
}

// ------------------------------------------------------------------------------------------------ compress
export async function compress(input: string, output: string, o: CommonOptions & { model: string; limit?: number; chunk: number; method?: 'bbans' | 'bbis'; particles?: number }, reporter: Reporter) {
  await backendLine(o, reporter);
  const method = o.method ?? 'bbans';
  if (o.particles !== undefined && method !== 'bbis') throw new CliError('--particles: only --method bbis samples particles; add --method bbis');
  const particles = method === 'bbis' ? (o.particles ?? DEFAULT_PARTICLES) : 1;
  if (method === 'bbis' && (particles < 2 || particles > MAX_PARTICLES)) throw new CliError(`--particles: expected 2..${MAX_PARTICLES}, got ${particles}`);
  const { model, imageShape } = await loadCheckpoint(o.model, '--model');
  try {
    const src = await loadImagesInput(input);
    checkShapes(imageShape, src.shape, `<in> ${input}`);
    const count = o.limit === undefined ? src.images.count : Math.min(o.limit, src.images.count);
    if (count === 0) throw new CliError(`<in>: ${input} holds no images; there is nothing to compress`);
    const size = src.images.images.length / src.images.count;
    const bytes = src.images.images.subarray(0, count * size);
    const coding = codingModelOf(model);
    if (method === 'bbis' && coding.kind !== 'gaussian-latent') throw new CliError(`--method bbis: a "${model.kind}" has no latent variable to importance-sample; drop --method (it is coded autoregressively)`);
    const { pixels, kind, binarized } = coderPixels(coding, bytes);
    reporter.line(`input: ${src.description}${count < src.images.count ? `, first ${count}` : ''}${binarized ? '; binarized (pixel > 127) for the binary model' : ''}`);
    const t0 = performance.now();
    const shape = imageShape[2] === 1 ? [imageShape[0], imageShape[1]] : [...imageShape];
    const { bytes: gmz, chunks } = await compressPixels(coding, pixels, count, shape, reporter, { chunkSize: o.chunk, particles });
    const seconds = (performance.now() - t0) / 1000;
    mkdirSync(dirname(resolve(output)), { recursive: true });
    await atomicWriteFile(output, gmz);
    const bounds = model instanceof VAE || model instanceof IafVae ? latentBounds(model, pixels, count, particles) : {};
    const table = rateTable({ bytes: gmz.length, chunks }, coding.kind, pixels, kind, count, imageShape, bounds, particles);
    reporter.line(`wrote ${output}: ${count} images, ${gmz.length.toLocaleString('en-US')} bytes, ${((8 * gmz.length) / pixels.length).toFixed(4)} bits/dim (${seconds.toFixed(1)} s, ${(count / seconds).toFixed(0)} images/s); ${describeChunks(chunks)}`);
    reporter.line(formatRateTable(table));
    return {
      input,
      output: resolve(output),
      kind: model.kind,
      images: count,
      pixels: kind,
      binarized,
      bytes: gmz.length,
      bitsPerDim: (8 * gmz.length) / pixels.length,
      seconds,
      method: coding.kind === 'gaussian-latent' ? method : 'autoregressive',
      particles,
      chunks,
      table: table as RateRow[],
    };
  } finally {
    model.dispose();
  }
}

/**
 * The rates a VAE's or an IAF-VAE's file is measured against: its mean −ELBO and, with particles, its
 * importance-sampled bound at the file's k (what BB-CIS codes at), in bits/dim of the coder's pixels (seeded, so the
 * report repeats). An IAF-VAE's are of its flow posterior (`flow`), which the coder replaces by a Gaussian proposal.
 */
function latentBounds(vae: VAE | IafVae, pixels: Uint8Array, count: number, particles: number): { negElboBitsPerDim: number; isBitsPerDim?: number; k?: number; flow?: boolean } {
  const flow = vae instanceof IafVae && vae.flowSteps.length > 0 ? { flow: true } : {};
  const dims = pixels.length;
  const x = tf.tidy(() => {
    const raw = tf.tensor(Float32Array.from(pixels), [count, ...vae.inputShape]);
    return vae.inputConvention === 'binary' ? raw : toBinCenters(raw, 256);
  });
  try {
    const negElboBitsPerDim = (vae.negativeElbo(x, { samples: 1, seed: 12345 }) * count) / (dims * Math.LN2);
    if (particles === 1) return { negElboBitsPerDim, ...flow };
    const ll = vae.logLikelihood(x, particles, { seed: 12345 });
    const isBitsPerDim = -(tf.tidy(() => tf.sum(ll).dataSync()[0] as number) / (dims * Math.LN2));
    ll.dispose();
    return { negElboBitsPerDim, isBitsPerDim, k: particles, ...flow };
  } finally {
    x.dispose();
  }
}

/** Particles of `gm compress --method bbis` when --particles is not given. */
const DEFAULT_PARTICLES = 20;

/** Where `gm decompress` writes: an IDX file for names ending in .gz, -ubyte or .idx, else a folder of PNGs. */
function isIdxName(path: string): boolean {
  return /(\.gz|-ubyte|\.idx\d?)$/i.test(path);
}

export async function decompress(input: string, output: string, o: CommonOptions & { model: string }, reporter: Reporter) {
  await backendLine(o, reporter);
  if (!existsSync(input)) throw new CliError(`<in.gmz>: ${input} not found`);
  const { model, imageShape } = await loadCheckpoint(o.model, '--model');
  try {
    let bytes: Uint8Array;
    try {
      bytes = await readRegularFile(input, { maxBytes: MAX_GMZ_BYTES });
    } catch (error) {
      throw new CliError(`<in.gmz>: ${(error as Error).message}`);
    }
    const t0 = performance.now();
    const { pixels, count, header } = await decompressBytes(codingModelOf(model), bytes, input, reporter);
    const seconds = (performance.now() - t0) / 1000;
    const binary = header.pixels === 'binary';
    const images = binary ? pixels.map((v) => (v === 0 ? 0 : 255)) : pixels;
    const [h, w, c] = imageShape;
    const size = h * w * c;
    if (isIdxName(output)) {
      mkdirSync(dirname(resolve(output)), { recursive: true });
      await atomicWriteFile(output, gzipIfNamed(writeIdx({ dtype: 'uint8', dims: c === 1 ? [count, h, w] : [count, h, w, c], data: images }), output));
    } else {
      mkdirSync(output, { recursive: true });
      const digits = Math.max(5, String(count - 1).length);
      for (let i = 0; i < count; i++) {
        const png = new PNG({ width: w, height: h });
        for (let p = 0; p < h * w; p++) {
          for (let k = 0; k < 3; k++) png.data[4 * p + k] = images[i * size + p * c + (c === 1 ? 0 : k)] as number;
          png.data[4 * p + 3] = 255;
        }
        writeFileSync(join(output, `${String(i).padStart(digits, '0')}.png`), PNG.sync.write(png, { colorType: c === 1 ? 0 : 2 }));
      }
    }
    reporter.line(`wrote ${output}: ${count} images of ${h}×${w}${c === 1 ? '' : `×${c}`}${binary ? ' (binary pixels written as 0/255)' : ''} in ${seconds.toFixed(1)} s`);
    return { input, output: resolve(output), format: isIdxName(output) ? 'idx' : 'png-folder', images: count, binary, seconds };
  } finally {
    model.dispose();
  }
}

// ------------------------------------------------------------------------------------------------ bench
/** Runs the repository's benchmark harness (apps/bench) when it is there and built. */
export function bench(args: string[]): number {
  const here = dirname(fileURLToPath(import.meta.url));
  const harness = resolve(here, '../../bench/dist/main.js');
  if (!existsSync(harness)) {
    const source = resolve(here, '../../bench/src/main.ts');
    throw new CliError(
      existsSync(source)
        ? `the benchmark harness is not built (${harness} is missing): run "npx -y pnpm@9.15.9 build" at the repository root first`
        : 'gm bench runs the repository\'s benchmark harness (apps/bench), which is not part of this installation; run it from a clone of the gm repository',
    );
  }
  const r = spawnSync(process.execPath, [harness, ...args], { stdio: 'inherit' });
  return r.status ?? 1;
}
