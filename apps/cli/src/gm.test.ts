import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const gm = fileURLToPath(new URL('../dist/gm.js', import.meta.url));

/** Runs the built `gm` as a user would, with GM_BACKEND cleared so the test sees the default choice. */
function run(args: string[]) {
  const out = spawnSync(process.execPath, [gm, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GM_BACKEND: '' },
    timeout: 170_000,
  });
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}

describe('gm demo', () => {
  it('trains on the bundled digits and reports a falling −ELBO as JSON', () => {
    const { status, stdout, stderr } = run(['demo', '--epochs', '2', '--json']);
    expect(stderr).not.toMatch(/gm: /);
    expect(status).toBe(0);
    const report = JSON.parse(stdout) as {
      backend: { backend: string; fastMatMul: boolean };
      data: { train: number; test: number };
      initialTestNegElbo: number;
      epochs: { epoch: number; trainNegElbo: number; testNegElbo: number }[];
      leakedTensors: number;
    };
    expect(report.backend.backend).toBe('wasm');
    expect(report.backend.fastMatMul).toBe(true);
    expect(report.data).toMatchObject({ train: 8000, test: 2000 });
    expect(report.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    // An untrained decoder with logits near 0 costs ≈ 784·log 2 ≈ 543 nats; two epochs must cut that by far more
    // than half, and the second epoch must improve on the first.
    expect(report.initialTestNegElbo).toBeGreaterThan(450);
    const [first, second] = report.epochs as [(typeof report.epochs)[0], (typeof report.epochs)[0]];
    expect(first.testNegElbo).toBeLessThan(0.5 * report.initialTestNegElbo);
    expect(second.testNegElbo).toBeLessThan(first.testNegElbo);
    expect(second.trainNegElbo).toBeLessThan(first.trainNegElbo);
    expect(report.leakedTensors).toBe(0);
  });

  it('is reproducible for a fixed seed', () => {
    const a = JSON.parse(run(['demo', '--epochs', '1', '--seed', '3', '--json', '--backend', 'wasm']).stdout);
    const b = JSON.parse(run(['demo', '--epochs', '1', '--seed', '3', '--json', '--backend', 'wasm']).stdout);
    expect(a.epochs[0].testNegElbo).toBe(b.epochs[0].testNegElbo);
    expect(a.epochs[0].trainNegElbo).toBe(b.epochs[0].trainNegElbo);
  });

  it.each([
    [['demo', '--epochs', '0'], /--epochs <n>' argument '0' is invalid\. expected a positive integer, got "0"/],
    [['demo', '--batch', 'many'], /expected a positive integer, got "many"/],
    [['demo', '--backend', 'gpu'], /Allowed choices are node, wasm, cpu/],
    [['demo', '--nope'], /unknown option '--nope'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('rejects bad input %j with a clear message and exit code 1', (args, message) => {
    const { status, stderr } = run(args);
    expect(status).toBe(1);
    expect(stderr).toMatch(message);
  });

  it('prints help for the demo command', () => {
    const { status, stdout } = run(['demo', '--help']);
    expect(status).toBe(0);
    expect(stdout).toMatch(/--epochs <n>/);
    expect(stdout).toMatch(/--json/);
  });
});
