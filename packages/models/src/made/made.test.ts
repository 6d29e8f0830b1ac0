import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '@gm/core';
import { autoregressiveCoder, compress, decompress } from '@gm/bitsback';
import { MADE } from './made';
import type { MadeConfig } from './config';
import { fileStore } from '../io/file-store';

let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gm-made-'));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** All 2^D binary vectors, row i = bits of i (bit d = input d). */
function allVectors(D: number): tf.Tensor2D {
  const n = 2 ** D;
  const v = new Float32Array(n * D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) v[i * D + d] = (i >> d) & 1;
  return tf.tensor2d(v, [n, D]);
}

/** Makes the random-init network less uniform (scales every kernel) so probabilities differ clearly. */
function sharpen(made: MADE, factor: number): void {
  for (const v of made.trainableVariables()) if (v.shape.length === 2) v.assign(tf.mul(v, factor));
}

function probsOf(made: MADE, opts: { mask?: number; ensemble?: boolean }): Float64Array {
  const all = allVectors(made.inputSize);
  const lp = opts.ensemble === true ? made.ensembleLogProb(all) : made.logProb(all, { mask: opts.mask ?? 0 });
  const out = Float64Array.from(lp.dataSync(), (v) => Math.exp(v));
  tf.dispose([all, lp]);
  return out;
}

const sum = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => s + v, 0);

/** Counts of each of the 2^D vectors among samples `[n, D]`. */
function counts(samples: tf.Tensor): Float64Array {
  const [n, D] = samples.shape as [number, number];
  const v = samples.dataSync();
  const c = new Float64Array(2 ** D);
  for (let r = 0; r < n; r++) {
    let code = 0;
    for (let d = 0; d < D; d++) {
      const b = v[r * D + d] as number;
      expect(b === 0 || b === 1).toBe(true);
      code |= b << d;
    }
    c[code] = (c[code] as number) + 1;
  }
  return c;
}

function chiSquare(observed: Float64Array, probs: Float64Array, n: number): number {
  let chi = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = n * (probs[i] as number);
    chi += ((observed[i] as number) - e) ** 2 / e;
  }
  return chi;
}

// χ²(15) 99.9th percentile: a correct sampler exceeds it with probability 0.001 (and the seed is fixed).
const CHI2_15_999 = 37.7;

const TINY: MadeConfig[] = [
  { inputSize: 4, hidden: [16], ordering: 'natural', seed: 1 },
  { inputSize: 4, hidden: [16, 16], ordering: 'reversed', directConnection: false, seed: 2 },
  { inputSize: 4, hidden: [8], ordering: 'random', masks: 4, seed: 3 },
  { inputSize: 4, hidden: [12, 9], ordering: [2, 0, 3, 1], masks: 3, orderAgnostic: true, activation: 'tanh', seed: 4 },
];

