import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASETS, OWN_DATA_SPLIT_SEED, describeDatasets, formatDatasetSpec, loadDataset, parseDatasetSpec } from './datasets.js';
import { writeIdxImages, writeIdxLabels } from './idx.js';
import { FASHION_MNIST_LABELS, MNIST_FILES } from './mnist-format.js';
import { writeNpy } from './npy.js';
import { trainValidationSplit } from './split.js';
import { testBytes, thrown } from './test-helpers.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gm-datasets-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('the dataset registry', () => {
  it('has one entry per name, each listed in the help sentence', () => {
    const names = DATASETS.map((d) => d.name);
    expect(names).toEqual(['mnist-bundled', 'mnist', 'fashion-mnist', 'cifar', 'images', 'npy']);
    const help = describeDatasets();
    for (const d of DATASETS) expect(help).toContain(`${d.usage}`);
    expect(help).toMatch(/^mnist-bundled \(.*\), mnist:<dir> \(.*\) or cifar:<dir> \(.*\); your own data: images:<dir>\[\?size=HxW&channels=1\|3\|auto&fit=cover\|contain\|fill&labels=auto\|folders\|none&test=<fraction>\] \(.*\) or npy:<images\.npy>\[,<labels\.npy>\]\[\?range=unit\|byte&test=<fraction>\] \(.*\)$/);
    expect(DATASETS.find((d) => d.name === 'fashion-mnist')).toMatchObject({ shape: [28, 28, 1], labelNames: FASHION_MNIST_LABELS });
  });

  it('parses specs: name, argument, options; and formats them back', () => {
    const cases: Array<[string, object]> = [
      ['mnist-bundled', { kind: 'mnist-bundled' }],
      ['mnist:/data/mnist', { kind: 'mnist', arg: '/data/mnist' }],
      ['fashion-mnist:C:\\data\\fm', { kind: 'fashion-mnist', arg: 'C:\\data\\fm' }],
      ['images:photos?size=32x48&channels=3&fit=contain', { kind: 'images', arg: 'photos', options: { size: '32x48', channels: '3', fit: 'contain' } }],
      ['images:what?.png', { kind: 'images', arg: 'what?.png' }],
      ['npy:x.npy,y.npy?test=0.25', { kind: 'npy', arg: 'x.npy,y.npy', options: { test: '0.25' } }],
    ];
    for (const [text, spec] of cases) {
      expect(parseDatasetSpec(text)).toEqual(spec);
      expect(formatDatasetSpec(parseDatasetSpec(text))).toBe(text);
    }
  });

  it('refuses a bad spec, saying what it expected', () => {
    expect(thrown(() => parseDatasetSpec('imagenet')).message).toMatch(/^imagenet: unknown dataset: expected mnist-bundled \(/);
    expect(thrown(() => parseDatasetSpec('mnist-bundled:x')).message).toBe('mnist-bundled:x: mnist-bundled takes no argument: expected "mnist-bundled"');
    expect(thrown(() => parseDatasetSpec('mnist')).message).toBe('mnist: expected mnist:<dir>');
    expect(thrown(() => parseDatasetSpec('images:')).message).toMatch(/^images:: expected images:<dir>\[\?size=HxW/);
    expect(thrown(() => parseDatasetSpec('images:d?colour=red')).message).toBe('images:d?colour=red: unknown option "colour" of images: expected size, channels, fit, labels, test');
    expect(thrown(() => parseDatasetSpec('images:d?channels=2')).message).toBe('images:d?channels=2: option channels=2 of images: expected channels=1|3|auto');
    expect(thrown(() => parseDatasetSpec('npy:x.npy?test=2')).message).toMatch(/option test=2 of npy: expected test=<fraction>/);
    expect(thrown(() => parseDatasetSpec('mnist:d?test=0.5')).message).toBe('mnist:d?test=0.5: unknown option "test" of mnist: expected none');
  });
});

