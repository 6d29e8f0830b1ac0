import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from './errors.js';
import { readIdxFile, writeIdxFile } from './files.js';
import { gunzipIfNamed } from './gzip.js';
import { parseIdx, parseIdxImages, parseIdxLabels, writeIdx, writeIdxImages, writeIdxLabels, type IdxArray } from './idx.js';
import { gzip, testBytes } from './test-helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gm-idx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function expectDataError(fn: () => unknown, code: string, ...patterns: RegExp[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DataError);
  expect((caught as DataError).code).toBe(code);
  for (const p of patterns) expect((caught as Error).message).toMatch(p);
}

describe('IDX parse and write', () => {
  it('writes the documented header byte for byte', () => {
    const bytes = writeIdxImages(Uint8Array.from([1, 2, 3, 4, 5, 6]), 1, 2, 3);
    expect([...bytes]).toEqual([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
    expect([...writeIdxLabels(Uint8Array.from([7, 9]))]).toEqual([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]);
  });

  it('parses what it writes for every element type, big-endian', () => {
    const arrays: IdxArray[] = [
      { dtype: 'uint8', dims: [2, 3], data: Uint8Array.from([0, 1, 2, 253, 254, 255]) },
      { dtype: 'int8', dims: [3], data: Int8Array.from([-128, 0, 127]) },
      { dtype: 'int16', dims: [2, 2], data: Int16Array.from([-32768, -1, 1, 32767]) },
      { dtype: 'int32', dims: [1, 3], data: Int32Array.from([-(2 ** 31), 0, 2 ** 31 - 1]) },
      { dtype: 'float32', dims: [2], data: Float32Array.from([Math.fround(Math.PI), -0.5]) },
      { dtype: 'float64', dims: [2, 1, 1], data: Float64Array.from([Math.E, -1e300]) },
    ];
    for (const a of arrays) {
      const bytes = writeIdx(a);
      expect(parseIdx(bytes)).toEqual(a);
    }
    // Big-endian on disk: int16 -32768 is 80 00.
    const b = writeIdx({ dtype: 'int16', dims: [1], data: Int16Array.from([-32768]) });
    expect([...b.subarray(8)]).toEqual([0x80, 0x00]);
  });

  it('parses images and labels and copies them out of the input', () => {
    const pixels = testBytes(5 * 28 * 28, 1);
    const buf = writeIdxImages(pixels, 5, 28, 28);
    const parsed = parseIdxImages(buf);
    expect(parsed.count).toBe(5);
    expect(parsed.rows).toBe(28);
    expect(parsed.cols).toBe(28);
    expect(parsed.images).toEqual(pixels);
    buf[16] = (buf[16]! + 1) % 256;
    expect(parsed.images[0]).toBe(pixels[0]);
    expect(parseIdxLabels(writeIdxLabels(Uint8Array.from([3, 1, 4])))).toEqual(Uint8Array.from([3, 1, 4]));
  });

  it('rejects a wrong magic number, naming the file and what was expected', () => {
    const buf = writeIdxLabels(Uint8Array.from([1]));
    buf[0] = 0x12;
    expectDataError(() => parseIdxLabels(buf, 'labels.idx'), 'BAD_MAGIC', /^labels\.idx: /, /expected 00 00 <type> <ndims>/, /got 12 00 08 01/);
    const bad = writeIdxLabels(Uint8Array.from([1]));
    bad[2] = 0x07;
    expectDataError(() => parseIdx(bad, 'x.idx'), 'BAD_DTYPE', /x\.idx/, /unknown element type byte 0x07/);
    expectDataError(() => parseIdx(gzip(buf), 'plain.idx'), 'BAD_MAGIC', /plain\.idx/, /gzip-compressed/);
  });

  it('rejects truncated files and files longer than their header says', () => {
    const buf = writeIdxImages(testBytes(2 * 4 * 4, 2), 2, 4, 4);
    expectDataError(() => parseIdxImages(buf.subarray(0, buf.length - 1), 'imgs'), 'TRUNCATED', /imgs: truncated IDX file: expected 48 bytes/, /got 47/);
    expectDataError(() => parseIdxImages(buf.subarray(0, 10), 'imgs'), 'TRUNCATED', /expected 16 bytes for 3 dimensions/);
    expectDataError(() => parseIdxImages(buf.subarray(0, 3), 'imgs'), 'TRUNCATED', /at least a 4-byte magic/);
    const longer = new Uint8Array(buf.length + 1);
    longer.set(buf);
    expectDataError(() => parseIdxImages(longer, 'imgs'), 'TRAILING_BYTES', /expected 48 bytes/);
  });

  it('rejects unexpected dimensions and element types', () => {
    const labels = writeIdxLabels(Uint8Array.from([1, 2]));
    expectDataError(() => parseIdxImages(labels, 'train-labels'), 'BAD_DIMENSIONS', /train-labels/, /expected an idx3 image file with 3 dimensions/);
    const images = writeIdxImages(new Uint8Array(4), 1, 2, 2);
    expectDataError(() => parseIdxLabels(images, 'imgs'), 'BAD_DIMENSIONS', /expected an idx1 label file/);
    const floats = writeIdx({ dtype: 'float32', dims: [1, 1, 1], data: Float32Array.from([1]) });
    expectDataError(() => parseIdxImages(floats, 'f'), 'BAD_DTYPE', /expected an IDX image file of unsigned bytes/);
    expect(() => writeIdx({ dtype: 'uint8', dims: [2, 2], data: new Uint8Array(3) })).toThrow(/need 4 values, got 3/);
  });

  it('gunzips .gz names and refuses a .gz name on data that is not gzip', () => {
    const buf = writeIdxLabels(Uint8Array.from([5]));
    expect(gunzipIfNamed(gzip(buf), 'a.gz')).toEqual(buf);
    expect(gunzipIfNamed(buf, 'a')).toBe(buf);
    expectDataError(() => gunzipIfNamed(buf, 'labels-idx1-ubyte.gz'), 'NOT_GZIP', /^labels-idx1-ubyte\.gz: /, /expected the gzip magic 1f 8b, got 00 00/);
    expectDataError(() => gunzipIfNamed(gzip(buf).subarray(0, 12), 'cut.gz'), 'TRUNCATED', /cut\.gz: corrupt or truncated gzip/);
  });

  it('reads and writes IDX files, plain and gzipped, atomically', async () => {
    const a: IdxArray = { dtype: 'uint8', dims: [3, 2, 2], data: testBytes(12, 3) };
    await writeIdxFile(join(dir, 'a-idx3-ubyte.gz'), a);
    await writeIdxFile(join(dir, 'a-idx3-ubyte'), a);
    const gz = await readFile(join(dir, 'a-idx3-ubyte.gz'));
    expect(gz[0]).toBe(0x1f);
    expect(await readIdxFile(join(dir, 'a-idx3-ubyte.gz'))).toEqual(a);
    expect(await readIdxFile(join(dir, 'a-idx3-ubyte'))).toEqual(a);
    await writeFile(join(dir, 'fake.gz'), writeIdx(a));
    await expect(readIdxFile(join(dir, 'fake.gz'))).rejects.toThrow(/fake\.gz: the name ends in \.gz but the data is not gzip/);
    expect((await readdir(dir)).filter((f) => f.includes('partial'))).toEqual([]);
  });
});