describe('MADE (tiny, exact)', () => {
  it.each(TINY.map((c, i) => [i, c] as const))('probabilities of all 2^D vectors sum to 1 for every mask and the ensemble (config %i)', (_i, config) => {
    const made = new MADE(config);
    sharpen(made, 3);
    for (let k = 0; k < made.maskCount; k++) {
      const p = probsOf(made, { mask: k });
      expect(sum(p)).toBeCloseTo(1, 5);
      // Not trivially uniform: the check would pass for a constant model too, so require structure.
      expect(Math.max(...p) / Math.min(...p)).toBeGreaterThan(1.5);
    }
    expect(sum(probsOf(made, { ensemble: true }))).toBeCloseTo(1, 5);
    made.dispose();
  });

  it('control: conditionals that break the autoregressive order (a cycle) do not sum to 1', async () => {
    // Without this the sum-to-1 test could pass for a reason other than the masks: mixing dimension 0's conditional
    // from a reversed-order MADE (it sees x1…x3) with dimensions 1…3 from a natural-order one makes a cycle.
    const nat = new MADE({ inputSize: 4, hidden: [16], ordering: 'natural', seed: 5 });
    const rev = new MADE({ inputSize: 4, hidden: [16], ordering: 'reversed', seed: 6 });
    sharpen(nat, 3);
    sharpen(rev, 3);
    const all = allVectors(4);
    const lp = tf.tidy(() => {
      const mixed = tf.concat([tf.slice(rev.logits(all), [0, 0], [-1, 1]), tf.slice(nat.logits(all), [0, 1], [-1, 3])], 1);
      return tf.sum(tf.sub(tf.mul(all, mixed), tf.softplus(mixed)), 1);
    });
    expect(Math.abs(sum(Array.from(lp.dataSync(), Math.exp)) - 1)).toBeGreaterThan(1e-2);
    tf.dispose([all, lp]);
    nat.dispose();
    rev.dispose();
  });

  it.each(TINY.map((c, i) => [i, c] as const))('exact samples follow logProb (χ² test, fixed seed; config %i)', (_i, config) => {
    const made = new MADE(config);
    sharpen(made, 3);
    const n = 2500;
    const s = made.sample(n, { seed: 11, mask: 0 });
    const observed = counts(s);
    expect(chiSquare(observed, probsOf(made, { mask: 0 }), n)).toBeLessThan(CHI2_15_999);
    // The same counts against the uniform distribution fail clearly: the test has power.
    expect(chiSquare(observed, new Float64Array(16).fill(1 / 16), n)).toBeGreaterThan(3 * CHI2_15_999);
    s.dispose();
    if (made.maskCount > 1) {
      const e = made.sample(n, { seed: 12, mask: 'ensemble' });
      expect(chiSquare(counts(e), probsOf(made, { ensemble: true }), n)).toBeLessThan(CHI2_15_999);
      e.dispose();
    }
    made.dispose();
  });

  it('the Jacobian of the logits is strictly autoregressive: exact zeros where forbidden, non-zero where allowed', async () => {
    const D = 6;
    for (const config of [
      { inputSize: D, hidden: [24, 24], ordering: 'random', masks: 3, orderAgnostic: true, seed: 21 },
      { inputSize: D, hidden: [30], ordering: 'natural', directConnection: false, seed: 22 },
    ] as MadeConfig[]) {
      const made = new MADE(config);
      for (let k = 0; k < made.maskCount; k++) {
        const deg = (made.maskDegrees(k)[0] as number[]);
        const x = tf.tensor2d([[0.3, -1.2, 0.8, 1.5, -0.4, 0.9]]);
        for (let d = 0; d < D; d++) {
          const g = tf.grad((xi: tf.Tensor) => tf.sum(tf.slice(made.logits(xi, { mask: k }), [0, d], [1, 1])))(x);
          const row = g.dataSync();
          for (let i = 0; i < D; i++) {
            if ((deg[i] as number) >= (deg[d] as number)) expect(row[i]).toBe(0);
            else if (config.directConnection !== false) expect(Math.abs(row[i] as number)).toBeGreaterThan(0); // direct weights reach every earlier input
          }
          g.dispose();
        }
        x.dispose();
      }
      made.dispose();
    }
  });
});

/** Binary data from a known autoregressive chain: x_0 ~ B(0.3), x_d = x_{d−1} with prob. 0.9 else flipped. */
function chainData(n: number, D: number, seed: number): { x: tf.Tensor2D; entropyNats: number } {
  const rand = mulberry32(seed);
  const v = new Float32Array(n * D);
  for (let r = 0; r < n; r++) {
    let prev = rand() < 0.3 ? 1 : 0;
    v[r * D] = prev;
    for (let d = 1; d < D; d++) {
      prev = rand() < 0.9 ? prev : 1 - prev;
      v[r * D + d] = prev;
    }
  }
  const h = (p: number): number => -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
  return { x: tf.tensor2d(v, [n, D]), entropyNats: h(0.3) + (D - 1) * h(0.9) };
}

