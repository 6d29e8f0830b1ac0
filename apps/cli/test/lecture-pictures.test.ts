// The lecture's pictures: gm latent-map --method tsne --thumbnails, gm interpolate --grid, gm reconstruct --noise.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { inputToUnit, makeDataset } from '@gm/data';
import { addGaussianNoise, bilinearCodings, defaultCorners, fromDisplay } from '../src/lecture-pictures';
import { colours, readPng, run, runJson, tempDir } from './helpers';

describe('bilinearCodings', () => {
  it('puts the four codings at the corners, edge midpoints halfway between two, the centre at their mean', () => {
    const [tl, tr, bl, br] = [[1, 2], [3, -1], [0, 5], [4, 4]] as const;
    const g = bilinearCodings([...tl, ...tr, ...bl, ...br], 2, 3);
    const at = (r: number, c: number) => Array.from(g.subarray((r * 3 + c) * 2, (r * 3 + c) * 2 + 2));
    const mid = (a: readonly number[], b: readonly number[]) => a.map((v, i) => (v + b[i]!) / 2);
    expect(at(0, 0)).toEqual([...tl]);
    expect(at(0, 2)).toEqual([...tr]);
    expect(at(2, 0)).toEqual([...bl]);
    expect(at(2, 2)).toEqual([...br]);
    expect(at(0, 1)).toEqual(mid(tl, tr));
    expect(at(2, 1)).toEqual(mid(bl, br));
    expect(at(1, 0)).toEqual(mid(tl, bl));
    expect(at(1, 2)).toEqual(mid(tr, br));
    expect(at(1, 1)).toEqual([2, 2.5]);
  });

  it('is linear along every row and column of a larger grid', () => {
    const corners = [0, 0, 10, 0, 0, 10, 10, 10]; // u·10 and v·10: the grid of points itself
    const g = bilinearCodings(corners, 2, 6);
    for (let r = 0; r < 6; r++) for (let c = 0; c < 6; c++) {
      expect(g[(r * 6 + c) * 2]).toBeCloseTo(2 * c, 5);
      expect(g[(r * 6 + c) * 2 + 1]).toBeCloseTo(2 * r, 5);
    }
    expect(() => bilinearCodings([1, 2, 3], 1, 3)).toThrow(/expected 4 × 1 corner values, got 3/);
    expect(() => bilinearCodings([1, 2, 3, 4], 1, 1)).toThrow(/steps must be an integer ≥ 2, got 1/);
  });

  it('takes the first test images of four different labels as the default corners', () => {
    const ds = (labels: number[]) => makeDataset({ images: new Uint8Array(labels.length * 4), labels: Uint8Array.from(labels), shape: [2, 2, 1], layout: 'HWC', count: labels.length }, 't');
    expect(defaultCorners(ds([3, 3, 1, 1, 2, 0, 4]))).toEqual([0, 2, 4, 5]);
    expect(defaultCorners(ds([1, 1, 1, 1, 2]))).toEqual([0, 1, 2, 3]);
    expect(() => defaultCorners(ds([1, 2, 3]))).toThrow(/the grid needs four test images, the test split has 3/);
  });
});

describe('noisy inputs', () => {
  it('add seeded Gaussian noise of the given σ and clip to [0, 1]', () => {
    const grey = new Float32Array(20_000).fill(0.5);
    const a = addGaussianNoise(grey, 0.1, 7);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const std = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(mean).toBeCloseTo(0.5, 2);
    expect(std).toBeGreaterThan(0.097);
    expect(std).toBeLessThan(0.103);
    expect(Array.from(addGaussianNoise(grey, 0.1, 7))).toEqual(Array.from(a));
    expect(Array.from(addGaussianNoise(grey, 0.1, 8))).not.toEqual(Array.from(a));
    // On black pixels half the draws are negative and clip to 0; the rest are |N(0, σ²)|, so E[v²] = σ²/2.
    const b = addGaussianNoise(new Float32Array(20_001), 0.3, 1);
    expect(b).toHaveLength(20_001);
    expect(b.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(b.filter((v) => v === 0).length / b.length).toBeCloseTo(0.5, 1);
    expect(b.reduce((s, v) => s + v * v, 0) / b.length).toBeCloseTo(0.045, 2);
  });

  it('go back to each input convention exactly as they are shown', () => {
    const v = new Float32Array([0, 0.25, 1]);
    for (const c of ['unit', 'binary', 'bin-centres', 'pixels'] as const) expect(Array.from(inputToUnit(fromDisplay(v, c), c))).toEqual([0, 0.25, 1]);
    expect(Array.from(fromDisplay(v, 'bin-centres'))).toEqual([-1, -0.5, 1]);
  });
});

/** Tile (row, col) of a gridPng picture of w × h tiles with 2-px gutters, as one byte per pixel (the red channel). */
function tile(png: PNG, row: number, col: number, w = 28, h = 28): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.push(png.data[((2 + row * (h + 2) + y) * png.width + 2 + col * (w + 2) + x) * 4] as number);
  return out;
}
const maxDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

