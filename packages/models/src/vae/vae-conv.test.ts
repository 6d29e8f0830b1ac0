import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@gm/backend';
import { VAE } from './vae';
import type { VaeConfig } from './config';
import { fileStore } from '../io/file-store';

/** The posterior's mean and σ (what VAE.encode returned before it returned the codings alone). */
function meanStd(v: VAE, x: tf.Tensor): { mean: tf.Tensor; std: tf.Tensor } {
  const { mean, logStd } = v.posteriorParams(x);
  const std = tf.exp(logStd);
  logStd.dispose();
  return { mean, std };
}

let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gm-vae-conv-'));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const CONV: VaeConfig = { inputShape: [8, 8, 1], latentDim: 3, architecture: 'conv', conv: { filters: [4, 8], kernelSize: 3, dense: 16 }, seed: 2 };

/** Binary 8×8 "images": a bright square at a random place, so there is structure to learn. */
function squares(n: number, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const pos = tf.randomUniform([n, 2], 0, 5, 'int32', seed).arraySync() as number[][];
    const data = new Float32Array(n * 64);
    pos.forEach(([r, c], i) => {
      for (let y = r as number; y < (r as number) + 3; y++) for (let x = c as number; x < (c as number) + 3; x++) data[i * 64 + y * 8 + x] = 1;
    });
    return tf.tensor(data, [n, 8, 8, 1]);
  });
}

describe('convolutional VAE', () => {
  it('has the configured shapes, trains a few steps on cpu without leaks, and round-trips save/load', async () => {
    const vae = new VAE(CONV);
    expect(vae.encoder.outputs[0]?.shape).toEqual([null, 6]);
    expect(vae.decoder.outputs[0]?.shape).toEqual([null, 8, 8, 1, 1]);
    const x = squares(40, 1);
    const before = vae.trainableVariables().map((v) => v.dataSync().slice());
    const counts: number[] = [];
    const result = await vae.fit(x, { epochs: 3, batchSize: 20, learningRate: 1e-2, onEpochEnd: () => void counts.push(tf.memory().numTensors) });
    expect(result.history.every((h) => Number.isFinite(h.loss))).toBe(true);
    expect(result.history[2]?.loss).toBeLessThan(result.history[0]?.loss as number);
    expect(new Set(counts).size).toBe(1);
    // Every weight moved (the gradient reaches the conv and transposed-conv kernels).
    vae.trainableVariables().forEach((v, i) => {
      const now = v.dataSync();
      expect(now.some((w, j) => w !== (before[i] as Float32Array)[j])).toBe(true);
    });
    const where = path.join(dir, 'conv');
    await vae.save(fileStore(where));
    const again = await VAE.load(fileStore(where));
    expect(again.config).toEqual(vae.config);
    const a = meanStd(vae, x);
    const b = meanStd(again, x);
    expect(Array.from(b.mean.dataSync())).toEqual(Array.from(a.mean.dataSync()));
    const ra = vae.reconstruct(x);
    const rb = again.reconstruct(x);
    expect(ra.shape).toEqual([40, 8, 8, 1]);
    expect(Array.from(rb.dataSync())).toEqual(Array.from(ra.dataSync()));
    tf.dispose([x, a.mean, a.std, b.mean, b.std, ra, rb]);
    vae.dispose();
    again.dispose();
  });

  it('scores 8-bit images with a discretized-logistic mixture decoder', async () => {
    const vae = new VAE({ ...CONV, likelihood: 'discretized-logistic-mixture', mixtureComponents: 2, conv: { filters: [4] } });
    expect(vae.decoder.outputs[0]?.shape).toEqual([null, 8, 8, 1, 6]);
    const x = tf.tidy(() => tf.sub(tf.mul(tf.floor(tf.randomUniform([5, 8, 8, 1], 0, 256, 'float32', 3)), 2 / 255), 1));
    const r = vae.elbo(x, { seed: 1 });
    expect(r.elbo.shape).toEqual([5]);
    const values = r.elbo.dataSync();
    // 64 uniform 8-bit pixels cost at most ~64·ln 256 nats under a sensible start, and never a positive log-prob.
    for (const v of values) {
      expect(v).toBeLessThan(0);
      expect(v).toBeGreaterThan(-64 * Math.log(256) * 3);
    }
    tf.dispose([x, r.elbo, r.reconstruction, r.kl]);
    vae.dispose();
  });

  it('on wasm: infers, and refuses to train with a clear error (no Conv2DBackpropFilter kernel)', async () => {
    await tf.setBackend('wasm');
    try {
      const vae = new VAE(CONV);
      const x = squares(4, 2);
      const r = vae.reconstruct(x);
      expect(r.shape).toEqual([4, 8, 8, 1]);
      await expect(vae.fit(x, { epochs: 1 })).rejects.toThrow(/needs the Conv2DBackpropFilter kernel, which the "wasm" backend lacks/);
      tf.dispose([x, r]);
      vae.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('on wasm with gm kernels (initBackend): trains, with the cpu backend loss and gradients', async () => {
    const gradients = () => {
      const vae = new VAE(CONV);
      const x = squares(4, 2);
      const vars = vae.trainableVariables();
      const out = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(vae.elbo(x, { seed: 3 }).elbo)) as tf.Scalar, vars);
        return [value.dataSync() as Float32Array, ...vars.map((v) => grads[v.name]!.dataSync() as Float32Array)];
      });
      tf.dispose(x);
      vae.dispose();
      return out;
    };
    const cpu = gradients();
    await initBackend({ backend: 'wasm' });
    try {
      expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
      const wasm = gradients();
      cpu.forEach((c, i) => {
        const scale = 1 + Math.max(...Array.from(c, Math.abs));
        const worst = Math.max(...Array.from(c, (v, j) => Math.abs(v - (wasm[i] as Float32Array)[j]!)));
        expect(worst / scale).toBeLessThan(1e-4);
      });
      const vae = new VAE(CONV);
      const x = squares(8, 2);
      const result = await vae.fit(x, { epochs: 3, batchSize: 4 });
      expect(result.history).toHaveLength(3);
      expect(result.history[2]!.loss).toBeLessThan(result.history[0]!.loss);
      tf.dispose(x);
      vae.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('MLP and conv inference on cpu are bit-identical whatever the batch composition', async () => {
    for (const config of [CONV, { inputShape: [64], hidden: [24], latentDim: 3, likelihood: 'discretized-logistic', seed: 4 } as VaeConfig]) {
      const vae = new VAE(config);
      const x = tf.tidy(() => tf.reshape(squares(9, 5), [9, ...config.inputShape]));
      const all = vae.posteriorParams(x);
      const zAll = tf.randomNormal([9, 3], 0, 1, 'float32', 6);
      const decAll = vae.decode(zAll);
      for (let i = 0; i < 9; i++) {
        const xi = tf.slice(x, i, 1);
        const one = vae.posteriorParams(xi);
        expect(Array.from(one.mean.dataSync())).toEqual(Array.from(all.mean.dataSync().subarray(i * 3, i * 3 + 3)));
        expect(Array.from(one.logStd.dataSync())).toEqual(Array.from(all.logStd.dataSync().subarray(i * 3, i * 3 + 3)));
        const zi = tf.slice(zAll, i, 1);
        const di = vae.decode(zi);
        expect(Array.from(di.dataSync())).toEqual(Array.from(decAll.dataSync().subarray(i * 64, (i + 1) * 64)));
        tf.dispose([xi, one.mean, one.logStd, zi, di]);
      }
      tf.dispose([x, all.mean, all.logStd, zAll, decAll]);
      vae.dispose();
    }
  });
});
