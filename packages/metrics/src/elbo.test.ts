import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // gradient kernels
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LatentVariableModel } from './elbo';
import { elbo, importanceSampledLogLikelihood } from './elbo';
import { Bernoulli } from './bernoulli';
import { DiscretizedLogistic, toBinCenters } from './discretized-logistic';
import { Normal, StandardNormal } from './normal';
import { gaussian, logNormalDense, logSigmoid, logSumExp, read, refDiscLogisticLogProb, rng } from './reference.testutil';

// A linear-Gaussian latent model z ~ N(0, I_L), x | z ~ N(Wz + b, σ²I_D) with orthogonal columns of W, so the exact
// posterior N(Σ Wᵀ(x − b)/σ², Σ), Σ = (I + WᵀW/σ²)⁻¹, is *diagonal* and a diagonal-Normal posterior can be exact;
// log p(x) = log N(x; b, WWᵀ + σ²I) in closed form.
const L = 3;
const D = 5;
const B = 200;
const SIGMA = 0.5;
const rand = rng(12345);

function orthogonalColumns(): number[][] {
  const cols: number[][] = [];
  const norms = [1.5, 0.8, 2.0];
  for (let j = 0; j < L; j++) {
    let v = Array.from({ length: D }, () => gaussian(rand));
    for (const c of cols) {
      const dot = v.reduce((acc, vi, i) => acc + vi * c[i]!, 0);
      v = v.map((vi, i) => vi - dot * c[i]!);
    }
    const n = Math.hypot(...v);
    cols.push(v.map((vi) => vi / n));
  }
  return cols.map((c, j) => c.map((v) => v * norms[j]!));
}

const cols = orthogonalColumns(); // cols[j][i] = W[i][j]
const W = Array.from({ length: D }, (_, i) => cols.map((c) => c[i]!));
const bias = Array.from({ length: D }, () => gaussian(rand));
const xs: number[][] = Array.from({ length: B }, () => {
  const z = Array.from({ length: L }, () => gaussian(rand));
  return W.map((row, i) => row.reduce((acc, w, j) => acc + w * z[j]!, 0) + bias[i]! + SIGMA * gaussian(rand));
});
const cov = W.map((ri, i) => W.map((rj, j) => ri.reduce((acc, w, k) => acc + w * rj[k]!, 0) + (i === j ? SIGMA ** 2 : 0)));
const trueLogPx = xs.map((x) => logNormalDense(x, bias, cov));
const meanTrue = trueLogPx.reduce((a, b) => a + b, 0) / B;
const postVar = cols.map((c) => 1 / (1 + c.reduce((acc, v) => acc + v * v, 0) / SIGMA ** 2));

type PosteriorKind = 'exact' | 'mismatched' | 'samples-only';

let consts: { Wt: tf.Tensor; b: tf.Tensor; logSigma: tf.Tensor; encW: tf.Tensor; encB: tf.Tensor; postLogStd: tf.Tensor; x: tf.Tensor };

