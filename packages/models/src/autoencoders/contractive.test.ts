import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activation } from '@gm/layers';
import { Autoencoder, ContractiveAutoencoder } from './autoencoder';
import { contractivePenalty, encoderJacobian } from './contractive';
import { syntheticData, values } from './test-helpers';

const DIM = 7;
let x: tf.Tensor2D;

beforeAll(async () => {
  await tf.setBackend('cpu');
  x = syntheticData(5, DIM, 2, 3);
});

afterAll(() => x.dispose());

/** ∂h/∂x of one example by autodiff, one row (coding unit) at a time: `[codings, inputs]`. */
function autodiffJacobian(encode: (x: tf.Tensor2D) => tf.Tensor2D, row: tf.Tensor2D, codings: number): number[][] {
  return Array.from({ length: codings }, (_, j) =>
    values(tf.grad((v: tf.Tensor) => tf.sum(tf.slice(encode(v as tf.Tensor2D), [0, j], [1, 1])))(row)),
  );
}

describe('contractive penalty', () => {
  const ACTIVATIONS: Activation[] = ['selu', 'sigmoid', 'tanh', 'relu', 'elu', 'softplus', 'linear'];

  it.each(ACTIVATIONS)('%s: the Jacobian equals autodiff, and the penalty is λ · mean ‖J‖²_F', (activation) => {
    const ae = new Autoencoder({ inputDim: DIM, hidden: [6, 3], activation, codingActivation: activation === 'linear' ? 'linear' : 'sigmoid', loss: 'meanSquaredError', outputActivation: 'linear', seed: 11 });
    const steps = ae.encoderSteps();
    const jac = encoderJacobian(x, steps);
    expect(jac.shape).toEqual([5, 3, DIM]);
    const got = jac.arraySync();
    let frob = 0;
    for (let b = 0; b < 5; b++) {
      const row = tf.slice(x, [b, 0], [1, DIM]);
      const expected = autodiffJacobian((v) => ae.encode(v), row, 3);
      row.dispose();
      for (let j = 0; j < 3; j++) {
        for (let i = 0; i < DIM; i++) {
          expect(got[b]![j]![i]).toBeCloseTo(expected[j]![i]!, 5);
          frob += expected[j]![i]! ** 2;
        }
      }
    }
    expect(values(contractivePenalty(x, steps, 0.3))[0]).toBeCloseTo((0.3 * frob) / 5, 4);
    jac.dispose();
    ae.dispose();
  });

  it.each([[[5]], [[6, 3]], [[6, 5, 4, 3]]])('hidden %j: the penalty equals λ · mean ‖J‖²_F of the explicit Jacobian', (hidden) => {
    const ae = new Autoencoder({ inputDim: DIM, hidden, codingActivation: 'tanh', seed: 5 });
    const steps = ae.encoderSteps();
    const frob = values(tf.tidy(() => tf.div(tf.sum(tf.square(encoderJacobian(x, steps))), 5)))[0] as number;
    expect(values(contractivePenalty(x, steps, 0.7))[0]).toBeCloseTo(0.7 * frob, 4);
    ae.dispose();
  });

  it("is the model's penalty term, and its gradient reaches every encoder variable", () => {
    const ae = new ContractiveAutoencoder({ inputDim: DIM, hidden: [6, 3], contractive: 0.2, seed: 2 });
    const terms = ae.lossTerms(x);
    const expected = contractivePenalty(x, ae.encoderSteps(), 0.2);
    expect(values(terms.penalty)[0]).toBeCloseTo(values(expected)[0] as number, 6);
    tf.dispose([terms.loss, terms.reconstruction]);
    const encoderVars = ae.encoderLayers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
    const { grads, value } = tf.variableGrads(() => contractivePenalty(x, ae.encoderSteps(), 1), encoderVars);
    for (const v of encoderVars) expect(values(tf.max(tf.abs(grads[v.name]!)))[0]).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    ae.dispose();
  });

  it('training with the penalty makes the codings less sensitive to the input than without', async () => {
    const data = syntheticData(96, DIM, 2, 9);
    const sensitivity = async (contractive: number) => {
      const ae = new Autoencoder({ inputDim: DIM, hidden: [8, 3], contractive, seed: 4 });
      await ae.fit(data, { epochs: 15, batchSize: 16, learningRate: 0.01 });
      const s = values(contractivePenalty(data, ae.encoderSteps(), 1))[0] as number;
      ae.dispose();
      return s;
    };
    const before = tf.memory().numTensors;
    const free = await sensitivity(0);
    const contracted = await sensitivity(0.5);
    expect(contracted).toBeLessThan(free / 2);
    data.dispose();
    expect(tf.memory().numTensors).toBe(before - 1); // only `data` went
  });
});
