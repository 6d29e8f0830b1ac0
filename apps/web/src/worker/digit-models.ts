/**
 * The digits panel's model, living in the worker: loads a shipped or picked checkpoint (any gm model through
 * @gm/models' `loadModel`), or trains a new VAE with pause/resume, and answers the page's requests for pictures —
 * samples, reconstructions, a latent interpolation — as display values in [0, 1], so the main thread only draws.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gmAdam } from '@gm/backend';
import type { GenerativeModel } from '@gm/core';
import { inputToUnit, pixelsToInput } from '@gm/data';
import { filesStore, loadModel, urlStore, VAE, type CheckpointStore } from '@gm/models';
import { TrainingControl, type TrainProgress, type TrainSummary } from './training-control';

/** What the page shows about the current model. */
export interface ModelInfo {
  describe: string;
  kind: string;
  epochs: number;
  /** It has encode/decode (reconstructions and interpolation). */
  codings: boolean;
  /** The temperature its samples are drawn at (flows on pixels: 0.7, their usual "cooler" samples; else 1). */
  temperature: number;
  /** Its test figures on the digits the page holds out (e.g. −ELBO in nats and bits/dim). */
  heldOut: Array<{ name: string; value: number; unit: string }>;
}

/** A new VAE to train in the worker on the page's digits. */
export interface TrainRequest {
  /** 28×28 grey bytes, image-major. */
  pixels: Uint8Array;
  count: number;
  epochs: number;
  hidden: number;
  latent: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

const PIXELS = 784;

/** Flows on 8-bit pixels (input convention 'pixels') sample at T = 0.7, as flow papers show them; other models at 1. */
function temperatureOf(m: GenerativeModel): number {
  return m.inputConvention === 'pixels' ? 0.7 : 1;
}

export class DigitModels {
  private model: GenerativeModel | undefined;
  private readonly control = new TrainingControl();
  private pair: { a: tf.Tensor; b: tf.Tensor } | undefined;
  /** Digits held out for the model's test figures (set by the page). */
  private heldOutPixels: Uint8Array | undefined;

  setHeldOut(pixels: Uint8Array): void {
    this.heldOutPixels = pixels;
  }

  async loadUrl(url: string): Promise<ModelInfo> {
    return this.load(urlStore(url));
  }

  async loadFiles(files: File[]): Promise<ModelInfo> {
    return this.load(filesStore(files));
  }

  private async load(store: CheckpointStore): Promise<ModelInfo> {
    await this.control.end();
    const model = await loadModel(store);
    if (model.inputShape.reduce((a, b) => a * b, 1) !== PIXELS || model.inputConvention === 'continuous') {
      const shape = model.inputShape.join('×');
      model.dispose();
      throw new Error(`${store.label}: a ${shape} model; the page shows models of 28×28 grey digits (784 values)`);
    }
    this.replace(model);
    return this.info();
  }

  /** Trains a new Bernoulli VAE; `progress` hears every batch (loss: −ELBO in nats per digit). Resolves when done or stopped. */
  async train(request: TrainRequest, progress: (p: TrainProgress) => void): Promise<TrainSummary> {
    return this.control.run(request.epochs, progress, async (callbacks) => {
      const vae = new VAE({ inputShape: [PIXELS], hidden: [request.hidden], latentDim: request.latent, likelihood: 'bernoulli', seed: request.seed });
      this.replace(vae);
      const x = tf.tensor2d(pixelsToInput(request.pixels.subarray(0, request.count * PIXELS), 'binary'), [request.count, PIXELS]);
      try {
        const { signal, onBatchEnd } = callbacks;
        const result = await vae.fit(x, { epochs: request.epochs, batchSize: request.batchSize, learningRate: request.learningRate, optimizer: gmAdam, seed: request.seed, signal, onBatchEnd });
        return { stopReason: result.stopReason, epochs: vae.epochsTrained, seconds: callbacks.seconds() };
      } finally {
        x.dispose();
      }
    });
  }

