import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MNIST_COUNT, bundledMnistDigitsDir, loadBundledMnist } from './bundled.js';
import { sha256Hex as sha256 } from '@gm/core';

// Pinned once from loadBundledMnist(): any change to the bytes, labels or the split (on any machine, in any
// later run) changes these. Recompute only on a deliberate change of the split.
const GOLDEN = {
  train: { images: '20b34053c0e39a312c62123bd4ec1ef356fadfb823121176eee7b450fe2f621a', labels: '83f20363795e79519e9e17ea6efaec469d5aebd21ae252e50ce9896a488a2ba7' },
  test: { images: '53d80880c2186daffbf1d7f398295d287e4c424722dd9e888685b03374349ecd', labels: '89ca8b654de71c5878fea41f24fdb4fc29e267d272cd62a6b6905cd84cab6015' },
};

describe('loadBundledMnist', () => {
  const mnist = loadBundledMnist();

  it('has 10,000 28×28 digits with all ten labels, split 8,000 / 2,000', () => {
    expect(mnist.all.count).toBe(BUNDLED_MNIST_COUNT);
    expect(mnist.all.images.length).toBe(10_000 * 784);
    expect(mnist.train).toMatchObject({ count: 8000, shape: [28, 28, 1], layout: 'HWC' });
    expect(mnist.test).toMatchObject({ count: 2000, shape: [28, 28, 1], layout: 'HWC' });
    expect(new Set(mnist.all.labels).size).toBe(10);
    expect(new Set(mnist.train.labels).size).toBe(10);
    expect(new Set(mnist.test.labels).size).toBe(10);
  });

  it('has the MNIST mean pixel, about 33/255', () => {
    let s = 0;
    for (const b of mnist.all.images) s += b;
    const mean = s / mnist.all.images.length / 255;
    expect(Math.abs(mean - 33 / 255)).toBeLessThan(1 / 255);
    // Real digits: mostly background, some full-intensity strokes.
    let zeros = 0;
    let full = 0;
    for (const b of mnist.all.images) {
      if (b === 0) zeros++;
      if (b === 255) full++;
    }
    expect(zeros / mnist.all.images.length).toBeGreaterThan(0.7);
    expect(full).toBeGreaterThan(10_000);
  });

  it('recovers the exact bytes: each stored value is round(byte / 255, 3)', () => {
    for (const digit of [0, 7]) {
      const raw = (JSON.parse(readFileSync(join(bundledMnistDigitsDir(), `${digit}.json`), 'utf8')) as { data: number[] }).data;
      const first = mnist.all.labels.indexOf(digit);
      let mismatches = 0;
      for (let i = 0; i < raw.length; i++) {
        const b = mnist.all.images[first * 784 + i]!;
        if (Number((b / 255).toFixed(3)) !== raw[i]) mismatches++;
      }
      expect(raw.length).toBeGreaterThan(900 * 784);
      expect(mismatches).toBe(0);
    }
  });

  it('splits without losing or duplicating digits', () => {
    const key = (ds: typeof mnist.all, i: number): string =>
      `${ds.labels[i]}:${sha256(ds.images.subarray(i * 784, (i + 1) * 784))}`;
    const all = new Map<string, number>();
    for (let i = 0; i < mnist.all.count; i++) all.set(key(mnist.all, i), (all.get(key(mnist.all, i)) ?? 0) + 1);
    let unknown = 0;
    for (const part of [mnist.train, mnist.test]) {
      for (let i = 0; i < part.count; i++) {
        const k = key(part, i);
        if (!((all.get(k) ?? 0) > 0)) unknown++;
        all.set(k, (all.get(k) ?? 0) - 1);
      }
    }
    expect(unknown).toBe(0);
    expect([...all.values()].every((v) => v === 0)).toBe(true);
  });

  it('is identical across calls and across runs (pinned hashes), and returns fresh copies', () => {
    const again = loadBundledMnist();
    // Buffer.equals: vitest's deep equality is far too slow on 6 MB arrays.
    expect(Buffer.from(again.train.images).equals(mnist.train.images)).toBe(true);
    expect(Buffer.from(again.test.images).equals(mnist.test.images)).toBe(true);
    expect(Buffer.from(again.train.labels).equals(mnist.train.labels)).toBe(true);
    again.train.images[0] = 99;
    expect(loadBundledMnist().train.images[0]).toBe(mnist.train.images[0]);
    expect({
      train: { images: sha256(mnist.train.images), labels: sha256(mnist.train.labels) },
      test: { images: sha256(mnist.test.images), labels: sha256(mnist.test.labels) },
    }).toEqual(GOLDEN);
  });
});
