/**
 * One training run at a time in a worker, with pause/resume/stop from the page: `run` ends the previous run (and waits
 * for it, so a model is never replaced mid-step), then hands `fit` its callbacks — a batch callback that reports
 * progress and waits at the pause gate, and the abort signal that ends `fit` after the batch once stopped.
 */
import type { FitCallbacks } from '@gm/core';
import { PauseGate } from './pause-gate';

/** Sent after every batch; `epochEnd` on an epoch's last batch. */
export interface TrainProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  /** The batch's mean loss (nats per example). */
  loss: number;
  epochEnd: boolean;
  /** Since the run started. */
  seconds: number;
}

/** How a run ended: `fit`'s stop reason ('aborted' when stopped), the model's epochs and the run's seconds. */
export interface TrainSummary {
  stopReason: string;
  epochs: number;
  seconds: number;
}

/** What a run gives `fit`. */
export interface RunCallbacks {
  signal: AbortSignal;
  onBatchEnd: NonNullable<FitCallbacks['onBatchEnd']>;
  seconds(): number;
}

export class TrainingControl {
  private gate = new PauseGate();
  private abort = new AbortController();
  private running: Promise<unknown> = Promise.resolve();

  /** Ends the run in progress, then runs `body` with fresh callbacks reporting to `progress`. */
  async run<T>(epochs: number, progress: (p: TrainProgress) => void, body: (callbacks: RunCallbacks) => Promise<T>): Promise<T> {
    await this.end();
    const gate = new PauseGate();
    const abort = new AbortController();
    this.gate = gate;
    this.abort = abort;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const result = body({
      signal: abort.signal,
      seconds,
      onBatchEnd: async (logs) => {
        progress({ epoch: logs.epoch, epochs, batch: logs.batch, batches: logs.batches, loss: logs.loss, epochEnd: logs.batch === logs.batches - 1, seconds: seconds() });
        await gate.pass(); // false once stopped: the aborted signal ends fit after this batch
      },
    });
    this.running = result.catch(() => undefined);
    return result;
  }

  pause(): void {
    this.gate.pause();
  }

  resume(): void {
    this.gate.resume();
  }

  stop(): void {
    this.gate.stop();
    this.abort.abort();
  }

  /** Stops the run in progress and waits until it has ended. */
  async end(): Promise<void> {
    this.stop();
    await this.running;
  }
}
