import { describe, expect, it } from 'vitest';
import { PauseGate } from './pause-gate';

/** A loop of `steps` that passes the gate after each step, as the worker's training does. */
async function loop(gate: PauseGate, steps: number, done: number[]): Promise<void> {
  for (let i = 0; i < steps; i++) {
    done.push(i);
    if (!(await gate.pass())) return;
  }
}

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PauseGate', () => {
  it('lets a loop run, holds it while paused, and lets it go on where it stopped', async () => {
    const gate = new PauseGate();
    const done: number[] = [];
    gate.pause();
    const finished = loop(gate, 5, done);
    await tick(20);
    expect(done).toEqual([0]); // held after its first step
    expect(gate.state).toBe('paused');
    gate.resume();
    await finished;
    expect(done).toEqual([0, 1, 2, 3, 4]);
  });

  it('ends a paused or running loop on stop, and stays stopped', async () => {
    const gate = new PauseGate();
    const done: number[] = [];
    gate.pause();
    const finished = loop(gate, 100, done);
    await tick();
    gate.stop();
    await finished;
    expect(done).toEqual([0]);
    gate.resume(); // no effect once stopped
    expect(gate.state).toBe('stopped');
    expect(await gate.pass()).toBe(false);
  });

  it('hears a pause sent while the loop runs (each pass yields a macrotask)', async () => {
    const gate = new PauseGate();
    const done: number[] = [];
    const finished = loop(gate, 1_000_000, done);
    setTimeout(() => gate.pause(), 0);
    await tick(20);
    const held = done.length;
    expect(held).toBeLessThan(1_000_000);
    await tick(20);
    expect(done.length).toBe(held);
    gate.stop();
    await finished;
  });
});
