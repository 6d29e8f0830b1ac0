import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient kernels
import { beforeAll, describe, expect, it } from 'vitest';
import { gmAdam, registerGmAdamKernel } from './gm-adam';
import { instantiateGmKernels, prepareGmKernels, supportsRelaxedSimd, type GmSimdFlavour } from './gm-kernels';

// Node 20 gets relaxed SIMD behind a V8 flag, which supportsRelaxedSimd switches on; both tiles are tested.
const FLAVOURS: GmSimdFlavour[] = (await supportsRelaxedSimd()) ? ['simd128', 'relaxed'] : ['simd128'];

describe.each(FLAVOURS)('gm wasm kernels on a heap of their own (%s tile)', (flavour) => {
  // The kernels run inside tfjs's heap, so they must write nothing but their outputs and the scratch they are given
  // (no static data, no C stack). Fill a whole memory with a pattern, run them, and compare every other byte.
  const PAGES = 64;
  const PATTERN = 0xa5;

  async function heap() {
    const memory = new WebAssembly.Memory({ initial: PAGES });
    const bytes = new Uint8Array(memory.buffer);
    bytes.fill(PATTERN);
    const kernels = await instantiateGmKernels(memory, flavour);
    const f32 = new Float32Array(memory.buffer);
    let next = 1 << 16; // leave the low addresses (where a C stack or data would go) untouched by the test itself
    const alloc = (floats: number) => {
      const pointer = next;
      next += Math.ceil((floats * 4) / 64) * 64 + 64;
      return pointer;
    };
    const fill = (pointer: number, values: number[]) => f32.set(values, pointer / 4);
    const read = (pointer: number, floats: number) => Array.from(f32.subarray(pointer / 4, pointer / 4 + floats));
    /** Every byte outside the given [pointer, bytes) ranges still holds the pattern. */
    const untouchedOutside = (ranges: Array<[number, number]>) => {
      const allowed = new Uint8Array(bytes.length);
      for (const [p, n] of ranges) allowed.fill(1, p, p + n);
      let changed = 0;
      for (let i = 0; i < bytes.length; i++) if (allowed[i] === 0 && bytes[i] !== PATTERN) changed++;
      return changed;
    };
    return { kernels, alloc, fill, read, untouchedOutside };
  }

  const random = (n: number, seed: number) => {
    let s = seed;
    return Array.from({ length: n }, () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648 - 0.5;
    });
  };

  it('gm_gemm computes op(A)·op(B) + bias, relu, for every transpose combination, and writes only C and scratch', async () => {
    const { kernels, alloc, fill, read, untouchedOutside } = await heap();
    const [m, k, n] = [13, 9, 11]; // ragged against the 4×8 tile on both sides
    const written: Array<[number, number]> = []; // every range handed to a kernel so far
    for (const aTrans of [0, 1]) {
      for (const bTrans of [0, 1]) {
        const aValues = random(m * k, 1 + aTrans);
        const bValues = random(k * n, 3 + bTrans);
        const biasValues = random(n, 5);
        const a = alloc(m * k);
        const b = alloc(k * n);
        const bias = alloc(n);
        const c = alloc(m * n);
        const scratchFloats = kernels.gm_gemm_scratch_floats(k, n);
        const scratch = alloc(scratchFloats);
        fill(a, aValues);
        fill(b, bValues);
        fill(bias, biasValues);
        written.push([a, m * k * 4], [b, k * n * 4], [bias, n * 4], [c, m * n * 4], [scratch, scratchFloats * 4]);
        kernels.gm_gemm(m, n, k, a, aTrans ? m : k, aTrans, b, bTrans ? k : n, bTrans, c, bias, 1, scratch);
        const got = read(c, m * n);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let sum = 0;
            for (let l = 0; l < k; l++) {
              const av = aValues[aTrans ? l * m + i : i * k + l] as number;
              const bv = bValues[bTrans ? j * k + l : l * n + j] as number;
              sum += av * bv;
            }
            const expected = Math.max(0, sum + (biasValues[j] as number));
            expect(Math.abs((got[i * n + j] as number) - expected)).toBeLessThan(1e-5);
          }
        }
        expect(untouchedOutside(written)).toBe(0);
      }
    }
  });

  // x [2, 5, 4, C], filter [3, FW, C, CO], stride (sh, 1), padding top 1 / left 0. The channel counts and the stride
  // pick the kernels' paths: fewer than 8 output channels read the input in place (forward, filter grad); fewer than
  // 8 input channels run the input grad in place at stride 1, along k otherwise; at most 4 input channels run the
  // forward along the output channels (and at most 4 output channels the stride-1 input grad); fewer than 4 input
  // channels take the filter grad over all taps at once.
  it.each([
    [3, 5, 2, 2, 'in-place forward and filter grad, input grad along k'],
    [3, 5, 1, 2, 'in-place forward, input grad and filter grad'],
    [9, 10, 2, 2, 'tiled GEMMs, filter grad per tap'],
    [2, 9, 2, 2, 'tiled forward, input grad along k, filter grad over all taps'],
    [8, 12, 1, 3, 'Winograd forward and input grad (3×3, stride 1)'],
    [2, 16, 1, 3, 'forward along the output channels (few inputs)'],
    [16, 4, 1, 3, 'input grad along the input channels (few outputs, stride 1)'],
  ])('the conv kernels match a direct sum and write only their outputs and scratch: C %i, CO %i, stride %i, filter width %i (%s)', async (C, CO, sh, FW) => {
    const { kernels, alloc, fill, read, untouchedOutside } = await heap();
    const [B, H, W, FH, sw, padT, padL] = [2, 5, 4, 3, 1, 1, 0];
    const OH = Math.floor((H + 2 * padT - FH) / sh) + 1;
    const OW = W - FW + 1;
    const xs = random(B * H * W * C, 11);
    const ws = random(FH * FW * C * CO, 12);
    const dys = random(B * OH * OW * CO, 13);
    const [x, w, dy] = [xs, ws, dys].map((values) => {
      const at = alloc(values.length);
      fill(at, values);
      return at;
    }) as [number, number, number];
    const y = alloc(B * OH * OW * CO);
    const dx = alloc(xs.length);
    const dw = alloc(ws.length);
    const scratch = [
      kernels.gm_conv2d_forward_scratch_floats(FH, FW, C, CO),
      kernels.gm_conv2d_input_grad_scratch_floats(FH, FW, C, CO),
      kernels.gm_conv2d_filter_grad_scratch_floats(FH, FW, C, CO),
    ].map((floats) => [alloc(floats), floats * 4] as [number, number]);
    const geometry = [B, H, W, C] as const;
    kernels.gm_conv2d_forward(...geometry, x, OH, OW, CO, y, FH, FW, sh, sw, padT, padL, w, scratch[0]![0]);
    kernels.gm_conv2d_input_grad(...geometry, dx, OH, OW, CO, dy, FH, FW, sh, sw, padT, padL, w, scratch[1]![0]);
    kernels.gm_conv2d_filter_grad(...geometry, x, OH, OW, CO, dy, FH, FW, sh, sw, padT, padL, dw, scratch[2]![0]);
    const ey = new Array(B * OH * OW * CO).fill(0);
    const edx = new Array(xs.length).fill(0);
    const edw = new Array(ws.length).fill(0);
    for (let b = 0; b < B; b++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++)
          for (let fy = 0; fy < FH; fy++)
            for (let fx = 0; fx < FW; fx++) {
              const iy = oy * sh + fy - padT;
              const ix = ox * sw + fx - padL;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              for (let c = 0; c < C; c++)
                for (let o = 0; o < CO; o++) {
                  const xi = ((b * H + iy) * W + ix) * C + c;
                  const wi = ((fy * FW + fx) * C + c) * CO + o;
                  const yi = ((b * OH + oy) * OW + ox) * CO + o;
                  ey[yi] += (xs[xi] as number) * (ws[wi] as number);
                  edx[xi] += (dys[yi] as number) * (ws[wi] as number);
                  edw[wi] += (xs[xi] as number) * (dys[yi] as number);
                }
            }
    const close = (got: number[], want: number[]) => want.forEach((v, i) => expect(Math.abs((got[i] as number) - v)).toBeLessThan(1e-5));
    close(read(y, ey.length), ey);
    close(read(dx, edx.length), edx);
    close(read(dw, edw.length), edw);
    const inputs: Array<[number, number]> = [[x, xs.length * 4], [w, ws.length * 4], [dy, dys.length * 4]];
    const outputs: Array<[number, number]> = [[y, ey.length * 4], [dx, edx.length * 4], [dw, edw.length * 4]];
    expect(untouchedOutside([...inputs, ...outputs, ...scratch])).toBe(0);
  });

  it('gm_adam updates in one pass and writes only its three outputs', async () => {
    const { kernels, alloc, fill, read, untouchedOutside } = await heap();
    const size = 7; // a SIMD body and a scalar tail
    const [p, m, v, g] = [random(size, 1), random(size, 2), random(size, 3).map(Math.abs), random(size, 4)];
    const ptr = [p, m, v, g].map((values) => {
      const at = alloc(size);
      fill(at, values);
      return at;
    });
    const outs = [alloc(size), alloc(size), alloc(size)];
    const [beta1, beta2, lr, eps] = [0.9, 0.999, 0.01, 1e-7];
    const omab1 = Math.fround(1 - 0.9 ** 3);
    const omab2 = Math.fround(1 - 0.999 ** 3);
    kernels.gm_adam(size, ...(ptr as [number, number, number, number]), ...(outs as [number, number, number]),
      beta1, 1 - beta1, beta2, 1 - beta2, omab1, omab2, -lr, eps);
    const f = Math.fround;
    for (let i = 0; i < size; i++) {
      const gi = f(g[i] as number);
      const mi = f(f(f(m[i] as number) * f(beta1)) + f(gi * f(1 - beta1)));
      const vi = f(f(f(v[i] as number) * f(beta2)) + f(f(gi * gi) * f(1 - beta2)));
      const step = f(f(mi / omab1) / f(f(Math.sqrt(f(vi / omab2))) + f(eps)));
      expect(read(outs[1] as number, size)[i]).toBe(mi);
      expect(read(outs[2] as number, size)[i]).toBe(vi);
      expect(read(outs[0] as number, size)[i]).toBe(f(f(step * f(-lr)) + f(p[i] as number)));
    }
    expect(untouchedOutside([...ptr.map((at) => [at, size * 4] as [number, number]), ...outs.map((at) => [at, size * 4] as [number, number])])).toBe(0);
  });

  it('gm_exp, gm_tanh, gm_softplus and gm_relu_grad write only their outputs', async () => {
    const { kernels, alloc, fill, read, untouchedOutside } = await heap();
    const size = 39; // the 16-float body, a 4-float step and a scalar tail
    const x = alloc(size);
    const dy = alloc(size);
    const [exp, tanh, soft, grad] = [alloc(size), alloc(size), alloc(size), alloc(size)];
    const xs = random(size, 7).map((v, i) => (i % 6 === 0 ? 0 : 40 * v));
    const dys = random(size, 8);
    fill(x, xs);
    fill(dy, dys);
    kernels.gm_exp(size, x, exp);
    kernels.gm_tanh(size, x, tanh);
    kernels.gm_softplus(size, x, soft);
    kernels.gm_relu_grad(size, dy, x, grad);
    const f = Math.fround;
    const near = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(4e-7 * Math.abs(want));
    read(exp, size).forEach((v, i) => near(v, Math.exp(f(xs[i] as number))));
    read(tanh, size).forEach((v, i) => near(v, Math.tanh(f(xs[i] as number))));
    read(soft, size).forEach((v, i) => near(v, Math.log1p(Math.exp(f(xs[i] as number)))));
    read(grad, size).forEach((v, i) => expect(v).toBe(f(xs[i] as number) > 0 ? f(dys[i] as number) : 0));
    const handed = [x, dy, exp, tanh, soft, grad].map((at) => [at, size * 4] as [number, number]);
    expect(untouchedOutside(handed)).toBe(0);
  });

  it("the fused layers' kernels (masked GEMM, bias + activation, activation gradient, product, sum, IAF gated update, Bernoulli log-likelihood, Normal draw and prior) write only their outputs", async () => {
    const { kernels, alloc, fill, read, untouchedOutside } = await heap();
    const [m, k, n] = [6, 5, 11]; // ragged against the tile and the 4-float vectors
    const aValues = random(m * k, 1);
    const bValues = random(k * n, 2);
    const maskValues = random(k * n, 3).map((v) => (v > 0 ? 1 : 0));
    const [a, b, mask, c, bias, y, dy, dx, prod] = [m * k, k * n, k * n, m * n, n, m * n, m * n, m * n, k * n].map(alloc) as number[];
    const scratchFloats = Math.max(kernels.gm_gemm_scratch_floats(k, n), kernels.gm_gemm_scratch_floats(n, k));
    const scratch = alloc(scratchFloats);
    fill(a as number, aValues);
    fill(b as number, bValues);
    fill(mask as number, maskValues);
    fill(bias as number, random(n, 4));
    fill(dy as number, random(m * n, 5));
    // C = A·(B ⊙ mask), then C += A·(B ⊙ mask) again: twice the masked product
    kernels.gm_gemm_masked(m, n, k, a as number, k, 0, b as number, n, 0, mask as number, c as number, 0, scratch);
    kernels.gm_gemm_masked(m, n, k, a as number, k, 0, b as number, n, 0, mask as number, c as number, 1, scratch);
    const got = read(c as number, m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let l = 0; l < k; l++) sum += (aValues[i * k + l] as number) * (bValues[l * n + j] as number) * (maskValues[l * n + j] as number);
        expect(got[i * n + j]).toBeCloseTo(2 * sum, 5);
      }
    }
    for (let act = 0; act < 6; act++) {
      kernels.gm_bias_activation(m, n, c as number, bias as number, act, y as number);
      kernels.gm_activation_grad(m * n, dy as number, y as number, act, dx as number);
    }
    kernels.gm_mul(k * n, b as number, mask as number, prod as number);
    expect(read(prod as number, k * n)).toEqual(bValues.map((v, i) => Math.fround(v) * (maskValues[i] as number)));
    kernels.gm_add(k * n, b as number, mask as number, prod as number);
    expect(read(prod as number, k * n)).toEqual(bValues.map((v, i) => Math.fround(Math.fround(v) + (maskValues[i] as number))));
    // the IAF gated update over L = 5 latents (ms = [m ‖ s], 10 per row) and its gradient
    const L = 5;
    const [z0, ms, z, logGate, dz0, dms] = [m * L, m * 2 * L, m * L, m, m * L, m * 2 * L].map(alloc) as number[];
    fill(z0 as number, random(m * L, 6));
    fill(ms as number, random(m * 2 * L, 7).map((v) => 8 * v));
    kernels.gm_gated_update(m, L, z0 as number, ms as number, z as number, logGate as number);
    kernels.gm_gated_update_grad(m, L, dy as number, bias as number, z0 as number, ms as number, dz0 as number, dms as number);
    // the Bernoulli log-likelihood over rows of 11 (logits c, targets y) and its gradient
    const [logp, dLogits, dTargets] = [m, m * n, m * n].map(alloc) as number[];
    kernels.gm_bernoulli_log_prob(m, n, c as number, y as number, logp as number);
    kernels.gm_bernoulli_log_prob_grad(m, n, bias as number, c as number, y as number, dLogits as number, dTargets as number);
    // the reparameterised Normal: 2 draws over rows of L = 5 (mean c, log σ y, noise ε) and its gradient; the prior
    const draws = 2;
    const [eps, sample, logq, dMean, dLogStd, dEps, logPrior, dPrior] = [draws * m * L, draws * m * L, draws * m, m * L, m * L, draws * m * L, m, m * L].map(alloc) as number[];
    fill(eps as number, random(draws * m * L, 8));
    kernels.gm_normal_sample(draws, m, L, c as number, y as number, eps as number, -4.6, sample as number, logq as number);
    kernels.gm_normal_sample_grad(draws, m, L, dy as number, bias as number, y as number, eps as number, dMean as number, dLogStd as number, dEps as number);
    kernels.gm_standard_normal_log_prob(m, L, z0 as number, -4.6, logPrior as number);
    kernels.gm_standard_normal_log_prob_grad(m, L, bias as number, z0 as number, dPrior as number);
    const sizes = [m * k, k * n, k * n, m * n, n, m * n, m * n, m * n, k * n, m * L, m * 2 * L, m * L, m, m * L, m * 2 * L, m, m * n, m * n];
    sizes.push(draws * m * L, draws * m * L, draws * m, m * L, m * L, draws * m * L, m, m * L);
    const handed = [a, b, mask, c, bias, y, dy, dx, prod, z0, ms, z, logGate, dz0, dms, logp, dLogits, dTargets, eps, sample, logq, dMean, dLogStd, dEps, logPrior, dPrior].map((at, i) => [at as number, (sizes[i] as number) * 4] as [number, number]);
    expect(untouchedOutside([...handed, [scratch, scratchFloats * 4]])).toBe(0);
  });
});