  pause(): void {
    this.control.pause();
  }

  resume(): void {
    this.control.resume();
  }

  stop(): void {
    this.control.stop();
  }

  info(): ModelInfo {
    const m = this.current('info');
    const heldOut: ModelInfo['heldOut'] = [];
    if (this.heldOutPixels !== undefined) {
      const n = this.heldOutPixels.length / PIXELS;
      const x = this.input(this.heldOutPixels, n);
      try {
        for (const metric of m.evaluate(x, { seed: 1 })) heldOut.push({ name: metric.name, value: metric.value, unit: metric.unit });
      } finally {
        x.dispose();
      }
    }
    return { describe: m.describe(), kind: m.kind, epochs: m.epochsTrained, codings: m.encode !== undefined && m.decode !== undefined, temperature: temperatureOf(m), heldOut };
  }

  /** `n` samples as values in [0, 1]. */
  samples(n: number, seed: number): Float32Array {
    const m = this.current('samples');
    if (m.sample === undefined) throw new Error(`${m.kind} models do not sample`);
    const sample = m.sample.bind(m);
    return this.display(m, () => sample(n, { seed, temperature: temperatureOf(m) }));
  }

  /** decode(encode(x)) of `pixels` (grey bytes) as values in [0, 1]. */
  reconstructions(pixels: Uint8Array): Float32Array {
    const m = this.current('reconstructions');
    if (m.reconstruct === undefined) throw new Error(`${m.kind} models do not reconstruct`);
    const reconstruct = m.reconstruct.bind(m);
    return this.display(m, () => reconstruct(this.input(pixels, pixels.length / PIXELS)));
  }

  /** Encodes the pair (kept for `interpolate`) and returns the `steps` pictures from a to b. */
  setPair(a: Uint8Array, b: Uint8Array, steps: number): Float32Array {
    const m = this.current('setPair');
    const encode = m.encode?.bind(m);
    if (encode === undefined || m.decode === undefined) throw new Error(`${m.kind} models have no codings to interpolate`);
    this.disposePair();
    this.pair = tf.tidy(() => {
      const [za, zb] = tf.split(encode(this.input(new Uint8Array([...a, ...b]), 2)), 2, 0) as [tf.Tensor, tf.Tensor];
      return { a: za, b: zb };
    });
    const ts = Array.from({ length: steps }, (_, i) => i / (steps - 1));
    return this.display(m, () => tf.concat(ts.map((t) => this.mix(t))));
  }

  /** The picture decoded from (1 − t)·z_a + t·z_b. */
  interpolate(t: number): Float32Array {
    const m = this.current('interpolate');
    return this.display(m, () => this.mix(t));
  }

  tensors(): number {
    return tf.memory().numTensors;
  }

  private mix(t: number): tf.Tensor {
    const pair = this.pair;
    const m = this.current('interpolate');
    if (pair === undefined || m.decode === undefined) throw new Error('no pair encoded yet');
    return m.decode(tf.add(tf.mul(pair.a, 1 - t), tf.mul(pair.b, t)));
  }

  private input(pixels: Uint8Array, n: number): tf.Tensor {
    const m = this.current('input');
    return tf.tensor(pixelsToInput(pixels, m.inputConvention), [n, ...m.inputShape]);
  }

  private display(m: GenerativeModel, make: () => tf.Tensor): Float32Array {
    const values = tf.tidy(make);
    try {
      return inputToUnit(values.dataSync() as Float32Array, m.inputConvention);
    } finally {
      values.dispose();
    }
  }

  private current(where: string): GenerativeModel {
    if (this.model === undefined) throw new Error(`${where}: no model loaded yet`);
    return this.model;
  }

  private replace(next: GenerativeModel): void {
    this.disposePair();
    this.model?.dispose();
    this.model = next;
  }

  private disposePair(): void {
    this.pair?.a.dispose();
    this.pair?.b.dispose();
    this.pair = undefined;
  }
}
