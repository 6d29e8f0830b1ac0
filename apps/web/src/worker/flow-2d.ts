/**
 * The 2-D flow panel's model, living in the worker: a neural spline flow (@gm/models' SplineFlow) shipped with the
 * page or trained here on points (two moons, rings, or the user's own), and what the page draws of it — the density
 * on the page's grid and samples.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gmAdam } from '@gm/backend';
import { loadModel, SplineFlow, urlStore } from '@gm/models';
import { gridPoints, type DensityGrid } from '../density-grid';
import { TrainingControl, type TrainProgress, type TrainSummary } from './training-control';

export interface FlowTrainRequest {
  /** Interleaved (x, y). */
  points: Float32Array;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

/** What the page draws: p(x) at the grid's cell centres and samples as interleaved (x, y). */
export interface FlowFrame {
  density: Float32Array;
  samples: Float32Array;
}

/** The flow the page trains: 4 spline couplings (8 bins on [−4, 4], MLP 64-64), ActNorm and an LU 1×1 between them. */
export const PAGE_FLOW = { dim: 2, couplings: 4, hidden: [64, 64], bins: 8, bound: 4 } as const;

export class Flow2d {
  private flow: SplineFlow | undefined;
  private readonly control = new TrainingControl();

  /** Loads a spline-flow checkpoint; returns its description. */
  async loadUrl(url: string): Promise<string> {
    await this.control.end();
    const model = await loadModel(urlStore(url));
    if (!(model instanceof SplineFlow) || model.config.dim !== 2 || model.config.levels > 0) {
      const what = model.describe();
      model.dispose();
      throw new Error(`${url}: ${what}; the flow panel shows 2-D spline flows`);
    }
    this.replace(model);
    return model.describe();
  }

  /** Trains a new flow on `points`; `progress` hears every batch (loss: −log p in nats per point). */
  async train(request: FlowTrainRequest, progress: (p: TrainProgress) => void): Promise<TrainSummary> {
    const n = request.points.length / 2;
    if (!Number.isInteger(n) || n < 2) throw new Error(`the flow needs at least 2 points to train on, got ${n}`);
    return this.control.run(request.epochs, progress, async (callbacks) => {
      const flow = new SplineFlow({ ...PAGE_FLOW, hidden: [...PAGE_FLOW.hidden], seed: request.seed });
      this.replace(flow);
      const x = tf.tensor2d(request.points, [n, 2]);
      try {
        const { signal, onBatchEnd } = callbacks;
        const result = await flow.fit(x, { epochs: request.epochs, batchSize: Math.min(request.batchSize, n), learningRate: request.learningRate, optimizer: gmAdam, clipNorm: 100, seed: request.seed, signal, onBatchEnd });
        return { stopReason: result.stopReason, epochs: flow.epochsTrained, seconds: callbacks.seconds() };
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

  describe(): string {
    return this.current().describe();
  }

  /** The density at the grid's cell centres and `samples` draws (seeded). */
  frame(grid: DensityGrid, samples: number, seed: number): FlowFrame {
    const flow = this.current();
    const density = tf.tidy(() => tf.exp(flow.logProb(tf.tensor2d(gridPoints(grid), [grid.size * grid.size, 2]))));
    const drawn = flow.sample(samples, { seed });
    try {
      return { density: density.dataSync() as Float32Array, samples: drawn.dataSync() as Float32Array };
    } finally {
      density.dispose();
      drawn.dispose();
    }
  }

  tensors(): number {
    return tf.memory().numTensors;
  }

  private current(): SplineFlow {
    if (this.flow === undefined) throw new Error('no flow loaded or trained yet');
    return this.flow;
  }

  private replace(next: SplineFlow): void {
    this.flow?.dispose();
    this.flow = next;
  }
}