describe('loadDataset', () => {
  it('loads the bundled digits and Fashion-MNIST from a folder, with their shapes and class names', async () => {
    const bundled = await loadDataset('mnist-bundled');
    expect(bundled).toMatchObject({ title: 'bundled MNIST', shape: [28, 28, 1] });
    expect(bundled.train.count + bundled.test.count).toBe(10_000);

    const dir = join(root, 'fashion');
    await mkdir(dir);
    await writeFile(join(dir, MNIST_FILES.trainImages.replace('.gz', '')), writeIdxImages(testBytes(3 * 784, 1), 3, 28, 28));
    await writeFile(join(dir, MNIST_FILES.trainLabels.replace('.gz', '')), writeIdxLabels(Uint8Array.of(0, 9, 3)));
    await writeFile(join(dir, MNIST_FILES.testImages.replace('.gz', '')), writeIdxImages(testBytes(784, 2), 1, 28, 28));
    await writeFile(join(dir, MNIST_FILES.testLabels.replace('.gz', '')), writeIdxLabels(Uint8Array.of(5)));
    const fashion = await loadDataset(`fashion-mnist:${dir}`);
    expect(fashion).toMatchObject({ title: `Fashion-MNIST from ${dir}`, shape: [28, 28, 1], labelNames: FASHION_MNIST_LABELS });
    expect(fashion.train.labelNames?.[fashion.train.labels[1]!]).toBe('Ankle boot');
  });

  it('holds out a fixed seeded share of your own pictures as the test split', async () => {
    const dir = join(root, 'pictures');
    for (const [cls, n] of [['a', 6], ['b', 4]] as const) {
      await mkdir(join(dir, cls), { recursive: true });
      for (let i = 0; i < n; i++) {
        const png = await sharp({ create: { width: 10 + i, height: 8, channels: 3, background: { r: 20 * i, g: cls === 'a' ? 0 : 200, b: 9 } } }).png().toBuffer();
        await writeFile(join(dir, cls, `${i}.png`), png);
      }
    }
    const spec = `images:${dir}?size=8x8&test=0.2`;
    const ds = await loadDataset(spec);
    expect(ds).toMatchObject({ title: `images from ${dir}`, shape: [8, 8, 3], labelNames: ['a', 'b'] });
    expect([ds.train.count, ds.test.count]).toEqual([8, 2]);
    expect('files' in ds.train).toBe(false);
    const again = await loadDataset(parseDatasetSpec(spec));
    expect(again.test.images).toEqual(ds.test.images);
    // The same split as trainValidationSplit with the documented seed.
    const whole = await loadDataset(`images:${dir}?size=8x8&test=0`);
    expect(whole.test.count).toBe(0);
    const { validation } = trainValidationSplit(whole.train, { seed: OWN_DATA_SPLIT_SEED, validationFraction: 0.2 });
    expect(new Set(validation.labels)).toEqual(new Set(ds.test.labels));
  });

  it('loads an NPY pair, and refuses a third file', async () => {
    const x = join(root, 'x.npy');
    const y = join(root, 'y.npy');
    await writeFile(x, writeNpy({ dtype: 'float32', shape: [10, 2, 3], data: new Float32Array(60).fill(1) }));
    await writeFile(y, writeNpy({ dtype: 'uint8', shape: [10], data: Uint8Array.from({ length: 10 }, (_, i) => i % 3) }));
    const ds = await loadDataset(`npy:${x},${y}`);
    expect(ds).toMatchObject({ title: `NPY arrays from ${x},${y}`, shape: [2, 3, 1] });
    expect([ds.train.count, ds.test.count]).toEqual([9, 1]);
    expect(ds.train.images.every((v) => v === 255)).toBe(true);
    await expect(loadDataset(`npy:${x},${y},${y}`)).rejects.toThrow(/expected npy:<images\.npy> or npy:<images\.npy>,<labels\.npy>/);
  });
});
