/**
 * How commands talk while they work: a cli-progress bar with the loss and throughput when stdout is a terminal,
 * plain lines when it is not (logs, pipes, CI), and nothing at all with `--json` (stdout then carries only the JSON
 * report).
 */
import cliProgress from 'cli-progress';
import type { BatchLogs, EpochLogs } from '@gm/models';

export type OutputMode = 'tty' | 'plain' | 'json';

export function outputMode(json: boolean): OutputMode {
  if (json) return 'json';
  return process.stdout.isTTY === true ? 'tty' : 'plain';
}

export class Reporter {
  private bar: cliProgress.SingleBar | undefined;
  private epochStart = 0;
  private seen = 0;

  constructor(readonly mode: OutputMode) {}

  /** A line for people (not printed with --json). */
  line(text: string): void {
    if (this.mode === 'json') return;
    if (this.bar !== undefined) this.bar.stop();
    this.bar = undefined;
    console.log(text);
  }

  /** Callbacks for a model's fit: a bar per epoch on a terminal, one line per epoch otherwise. */
  training(totalEpochs: number, firstEpoch: number): { onBatchEnd: (l: BatchLogs) => void; onEpochEnd: (l: EpochLogs) => void } {
    const lastEpoch = firstEpoch + totalEpochs - 1;
    return {
      onBatchEnd: (l) => {
        if (this.mode !== 'tty') return;
        if (l.batch === 0 || this.bar === undefined) {
          this.bar?.stop();
          this.bar = new cliProgress.SingleBar(
            {
              format: `epoch ${l.epoch}/${lastEpoch} [{bar}] {value}/{total} batches | loss {loss} | {rate} img/s | eta {eta}s`,
              hideCursor: true,
              clearOnComplete: true,
              etaBuffer: 20,
            },
            cliProgress.Presets.shades_classic,
          );
          this.bar.start(l.batches, 0, { loss: '…', rate: '…' });
          this.epochStart = performance.now();
          this.seen = 0;
        }
        this.seen += l.size;
        const seconds = (performance.now() - this.epochStart) / 1000;
        this.bar.update(l.batch + 1, { loss: l.loss.toFixed(3), rate: seconds > 0 ? Math.round(this.seen / seconds) : '…' });
      },
      onEpochEnd: (l) => {
        if (this.mode === 'json') return;
        this.bar?.stop();
        this.bar = undefined;
        const val = l.valLoss === undefined ? '' : `  validation ${l.valLoss.toFixed(3)}`;
        console.log(`epoch ${l.epoch}/${lastEpoch}: loss ${l.loss.toFixed(3)}${val}  (${l.seconds.toFixed(1)} s, ${Math.round(l.examplesPerSecond)} img/s)`);
      },
    };
  }

  /** A bar (terminal) or start/end lines (plain) around a long step with a known number of units. */
  async task<T>(label: string, total: number, run: (tick: (done: number) => void) => Promise<T>): Promise<T> {
    const t0 = performance.now();
    if (this.mode === 'tty') {
      const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total} | {rate}/s`, hideCursor: true, clearOnComplete: true });
      bar.start(total, 0, { rate: '…' });
      try {
        return await run((done) => {
          const s = (performance.now() - t0) / 1000;
          bar.update(done, { rate: s > 0 ? Math.round(done / s) : '…' });
        });
      } finally {
        bar.stop();
      }
    }
    return run(() => {});
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