describe('MADE training, checkpoints, hygiene', () => {
  it('fit learns a Markov chain down to near its entropy, with a mask pool and ensemble', async () => {
    const { x, entropyNats } = chainData(1000, 8, 3);
    const made = new MADE({ inputSize: 8, hidden: [32, 32], masks: 4, seed: 5 });
    const before = made.negativeLogLikelihood(x);
    const seen: number[] = [];
    const result = await made.fit(x, { epochs: 8, batchSize: 25, learningRate: 1e-2, onBatchEnd: (l) => void seen.push(l.batch) });
    expect(result.history).toHaveLength(8);
    expect(seen).toHaveLength(8 * 40);
    const after = made.negativeLogLikelihood(x);
    const ens = made.negativeLogLikelihood(x, { ensemble: true });
    expect(before).toBeGreaterThan(entropyNats + 1);
    expect(after).toBeLessThan(entropyNats + 0.15);
    expect(after).toBeGreaterThan(entropyNats - 0.15);
    expect(ens).toBeLessThan(entropyNats + 0.15);
    x.dispose();
    made.dispose();
  });

  it('seeded training is reproducible and leaks no tensors (fit, logProb, ensemble, sample)', async () => {
    const { x } = chainData(300, 8, 4);
    const run = async (): Promise<Float32Array[]> => {
      const made = new MADE({ inputSize: 8, hidden: [16], masks: 3, seed: 9 });
      await made.fit(x, { epochs: 2, batchSize: 30, seed: 4 });
      const w = made.trainableVariables().map((v) => v.dataSync() as Float32Array);
      made.dispose();
      return w;
    };
    const a = await run();
    const b = await run();
    a.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(b[i] as Float32Array)));

    const made = new MADE({ inputSize: 8, hidden: [16], masks: 3, seed: 9 });
    await made.fit(x, { epochs: 1, batchSize: 30 }); // creates the optimizer state
    const start = tf.memory().numTensors;
    await made.fit(x, { epochs: 1, batchSize: 30 });
    tf.dispose([made.logProb(x, { mask: 2 }), made.ensembleLogProb(x), made.sample(5, { mask: 'ensemble' })]);
    made.negativeLogLikelihood(x, { ensemble: true, batchSize: 70 });
    expect(tf.memory().numTensors).toBe(start);
    made.dispose();
    x.dispose();
  });

  it('save/load keeps weights and the whole mask pool: identical log-probabilities for every mask and the ensemble', async () => {
    const { x } = chainData(200, 8, 6);
    const made = new MADE({ inputSize: 8, hidden: [16, 12], masks: 5, orderAgnostic: true, seed: 12 });
    await made.fit(x, { epochs: 1, batchSize: 40 });
    made.useMask(3); // save must not depend on the mask the network holds
    const file = path.join(dir, 'made');
    await made.save(fileStore(file));
    const back = await MADE.load(fileStore(file));
    expect(back.epochsTrained).toBe(1);
    expect(back.maskCount).toBe(5);
    for (let k = 0; k < 5; k++) {
      expect(back.maskDegrees(k)).toEqual(made.maskDegrees(k));
      const [a, b] = [made.logProb(x, { mask: k }), back.logProb(x, { mask: k })];
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      tf.dispose([a, b]);
    }
    const [ea, eb] = [made.ensembleLogProb(x), back.ensembleLogProb(x)];
    expect(Array.from(eb.dataSync())).toEqual(Array.from(ea.dataSync()));
    tf.dispose([ea, eb, x]);
    made.dispose();
    back.dispose();
  });

  it('coding model: the coder computes the tfjs conditionals, in the mask order, and compresses losslessly', async () => {
    const made = new MADE({ inputSize: 10, hidden: [20, 16], ordering: 'random', seed: 13 });
    const coding = made.codingModel();
    expect(Array.from(coding.order)).toEqual(Array.from(made.order(0)));
    const rand = mulberry32(2);
    const x = Uint8Array.from({ length: 30 * 10 }, () => (rand() < 0.5 ? 1 : 0));
    const coder = autoregressiveCoder(coding);
    const logits = coder.logits(x, 30);
    const want = tf.tidy(() => made.logits(tf.tensor(x, [30, 10], 'float32')).dataSync());
    for (let i = 0; i < logits.length; i++) expect(Math.abs(logits[i]! - want[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want[i]!)));
    const file = await compress(x, coding, { shape: [10], fallback: false });
    expect((await decompress(file, made.codingModel())).images).toEqual(x);
    made.dispose();
  });

  it('rejects bad configs and inputs with errors naming the field', async () => {
    expect(() => new MADE({ inputSize: 1 })).toThrow(/"inputSize" must be an integer ≥ 2/);
    expect(() => new MADE({ inputSize: 4, hidden: [] })).toThrow(/"hidden"/);
    expect(() => new MADE({ inputSize: 4, ordering: [0, 1, 1, 2] })).toThrow(/"ordering" must be a permutation/);
    expect(() => new MADE({ inputSize: 4, masks: 0 })).toThrow(/"masks"/);
    const made = new MADE({ inputSize: 4, hidden: [8], masks: 2 });
    const bad = tf.zeros([2, 5]);
    expect(() => made.logProb(bad)).toThrow(/expected \[batch, 4\]/);
    expect(() => made.useMask(2)).toThrow(/"mask" must be an integer in \[0, 1\]/);
    bad.dispose();
    made.dispose();
  });
});
