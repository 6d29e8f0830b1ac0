import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient kernels
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '@gm/core';
import { ROW_COPY_PATHS, setUpRowCopies } from './row-copies.testing';
import { installInPlaceWasmSlice, uninstallInPlaceWasmSlice } from './wasm-slice';

describe.each(ROW_COPY_PATHS)('in-place wasm Slice: %s', (_, bound) => {
  beforeAll(() => setUpRowCopies(bound, installInPlaceWasmSlice));
  afterAll(() => uninstallInPlaceWasmSlice());

  /** The stock kernel's answer for the same slice (the override uninstalled for the call). */
  function stockSlice(x: tf.Tensor, begin: number[], size: number[]): { values: number[]; shape: number[] } {
    uninstallInPlaceWasmSlice();
    try {
      const y = tf.slice(x, begin, size);
      const r = { values: Array.from(y.dataSync()), shape: y.shape };
      y.dispose();
      return r;
    } finally {
      installInPlaceWasmSlice();
    }
  }

  it('equals the stock kernel on random shapes, ranks 1–5, contiguous and strided, float32, int32 and bool', () => {
    const rnd = mulberry32(3);
    const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    for (let trial = 0; trial < 300; trial++) {
      const rank = int(1, 5);
      const shape = Array.from({ length: rank }, () => int(1, 6));
      const begin = shape.map((d) => int(0, d - 1));
      const size = shape.map((d, i) => (rnd() < 0.3 ? -1 : int(0, d - (begin[i] as number))));
      const dtype = (['float32', 'int32', 'bool'] as const)[trial % 3]!;
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? Number(i % 3 === 0) : dtype === 'int32' ? i - 7 : i * 0.5 - 3));
      const x = tf.tensor(values, shape, dtype);
      const y = tf.slice(x, begin, size);
      const ref = stockSlice(x, begin, size);
      expect({ trial, shape: y.shape, values: Array.from(y.dataSync()) }).toEqual({ trial, shape: ref.shape, values: ref.values });
      tf.dispose([x, y]);
    }
  });

  it('splits like the stock SplitV on random shapes, axes and split sizes (float32, int32, bool)', () => {
    const rnd = mulberry32(5);
    const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    for (let trial = 0; trial < 200; trial++) {
      const rank = int(1, 4);
      const shape = Array.from({ length: rank }, (_, a) => (trial % 10 === 0 && a === rank - 1 ? int(30, 40) : int(1, 6)));
      const axis = int(0, rank - 1);
      const cuts = [0, ...Array.from({ length: int(0, 3) }, () => int(0, shape[axis]!)).sort((a, b) => a - b), shape[axis]!];
      const sizes = cuts.slice(1).map((c, i) => c - cuts[i]!);
      const dtype = (['float32', 'int32', 'bool'] as const)[trial % 3]!;
      const n = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(Array.from({ length: n }, (_, i) => (dtype === 'bool' ? Number(i % 3 === 0) : i - 5)), shape, dtype);
      const parts = tf.split(x, sizes, axis);
      uninstallInPlaceWasmSlice();
      const ref = tf.split(x, sizes, axis);
      installInPlaceWasmSlice();
      const view = (ts: tf.Tensor[]) => ts.map((t) => ({ shape: t.shape, values: Array.from(t.dataSync()) }));
      expect({ trial, parts: view(parts) }).toEqual({ trial, parts: view(ref) });
      tf.dispose([x, ...parts, ...ref]);
    }
  });

  it('slices batches of a large tensor without reading it out of the heap: a batch costs the batch, not the dataset', () => {
    // Stock tfjs-wasm's Slice reads the whole input out of the heap (12.5 MB here) for every slice; this one copies
    // only the slice. Counted, not timed: the speed is the vae-step bench's business.
    const data = tf.randomUniform([4000, 784], 0, 1, 'float32', 5);
    const backend = tf.backend() as unknown as { readSync(dataId: object): unknown };
    const readSync = backend.readSync;
    let wholeReads = 0;
    backend.readSync = function (this: unknown, dataId: object) {
      if (dataId === data.dataId) wholeReads++;
      return readSync.call(this, dataId);
    };
    const sliceBatches = () => {
      wholeReads = 0;
      for (let b = 0; b < 20; b++) tf.slice(data, [b * 100, 0], [100, 784]).dispose();
      return wholeReads;
    };
    try {
      expect(sliceBatches()).toBe(0);
      uninstallInPlaceWasmSlice();
      expect(sliceBatches()).toBe(20); // what the override avoids
    } finally {
      installInPlaceWasmSlice();
      backend.readSync = readSync;
    }
    const a = tf.slice(data, [3900, 0], [100, 784]);
    const b = tf.slice(data, [3900, 0], [100, 784]);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b, data]);
  });

  it('gives the same gradients (slice backprop) and leaks nothing', () => {
    const x = tf.variable(tf.randomNormal([6, 5, 4], 0, 1, 'float32', 7));
    const f = () => tf.sum(tf.square(tf.slice(x, [1, 0, 2], [3, 5, 2]))) as tf.Scalar;
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(f, [x]);
    const g = Array.from((grads[x.name] as tf.Tensor).dataSync());
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    uninstallInPlaceWasmSlice();
    const ref = tf.variableGrads(f, [x]);
    const gRef = Array.from((ref.grads[x.name] as tf.Tensor).dataSync());
    tf.dispose([ref.value, ...Object.values(ref.grads)]);
    installInPlaceWasmSlice();
    expect(g).toEqual(gRef);
    x.dispose();
  });
});