/** The model with a chosen posterior: exact, or deliberately off (mean shifted by 1.5 std, 1.5× std) to test IS. */
function model(kind: PosteriorKind): LatentVariableModel {
  const { Wt, b, logSigma, encW, encB, postLogStd } = consts;
  const exact = (x: tf.Tensor) => new Normal(tf.add(tf.matMul(x, encW), encB), postLogStd);
  return {
    prior: new StandardNormal([L]),
    likelihood: (z) => new Normal(tf.add(tf.matMul(z, Wt), b), logSigma),
    posterior: (x) => {
      const q = exact(x);
      if (kind === 'exact') return q;
      if (kind === 'samples-only') return { sampleWithLogProb: (n: number, seed?: number) => q.sampleWithLogProb(n, seed) };
      return new Normal(tf.add(q.mean, tf.mul(tf.exp(postLogStd), 1.5)), tf.add(postLogStd, Math.log(1.5)));
    },
  };
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

describe.each(['cpu', 'wasm'])('ELBO and importance-sampled log-likelihood on a linear-Gaussian model (%s)', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
    // Posterior mean = x·encW + encB with encW = W Σ / σ² (D×L), encB = −b·encW.
    const encW = W.map((row) => row.map((w, j) => (w * postVar[j]!) / SIGMA ** 2));
    const encB = Array.from({ length: L }, (_, j) => -bias.reduce((acc, bi, i) => acc + bi * encW[i]![j]!, 0));
    consts = {
      Wt: tf.tensor2d(cols), // [L, D]
      b: tf.tensor1d(bias),
      logSigma: tf.fill([D], Math.log(SIGMA)),
      encW: tf.tensor2d(encW),
      encB: tf.tensor1d(encB),
      postLogStd: tf.tensor1d(postVar.map((v) => 0.5 * Math.log(v))),
      x: tf.tensor2d(xs),
    };
  });
  afterAll(() => tf.dispose(Object.values(consts)));

  it('with the exact posterior, the Monte Carlo ELBO and IS estimates equal log p(x) for every example', () => {
    const before = tf.memory().numTensors;
    const mc = read(() => elbo(model('exact'), consts.x, { kl: 'mc', seed: 1 }).elbo);
    const is1 = read(() => importanceSampledLogLikelihood(model('exact'), consts.x, 1, { seed: 2 }));
    // Odd batch and chunk sizes exercise the slicing, chunking and final logsumexp.
    const is50 = read(() => importanceSampledLogLikelihood(model('exact'), consts.x, 50, { seed: 3, batchSize: 37, chunkSize: 7 }));
    const only = read(() => importanceSampledLogLikelihood(model('samples-only'), consts.x, 5, { seed: 4 }));
    for (const est of [mc, is1, is50, only]) {
      expect(est.length).toBe(B);
      est.forEach((v, i) => expect(Math.abs(v - trueLogPx[i]!)).toBeLessThan(2e-3 * Math.max(1, Math.abs(trueLogPx[i]!))));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('with the exact posterior, the analytic-KL ELBO averages to log p(x) and its KL matches the closed form', () => {
    const { e, kl } = tf.tidy(() => {
      const r = elbo(model('exact'), consts.x, { kl: 'analytic', samples: 64, seed: 5 });
      return { e: r.elbo, kl: r.kl };
    });
    const ev = Array.from(e.dataSync());
    const klv = Array.from(kl.dataSync());
    tf.dispose([e, kl]);
    // Closed-form KL(q ‖ N(0, I)) per example from the posterior parameters.
    klv.forEach((k, i) => {
      const m = cols.map((_, j) => W.reduce((acc, row, r) => acc + row[j]! * (xs[i]![r]! - bias[r]!), 0) * (postVar[j]! / SIGMA ** 2));
      const want = m.reduce((acc, mj, j) => acc + 0.5 * (postVar[j]! + mj * mj - 1 - Math.log(postVar[j]!)), 0);
      expect(k).toBeCloseTo(want, 3);
    });
    // Reconstruction is Monte Carlo (64 samples × 200 examples); the mean is within a few hundredths of a nat.
    expect(Math.abs(mean(ev) - meanTrue)).toBeLessThan(0.05);
  });

  it('with a mismatched posterior, IS rises towards log p(x) as k grows and stays above the ELBO', () => {
    const before = tf.memory().numTensors;
    const m = model('mismatched');
    const elboMean = mean(read(() => elbo(m, consts.x, { samples: 100, seed: 6 }).elbo));
    // maxElements forces several k-chunks (and, for k = 1000, example batches) on the way.
    const est = [1, 10, 100, 1000].map((k) => read(() => importanceSampledLogLikelihood(m, consts.x, k, { seed: 100 + k, maxElements: 5000 })));
    const gaps = est.map((e) => meanTrue - mean(e));
    const elboGap = meanTrue - elboMean;
    // The ELBO gap is KL(q ‖ true posterior), about 4 nats here.
    expect(elboGap).toBeGreaterThan(3);
    // k = 1 is an unbiased ELBO estimate: equal to the ELBO within 4 standard errors of its mean over examples.
    const d1 = est[0]!.map((v, i) => v - trueLogPx[i]!);
    const se1 = Math.sqrt(mean(d1.map((d) => (d - mean(d1)) ** 2)) / B);
    expect(Math.abs(gaps[0]! - elboGap)).toBeLessThan(4 * se1);
    // Larger k tightens the bound monotonically (on average) towards 0; it never overshoots by more than noise.
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeLessThan(gaps[i - 1]!);
    expect(gaps[1]!).toBeLessThan(elboGap);
    expect(gaps[2]!).toBeLessThan(1);
    expect(gaps[3]!).toBeGreaterThan(-0.03);
    expect(gaps[3]!).toBeLessThan(0.03);
    // Per example, k = 1000 is close to the truth.
    const worst = est[3]!.reduce((w, v, i) => Math.max(w, Math.abs(v - trueLogPx[i]!)), 0);
    expect(worst).toBeLessThan(0.5);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is reproducible by seed and bounded by the chunking options', () => {
    const m = model('mismatched');
    const a = read(() => importanceSampledLogLikelihood(m, consts.x, 30, { seed: 11, chunkSize: 8 }));
    const b = read(() => importanceSampledLogLikelihood(m, consts.x, 30, { seed: 11, chunkSize: 8 }));
    const c = read(() => importanceSampledLogLikelihood(m, consts.x, 30, { seed: 12, chunkSize: 8 }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    // Every likelihood call sees at most maxElements values.
    let largest = 0;
    const spy: LatentVariableModel = {
      ...m,
      likelihood: (z) => {
        largest = Math.max(largest, z.shape[0]! * D);
        return m.likelihood(z);
      },
    };
    read(() => importanceSampledLogLikelihood(spy, consts.x, 100, { maxElements: 1000 }));
    expect(largest).toBeLessThanOrEqual(1000);
    expect(largest).toBeGreaterThan(500);
  });

  it('ELBO gradients (reparameterised) match finite differences at a fixed seed', () => {
    const shift = tf.variable(tf.tensor1d([0.3, -0.2, 0.1]));
    const scale = tf.variable(tf.tensor1d([0.2, 0.1, -0.3]));
    const base = model('exact');
    const m: LatentVariableModel = {
      ...base,
      posterior: (x) => {
        const q = base.posterior(x) as Normal;
        return new Normal(tf.add(q.mean, shift), tf.add(q.logStd, scale));
      },
    };
    const loss = () => tf.neg(tf.mean(elbo(m, consts.x, { kl: 'analytic', samples: 4, seed: 13 }).elbo)) as tf.Scalar;
    const { grads } = tf.variableGrads(loss, [shift, scale]);
    const g = [...Array.from(grads[shift.name]!.dataSync()), ...Array.from(grads[scale.name]!.dataSync())];
    tf.dispose(Object.values(grads));
    const h = 1e-2;
    [shift, scale].forEach((v, vi) => {
      for (let j = 0; j < L; j++) {
        const at = (delta: number) => {
          const orig = v.arraySync() as number[];
          const moved = orig.map((o, jj) => (jj === j ? o + delta : o));
          tf.tidy(() => v.assign(tf.tensor1d(moved)));
          const val = read(loss)[0]!;
          tf.tidy(() => v.assign(tf.tensor1d(orig)));
          return val;
        };
        const fd = (at(h) - at(-h)) / (2 * h);
        expect(Math.abs(g[vi * L + j]! - fd)).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
      }
    });
    tf.dispose([shift, scale]);
  });

  it('explains contract violations clearly', () => {
    const m = model('exact');
    const wrongRank: LatentVariableModel = { ...m, likelihood: (z) => new Normal(tf.matMul(z, consts.Wt), consts.logSigma, { eventRank: 0 }) };
    expect(() => read(() => elbo(wrongRank, consts.x).elbo)).toThrow(/likelihood\(z\)\.logProb\(x\) has shape \[200, 5\], expected \[200\]/);
    expect(() => read(() => elbo(model('samples-only'), consts.x, { kl: 'analytic' }).elbo)).toThrow(/analytic KL needs a Normal posterior/);
    const badPrior: LatentVariableModel = { ...m, prior: new Normal(tf.zeros([L]), tf.zeros([L]), { eventRank: 0 }) };
    expect(() => read(() => importanceSampledLogLikelihood(badPrior, consts.x, 2))).toThrow(/prior\.logProb\(z\) has shape \[2, 200, 3\], expected \[2, 200\]/);
    expect(() => importanceSampledLogLikelihood(m, consts.x, 0)).toThrow(/positive integer/);
    expect(() => elbo(m, tf.zeros([0, D]))).toThrow(/non-empty leading batch axis/);
  });
});

describe.each(['cpu', 'wasm'])('Bernoulli likelihood with a 1-d latent (%s)', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
  });

  it('IS converges to log p(x) computed by quadrature and stays above the ELBO', () => {
    // z ~ N(0, 1), x_i | z ~ Bernoulli(σ(w_i z + c_i)): p(x) = ∫ N(z) Π p(x_i | z) dz by a fine Riemann sum.
    const w = [2.5, -1.5, 0.7, 3, -2, 1];
    const c = [0.3, -0.5, 1, 0, 0.2, -1];
    const patterns = [[1, 0, 1, 1, 0, 0], [0, 1, 1, 0, 1, 0], [1, 1, 1, 1, 1, 1]];
    const truth = patterns.map((x) => {
      const terms: number[] = [];
      const step = 1e-3;
      for (let z = -10; z <= 10; z += step) {
        let lp = -0.5 * z * z - 0.5 * Math.log(2 * Math.PI) + Math.log(step);
        x.forEach((xi, i) => (lp += xi === 1 ? logSigmoid(w[i]! * z + c[i]!) : logSigmoid(-(w[i]! * z + c[i]!))));
        terms.push(lp);
      }
      return logSumExp(terms);
    });
    const wT = tf.tensor2d([w]);
    const cT = tf.tensor1d(c);
    const x = tf.tensor2d(patterns);
    const m: LatentVariableModel = {
      prior: new StandardNormal([1]),
      // A deliberately crude proposal: N(0.2, 0.9²) for every example.
      posterior: (xb) => new Normal(tf.fill([xb.shape[0]!, 1], 0.2), tf.fill([xb.shape[0]!, 1], Math.log(0.9))),
      likelihood: (z) => new Bernoulli(tf.add(tf.matMul(z, wT), cT)),
    };
    const before = tf.memory().numTensors;
    const is = read(() => importanceSampledLogLikelihood(m, x, 20000, { seed: 3 }));
    const lower = read(() => elbo(m, x, { samples: 2000, seed: 4 }).elbo);
    truth.forEach((t, i) => {
      expect(Math.abs(is[i]! - t)).toBeLessThan(0.02);
      expect(lower[i]!).toBeLessThan(t - 0.05);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([wT, cT, x]);
  });
  it('works with a discretized-logistic (8-bit) likelihood: IS matches quadrature', () => {
    // z ~ N(0, 1), pixel_i | z ~ DiscretizedLogistic(tanh-free loc w_i z + c_i, s_i) on the [−1, 1] bin convention.
    const w = [0.4, -0.3, 0.2];
    const c = [0.1, -0.6, 0.8];
    const sc = [0.05, 0.1, 0.02];
    const levels = [[150, 60, 240], [120, 100, 230]];
    // Quadrature gives log p(x) and the posterior's mean and std, from which a decent proposal is built.
    const post = levels.map((lv) => {
      const zs: number[] = [];
      const terms: number[] = [];
      const step = 2e-4;
      for (let z = -8; z <= 8; z += step) {
        let lp = -0.5 * z * z - 0.5 * Math.log(2 * Math.PI) + Math.log(step);
        lv.forEach((v, i) => (lp += refDiscLogisticLogProb(v, w[i]! * z + c[i]!, sc[i]!)));
        zs.push(z);
        terms.push(lp);
      }
      const logPx = logSumExp(terms);
      const p = terms.map((t) => Math.exp(t - logPx));
      const mu = p.reduce((acc, pi, j) => acc + pi * zs[j]!, 0);
      const sd = Math.sqrt(p.reduce((acc, pi, j) => acc + pi * (zs[j]! - mu) ** 2, 0));
      return { logPx, mu, sd };
    });
    const truth = post.map((q) => q.logPx);
    const wT = tf.tensor2d([w]);
    const cT = tf.tensor1d(c);
    const logS = tf.tensor1d(sc.map(Math.log));
    const x = toBinCenters(tf.tensor2d(levels));
    const m: LatentVariableModel = {
      prior: new StandardNormal([1]),
      // Proposal: the true posterior's moments, 1.5× wider and shifted by half a std (not exact, not far off).
      posterior: () =>
        new Normal(tf.tensor2d(post.map((q) => [q.mu + 0.5 * q.sd])), tf.tensor2d(post.map((q) => [Math.log(1.5 * q.sd)]))),
      likelihood: (z) => new DiscretizedLogistic(tf.add(tf.matMul(z, wT), cT), logS),
    };
    const before = tf.memory().numTensors;
    // The weights are heavier-tailed than Gaussian here: the estimate's spread is ≈ 0.012 at k = 5000, ≈ 0.003 at 1e5.
    const is = read(() => importanceSampledLogLikelihood(m, x, 100_000, { seed: 8 }));
    const lower = read(() => elbo(m, x, { samples: 2000, seed: 9 }).elbo);
    truth.forEach((t, i) => {
      expect(Math.abs(is[i]! - t)).toBeLessThan(0.012);
      expect(lower[i]!).toBeLessThan(is[i]!);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([wT, cT, logS, x]);
  });
});