describe('gmAdam', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    registerGmAdamKernel();
  });

  /** Trains a small regression with the given optimizer and returns every variable after each step. */
  function trajectory(makeOptimizer: () => tf.Optimizer, steps: number): { values: number[][]; leaked: number } {
    const shapes = [[5, 7], [7], [3, 3, 3], []]; // odd sizes, a rank-3 and a scalar variable
    const vars = shapes.map((shape, i) => tf.variable(tf.randomNormal(shape, 0, 1, 'float32', 10 + i), true, `adam-test-${i}-${Math.random()}`));
    const x = tf.randomNormal([4, 5], 0, 1, 'float32', 1);
    const optimizer = makeOptimizer();
    const loss = () =>
      tf.tidy(() => {
        const [w, b, c, s] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
        const y = tf.add(tf.matMul(x, w), b);
        return tf.add(tf.add(tf.mean(tf.square(tf.sub(y, 0.5))), tf.mul(tf.sum(tf.square(c)), 0.1)), tf.square(tf.sub(s, 2))) as tf.Scalar;
      });
    const values: number[][] = [];
    optimizer.minimize(loss, false, vars); // creates the moment variables
    const before = tf.memory().numTensors;
    for (let step = 0; step < steps; step++) {
      optimizer.minimize(loss, false, vars);
      values.push(vars.flatMap((v) => Array.from(v.dataSync())));
    }
    const leaked = tf.memory().numTensors - before;
    optimizer.dispose();
    tf.dispose([...vars, x]);
    return { values, leaked };
  }

  it('is bit-identical to tf.train.adam on wasm and uses the fused kernel there', () => {
    const optimizer = gmAdam(0.05, 0.8, 0.95);
    expect(optimizer.fused).toBe(true);
    optimizer.dispose();
    const reference = trajectory(() => tf.train.adam(0.05, 0.8, 0.95), 12);
    const fused = trajectory(() => gmAdam(0.05, 0.8, 0.95), 12);
    expect(fused.values).toEqual(reference.values);
    expect(fused.leaked).toBe(0);
  });

  it('keeps Adam state that getWeights / setWeights carry over (resume equals uninterrupted)', async () => {
    const w = tf.variable(tf.tensor1d([1, -2, 3, 0.5, 4]), true, `adam-resume-${Math.random()}`);
    const loss = () => tf.tidy(() => tf.sum(tf.square(tf.sub(w, 1))) as tf.Scalar);
    const first = gmAdam(0.1);
    for (let i = 0; i < 3; i++) first.minimize(loss, false, [w]);
    const weights = await first.getWeights();
    expect(weights.map((x) => x.name)).toEqual(['iter', `${w.name}/m`, `${w.name}/v`]);
    const resumed = gmAdam(0.1);
    await resumed.setWeights(weights.map((x) => ({ name: x.name, tensor: tf.clone(x.tensor) })));
    const snapshot = tf.clone(w);
    first.minimize(loss, false, [w]);
    const uninterrupted = Array.from(w.dataSync());
    w.assign(snapshot);
    resumed.minimize(loss, false, [w]);
    expect(Array.from(w.dataSync())).toEqual(uninterrupted);
    tf.dispose([w, snapshot]);
    first.dispose();
    resumed.dispose();
  });

  it('is tf.train.adam on backends without the fused kernel (cpu)', async () => {
    await tf.setBackend('cpu');
    try {
      expect(gmAdam().fused).toBe(false);
      const reference = trajectory(() => tf.train.adam(0.05), 5);
      const plain = trajectory(() => gmAdam(0.05), 5);
      expect(plain.values).toEqual(reference.values);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
