/**
 * gm's browser demo: picks the fastest TensorFlow.js backend (webgl, else wasm, else cpu) through @gm/backend,
 * trains a small Bernoulli VAE from @gm/models on real MNIST digits shipped with the page (or loads a `gm train`
 * checkpoint), and shows samples, reconstructions of held-out digits and a latent interpolation control. The
 * compression panel (compress-panel.ts) codes the user's own pictures with a VAE shipped with the page.
 *
 * URL parameters: `?epochs=N` (in-page training length), `?model=<url of a checkpoint folder>` (load instead of
 * training), `?backend=webgl|wasm|cpu` (force one).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the layers and the gradient kernels training needs
import '@tensorflow/tfjs-backend-webgl'; // registers webgl so initBackend can pick it
import { gmAdam, initBackend, BACKEND_NAMES, type BackendName } from '@gm/backend';
import { VAE } from '@gm/models';
import { filesStore, urlStore, type CheckpointStore } from '@gm/models';
import { binarize, decodeDigits, type DigitSet } from './digits-format';
import { initCompressPanel } from './compress-panel';
import { bytesToUnit, drawGrid } from './render';
import { probeWebgl } from './webgl';

const PIXELS = 784;
const SAMPLES = 64;
const RECONSTRUCTIONS = 20;
const STRIP_STEPS = 10;

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found as T;
}

const ui = {
  backend: el<HTMLElement>('backend'),
  backendDetail: el<HTMLElement>('backend-detail'),
  status: el<HTMLElement>('status'),
  error: el<HTMLElement>('error'),
  train: el<HTMLButtonElement>('train'),
  epochs: el<HTMLInputElement>('epochs'),
  checkpoint: el<HTMLInputElement>('checkpoint'),
  resample: el<HTMLButtonElement>('resample'),
  pair: el<HTMLButtonElement>('pair'),
  samples: el<HTMLCanvasElement>('samples'),
  recon: el<HTMLCanvasElement>('recon'),
  interp: el<HTMLCanvasElement>('interp'),
  interpA: el<HTMLCanvasElement>('interp-a'),
  interpB: el<HTMLCanvasElement>('interp-b'),
  interpStrip: el<HTMLCanvasElement>('interp-strip'),
  interpT: el<HTMLInputElement>('interp-t'),
  interpValue: el<HTMLOutputElement>('interp-value'),
  modelInfo: el<HTMLElement>('model-info'),
  tensors: el<HTMLElement>('tensors'),
};

type State = 'starting' | 'training' | 'loading' | 'ready' | 'error';

function setState(state: State, status: string): void {
  document.body.dataset.state = state;
  ui.status.textContent = status;
}

function showError(error: unknown): void {
  const text = error instanceof Error ? error.message : String(error);
  ui.error.textContent = text;
  ui.error.hidden = false;
  console.warn(`gm demo: ${text}`);
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

function updateTensorCount(): void {
  ui.tensors.textContent = String(tf.memory().numTensors);
}

/** A VAE plus how the page's pixel bytes map to its data convention and its decoder means back to [0, 1]. */
interface DemoModel {
  vae: VAE;
  describe: string;
}

function toInput(model: DemoModel, pixels: Uint8Array, n: number): tf.Tensor {
  const shape = [n, ...model.vae.config.inputShape];
  if (model.vae.config.likelihood === 'bernoulli') return tf.tensor(binarize(pixels), shape);
  // Discretized logistic: bin centres 2v/255 − 1, as @gm/metrics' toBinCenters for 8-bit pixels.
  return tf.tensor(Float32Array.from(pixels, (v) => (2 * v) / 255 - 1), shape);
}

/** Decoder means as values in [0, 1] (Bernoulli: probabilities already; logistic: [−1, 1] → [0, 1]). */
function toUnit(model: DemoModel, decoded: tf.Tensor): tf.Tensor {
  return model.vae.config.likelihood === 'bernoulli' ? decoded : tf.div(tf.add(decoded, 1), 2);
}

let digits: DigitSet;
let model: DemoModel | undefined;
/** Incremented whenever a new model replaces the current one, so stale training loops and renders stop. */
let generation = 0;
let sampleSeed = 1;
let pairIndex = 0;
/** The posterior means of the interpolation pair under the current model (kept until the model or pair changes). */
let pairCodes: { a: tf.Tensor; b: tf.Tensor } | undefined;
let interpRequest = 0;

function heldOut(index: number): Uint8Array {
  const n = digits.count - digits.trainCount;
  const i = digits.trainCount + (((index % n) + n) % n);
  return digits.images.subarray(i * PIXELS, (i + 1) * PIXELS);
}