const dir = tempDir('lecture');
const ae = join(dir, 'ae');

beforeAll(async () => {
  // Trained well enough for its reconstructions to look like digits (a few seconds).
  await runJson(['train', 'stacked-ae', '--train-limit', '2000', '--test-limit', '200', '--epochs', '3', '--batch', '50', '--seed', '2', '--out', ae]);
});

describe('gm latent-map --method tsne', () => {
  it('draws a seeded t-SNE map of the codings, with the digits as thumbnails', async () => {
    const file = join(dir, 'tsne.png');
    const args = ['latent-map', '--model', ae, '--n', '200', '--method', 'tsne', '--thumbnails', '--seed', '4'];
    const r = await runJson<{ method: string; points: number; codingsSize: number; thumbnails: number; perplexity: number }>([...args, '--out', file]);
    expect(r).toMatchObject({ method: 'tsne', points: 200, codingsSize: 30, perplexity: 30 });
    expect(r.thumbnails).toBeGreaterThanOrEqual(20);
    expect(r.thumbnails).toBeLessThan(200);
    const png = readPng(file);
    expect([png.width, png.height]).toEqual([800 + 44, 800]);
    expect(colours(png)).toBeGreaterThan(50);
    let ink = 0; // thumbnails are drawn as black ink on white: many near-black pixels
    for (let i = 0; i < png.data.length; i += 4) if ((png.data[i] as number) + (png.data[i + 1] as number) + (png.data[i + 2] as number) < 60) ink++;
    expect(ink).toBeGreaterThan(r.thumbnails * 50);
    const again = join(dir, 'tsne-again.png');
    await runJson([...args, '--out', again]);
    expect(readFileSync(again).equals(readFileSync(file))).toBe(true);
  });

  it('without thumbnails: dots only, on the usual 640-px plot; --perplexity sets the neighbourhood', async () => {
    const file = join(dir, 'tsne-dots.png');
    const r = await runJson<{ method: string; thumbnails: number; perplexity: number }>(['latent-map', '--model', ae, '--n', '100', '--method', 'tsne', '--perplexity', '10', '--out', file]);
    expect(r).toMatchObject({ method: 'tsne', thumbnails: 0, perplexity: 10 });
    const png = readPng(file);
    expect([png.width, png.height]).toEqual([640 + 44, 640]);
    expect(colours(png)).toBeGreaterThan(10);
    const plain = await run(['latent-map', '--model', ae, '--n', '60', '--method', 'tsne', '--out', join(dir, 'tsne-plain.png')]);
    expect(plain.stdout).toMatch(/t-SNE: 1000\/1000 iterations/);
    expect(plain.stdout).toMatch(/t-SNE \(perplexity 19\.7\) of the 30-D codings of 60 test images, coloured by label/);
  });
});

describe('gm interpolate --grid', () => {
  it('decodes a steps × steps grid whose corners are the four images reconstructed', async () => {
    const file = join(dir, 'grid.png');
    const r = await runJson<{ grid: boolean; steps: number; corners: number[]; labels: number[] }>(['interpolate', '--model', ae, '--grid', '--steps', '5', '--corners', '3,0,2,1', '--out', file]);
    expect(r).toMatchObject({ grid: true, steps: 5, corners: [3, 0, 2, 1] });
    const grid = readPng(file);
    expect([grid.width, grid.height]).toEqual([5 * 28 + 6 * 2, 5 * 28 + 6 * 2]);
    // gm reconstruct's second row holds the reconstructions of test images 0..9.
    const recFile = join(dir, 'rec10.png');
    await runJson(['reconstruct', '--model', ae, '--n', '10', '--out', recFile]);
    const rec = readPng(recFile);
    const corners: [number, number, number][] = [[0, 0, 3], [0, 4, 0], [4, 0, 2], [4, 4, 1]];
    for (const [row, col, image] of corners) expect(maxDiff(tile(grid, row, col), tile(rec, 1, image))).toBeLessThanOrEqual(2);
    // The middle of the grid is none of the corners.
    expect(maxDiff(tile(grid, 2, 2), tile(rec, 1, 0))).toBeGreaterThan(10);
  });

  it('picks four test images of different labels by default', async () => {
    const r = await runJson<{ corners: number[]; labels: number[] }>(['interpolate', '--model', ae, '--grid', '--out', join(dir, 'grid-default.png')]);
    expect(r.corners).toHaveLength(4);
    expect(new Set(r.labels).size).toBe(4);
    const png = readPng(join(dir, 'grid-default.png'));
    expect([png.width, png.height]).toEqual([10 * 28 + 11 * 2, 10 * 28 + 11 * 2]);
  });
});

