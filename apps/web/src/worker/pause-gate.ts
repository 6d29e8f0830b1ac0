/**
 * Pause and resume for a training loop in a worker: the loop awaits `gate.pass()` after every batch. Running, that
 * yields one macrotask (so the worker hears `pause`/`stop` messages between batches); paused, it waits until
 * `resume` or `stop`. `stop` makes every later `pass` report false, and the loop ends.
 */
export type GateState = 'running' | 'paused' | 'stopped';

export class PauseGate {
  private current: GateState = 'running';
  private waiters: Array<() => void> = [];

  get state(): GateState {
    return this.current;
  }

  pause(): void {
    if (this.current === 'running') this.current = 'paused';
  }

  resume(): void {
    if (this.current !== 'paused') return;
    this.current = 'running';
    this.release();
  }

  stop(): void {
    this.current = 'stopped';
    this.release();
  }

  /** Resolves true when the loop may take its next step, false once stopped. */
  async pass(): Promise<boolean> {
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    while (this.current === 'paused') await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.current === 'running';
  }

  private release(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }
}