function setModel(next: DemoModel | undefined): void {
  generation++;
  pairCodes?.a.dispose();
  pairCodes?.b.dispose();
  pairCodes = undefined;
  model?.vae.dispose();
  model = next;
  ui.modelInfo.textContent = next?.describe ?? '';
  updateTensorCount();
}

async function renderSamples(m: DemoModel): Promise<void> {
  const values = tf.tidy(() => toUnit(m, m.vae.sample(SAMPLES, { seed: sampleSeed })));
  const data = await values.data();
  values.dispose();
  drawGrid(ui.samples, data, SAMPLES, 8);
}

async function renderReconstructions(m: DemoModel): Promise<void> {
  const pixels = new Uint8Array(RECONSTRUCTIONS * PIXELS);
  for (let i = 0; i < RECONSTRUCTIONS; i++) pixels.set(heldOut(i), i * PIXELS);
  const recon = tf.tidy(() => toUnit(m, m.vae.reconstruct(toInput(m, pixels, RECONSTRUCTIONS))));
  const data = await recon.data();
  recon.dispose();
  const both = new Float32Array(2 * RECONSTRUCTIONS * PIXELS);
  both.set(bytesToUnit(pixels));
  both.set(data, RECONSTRUCTIONS * PIXELS);
  drawGrid(ui.recon, both, 2 * RECONSTRUCTIONS, RECONSTRUCTIONS);
}

/** Encodes the current pair, draws its two digits and the 10-step strip (VAE.interpolate). */
async function preparePair(m: DemoModel): Promise<void> {
  const a = heldOut(pairIndex);
  const b = heldOut(pairIndex + 7);
  pairCodes?.a.dispose();
  pairCodes?.b.dispose();
  pairCodes = tf.tidy(() => {
    const codings = m.vae.encode(toInput(m, new Uint8Array([...a, ...b]), 2));
    const [za, zb] = tf.split(codings, 2, 0) as [tf.Tensor, tf.Tensor];
    return { a: za, b: zb };
  });
  drawGrid(ui.interpA, bytesToUnit(a), 1, 1);
  drawGrid(ui.interpB, bytesToUnit(b), 1, 1);
  const strip = tf.tidy(() => toUnit(m, m.vae.interpolate(toInput(m, a, 1), toInput(m, b, 1), STRIP_STEPS)));
  const data = await strip.data();
  strip.dispose();
  drawGrid(ui.interpStrip, data, STRIP_STEPS, STRIP_STEPS);
}

/** Decodes (1 − t)·z_a + t·z_b for the slider's t and draws it; only the latest request paints. */
async function renderInterpolation(m: DemoModel): Promise<void> {
  const codes = pairCodes;
  if (codes === undefined) return;
  const request = ++interpRequest;
  const t = Number(ui.interpT.value) / 100;
  ui.interpValue.textContent = t.toFixed(2);
  const picture = tf.tidy(() => toUnit(m, m.vae.decode(tf.add(tf.mul(codes.a, 1 - t), tf.mul(codes.b, t)))));
  const data = await picture.data();
  picture.dispose();
  if (request === interpRequest && model === m) drawGrid(ui.interp, data, 1, 1);
  updateTensorCount();
}

async function renderAll(m: DemoModel): Promise<void> {
  await renderSamples(m);
  await renderReconstructions(m);
  await preparePair(m);
  await renderInterpolation(m);
  updateTensorCount();
}

function enableControls(on: boolean): void {
  for (const control of [ui.resample, ui.pair, ui.interpT]) control.disabled = !on;
}

const nextFrame = (): Promise<void> => new Promise((resolve) => requestAnimationFrame(() => resolve()));

/** Trains a fresh VAE in the page, one epoch at a time so the page stays responsive and shows progress. */
async function trainInPage(epochs: number): Promise<void> {
  const vae = new VAE({ inputShape: [PIXELS], hidden: [128], latentDim: 8, likelihood: 'bernoulli', seed: 1 });
  const m: DemoModel = { vae, describe: `in-page VAE 784-128-8, Bernoulli, ${digits.trainCount} digits` };
  setModel(m);
  const mine = generation;
  const x = toInput(m, digits.images.subarray(0, digits.trainCount * PIXELS), digits.trainCount);
  enableControls(false);
  try {
    const started = performance.now();
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const result = await vae.fit(x, { epochs: 1, batchSize: 32, learningRate: 2e-3, optimizer: gmAdam });
      if (generation !== mine) return; // another model replaced this one
      const loss = result.history.at(-1)?.loss ?? Number.NaN;
      const seconds = (performance.now() - started) / 1000;
      setState('training', `Training in the page: epoch ${epoch}/${epochs}, −ELBO ${loss.toFixed(1)} nats (${seconds.toFixed(1)} s)`);
      await renderAll(m);
      await nextFrame();
      if (generation !== mine) return;
    }
    const seconds = (performance.now() - started) / 1000;
    m.describe = `${m.describe}, ${epochs} epochs in ${seconds.toFixed(1)} s`;
    ui.modelInfo.textContent = m.describe;
    enableControls(true);
    setState('ready', `Trained ${epochs} epochs in the page in ${seconds.toFixed(1)} s.`);
  } finally {
    x.dispose();
    updateTensorCount();
  }
}

