import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNpy, readNpyFile } from './npy-file.js';
import { datasetFromNpy, parseNpy, writeNpy, type NpyArray } from './npy.js';
import { testBytes, thrown } from './test-helpers.js';

/** A `.npy` file with a header of our own (what numpy writes for other arrays), version 1.0 or 2.0. */
function npyWithHeader(dict: string, data: Uint8Array, major: 1 | 2 = 1): Uint8Array {
  const preamble = major === 1 ? 10 : 12;
  const header = new TextEncoder().encode(`${dict}`.padEnd(Math.ceil((preamble + dict.length + 1) / 64) * 64 - preamble - 1, ' ') + '\n');
  const out = new Uint8Array(preamble + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(header, preamble);
  out.set(data, preamble + header.length);
  return out;
}

describe('parseNpy / writeNpy', () => {
  it('round-trips uint8 and float32 arrays of any shape', () => {
    const u8: NpyArray = { dtype: 'uint8', shape: [3, 4, 5], data: testBytes(60, 1) };
    const f32: NpyArray = { dtype: 'float32', shape: [7], data: Float32Array.from([0, 0.5, 1, -2.25, 1e-8, 3.4e38, Number.NaN]) };
    const scalar: NpyArray = { dtype: 'uint8', shape: [], data: Uint8Array.of(9) };
    for (const a of [u8, f32, scalar]) {
      const bytes = writeNpy(a);
      expect(bytes.length % 64).toBe(a.data.byteLength % 64); // data starts at a multiple of 64, as numpy writes
      expect(parseNpy(bytes, 'a.npy')).toEqual(a);
    }
    const written = writeNpy(f32);
    const header = new TextDecoder().decode(written.subarray(10, 10 + new DataView(written.buffer).getUint16(8, true)));
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(7,\), \} +\n$/);
  });

  it("reads what numpy writes: version 2.0 headers, '<u1', big-endian float32, Python 2 long dims", () => {
    const data = Uint8Array.of(1, 2, 3, 4, 5, 6);
    expect(parseNpy(npyWithHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", data, 2))).toEqual({ dtype: 'uint8', shape: [2, 3], data });
    expect(parseNpy(npyWithHeader('{"descr": "<u1", "fortran_order": False, "shape": (6L,)}', data)).shape).toEqual([6]);
    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 1.5, false);
    new DataView(be.buffer).setFloat32(4, -0.25, false);
    expect(parseNpy(npyWithHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be)).data).toEqual(Float32Array.of(1.5, -0.25));
  });

  it('refuses Fortran order, other dtypes, other versions and malformed files, naming the file', () => {
    const cases: Array<[Uint8Array, string, RegExp]> = [
      [npyWithHeader("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }", new Uint8Array(6)), 'UNSUPPORTED', /^f\.npy: Fortran-order \(column-major\) arrays are not supported: expected fortran_order False; save np\.ascontiguousarray\(arr\)$/],
      [npyWithHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(16)), 'BAD_DTYPE', /^f\.npy: unsupported NPY dtype '<f8' \(float64\): expected uint8 \('\|u1'\) or float32 \('<f4'\); convert with arr\.astype\(np\.uint8\) or arr\.astype\(np\.float32\)$/],
      [npyWithHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(16)), 'BAD_DTYPE', /'<i8' \(int64\)/],
      [npyWithHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", new Uint8Array(8)), 'BAD_DTYPE', /structured arrays are not supported/],
      [Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 3, 0, 0, 0, 0, 0), 'UNSUPPORTED', /NPY format version 3\.0 is not supported: expected 1\.0 or 2\.0/],
      [new TextEncoder().encode('PK\x03\x04 a .npz archive'), 'BAD_MAGIC', /^f\.npy: not a \.npy file: expected the magic 93 4e 55 4d 50 59/],
      [npyWithHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", new Uint8Array(5)), 'TRUNCATED', /truncated NPY data: shape \(2, 3\) of uint8 needs 6 bytes, got 5/],
      [npyWithHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", new Uint8Array(7)), 'TRAILING_BYTES', /1 bytes after the NPY data/],
      [npyWithHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (-2, 3), }", new Uint8Array(6)), 'BAD_DIMENSIONS', /NPY shape \(-2, 3\) is not a tuple of non-negative integers/],
      [npyWithHeader("{'descr': '|u1', 'fortran_order': False}", new Uint8Array(6)), 'BAD_DIMENSIONS', /no 'shape' tuple/],
      [npyWithHeader('not a dict', new Uint8Array(0)), 'BAD_MAGIC', /NPY header is not a Python dict/],
      [writeNpy({ dtype: 'uint8', shape: [4], data: new Uint8Array(4) }).subarray(0, 30), 'TRUNCATED', /truncated NPY header/],
    ];
    for (const [bytes, code, message] of cases) {
      const err = thrown(() => parseNpy(bytes, 'f.npy'));
      expect([err.code, err.message]).toEqual([code, expect.stringMatching(message)]);
      expect(err.file).toBe('f.npy');
    }
  });
});

