import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // gradient kernels
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../init';
import { createDataParallelTrainer, type DataParallelTrainer } from './trainer';
// @ts-expect-error plain-JS fixture
import { createReplica } from '../../test-fixtures/mlp-replica.mjs';
import type { Replica } from './replica';

// The worker runs from the built package (pnpm test builds first).
const workerUrl = new URL('../../dist/data-parallel-worker.js', import.meta.url);
const replicaModule = new URL('../../test-fixtures/mlp-replica.mjs', import.meta.url).href;
const BATCH = 12;

/** Seeded batches of a fixed regression problem. */
function batch(step: number): { x: Float32Array; y: Float32Array } {
  return tf.tidy(() => {
    const x = tf.randomNormal([BATCH, 6], 0, 1, 'float32', 100 + step);
    const y = tf.sum(tf.sin(tf.mul(x, 1.5)), 1, true);
    return { x: x.dataSync() as Float32Array, y: y.dataSync() as Float32Array };
  });
}

function weightsOf(replica: Replica): Float32Array {
  const parts = replica.variables.map((v) => v.dataSync() as Float32Array);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('data-parallel trainer (2 replicas in worker_threads)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });
  afterAll(async () => {
    await tf.setBackend('wasm');
  });

  /** Trains `steps` steps; returns the losses, the final weights of every replica and rank 0's tensor counts. */
  async function train(mode: 'sharded' | 'replicated' | undefined, steps: number, clipNorm?: number) {
    const trainer: DataParallelTrainer = await createDataParallelTrainer({
      replica: { module: replicaModule, config: { seed: 7, hidden: 10 } },
      batchSize: BATCH,
      optimizer: { name: 'adam', learningRate: 0.02, ...(clipNorm === undefined ? {} : { clipNorm }) },
      ...(mode === undefined ? {} : { mode }),
      workerUrl,
    });
    const losses: number[] = [];
    const tensors: number[] = [];
    for (let s = 0; s < steps; s++) {
      const { x, y } = batch(s);
      trainer.inputView(s, 'x').set(x);
      trainer.inputView(s, 'y').set(y);
      losses.push(trainer.step(s));
      tensors.push(tf.memory().numTensors);
    }
    const weights = trainer.gatherWeights();
    await trainer.dispose();
    return { losses, weights, tensors };
  }

  /** The same training in one thread on the full batch (tf.train.adam, which gmAdam equals bit for bit). */
  function single(steps: number, clipNorm?: number) {
    const replica = createReplica({ seed: 7, hidden: 10 }) as Replica;
    const optimizer = tf.train.adam(0.02);
    const losses: number[] = [];
    let clipped = 0;
    for (let s = 0; s < steps; s++) {
      const { x, y } = batch(s);
      const inputs = { x: tf.tensor2d(x, [BATCH, 6]), y: tf.tensor2d(y, [BATCH, 1]) };
      const { value, grads } = tf.variableGrads(() => replica.loss(inputs, { step: s, rows: [0, BATCH] }), replica.variables);
      if (clipNorm !== undefined) {
        // fit's clipping: scale by clipNorm / max(‖g‖, clipNorm).
        const norm = Math.sqrt(Object.values(grads).reduce((a, g) => a + (tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0]) as number), 0));
        if (norm > clipNorm) clipped++;
        for (const name of Object.keys(grads)) {
          const scaled = tf.mul(grads[name] as tf.Tensor, clipNorm / Math.max(norm, clipNorm));
          (grads[name] as tf.Tensor).dispose();
          grads[name] = scaled;
        }
      }
      optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      losses.push(value.dataSync()[0] as number);
      tf.dispose([value, ...Object.values(grads), inputs.x, inputs.y]);
    }
    if (clipNorm !== undefined) expect(clipped).toBeGreaterThan(steps / 2); // the clip really engaged
    const weights = weightsOf(replica);
    optimizer.dispose();
    replica.dispose();
    return { losses, weights };
  }

  it.each(['sharded', 'replicated'] as const)(
    '%s: replicas stay bit-identical, the loss falls, and training equals one thread on the full batch',
    async (mode) => {
      const steps = 30;
      const parallel = await train(mode, steps);
      const reference = single(steps);
      expect(Array.from(parallel.weights[1] as Float32Array)).toEqual(Array.from(parallel.weights[0] as Float32Array));
      expect(parallel.losses.at(-1) as number).toBeLessThan((parallel.losses[0] as number) * 0.5);
      // Same math, other summation order (two half-batch gradients added): equal to float32 rounding.
      parallel.losses.forEach((l, i) => expect(Math.abs(l - (reference.losses[i] as number))).toBeLessThan(1e-4 * Math.max(1, Math.abs(l))));
      const w = parallel.weights[0] as Float32Array;
      w.forEach((v, i) => expect(Math.abs(v - (reference.weights[i] as number))).toBeLessThan(1e-4));
      // No tensors leak on rank 0 across steps.
      expect(parallel.tensors.at(-1)).toBe(parallel.tensors[2]);
    },
  );

  it.each(['sharded', 'replicated'] as const)("%s: clips the batch's gradient to a global norm as one thread's fit does", async (mode) => {
    const steps = 20;
    const parallel = await train(mode, steps, 0.3);
    const reference = single(steps, 0.3);
    const unclipped = single(steps);
    expect(Array.from(parallel.weights[1] as Float32Array)).toEqual(Array.from(parallel.weights[0] as Float32Array));
    const w = parallel.weights[0] as Float32Array;
    w.forEach((v, i) => expect(Math.abs(v - (reference.weights[i] as number))).toBeLessThan(1e-4));
    expect(w.some((v, i) => Math.abs(v - (unclipped.weights[i] as number)) > 1e-3)).toBe(true);
    expect(parallel.tensors.at(-1)).toBe(parallel.tensors[2]);
    const base = { replica: { module: replicaModule, config: { seed: 1, hidden: 4 } }, batchSize: 8, workerUrl };
    await expect(createDataParallelTrainer({ ...base, optimizer: { name: 'adam', learningRate: 0.01, clipNorm: -1 } })).rejects.toThrow(/clipNorm must be a positive number/);
  });

  it.each(['sharded', 'replicated'] as const)(
    "%s: gathers Adam's state as one thread's Adam holds it, and a trainer given that state continues bit for bit",
    async (mode) => {
      const make = () =>
        createDataParallelTrainer({ replica: { module: replicaModule, config: { seed: 7, hidden: 10 } }, batchSize: BATCH, optimizer: { name: 'adam', learningRate: 0.02 }, mode, workerUrl });
      const run = (trainer: DataParallelTrainer, from: number, to: number) => {
        for (let s = from; s < to; s++) {
          const { x, y } = batch(s);
          trainer.inputView(s, 'x').set(x);
          trainer.inputView(s, 'y').set(y);
          trainer.step(s);
        }
      };
      const first = await make();
      run(first, 0, 10);
      const state = first.optimizerState();
      const weightsAt10 = first.gatherWeights()[0] as Float32Array;
      run(first, 10, 16);
      const continued = first.gatherWeights()[0] as Float32Array;
      await first.dispose();

      // One thread's Adam after the same 10 steps holds the same state (other summation order: float32 rounding).
      const replica = createReplica({ seed: 7, hidden: 10 }) as Replica;
      const adam = tf.train.adam(0.02);
      for (let s = 0; s < 10; s++) {
        const { x, y } = batch(s);
        tf.tidy(() => void adam.minimize(() => replica.loss({ x: tf.tensor2d(x, [BATCH, 6]), y: tf.tensor2d(y, [BATCH, 1]) }, { step: s, rows: [0, BATCH] }), false, replica.variables));
      }
      const [iter, ...slots] = await adam.getWeights();
      const n = replica.variables.length;
      expect(state.iterations).toBe(10);
      expect(iter?.tensor.dataSync()[0]).toBe(10);
      expect(state.accBeta1).toBe((adam as unknown as { accBeta1: tf.Variable }).accBeta1.dataSync()[0]);
      expect(state.accBeta2).toBe((adam as unknown as { accBeta2: tf.Variable }).accBeta2.dataSync()[0]);
      slots.forEach((slot, k) => {
        const gathered = (k < n ? state.firstMoments[k] : state.secondMoments[k - n]) as Float32Array;
        const reference = slot.tensor.dataSync() as Float32Array;
        expect(gathered.length).toBe(reference.length);
        reference.forEach((r, j) => expect(Math.abs((gathered[j] as number) - r)).toBeLessThanOrEqual(1e-6 + 1e-3 * Math.abs(r)));
      });
      tf.dispose(iter?.tensor);
      adam.dispose();
      replica.dispose();

      // A fresh trainer given the weights and the state continues exactly as the first did; without the state it does not.
      const resume = async (withState: boolean) => {
        const trainer = await make();
        let o = 0;
        for (const v of trainer.replica.variables) {
          v.assign(tf.tensor(weightsAt10.slice(o, o + v.size), v.shape));
          o += v.size;
        }
        trainer.broadcastWeights();
        if (withState) trainer.setOptimizerState(state);
        run(trainer, 10, 16);
        const all = trainer.gatherWeights();
        const again = trainer.optimizerState();
        await trainer.dispose();
        return { all, again };
      };
      const resumed = await resume(true);
      expect(Array.from(resumed.all[0] as Float32Array)).toEqual(Array.from(continued));
      expect(Array.from(resumed.all[1] as Float32Array)).toEqual(Array.from(continued));
      expect(resumed.again.iterations).toBe(16);
      const fresh = await resume(false);
      expect((fresh.all[0] as Float32Array).some((v, i) => v !== continued[i])).toBe(true);
    },
  );

  it('splits an uneven batch over three replicas (shards of 5, 4 and 4 rows), clips across all three and stays bit-identical', async () => {
    const trainer = await createDataParallelTrainer({
      replica: { module: replicaModule, config: { seed: 3, hidden: 6 } },
      replicas: 3,
      batchSize: 13,
      optimizer: { name: 'adam', learningRate: 0.02, clipNorm: 0.5 },
      workerUrl,
    });
    const losses: number[] = [];
    for (let s = 0; s < 15; s++) {
      const { x, y } = batch(s);
      trainer.inputView(s, 'x').set(x); // batch(s) has 12 rows: row 0 again is the 13th
      trainer.inputView(s, 'x').set(x.subarray(0, 6), 12 * 6);
      trainer.inputView(s, 'y').set(y.subarray(0, 12));
      trainer.inputView(s, 'y').set(y.subarray(0, 1), 12);
      losses.push(trainer.step(s));
    }
    const [w0, w1, w2] = trainer.gatherWeights();
    expect(Array.from(w1 as Float32Array)).toEqual(Array.from(w0 as Float32Array));
    expect(Array.from(w2 as Float32Array)).toEqual(Array.from(w0 as Float32Array));
    expect(losses.at(-1) as number).toBeLessThan(losses[0] as number);
    await trainer.dispose();
  });

  it("workers keep gm's gradients: the replica's module loads before the backend, so tfjs-layers cannot put tfjs's back", async () => {
    const trainer = await createDataParallelTrainer({
      replica: { module: replicaModule, config: { seed: 2, hidden: 5, rank5Tile: true } },
      batchSize: BATCH,
      optimizer: { name: 'adam', learningRate: 0.01 },
      workerUrl,
    });
    try {
      for (let s = 0; s < 3; s++) {
        const { x, y } = batch(s);
        trainer.inputView(s, 'x').set(x);
        trainer.inputView(s, 'y').set(y);
        expect(Number.isFinite(trainer.step(s))).toBe(true); // tfjs's Tile gradient would throw on rank 5 in a worker
      }
    } finally {
      await trainer.dispose();
    }
  });

  it("hands every replica the step's seed when the caller gives one (unsigned 32-bit), and none otherwise", async () => {
    const replica = { module: replicaModule, config: { seed: 4, hidden: 5, lossIsStepSeed: true } };
    const trainer = await createDataParallelTrainer({ replica, replicas: 3, batchSize: BATCH, optimizer: { name: 'sgd', learningRate: 0 }, workerUrl });
    const local = createReplica({ seed: 4, hidden: 5 }) as Replica;
    try {
      const { x, y } = batch(0);
      const mse = tf.tidy(() => local.loss({ x: tf.tensor(x, [BATCH, 6]), y: tf.tensor(y, [BATCH, 1]) }, { step: 0, rows: [0, BATCH] }).dataSync()[0] as number);
      for (const [s, seed] of [[0, 4_000_000_000], [1, undefined], [2, 7]] as const) {
        trainer.inputView(s, 'x').set(x);
        trainer.inputView(s, 'y').set(y);
        // The batch's loss is the shard-weighted mean of the replicas' (mse + their seed / 2³²): the seed only if all had it.
        expect(trainer.step(s, seed) - mse).toBeCloseTo(seed === undefined ? -1 : seed / 2 ** 32, 5);
      }
      expect(() => trainer.step(3, -1)).toThrow("data-parallel: a step's seed must be an unsigned 32-bit integer; got -1");
      expect(() => trainer.step(3, 2 ** 32)).toThrow(/unsigned 32-bit integer/);
    } finally {
      local.dispose();
      await trainer.dispose();
    }
  });

  it('a failing replica makes step() throw instead of hanging, and dispose still returns', async () => {
    const trainer = await createDataParallelTrainer({
      replica: { module: replicaModule, config: { seed: 7, hidden: 10, failAtStep: 2 } },
      batchSize: BATCH,
      optimizer: { name: 'adam', learningRate: 0.02 },
      workerUrl,
    });
    const run = (s: number) => {
      const { x, y } = batch(s);
      trainer.inputView(s, 'x').set(x);
      trainer.inputView(s, 'y').set(y);
      return trainer.step(s);
    };
    run(0);
    run(1);
    expect(() => run(2)).toThrow(/replica 1 failed/);
    await trainer.dispose();
  });

  it('refuses bad options with clear errors', async () => {
    const base = { replica: { module: replicaModule, config: { seed: 1, hidden: 4 } }, optimizer: { name: 'adam' as const, learningRate: 0.01 }, workerUrl };
    await expect(createDataParallelTrainer({ ...base, batchSize: 8, replicas: 0 })).rejects.toThrow(/replicas must be an integer in 1\.\.64/);
    await expect(createDataParallelTrainer({ ...base, batchSize: 1, replicas: 2 })).rejects.toThrow(/batchSize must be an integer ≥ replicas/);
    await expect(
      createDataParallelTrainer({ ...base, batchSize: 8, replica: { module: replicaModule, exportName: 'nope', config: {} } }),
    ).rejects.toThrow(/exports no function "nope"/);
    const trainer = await createDataParallelTrainer({ ...base, batchSize: 8 });
    expect(() => trainer.inputView(0, 'z')).toThrow(/has no input "z" \(it has x, y\)/);
    const state = trainer.optimizerState();
    expect(() => trainer.setOptimizerState({ ...state, firstMoments: state.firstMoments.slice(1) })).toThrow(/the optimizer state has \d+ first moments; the replica has \d+ variables/);
    await trainer.dispose();
    const sgd = await createDataParallelTrainer({ ...base, batchSize: 8, optimizer: { name: 'sgd', learningRate: 0.1 } });
    expect(() => sgd.optimizerState()).toThrow(/only Adam keeps optimizer state \(this trainer runs sgd\)/);
    sgd.inputView(0, 'x').set(batch(0).x.subarray(0, 8 * 6));
    sgd.inputView(0, 'y').set(batch(0).y.subarray(0, 8));
    expect(Number.isFinite(sgd.step(0))).toBe(true); // still running
    await sgd.dispose();
  });
});
