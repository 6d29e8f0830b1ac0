/**
 * The digits panel: a model of 28×28 digits living in a worker (worker/digit-models.ts) — one of the shipped
 * checkpoints (shown at once), a `gm train` checkpoint the user picks, or a VAE trained here with a live loss curve,
 * pause/resume and stop — and its pictures: samples, reconstructions of held-out digits and a latent interpolation.
 * The main thread only draws what the worker computes, so the page stays responsive while a model trains.
 */
import * as Comlink from 'comlink';
import type { BackendChoice, BackendName } from '@gm/backend';
import type { DigitSet } from './digits-format';
import { el, messageOf } from './dom';
import { heldOutFigures } from './held-out-figures';
import { LossCurve } from './loss-curve';
import { startPanelWorker } from './panel-worker-client';
import { bytesToUnit, drawGrid } from './render';
import { shippedUrl, type ShippedModel } from './shipped';
import type { ModelInfo } from './worker/digit-models';
import type { TrainProgress } from './worker/training-control';

const PIXELS = 784;
const SAMPLES = 64;
const RECONSTRUCTIONS = 20;
const STRIP_STEPS = 10;

type State = 'starting' | 'training' | 'paused' | 'loading' | 'ready' | 'error';

export interface DigitsPanelOptions {
  backend: BackendName | undefined;
  wasmPaths: string;
  digits: DigitSet;
  shipped: ShippedModel[];
  /** `?model=`: a checkpoint URL to load instead of the first shipped model. */
  modelUrl?: string;
  /** `?train=N`: train a new VAE for N epochs at once. */
  trainEpochs?: number;
}

export interface DigitsPanel {
  /** The worker's backend, once started. */
  backend: Promise<BackendChoice>;
  /** Tensors alive in the worker. */
  tensors(): Promise<number>;
}