describe('gm reconstruct --noise', () => {
  it('shows rows of noisy inputs, their reconstructions and the clean originals', async () => {
    const file = join(dir, 'noisy.png');
    const r = await runJson<{ images: number; noise: number; meanSquaredError: number; noisyMeanSquaredError: number }>(['reconstruct', '--model', ae, '--n', '20', '--noise', '0.5', '--out', file]);
    expect(r).toMatchObject({ images: 20, noise: 0.5 });
    // Mostly black or white pixels: noise clipped at one end leaves E[(x̃ − x)²] ≈ σ²/2.
    expect(r.noisyMeanSquaredError).toBeGreaterThan(0.1);
    expect(r.noisyMeanSquaredError).toBeLessThan(0.14);
    expect(r.meanSquaredError).toBeGreaterThan(0);
    const noisy = readPng(file);
    expect([noisy.width, noisy.height]).toEqual([10 * 28 + 11 * 2, 6 * 28 + 7 * 2]);
    const cleanFile = join(dir, 'clean.png');
    await runJson(['reconstruct', '--model', ae, '--n', '20', '--out', cleanFile]);
    const clean = readPng(cleanFile); // rows: originals 0–9, reconstructions, originals 10–19, reconstructions
    for (let i = 0; i < 20; i++) {
      const [block, col] = [Math.floor(i / 10), i % 10];
      const original = tile(clean, 2 * block, col);
      expect(tile(noisy, 3 * block + 2, col)).toEqual(original); // the third row of each block: the clean originals
      expect(maxDiff(tile(noisy, 3 * block, col), original)).toBeGreaterThan(100); // the first: noisy
    }
    const plainMse = (await runJson<{ meanSquaredError: number }>(['reconstruct', '--model', ae, '--n', '20', '--out', cleanFile])).meanSquaredError;
    expect(r.meanSquaredError).toBeGreaterThan(plainMse); // noise costs the reconstruction something
    const again = join(dir, 'noisy-again.png');
    await runJson(['reconstruct', '--model', ae, '--n', '20', '--noise', '0.5', '--out', again]);
    expect(readFileSync(again).equals(readFileSync(file))).toBe(true);
    await runJson(['reconstruct', '--model', ae, '--n', '20', '--noise', '0.5', '--seed', '1', '--out', again]);
    expect(readFileSync(again).equals(readFileSync(file))).toBe(false);
  });
});

describe('bad input and help', () => {
  it.each([
    ['direct plotting of 30-D codings', ['latent-map', '--model', ae, '--method', 'direct'], /gm: --method direct: the codings are 30-D and direct plots only a 2-D latent; use --method umap or --method tsne/],
    ['an unknown method', ['latent-map', '--model', ae, '--method', 'pca'], /--method <name>' argument 'pca' is invalid\. Allowed choices are direct, umap, tsne/],
    ['t-SNE of too few points', ['latent-map', '--model', ae, '--method', 'tsne', '--n', '3'], /gm: --n: t-SNE needs at least 5 points, got 3/],
    ['a perplexity without t-SNE', ['latent-map', '--model', ae, '--perplexity', '10'], /gm: --perplexity: only t-SNE has a perplexity, this map is umap; add --method tsne/],
    ['a zero perplexity', ['latent-map', '--model', ae, '--perplexity', '0'], /--perplexity <x>' argument '0' is invalid\. expected a positive number/],
    ['three corners', ['interpolate', '--model', ae, '--grid', '--corners', '1,2,3'], /--corners <list>' argument '1,2,3' is invalid\. expected four comma-separated test-image indices/],
    ['corners without a grid', ['interpolate', '--model', ae, '--corners', '1,2,3,4'], /gm: --corners: the four corners are of a grid; add --grid/],
    ['a corner past the test split', ['interpolate', '--model', ae, '--grid', '--corners', '0,1,2,2000'], /gm: --corners: test image 2000 does not exist \(the test split has 2000: 0\.\.1999\)/],
    ['a zero noise level', ['reconstruct', '--model', ae, '--noise', '0'], /--noise <sigma>' argument '0' is invalid\. expected a positive number, got "0"/],
    ['a word for a noise level', ['reconstruct', '--model', ae, '--noise', 'loud'], /expected a positive number, got "loud"/],
  ])('refuses %s', async (_, args, message) => {
    const r = await run([...args, '--out', join(dir, 'never.png')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
  });

  it.each([
    ['latent-map', [/--method <name>/, /tsne/, /--thumbnails/, /--perplexity <x>/]],
    ['interpolate', [/--grid/, /--corners <list>/]],
    ['reconstruct', [/--noise <sigma>/]],
    ['anomaly', [/--normal <labels>/, /--score <name>/, /--top <n>/, /--scores <file>/, /ROC AUC/]],
    ['train', [/--labels <list>/]],
  ])('gm %s --help lists the new flags', async (command, patterns) => {
    const r = await run([command, '--help']);
    expect(r.status).toBe(0);
    for (const p of patterns) expect(r.stdout).toMatch(p);
  });

  it('gm --help lists gm anomaly', async () => {
    expect((await run(['--help'])).stdout).toMatch(/\n {2}anomaly\b/);
  });
});
