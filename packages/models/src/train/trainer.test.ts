import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CheckpointStore, SaveOptions, StepContext, Trainable, TrainingBatch } from '@gm/core';
import { memoryStore } from '../io/stores';
import { fit, optimizerSlotOf, TrainingDivergedError } from './trainer';
import { constantRate, cosineDecay, exponentialDecay, linearWarmup } from './schedules';
import { adamStateFiles, OPTIMIZERS, OptimizerSlot, optimizerStateFiles, readAdamStateFiles, restoreOptimizerState, tfjsAdam, type OptimizerStateFiles } from './optimizer';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A user's model: w fitted to the mean of the data by (w − x)², nothing of gm's but the contract. */
class MeanModel implements Trainable {
  readonly w = tf.variable(tf.zeros([2]));
  epochsTrained = 0;
  losses: number[] = [];
  trainableVariables(): tf.Variable[] {
    return [this.w];
  }
  loss(batch: TrainingBatch): tf.Scalar {
    return tf.tidy(() => tf.mean(tf.sum(tf.square(tf.sub(batch.x, this.w)), 1)) as tf.Scalar);
  }
  value(): number[] {
    return Array.from(this.w.dataSync());
  }
}

const data = () => tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]); // mean (4, 5)

describe('gm trainer with a user model', () => {
  it('trains a model that only implements Trainable, logs every batch and epoch, yields, and leaks nothing', async () => {
    const m = new MeanModel();
    const x = data();
    const before = tf.memory().numTensors;
    const batches: number[] = [];
    let yielded = 0;
    const timer = setInterval(() => yielded++, 0);
    const result = await fit(m, x, {
      epochs: 40,
      batchSize: 4,
      learningRate: 0.1,
      optimizer: 'sgd',
      onBatchEnd: (l) => void batches.push(tf.memory().numTensors + 0 * l.loss),
    });
    clearInterval(timer);
    expect(result.history).toHaveLength(40);
    expect(result.stopReason).toBe('completed');
    expect(result.bestEpoch).toBe(40);
    expect(m.epochsTrained).toBe(40);
    expect(batches).toHaveLength(40);
    expect(m.value()[0]).toBeCloseTo(4, 2);
    expect(m.value()[1]).toBeCloseTo(5, 2);
    expect(yielded).toBeGreaterThan(0);
    expect(new Set(batches.slice(1)).size).toBe(1);
    optimizerSlotOf(m).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, m.w]);
  });

  it('a customStep (e.g. data-parallel) replaces the gradient step: full batches with dropRemainder, its loss logged; no l2, no clipping', async () => {
    const m = new MeanModel();
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [5, 2]);
    const sizes: number[] = [];
    const result = await fit(m, x, {
      epochs: 2,
      batchSize: 2,
      shuffle: false,
      dropRemainder: true,
      customStep: (batch) => {
        sizes.push(batch.x.shape[0] as number);
        return 0.25 * sizes.length;
      },
    });
    expect(sizes).toEqual([2, 2, 2, 2]); // the fifth row's batch of one is dropped
    expect(result.history.map((e) => e.loss)).toEqual([0.375, 0.875]); // the mean of each epoch's step losses
    expect(m.value()).toEqual([0, 0]); // the trainer itself took no step
    await expect(fit(m, x, { epochs: 1, l2: 0.1, customStep: () => 0 })).rejects.toThrow(/l2/);
    await expect(fit(m, x, { epochs: 1, clipNorm: 5, customStep: () => 0 })).rejects.toThrow(/clipNorm.*customStep does not clip/);
    await expect(fit(m, x, { epochs: 1, customStep: () => 0 }, { clipNorm: 5 })).rejects.toThrow(/clipNorm \(this model's default\)/);
    tf.dispose([x, m.w]);
  });

  it("a customOptimizer's state goes into checkpoints, and a resumed checkpoint's state comes back to it", async () => {
    const m = new MeanModel();
    const x = data();
    // A custom step with its own Adam, as a data-parallel trainer keeps one.
    const own = tf.train.adam(0.1);
    const customStep = (batch: TrainingBatch) => {
      const loss = own.minimize(() => m.loss(batch), true, [m.w]) as tf.Scalar;
      const value = loss.dataSync()[0] as number;
      loss.dispose();
      return value;
    };
    const restored: Array<{ label: string; files: OptimizerStateFiles }> = [];
    const customOptimizer = {
      stateFiles: (variables: readonly tf.Variable[]) => optimizerStateFiles(own, variables),
      restore: async (files: OptimizerStateFiles, variables: readonly tf.Variable[], label: string) => {
        restored.push({ label, files });
        await restoreOptimizerState(own, variables, files, label);
      },
    };
    const store = memoryStore();
    // A user model that saves nothing of its own: the checkpoint holds the trainer's files.
    const host = Object.assign(m, { save: async (to: CheckpointStore, o?: SaveOptions) => to.write?.(o?.files ?? new Map()) });
    await fit(host, x, { epochs: 3, batchSize: 2, shuffle: false, customStep, customOptimizer, checkpoint: { store } });
    const written = new Map(store.files);
    // The last checkpoint holds the custom Adam's state after 3 epochs × 2 steps.
    const state = readAdamStateFiles(written, [m.w], 'checkpoint');
    expect(state.iterations).toBe(6);
    expect(Array.from(state.firstMoments[0] as Float32Array)).toEqual(Array.from(((await own.getWeights())[1] as { tensor: tf.Tensor }).tensor.dataSync()));
    // Resuming: the state the checkpoint loader left pending reaches the custom optimizer, before the first step.
    optimizerSlotOf(m).setPending(written);
    await fit(host, x, { epochs: 1, batchSize: 2, shuffle: false, customStep, customOptimizer });
    expect(restored.map((r) => r.label)).toEqual(['checkpoint']);
    expect(restored[0]?.files).toBe(written);
    await expect(fit(m, x, { epochs: 1, customOptimizer })).rejects.toThrow(/customOptimizer.*a customStep whose optimizer it is/);
    // A step that clips as fit would may take fit's clipNorm (the model's default too); another norm, or none, may not.
    await fit(m, x, { epochs: 1, batchSize: 2, clipNorm: 5, customStep, customOptimizer: { ...customOptimizer, clipNorm: 5 } });
    await expect(fit(m, x, { epochs: 1, clipNorm: 5, customStep, customOptimizer })).rejects.toThrow(/customStep does not clip unless its customOptimizer clips at this norm/);
    await expect(fit(m, x, { epochs: 1, clipNorm: 5, customStep, customOptimizer: { ...customOptimizer, clipNorm: 3 } })).rejects.toThrow(/customStep does not clip unless/);
    await expect(fit(m, x, { epochs: 1, customStep, customOptimizer: { ...customOptimizer, clipNorm: 3 } })).rejects.toThrow(/customOptimizer\.clipNorm must be fit's clipNorm \(none\)/);
    own.dispose();
    tf.dispose([x, m.w]);
  });

  it('schedules set the rate of every step (SGD on a linear loss moves w by exactly the rate)', async () => {
    const w = tf.variable(tf.scalar(0));
    const model: Trainable = { trainableVariables: () => [w], loss: () => tf.neg(w) as tf.Scalar };
    const seen: number[] = [];
    const x = tf.zeros([6, 1]);
    const schedule = linearWarmup(0.3, 3);
    await fit(model, x, { epochs: 1, batchSize: 1, optimizer: 'sgd', learningRate: schedule, shuffle: false, onBatchEnd: (l) => void seen.push(l.learningRate) });
    expect(seen).toEqual([0.1, 0.2, 0.30000000000000004, 0.3, 0.3, 0.3].map((v) => expect.closeTo(v, 12)));
    expect(w.dataSync()[0]).toBeCloseTo(0.1 + 0.2 + 0.3 * 4, 5);
    tf.dispose([w, x]);
  });

  it('closed forms of the schedules', () => {
    expect(constantRate(0.5)(99, 3)).toBe(0.5);
    expect(exponentialDecay(1, { decaySteps: 10, decayRate: 0.5 })(20, 1)).toBeCloseTo(0.25, 12);
    expect(exponentialDecay(1, { decaySteps: 10, decayRate: 0.5, staircase: true })(19, 1)).toBeCloseTo(0.5, 12);
    expect(cosineDecay(1, { decaySteps: 100 })(50, 1)).toBeCloseTo(0.5, 12);
    expect(cosineDecay(1, { decaySteps: 100, alpha: 0.1 })(1000, 1)).toBeCloseTo(0.1, 12);
    expect(linearWarmup(1, 4, cosineDecay(1, { decaySteps: 10 }))(4 + 5, 1)).toBeCloseTo(0.5, 12);
    expect(() => cosineDecay(1, { decaySteps: 0 })).toThrow(/cosineDecay: decaySteps must be a positive integer, got 0/);
  });

  it('clips the global gradient norm (SGD, rate 1: the step is the gradient rescaled to clipNorm)', async () => {
    const v = tf.variable(tf.tensor1d([3, 4]));
    const model: Trainable = { trainableVariables: () => [v], loss: () => tf.sum(tf.square(v)) as tf.Scalar };
    const x = tf.zeros([1, 1]);
    await fit(model, x, { epochs: 1, optimizer: 'sgd', learningRate: 1, clipNorm: 1 }); // gradient (6, 8), norm 10
    expect(Array.from(v.dataSync())).toEqual([expect.closeTo(3 - 0.6, 5), expect.closeTo(4 - 0.8, 5)]);
    const small: Trainable = { trainableVariables: () => [v], loss: () => tf.mul(tf.sum(v), 0.1) as tf.Scalar };
    await fit(small, x, { epochs: 1, optimizer: 'sgd', learningRate: 1, clipNorm: 1 }); // norm 0.14 < 1: unclipped
    expect(Array.from(v.dataSync())).toEqual([expect.closeTo(2.3, 5), expect.closeTo(3.1, 5)]);
    tf.dispose([v, x]);
  });

  it('momentum and Nesterov SGD take the closed-form steps on a linear loss (gradient −1, momentum 0.9)', async () => {
    // Heavy ball: v ← 0.9v + g, w ← w − ηv: steps η, 1.9η, 2.71η. Nesterov: w ← w − η(g + 0.9v): 1.9η, 2.71η, 3.439η.
    const run = async (optimizer: 'momentum' | 'nesterov') => {
      const w = tf.variable(tf.scalar(0));
      const model: Trainable = { trainableVariables: () => [w], loss: () => tf.neg(w) as tf.Scalar };
      const x = tf.zeros([3, 1]);
      await fit(model, x, { epochs: 1, batchSize: 1, optimizer, learningRate: 0.1, shuffle: false });
      const value = w.dataSync()[0] as number;
      optimizerSlotOf(model).dispose();
      tf.dispose([w, x]);
      return value;
    };
    expect(await run('momentum')).toBeCloseTo(0.1 * (1 + 1.9 + 2.71), 5);
    expect(await run('nesterov')).toBeCloseTo(0.1 * (1.9 + 2.71 + 3.439), 5);
  });

  it('a named optimizer without a rate starts from its own default (Adadelta 1, SGD 1e-2, RMSprop 1e-3), Adam from the model\'s', async () => {
    const rates = async (optimizer: 'adadelta' | 'sgd' | 'momentum' | 'rmsprop' | 'adam') => {
      const m = new MeanModel();
      const seen: number[] = [];
      const x = data();
      await fit(m, x, { epochs: 1, batchSize: 4, optimizer, onBatchEnd: (l) => void seen.push(l.learningRate) }, { learningRate: 3e-4 });
      optimizerSlotOf(m).dispose();
      tf.dispose([x, m.w]);
      return seen[0];
    };
    expect(await rates('adadelta')).toBe(1);
    expect(await rates('sgd')).toBe(1e-2);
    expect(await rates('momentum')).toBe(1e-2);
    expect(await rates('rmsprop')).toBe(1e-3);
    expect(await rates('adam')).toBe(3e-4);
  });

  it('l2 adds l2·Σ‖W‖² over kernels (rank ≥ 2) to the objective, not to biases or the reported loss', async () => {
    // Loss Σb does not touch W: SGD with rate η shrinks W by (1 − 2ηλ) per step and moves b by −η.
    const W = tf.variable(tf.tensor2d([1, -2, 3, 0.5], [2, 2]));
    const b = tf.variable(tf.tensor1d([0.25, -1]));
    const model: Trainable = { trainableVariables: () => [W, b], loss: () => tf.sum(b) as tf.Scalar };
    const x = tf.zeros([2, 1]);
    const losses: number[] = [];
    await fit(model, x, { epochs: 1, batchSize: 1, optimizer: 'sgd', learningRate: 0.1, l2: 0.5, shuffle: false, onBatchEnd: (l) => void losses.push(l.loss) });
    const shrink = (1 - 2 * 0.1 * 0.5) ** 2;
    expect(Array.from(W.dataSync())).toEqual([1, -2, 3, 0.5].map((v) => expect.closeTo(v * shrink, 6)));
    expect(Array.from(b.dataSync())).toEqual([expect.closeTo(0.05, 6), expect.closeTo(-1.2, 6)]);
    expect(losses).toEqual([expect.closeTo(-0.75, 6), expect.closeTo(-0.95, 6)]); // Σb before each step, no penalty
    await expect(fit(model, x, { epochs: 1, l2: -1 })).rejects.toThrow(/fit: l2 must be a finite number ≥ 0, got -1/);
    optimizerSlotOf(model).dispose();
    tf.dispose([W, b, x]);
  });

  it('a NaN loss, a NaN validation loss or a non-finite weight after the last step: diverged, back to the last good epoch', async () => {
    const m = new MeanModel();
    const x = data();
    await fit(m, x, { epochs: 1, batchSize: 4, learningRate: 0.1, optimizer: 'sgd' });
    const good = m.value();
    const bad = tf.tensor2d([1, 2, 3, Number.NaN, 5, 6, 7, 8], [4, 2]);
    const e1 = await fit(m, bad, { epochs: 2, batchSize: 2, shuffle: false, optimizer: 'sgd' }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(TrainingDivergedError);
    expect((e1 as Error).message).toMatch(/training diverged: loss NaN at epoch 2, batch 0; weights restored to the end of epoch 1/);
    expect(m.value()).toEqual(good);
    expect(m.epochsTrained).toBe(1);
    const e2 = await fit(m, x, { epochs: 1, validationData: bad, optimizer: 'sgd' }).catch((e: unknown) => e);
    expect((e2 as Error).message).toMatch(/validation loss NaN at epoch 2; weights restored to the end of epoch 1/);
    expect(m.value()).toEqual(good);
    // The loss is computed before the update, so only the weights show an update that overflowed.
    const w = tf.variable(tf.scalar(1));
    const blowUp: Trainable = { trainableVariables: () => [w], loss: () => tf.mul(w, 1e30) as tf.Scalar };
    const e3 = await fit(blowUp, tf.zeros([1, 1]), { epochs: 1, optimizer: 'sgd', learningRate: 1e30 }).catch((e: unknown) => e);
    expect((e3 as Error).message).toMatch(/a weight NaN at epoch 1; weights restored to their values before training/);
    expect(w.dataSync()[0]).toBe(1);
    tf.dispose([x, bad, m.w, w]);
  });

  it('an abort stops after the current batch with the weights of the last finished epoch', async () => {
    const m = new MeanModel();
    const x = data();
    const controller = new AbortController();
    let atEpochOne: number[] = [];
    const result = await fit(m, x, {
      epochs: 5,
      batchSize: 1,
      learningRate: 0.05,
      optimizer: 'sgd',
      signal: controller.signal,
      onEpochEnd: (l) => {
        if (l.epoch === 1) atEpochOne = m.value();
      },
      onBatchEnd: (l) => {
        if (l.epoch === 2 && l.batch === 1) controller.abort();
      },
    });
    expect(result.stopReason).toBe('aborted');
    expect(result.bestEpoch).toBe(1);
    expect(result.history).toHaveLength(1);
    expect(m.epochsTrained).toBe(1);
    expect(m.value()).toEqual(atEpochOne);
    tf.dispose([x, m.w]);
  });

  it('takes batches from an iterable function per epoch, and says so when a one-shot iterable runs dry', async () => {
    const m = new MeanModel();
    const x = data();
    const epochs: number[] = [];
    await fit(
      m,
      function* (epoch: number) {
        epochs.push(epoch);
        yield { x };
      },
      { epochs: 3, optimizer: 'sgd' },
    );
    expect(epochs).toEqual([1, 2, 3]);
    const once = [{ x }][Symbol.iterator]();
    const err = await fit(m, { [Symbol.iterator]: () => once }, { epochs: 2 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/the iterable was used up by epoch 4: pass a function \(epoch\) => batchIterator/);
    await expect(fit(m, 42 as unknown as tf.Tensor, { epochs: 1 })).rejects.toThrow(/fit: data must be a tf\.Tensor, \{ x, labels \}/);
    tf.dispose([x, m.w]);
  });

  it('builds lazily built layers before collecting their variables (no warm-up call needed)', async () => {
    let w: tf.Variable | undefined;
    const lazy: Trainable = {
      trainableVariables: () => (w === undefined ? [] : [w]),
      loss: (batch: TrainingBatch, _ctx: StepContext) => {
        w ??= tf.variable(tf.zeros([2]));
        return tf.mean(tf.sum(tf.square(tf.sub(batch.x, w)), 1)) as tf.Scalar;
      },
    };
    const x = data();
    await fit(lazy, x, { epochs: 30, batchSize: 4, learningRate: 0.2, optimizer: 'sgd' });
    expect(Array.from((w as tf.Variable).dataSync())).toEqual([expect.closeTo(4, 2), expect.closeTo(5, 2)]);
    tf.dispose([x, w as tf.Variable]);
  });

  it('refuses bad options, naming them', async () => {
    const m = new MeanModel();
    const x = data();
    await expect(fit(m, x, { epochs: -1 })).rejects.toThrow(/fit: epochs must be a non-negative integer, got -1/);
    await expect(fit(m, x, { epochs: 1, optimizer: 'adagrad' as 'adam' })).rejects.toThrow(/fit: optimizer must be one of adam, sgd, momentum, nesterov, rmsprop, adadelta/);
    await expect(fit(m, x, { epochs: 1, clipNorm: 0 })).rejects.toThrow(/fit: clipNorm must be a positive number, got 0/);
    await expect(fit(m, x, { epochs: 1, checkpoint: { store: { label: 'x', read: async () => new Uint8Array() } } })).rejects.toThrow(/checkpoint: .*save/);
    tf.dispose([x, m.w]);
  });
});

describe('optimizer state', () => {
  it('OptimizerSlot keeps one optimizer per (factory, variables) and frees the old one when either changes', () => {
    const a = tf.variable(tf.zeros([2]));
    const b = tf.variable(tf.zeros([3]));
    const slot = new OptimizerSlot();
    const first = slot.get(tfjsAdam, 0.1, [a]);
    expect(slot.get(tfjsAdam, 0.2, [a])).toBe(first);
    expect((first as unknown as { learningRate: number }).learningRate).toBe(0.2);
    expect(slot.get(tfjsAdam, 0.2, [a, b])).not.toBe(first);
    expect(slot.get((lr) => tf.train.sgd(lr), 0.2, [a, b]).getClassName()).toBe('SGD');
    slot.dispose();
    tf.dispose([a, b]);
  });

  it('Adam state restored into a new optimizer continues bit for bit (β powers included), by position not name', async () => {
    const target = tf.tensor1d([0.3, -1.2, 2.5]);
    const step = (opt: tf.Optimizer, v: tf.Variable) => opt.minimize(() => tf.sum(tf.square(tf.sub(v, target))) as tf.Scalar, false, [v]);
    const a = tf.variable(tf.zeros([3]));
    const optA = tf.train.adam(0.05);
    for (let i = 0; i < 7; i++) step(optA, a);
    const files = await optimizerStateFiles(optA, [a]);
    const b = tf.variable(a.clone());
    const optB = tf.train.adam(0.05);
    await restoreOptimizerState(optB, [b], files, 'test');
    for (let i = 0; i < 5; i++) {
      step(optA, a);
      step(optB, b);
    }
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    const c = tf.variable(tf.zeros([4]));
    await expect(restoreOptimizerState(tf.train.adam(0.1), [c], files, 'ckpt')).rejects.toThrow(/ckpt\/optimizer\.json: holds state for 1 variables of sizes \[3\], this model has \[4\]/);
    await expect(restoreOptimizerState(tf.train.sgd(0.1), [b], files, 'ckpt')).rejects.toThrow(/holds the state of a Adam, but training uses a SGD/);
    tf.dispose([a, b, c, target]);
    optA.dispose();
    optB.dispose();
  });

  it("Adam's state as plain values (a data-parallel trainer's) writes the very files one thread's Adam writes, and reads back", async () => {
    const target = tf.tensor2d([0.3, -1.2, 2.5, 0.7], [2, 2]);
    const a = tf.variable(tf.zeros([2, 2]));
    const bias = tf.variable(tf.zeros([3]));
    const adam = tf.train.adam(0.05);
    for (let i = 0; i < 4; i++) adam.minimize(() => tf.add(tf.sum(tf.square(tf.sub(a, target))), tf.sum(tf.square(tf.sub(bias, 1)))) as tf.Scalar, false, [a, bias]);
    const files = await optimizerStateFiles(adam, [a, bias]);
    const state = readAdamStateFiles(files, [a, bias], 'ckpt');
    expect(state.iterations).toBe(4);
    expect(state.firstMoments.map((m) => m.length)).toEqual([4, 3]);
    const again = adamStateFiles(state, [a, bias]);
    expect([...again.keys()]).toEqual([...files.keys()]);
    for (const [path, bytes] of files) expect(Array.from(again.get(path) as Uint8Array)).toEqual(Array.from(bytes));
    expect(() => readAdamStateFiles(files, [bias, a], 'ckpt')).toThrow(/ckpt\/optimizer\.json: holds state for 2 variables of sizes \[4, 3\], this model has \[3, 4\]/);
    const sgd = tf.train.sgd(0.1);
    sgd.minimize(() => tf.sum(tf.square(a)) as tf.Scalar, false, [a]);
    expect(() => readAdamStateFiles(new Map(), [a], 'ckpt')).toThrow(/expected optimizer\.json and optimizer\.bin/);
    const sgdFiles = await optimizerStateFiles(sgd, [a]);
    expect(() => readAdamStateFiles(sgdFiles, [a], 'ckpt')).toThrow(/holds the state of a SGD, but training uses a Adam/);
    // Saved before any step: zero moments.
    const early = readAdamStateFiles(await optimizerStateFiles(tf.train.adam(0.1), [a]), [a], 'ckpt');
    expect(Array.from(early.firstMoments[0] as Float32Array)).toEqual([0, 0, 0, 0]);
    tf.dispose([a, bias, target]);
    adam.dispose();
    sgd.dispose();
  });

  it.each(['momentum', 'nesterov', 'rmsprop', 'adadelta'] as const)('%s state restored into a new optimizer continues bit for bit', async (name) => {
    const target = tf.tensor1d([0.3, -1.2, 2.5]);
    const step = (opt: tf.Optimizer, v: tf.Variable) => opt.minimize(() => tf.sum(tf.square(tf.sub(v, target))) as tf.Scalar, false, [v]);
    const a = tf.variable(tf.zeros([3]));
    const optA = OPTIMIZERS[name](0.05);
    for (let i = 0; i < 7; i++) step(optA, a);
    const files = await optimizerStateFiles(optA, [a]);
    const b = tf.variable(a.clone());
    const optB = OPTIMIZERS[name](0.05);
    await restoreOptimizerState(optB, [b], files, 'test');
    for (let i = 0; i < 5; i++) {
      step(optA, a);
      step(optB, b);
    }
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, target]);
    optA.dispose();
    optB.dispose();
  });
});
