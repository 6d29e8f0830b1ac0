// A small regression MLP as a data-parallel replica, for src/data-parallel/trainer.test.ts.
// config: { seed, hidden, failAtStep?, rank5Tile?, lossIsStepSeed? } — failAtStep makes every replica but rank 0 throw
// at that step; rank5Tile adds 0 · Σ tile(b1) over five axes to the loss, whose gradient only gm's Tile gradient
// computes (tfjs's refuses rank 5): a replica whose thread lost gm's gradients fails; lossIsStepSeed adds the step's
// seed as its context gave it, over 2³² (−1 when absent), to the loss, so the batch's loss shows what every replica got.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients (a worker is a fresh realm)

export function createReplica(config) {
  const { seed, hidden } = config;
  const variables = [
    tf.variable(tf.randomNormal([6, hidden], 0, 0.5, 'float32', seed), true, `w1-${Math.random()}`),
    tf.variable(tf.zeros([hidden]), true, `b1-${Math.random()}`),
    tf.variable(tf.randomNormal([hidden, 1], 0, 0.5, 'float32', seed + 1), true, `w2-${Math.random()}`),
  ];
  const [w1, b1, w2] = variables;
  return {
    variables,
    inputs: [
      { name: 'x', exampleShape: [6] },
      { name: 'y', exampleShape: [1] },
    ],
    loss(inputs, context) {
      if (config.failAtStep === context.step && context.rows[0] > 0) throw new Error(`replica rows ${context.rows} fails on purpose`);
      const h = tf.relu(tf.add(tf.matMul(inputs.x, w1), b1));
      const mse = tf.mean(tf.square(tf.sub(tf.matMul(h, w2), inputs.y)));
      if (config.lossIsStepSeed) return tf.add(mse, context.seed === undefined ? -1 : context.seed / 2 ** 32);
      if (!config.rank5Tile) return mse;
      return tf.add(mse, tf.mul(0, tf.sum(tf.tile(tf.reshape(b1, [1, 1, 1, 1, hidden]), [2, 1, 1, 1, 1]))));
    },
    dispose() {
      tf.dispose(variables);
    },
  };
}