export function initDigitsPanel(options: DigitsPanelOptions): DigitsPanel {
  const ui = {
    status: el<HTMLElement>('status'),
    error: el<HTMLElement>('error'),
    choice: el<HTMLSelectElement>('model-choice'),
    checkpoint: el<HTMLInputElement>('checkpoint'),
    train: el<HTMLButtonElement>('train'),
    hidden: el<HTMLInputElement>('train-hidden'),
    latent: el<HTMLInputElement>('train-latent'),
    epochs: el<HTMLInputElement>('epochs'),
    pause: el<HTMLButtonElement>('pause'),
    stop: el<HTMLButtonElement>('stop'),
    info: el<HTMLElement>('model-info'),
    heldOut: el<HTMLElement>('held-out'),
    curve: el<HTMLCanvasElement>('loss-curve'),
    resample: el<HTMLButtonElement>('resample'),
    pair: el<HTMLButtonElement>('pair'),
    samples: el<HTMLCanvasElement>('samples'),
    samplesCaption: el<HTMLElement>('samples-caption'),
    reconFigure: el<HTMLElement>('recon-figure'),
    recon: el<HTMLCanvasElement>('recon'),
    interpFigure: el<HTMLElement>('interp-figure'),
    interp: el<HTMLCanvasElement>('interp'),
    interpA: el<HTMLCanvasElement>('interp-a'),
    interpB: el<HTMLCanvasElement>('interp-b'),
    interpStrip: el<HTMLCanvasElement>('interp-strip'),
    interpT: el<HTMLInputElement>('interp-t'),
    interpValue: el<HTMLOutputElement>('interp-value'),
  };
  const { digits } = options;
  const remote = startPanelWorker();
  const worker = remote.digits;
  const curve = new LossCurve(ui.curve, 'nats');
  let info: ModelInfo | undefined;
  let sampleSeed = 1;
  let pairIndex = 0;
  let interpRequest = 0;
  /** Bumped whenever a new model replaces the current one, so stale renders do not paint. */
  let generation = 0;

  const setState = (state: State, status: string): void => {
    document.body.dataset.state = state;
    ui.status.textContent = status;
  };
  const showError = (error: unknown): void => {
    ui.error.textContent = messageOf(error);
    ui.error.hidden = false;
    console.warn(`gm demo: ${messageOf(error)}`);
  };
  const fail = (error: unknown): void => {
    showError(error);
    setState('error', 'Stopped: see the error above.');
  };
  const clearError = (): void => {
    ui.error.hidden = true;
    ui.error.textContent = '';
  };
  const enableViews = (on: boolean): void => {
    for (const control of [ui.resample, ui.pair, ui.interpT]) control.disabled = !on;
  };
  const heldOut = (index: number): Uint8Array => {
    const n = digits.count - digits.trainCount;
    const i = digits.trainCount + (((index % n) + n) % n);
    return digits.images.subarray(i * PIXELS, (i + 1) * PIXELS);
  };

  const showInfo = (next: ModelInfo): void => {
    info = next;
    ui.info.textContent = `${next.describe}${next.epochs > 0 ? `; ${next.epochs} epochs trained` : ''}`;
    const figures = heldOutFigures(next.heldOut);
    ui.heldOut.textContent = figures === '' ? '' : `On the page's ${digits.count - digits.trainCount} held-out digits: ${figures}`;
    ui.samplesCaption.textContent = next.temperature === 1 ? 'Samples' : `Samples at temperature ${next.temperature} (base draws scaled by ${next.temperature})`;
    ui.reconFigure.hidden = !next.codings;
    ui.interpFigure.hidden = !next.codings;
  };

  const renderSamples = async (mine: number): Promise<void> => {
    const values = await worker.samples(SAMPLES, sampleSeed);
    if (mine === generation) drawGrid(ui.samples, values, SAMPLES, 8);
  };

  const renderReconstructions = async (mine: number): Promise<void> => {
    const pixels = new Uint8Array(RECONSTRUCTIONS * PIXELS);
    for (let i = 0; i < RECONSTRUCTIONS; i++) pixels.set(heldOut(i), i * PIXELS);
    const recon = await worker.reconstructions(pixels);
    if (mine !== generation) return;
    const both = new Float32Array(2 * RECONSTRUCTIONS * PIXELS);
    both.set(bytesToUnit(pixels));
    both.set(recon, RECONSTRUCTIONS * PIXELS);
    drawGrid(ui.recon, both, 2 * RECONSTRUCTIONS, RECONSTRUCTIONS);
  };

  const renderInterpolation = async (mine: number): Promise<void> => {
    const request = ++interpRequest;
    const t = Number(ui.interpT.value) / 100;
    ui.interpValue.textContent = t.toFixed(2);
    const picture = await worker.interpolate(t);
    if (request === interpRequest && mine === generation) drawGrid(ui.interp, picture, 1, 1);
  };

  const preparePair = async (mine: number): Promise<void> => {
    const a = heldOut(pairIndex);
    const b = heldOut(pairIndex + 7);
    const strip = await worker.setPair(a, b, STRIP_STEPS);
    if (mine !== generation) return;
    drawGrid(ui.interpA, bytesToUnit(a), 1, 1);
    drawGrid(ui.interpB, bytesToUnit(b), 1, 1);
    drawGrid(ui.interpStrip, strip, STRIP_STEPS, STRIP_STEPS);
    await renderInterpolation(mine);
  };

  const renderAll = async (mine: number): Promise<void> => {
    await renderSamples(mine);
    if (info?.codings === true) {
      await renderReconstructions(mine);
      await preparePair(mine);
    }
  };

  const load = async (what: string, loading: () => Promise<ModelInfo>): Promise<void> => {
    const mine = ++generation;
    clearError();
    enableViews(false);
    setState('loading', `Loading ${what}…`);
    showInfo(await loading());
    curve.clear();
    await renderAll(mine);
    if (mine !== generation) return;
    enableViews(true);
    setState('ready', `Showing ${what}.`);
  };

  const setTraining = (on: boolean): void => {
    ui.pause.disabled = !on;
    ui.stop.disabled = !on;
    ui.pause.textContent = 'Pause';
  };

  const readInt = (input: HTMLInputElement, what: string): number => {
    const n = Number(input.value);
    const min = Number(input.min);
    const max = Number(input.max);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${what} must be an integer from ${min} to ${max}, got "${input.value}"`);
    return n;
  };

  const train = async (epochs: number): Promise<void> => {
    const hidden = readInt(ui.hidden, 'hidden');
    const latent = readInt(ui.latent, 'latent');
    const mine = ++generation;
    clearError();
    curve.clear();
    ui.choice.value = 'trained';
    enableViews(false);
    setTraining(true);
    setState('training', `Training a new VAE 784-${hidden}-${latent} in the worker on ${digits.trainCount} digits…`);
    let drawing = Promise.resolve();
    const progress = (p: TrainProgress): void => {
      if (mine !== generation) return;
      curve.add(p.loss, p.epochEnd);
      if (!p.epochEnd && p.batch % 5 !== 0) return;
      curve.draw();
      if (!p.epochEnd) return;
      if (document.body.dataset.state === 'training') {
        ui.status.textContent = `Training in the worker: epoch ${p.epoch}/${p.epochs}, −ELBO ${curve.lastEpochMean.toFixed(1)} nats per digit (${p.seconds.toFixed(1)} s)`;
      }
      // One picture update at a time; an epoch that ends while the last is still drawing skips its own.
      drawing = drawing.then(async () => {
        info = { ...(info ?? { describe: '', kind: 'vae', epochs: 0, heldOut: [], temperature: 1 }), codings: true };
        await renderAll(mine);
        enableViews(true);
      });
    };
    try {
      const pixels = digits.images.subarray(0, digits.trainCount * PIXELS);
      const summary = await worker.train(
        { pixels, count: digits.trainCount, epochs, hidden, latent, batchSize: 32, learningRate: 2e-3, seed: 1 },
        Comlink.proxy(progress),
      );
      await drawing;
      if (mine !== generation) return;
      showInfo(await worker.info());
      ui.info.textContent += ` — trained here on ${digits.trainCount} digits in ${summary.seconds.toFixed(1)} s`;
      await renderAll(mine);
      enableViews(true);
      const how = summary.stopReason === 'aborted' ? `Stopped after ${summary.epochs} epochs` : `Trained ${summary.epochs} epochs`;
      setState('ready', `${how} in the worker in ${summary.seconds.toFixed(1)} s.`);
    } finally {
      if (mine === generation) setTraining(false);
    }
  };

  // The menu: the shipped digit models, and "trained here" once the user trains one.
  for (const m of options.shipped.filter((s) => s.panel === 'digits')) ui.choice.add(new Option(m.label, m.name));
  ui.choice.add(new Option('trained here (press Train)', 'trained'));
  ui.choice.addEventListener('change', () => {
    const m = options.shipped.find((s) => s.name === ui.choice.value);
    if (m === undefined) return;
    setTraining(false);
    load(`the shipped ${m.label}`, () => worker.loadUrl(shippedUrl(m))).catch(fail);
  });
  ui.checkpoint.addEventListener('change', () => {
    const files = ui.checkpoint.files;
    if (files === null || files.length === 0) return;
    setTraining(false);
    load('your checkpoint', () => worker.loadFiles(Array.from(files))).catch(fail);
  });
  ui.train.addEventListener('click', () => {
    let epochs: number;
    try {
      epochs = readInt(ui.epochs, 'epochs');
    } catch (error) {
      showError(error);
      return;
    }
    train(epochs).catch(fail);
  });
  ui.pause.addEventListener('click', () => {
    if (document.body.dataset.state === 'paused') {
      worker.resume().catch(fail);
      ui.pause.textContent = 'Pause';
      setState('training', 'Training resumed…');
    } else {
      worker.pause().catch(fail);
      ui.pause.textContent = 'Resume';
      setState('paused', 'Paused: the worker waits after its current batch. Resume to go on.');
    }
  });
  ui.stop.addEventListener('click', () => {
    worker.stop().catch(fail);
  });
  ui.resample.addEventListener('click', () => {
    sampleSeed++;
    renderSamples(generation).catch(fail);
  });
  ui.pair.addEventListener('click', () => {
    pairIndex++;
    preparePair(generation).catch(fail);
  });
  ui.interpT.addEventListener('input', () => {
    renderInterpolation(generation).catch(fail);
  });

  const backend = remote.start(options.backend, options.wasmPaths);
  const start = async (): Promise<void> => {
    await backend;
    const n = digits.count - digits.trainCount;
    await worker.setHeldOut(digits.images.slice(digits.trainCount * PIXELS, (digits.trainCount + n) * PIXELS));
    ui.choice.disabled = false;
    ui.train.disabled = false;
    if (options.trainEpochs !== undefined) {
      ui.epochs.value = String(options.trainEpochs);
      await train(options.trainEpochs);
    } else if (options.modelUrl !== undefined) {
      const url = new URL(options.modelUrl, document.baseURI).href;
      await load(`the checkpoint at ${options.modelUrl}`, () => worker.loadUrl(url));
    } else {
      const first = options.shipped.find((s) => s.panel === 'digits');
      if (first === undefined) throw new Error('models/index.json lists no digit models');
      ui.choice.value = first.name;
      await load(`the shipped ${first.label}`, () => worker.loadUrl(shippedUrl(first)));
    }
  };
  start().catch(fail);
  return { backend, tensors: () => worker.tensors() };
}
