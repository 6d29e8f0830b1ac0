/**
 * gm's browser demo. Each panel's model lives in its own Web Worker (training never blocks the page): the digits
 * panel (shipped VAEs and MADE, or a VAE trained here, with samples, reconstructions and interpolation) and the 2-D
 * flow panel (a spline flow's density, trained live). The compression panel codes the user's pictures on the page's
 * own thread with the shipped VAE.
 *
 * URL parameters: `?train=N` (train a new VAE for N epochs at once), `?model=<url of a checkpoint folder>` (load it
 * instead of the first shipped model), `?backend=webgl|wasm|cpu` (force one, in the page and the workers).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // the compression panel's VAE is a tfjs-layers model
import { backendDetails, parseBackend, plainSentence, startBackend } from './backend-choice';
import { initCompressPanel } from './compress-panel';
import { initDigitsPanel } from './digits-panel';
import { decodeDigits } from './digits-format';
import { el, messageOf } from './dom';
import { initFlowPanel } from './flow-panel';
import { shippedModels } from './shipped';

function parseEpochs(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new Error(`?train= must be an integer from 1 to 500, got "${value}"`);
  return n;
}

function fail(error: unknown): void {
  const box = el<HTMLElement>('error');
  box.textContent = messageOf(error);
  box.hidden = false;
  document.body.dataset.state = 'error';
  el<HTMLElement>('status').textContent = 'Stopped: see the error above.';
  console.warn(`gm demo: ${messageOf(error)}`);
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const backend = parseBackend(params.get('backend'));
  const trainEpochs = parseEpochs(params.get('train'));
  const wasmPaths = new URL('tfjs-wasm/', document.baseURI).href;

  const [shipped, digitsBytes] = await Promise.all([
    shippedModels(),
    fetch(new URL('digits.bin', document.baseURI)).then(async (r) => {
      if (!r.ok) throw new Error(`digits.bin: HTTP ${r.status}`);
      return new Uint8Array(await r.arrayBuffer());
    }),
  ]);
  const digits = decodeDigits(digitsBytes);
  const modelUrl = params.get('model') ?? undefined;
  const digitsPanel = initDigitsPanel({ backend, wasmPaths, digits, shipped, modelUrl: modelUrl === '' ? undefined : modelUrl, trainEpochs });
  const flowPanel = initFlowPanel({ backend, wasmPaths, shipped });

  const workerChoice = await digitsPanel.backend;
  const badge = el<HTMLElement>('backend');
  badge.textContent = workerChoice.backend;
  badge.dataset.backend = workerChoice.backend;
  el<HTMLElement>('backend-detail').textContent = `(${backendDetails(workerChoice)})`;
  el<HTMLElement>('backend-sentence').textContent = plainSentence(workerChoice);

  // The compression panel codes on this thread (bits-back coding is sequential JavaScript around small model calls).
  const pageChoice = await startBackend(backend, wasmPaths);
  el<HTMLElement>('page-backend').textContent = backendDetails(pageChoice);
  const tensors = el<HTMLElement>('tensors');
  const digitsTensors = el<HTMLElement>('digits-tensors');
  const flowTensors = el<HTMLElement>('flow-tensors');
  const updateCounts = (): void => {
    tensors.textContent = String(tf.memory().numTensors);
    digitsPanel.tensors().then((n) => (digitsTensors.textContent = String(n)), () => undefined);
    flowPanel.tensors().then((n) => (flowTensors.textContent = String(n)), () => undefined);
  };
  initCompressPanel(updateCounts);
  updateCounts();
  setInterval(updateCounts, 1000);
}

main().catch(fail);
