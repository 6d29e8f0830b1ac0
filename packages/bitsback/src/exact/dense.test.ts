import { GmError, mulberry32 } from '@gm/core';
import { describe, expect, it } from 'vitest';
import { createDenseEngine, denseEngineDigest, supportsWasmSimd128, type DenseBackend, type DenseLayerWeights } from './dense';

/**
 * SHA-256 of denseEngineDigest's outputs. It changes only if the arithmetic changes — which would make every file
 * compressed so far undecodable — or if the digest's network is edited on purpose.
 */
const PINNED_DIGEST = '2840a31ade2a6739221a56374812c2e23257c747895db97a55479249a069298d';

const BACKENDS: DenseBackend[] = ['wasm-simd128', 'js'];


/**
 * Float32s from 1e-30 to 1e30 (`wide`: many products overflow, so infinities and NaNs occur) or 2^±20 (`narrow`),
 * with ±0 and subnormals mixed in.
 */
function values(next: () => number, n: number, wide: boolean): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const pick = next();
    const sign = next() < 0.5 ? -1 : 1;
    if (pick < 0.05) out[i] = 0;
    else if (pick < 0.1) out[i] = -0;
    else if (pick < 0.15) out[i] = sign * (1 + next()) * 2 ** -(127 + Math.floor(next() * 23));
    else if (wide) out[i] = sign * (1 + 9 * next()) * 10 ** Math.floor(-30 + next() * 60);
    else out[i] = sign * (1 + next()) * 2 ** Math.floor(-20 + next() * 41);
  }
  return out;
}

/** The definition, one output at a time. */
function reference(layer: DenseLayerWeights, x: Float32Array, rows: number, u?: Float32Array): Float32Array {
  const { inputSize: K, units: N, kernel, bias, inputKernel } = layer;
  const K2 = inputKernel === undefined ? 0 : inputKernel.length / N;
  const y = new Float32Array(rows * N);
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc = Math.fround(acc + Math.fround(x[r * K + k]! * kernel[k * N + n]!));
      if (inputKernel !== undefined && u !== undefined) {
        let acc2 = 0;
        for (let k = 0; k < K2; k++) acc2 = Math.fround(acc2 + Math.fround(u[r * K2 + k]! * inputKernel[k * N + n]!));
        acc = Math.fround(acc + acc2);
      }
      if (bias !== null) acc = Math.fround(acc + bias[n]!);
      y[r * N + n] = acc;
    }
  }
  return y;
}

/** Bit patterns, NaNs as one pattern: wasm leaves NaN payloads unspecified (no decodable model produces NaN). */
function bits(y: Float32Array): number[] {
  return Array.from(new Uint32Array(y.buffer, y.byteOffset, y.length), (b, i) => (Number.isNaN(y[i]) ? 0x7fc00000 : b));
}

