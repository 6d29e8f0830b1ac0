import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { runFitLoop, TrainingDivergedError } from './fit-loop';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Fits w to minimise (w − target)² with plain gradient steps; each "batch" is one step. */
function quadratic(target: number, lr: number) {
  const w = tf.variable(tf.scalar(0));
  const optimizer = tf.train.sgd(lr);
  const step = () => {
    const loss = optimizer.minimize(() => tf.square(tf.sub(w, target)) as tf.Scalar, true, [w]) as tf.Scalar;
    const value = loss.dataSync()[0] as number;
    loss.dispose();
    return value;
  };
  return { w, step, optimizer };
}

describe('runFitLoop', () => {
  it('runs epochs, reports batch and epoch logs, and leaks nothing', () => {
    const { w, step } = quadratic(3, 0.1);
    const batches: number[] = [];
    const before = tf.memory().numTensors;
    const result = runFitLoop({
      epochs: 4,
      variables: [w],
      batchesPerEpoch: 5,
      *trainEpoch() {
        for (let i = 0; i < 5; i++) yield { loss: step(), size: 10 };
      },
      onBatchEnd: (logs) => batches.push(logs.batch),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.stopReason).toBe('completed');
    expect(result.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(batches).toHaveLength(20);
    const losses = result.history.map((h) => h.loss);
    expect(losses[3]).toBeLessThan(losses[0] as number);
    expect(w.dataSync()[0]).toBeCloseTo(3, 1);
  });

  it('stops with a clear error on NaN and restores the last good epoch', () => {
    const w = tf.variable(tf.scalar(1));
    let epochSeen = 0;
    const attempt = () =>
      runFitLoop({
        epochs: 3,
        variables: [w],
        batchesPerEpoch: 2,
        *trainEpoch(epoch) {
          epochSeen = epoch;
          w.assign(tf.scalar(epoch * 10));
          yield { loss: epoch === 2 ? NaN : 1, size: 1 };
        },
      });
    expect(attempt).toThrow(TrainingDivergedError);
    expect(attempt).toThrow(/loss NaN at epoch 2, batch 0; weights restored to the end of epoch 1/);
    expect(epochSeen).toBe(2);
    expect(w.dataSync()[0]).toBe(10);
  });

  it('stops early on a validation plateau and restores the best weights', () => {
    const w = tf.variable(tf.scalar(0));
    const valLosses = [5, 3, 4, 4.5, 6, 7];
    const result = runFitLoop({
      epochs: 6,
      variables: [w],
      batchesPerEpoch: 1,
      *trainEpoch(epoch) {
        w.assign(tf.scalar(epoch));
        yield { loss: 1, size: 1 };
      },
      validate: (epoch) => valLosses[epoch - 1] as number,
      earlyStopping: { patience: 2 },
    });
    expect(result.stopReason).toBe('early-stopping');
    expect(result.history).toHaveLength(4);
    expect(result.bestEpoch).toBe(2);
    expect(w.dataSync()[0]).toBe(2);
  });
});