async function loadCheckpoint(source: CheckpointStore): Promise<void> {
  setState('loading', `Loading the checkpoint from ${source.label}…`);
  enableControls(false);
  const vae = await VAE.load(source);
  const c = vae.config;
  const shape = c.architecture === 'mlp' ? `784-${c.hidden.join('-')}-${c.latentDim}` : `conv ${c.conv?.filters.join('-')} → ${c.latentDim}`;
  const trained = vae.epochsTrained > 0 ? `, ${vae.epochsTrained} epochs` : '';
  const m: DemoModel = { vae, describe: `checkpoint ${source.label}: VAE ${shape}, ${c.likelihood}${trained}` };
  setModel(m);
  await renderAll(m);
  enableControls(true);
  setState('ready', `Loaded the checkpoint from ${source.label}.`);
}

function parseBackend(value: string | null): BackendName | undefined {
  if (value === null || value === '') return undefined;
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(`?backend=${value}: expected one of ${BACKEND_NAMES.filter((b) => b !== 'node').join(', ')}`);
}

function parseEpochs(value: string | null, fallback: number): number {
  if (value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new Error(`epochs must be an integer from 1 to 500, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const forced = parseBackend(params.get('backend'));
  const choice = await initBackend({
    backend: forced,
    wasmPaths: new URL('tfjs-wasm/', document.baseURI).href,
    // webgl first, as @gm/backend orders it, but not on a software rasteriser (headless Chromium without a GPU
    // renders WebGL with SwiftShader, where tfjs-webgl trains several times slower than tfjs-wasm). `?backend=webgl`
    // still forces it.
    loaders:
      forced === undefined
        ? {
            webgl: async () => {
              if (tf.findBackendFactory('webgl') === null) throw new Error('@tensorflow/tfjs-backend-webgl is not loaded');
              const gl = probeWebgl();
              if (gl === undefined) throw new Error('this browser gives no WebGL context');
              if (gl.software) throw new Error(`WebGL is software-rendered (${gl.renderer}), slower than wasm`);
            },
          }
        : undefined,
  });
  ui.backend.textContent = choice.backend;
  ui.backend.dataset.backend = choice.backend;
  const skipped = choice.skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
  ui.backendDetail.textContent = `(${choice.reason}${choice.fastMatMul ? ', fast wasm MatMul' : ''}${skipped ? `; skipped ${skipped}` : ''})`;
  // The compression panel loads its own model (shipped with the page) and works while the demo trains.
  initCompressPanel(updateTensorCount);

  const response = await fetch(new URL('digits.bin', document.baseURI));
  if (!response.ok) throw new Error(`digits.bin: HTTP ${response.status}`);
  digits = decodeDigits(new Uint8Array(await response.arrayBuffer()));

  ui.epochs.value = String(parseEpochs(params.get('epochs'), Number(ui.epochs.value)));
  ui.train.disabled = false;
  ui.train.addEventListener('click', () => {
    clearError();
    let epochs: number;
    try {
      epochs = parseEpochs(ui.epochs.value, 30);
    } catch (error) {
      showError(error);
      return;
    }
    trainInPage(epochs).catch(fail);
  });
  ui.checkpoint.addEventListener('change', () => {
    const files = ui.checkpoint.files;
    if (files === null || files.length === 0) return;
    clearError();
    loadCheckpoint(filesStore(files)).catch(fail);
  });
  ui.resample.addEventListener('click', () => {
    if (model === undefined) return;
    sampleSeed++;
    renderSamples(model).then(updateTensorCount, fail);
  });
  ui.pair.addEventListener('click', () => {
    const m = model;
    if (m === undefined) return;
    pairIndex++;
    preparePair(m).then(() => renderInterpolation(m), fail);
  });
  ui.interpT.addEventListener('input', () => {
    if (model !== undefined) renderInterpolation(model).catch(fail);
  });

  const modelUrl = params.get('model');
  if (modelUrl !== null && modelUrl !== '') await loadCheckpoint(urlStore(modelUrl));
  else await trainInPage(Number(ui.epochs.value));
}

function fail(error: unknown): void {
  showError(error);
  setState('error', 'Stopped: see the error above.');
}

main().catch(fail);