describe('datasetFromNpy', () => {
  it('makes an HWC dataset from (N, H, W) or (N, H, W, C) images and (N,) labels', () => {
    const gray = datasetFromNpy({ dtype: 'uint8', shape: [2, 3, 4], data: testBytes(24, 2) }, { dtype: 'uint8', shape: [2], data: Uint8Array.of(7, 1) }, { images: 'x.npy', labels: 'y.npy' });
    expect(gray).toMatchObject({ count: 2, shape: [3, 4, 1], layout: 'HWC', labels: Uint8Array.of(7, 1) });
    const rgb = datasetFromNpy({ dtype: 'float32', shape: [1, 2, 2, 3], data: new Float32Array(12).fill(0.5) }, undefined, { images: 'x.npy' });
    expect(rgb).toMatchObject({ count: 1, shape: [2, 2, 3], labels: Uint8Array.of(0) });
    expect(Array.from(rgb.images)).toEqual(new Array<number>(12).fill(128));
    const bytes = datasetFromNpy({ dtype: 'float32', shape: [1, 1, 2], data: Float32Array.of(0, 254.6) }, { dtype: 'float32', shape: [1, 1], data: Float32Array.of(3) }, { images: 'x.npy', labels: 'y.npy' }, { floatRange: 'byte' });
    expect([Array.from(bytes.images), Array.from(bytes.labels)]).toEqual([[0, 255], [3]]);
  });

  it('refuses shapes, values and labels it cannot use, saying what to do', () => {
    const x = (shape: number[], data: Float32Array | Uint8Array = new Uint8Array(shape.reduce((a, b) => a * b, 1))): NpyArray =>
      ({ dtype: data instanceof Float32Array ? 'float32' : 'uint8', shape, data }) as NpyArray;
    expect(thrown(() => datasetFromNpy(x([2, 3, 8, 8]), undefined, { images: 'x.npy' })).message).toMatch(
      /^x\.npy: expected images of shape \(count, height, width\) or \(count, height, width, channels\) with 1 or 3 channels, got \(2, 3, 8, 8\); channels first\? save arr\.transpose\(0, 2, 3, 1\)$/,
    );
    expect(thrown(() => datasetFromNpy(x([6]), undefined, { images: 'x.npy' })).code).toBe('BAD_DIMENSIONS');
    expect(thrown(() => datasetFromNpy(x([1, 1, 2], Float32Array.of(0.5, 1.5)), undefined, { images: 'x.npy' })).message).toMatch(
      /x\.npy: float32 value 1\.5 at index 1 is outside \[0, 1\] \(floatRange unit; pass floatRange byte for 0\.\.255 values\)/,
    );
    expect(thrown(() => datasetFromNpy(x([1, 1, 1], Float32Array.of(Number.NaN)), undefined, { images: 'x.npy' }, { floatRange: 'byte' })).code).toBe('BAD_VALUE');
    expect(thrown(() => datasetFromNpy(x([2, 1, 1]), x([3]), { images: 'x.npy', labels: 'y.npy' })).message).toBe('y.npy: expected 2 labels (one per image), got 3');
    expect(thrown(() => datasetFromNpy(x([1, 1, 1]), x([1], Float32Array.of(0.5)), { images: 'x.npy', labels: 'y.npy' })).message).toBe('y.npy: label 0 is 0.5, expected a whole number 0..255');
    expect(thrown(() => datasetFromNpy(x([2, 1, 1]), x([2, 2]), { images: 'x.npy', labels: 'y.npy' })).code).toBe('BAD_DIMENSIONS');
  });
});

describe('readNpyFile / loadNpy', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gm-npy-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads an images file and a labels file into a dataset, within the file cap', async () => {
    const images = testBytes(5 * 4 * 4, 3);
    await writeFile(join(dir, 'x.npy'), writeNpy({ dtype: 'uint8', shape: [5, 4, 4], data: images }));
    await writeFile(join(dir, 'y.npy'), writeNpy({ dtype: 'uint8', shape: [5], data: Uint8Array.of(0, 1, 2, 1, 0) }));
    expect((await readNpyFile(join(dir, 'x.npy'))).shape).toEqual([5, 4, 4]);
    const ds = await loadNpy({ images: join(dir, 'x.npy'), labels: join(dir, 'y.npy') });
    expect(ds).toMatchObject({ count: 5, shape: [4, 4, 1], images, labels: Uint8Array.of(0, 1, 2, 1, 0) });
    await expect(loadNpy({ images: join(dir, 'x.npy'), maxFileBytes: 100 })).rejects.toThrow(/x\.npy: the file has 208 bytes, more than 100 bytes \(maxFileBytes\)/);
    await expect(loadNpy({ images: join(dir, 'missing.npy') })).rejects.toMatchObject({ code: 'MISSING_FILE' });
  });
});