describe('dense engines', () => {
  it('runs wasm SIMD128 here (Node 20) and picks it by default', () => {
    expect(supportsWasmSimd128()).toBe(true);
    expect(createDenseEngine().backend).toBe('wasm-simd128');
  });

  it('wasm and js give the reference bits on random shapes, magnitudes 1e-30 … 1e30, ±0 and subnormals', () => {
    const next = mulberry32(20240601);
    const engines = BACKENDS.map((backend) => createDenseEngine({ backend }));
    let cases = 0;
    let sawInfinity = false;
    for (let N = 1; N <= 33; N++) {
      for (let rows = 1; rows <= 9; rows++) {
        const K = [0, 1, 2, 3, 5, 8, 17, 40][Math.floor(next() * 8)]!;
        const withBias = next() < 0.5;
        const second = next() < 0.4;
        const wide = next() < 0.5;
        const K2 = Math.floor(next() * 12);
        const layer: DenseLayerWeights = {
          inputSize: K,
          units: N,
          kernel: values(next, K * N, wide),
          bias: withBias ? values(next, N, wide) : null,
          ...(second ? { inputKernel: values(next, K2 * N, wide), inputKernelRows: K2 } : {}),
        };
        const x = values(next, rows * K, wide);
        const u = second ? values(next, rows * K2, wide) : undefined;
        const expected = bits(reference(layer, x, rows, u));
        for (const engine of engines) {
          const y = engine.run(engine.load(layer), x, rows, u);
          expect(bits(y), `${engine.backend}: rows ${rows}, K ${K}, N ${N}, bias ${withBias}, K2 ${second ? K2 : '-'}`).toEqual(expected);
          sawInfinity ||= y.some((v) => !Number.isFinite(v));
        }
        cases++;
      }
    }
    expect(cases).toBe(33 * 9);
    expect(sawInfinity).toBe(true);
    // A larger layer: several 4×8 tiles per column strip and long k loops.
    const layer: DenseLayerWeights = { inputSize: 300, units: 70, kernel: values(next, 300 * 70, false), bias: values(next, 70, false), inputKernel: values(next, 50 * 70, false) };
    const x = values(next, 37 * 300, false);
    const u = values(next, 37 * 50, false);
    const expected = bits(reference(layer, x, 37, u));
    for (const engine of engines) expect(bits(engine.run(engine.load(layer), x, 37, u))).toEqual(expected);
  });

  it('sums k in order, rounding each product: other orders or a fused multiply-add give other bits', () => {
    // Column sums of [1e8, 1, −1e8, 1]: in order 1; two interleaved accumulators give 2, pairwise or reversed 0.
    const rows = 9;
    const N = 13;
    const x = new Float32Array(rows * 4);
    for (let r = 0; r < rows; r++) x.set([1e8, 1, -1e8, 1], r * 4);
    const ones = { inputSize: 4, units: N, kernel: new Float32Array(4 * N).fill(1), bias: null };
    // −(1 + 2^-11) + (1 + 2^-12)²: 0 with the product rounded to float32 first, 2^-24 if fused.
    const a = 1 + 2 ** -12;
    const fma = { inputSize: 2, units: N, kernel: new Float32Array(2 * N).fill(1).fill(a, N), bias: null };
    const fx = new Float32Array(rows * 2);
    for (let r = 0; r < rows; r++) fx.set([-(1 + 2 ** -11), a], r * 2);
    for (const backend of BACKENDS) {
      const engine = createDenseEngine({ backend });
      expect(Array.from(engine.run(engine.load(ones), x, rows)), backend).toEqual(new Array(rows * N).fill(1));
      expect(Array.from(engine.run(engine.load(fma), fx, rows)), backend).toEqual(new Array(rows * N).fill(0));
      // The second input's sum is its own, added to the first's at the end: f32(f32(1 + 1) + 0.5).
      const two = { ...ones, inputKernel: new Float32Array(4 * N).fill(1), bias: new Float32Array(N).fill(0.5) };
      expect(Array.from(engine.run(engine.load(two), x, rows, x)), backend).toEqual(new Array(rows * N).fill(2.5));
    }
  });

  it('pins the bits: a fixed network hashes to the same SHA-256 on both engines', () => {
    expect(denseEngineDigest('wasm-simd128')).toBe(PINNED_DIGEST);
    expect(denseEngineDigest('js')).toBe(PINNED_DIGEST);
    expect(denseEngineDigest()).toBe(PINNED_DIGEST);
  });

  it('copies weights at load, keeps handles valid as memory grows, and returns empty batches', () => {
    for (const backend of BACKENDS) {
      const engine = createDenseEngine({ backend });
      const kernel = new Float32Array([1, 2, 3, 4, 5, 6]);
      const small = engine.load({ inputSize: 2, units: 3, kernel, bias: new Float32Array([0.5, 0, -0.5]) });
      kernel.fill(0);
      // 4 MB of weights: the wasm memory grows past its first pages.
      const big = engine.load({ inputSize: 1024, units: 1024, kernel: new Float32Array(1024 * 1024).fill(0.25), bias: null });
      expect(engine.run(big, new Float32Array(16 * 1024).fill(2), 16)[12345]).toBe(512);
      expect(Array.from(engine.run(small, new Float32Array([1, 1, 2, 0]), 2))).toEqual([5.5, 7, 8.5, 2.5, 4, 5.5]);
      expect(engine.run(small, new Float32Array(0), 0)).toEqual(new Float32Array(0));
      engine.dispose();
      expect(() => engine.run(small, new Float32Array(2), 1)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
      const again = engine.load({ inputSize: 1, units: 1, kernel: new Float32Array([3]), bias: null });
      expect(Array.from(engine.run(again, new Float32Array([2]), 1))).toEqual([6]);
    }
  });

  it('refuses wrong sizes with GmError naming the layer and the sizes it expected', () => {
    for (const backend of BACKENDS) {
      const engine = createDenseEngine({ backend });
      const layer = { inputSize: 3, units: 2, kernel: new Float32Array(6), bias: new Float32Array(2), name: 'enc1' };
      const caught = (f: () => unknown): GmError => {
        try {
          f();
        } catch (error) {
          expect(error).toBeInstanceOf(GmError);
          return error as GmError;
        }
        throw new Error('expected a GmError');
      };
      expect(caught(() => engine.load({ ...layer, kernel: new Float32Array(5) })).message).toBe(
        "dense layer 'enc1' (3 → 2): kernel must hold inputSize × units = 3 × 2 = 6 floats, got 5",
      );
      expect(caught(() => engine.load({ ...layer, bias: new Float32Array(3) })).code).toBe('BAD_SHAPE');
      expect(caught(() => engine.load({ ...layer, inputKernel: new Float32Array(5) })).code).toBe('BAD_SHAPE');
      expect(caught(() => engine.load({ ...layer, inputKernel: new Float32Array(6), inputKernelRows: 2 })).code).toBe('BAD_SHAPE');
      expect(caught(() => engine.load({ ...layer, units: 0 })).code).toBe('BAD_ARGUMENT');
      const h = engine.load(layer);
      const e = caught(() => engine.run(h, new Float32Array(7), 2));
      expect(e.code).toBe('BAD_SHAPE');
      expect(e.message).toBe("dense layer 'enc1' (3 → 2): x must hold rows × inputSize = 2 × 3 = 6 floats, got 7");
      expect(caught(() => engine.run(h, new Float32Array(6), 2, new Float32Array(2))).code).toBe('BAD_ARGUMENT');
      expect(caught(() => engine.run(h, new Float32Array(6), 1.5)).code).toBe('BAD_ARGUMENT');
      const h2 = engine.load({ ...layer, inputKernel: new Float32Array(8) });
      expect(h2.inputKernelRows).toBe(4);
      expect(caught(() => engine.run(h2, new Float32Array(6), 2)).code).toBe('BAD_ARGUMENT');
      expect(caught(() => engine.run(h2, new Float32Array(6), 2, new Float32Array(7))).message).toContain('u must hold rows × inputKernelRows = 2 × 4 = 8 floats, got 7');
      const other = createDenseEngine({ backend });
      expect(caught(() => other.run(h, new Float32Array(6), 2)).code).toBe('BAD_ARGUMENT');
    }
  });
});
