/**
 * Issue 14's matrix: a .gmz file decodes anywhere. Three small models are trained here in Node (a Bernoulli VAE, a
 * discretized-logistic VAE, a MADE), saved with @gm/models, and each cell — Node on wasm with relaxed SIMD, Node on
 * wasm with SIMD128 only, Node on cpu with the JavaScript dense engine, Chromium on wasm, Chromium on webgl — loads
 * them through the packages' own loader (files in Node, fetch in Chromium), compresses the same images, and
 * decompresses every other cell's files. Every file must be the same bytes and every pair must round-trip.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@gm/backend';
import { binarizeStatic } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { MADE, VAE } from '@gm/models';
import { fileStore } from '@gm/models/node';
import { launchChromium, openPage, serve } from '../src/chromium';
import { bundleForBrowser } from '../src/bundle';
import type { CellReport, MatrixCase } from '../cells/cases';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE = resolve(HERE, '..');
const IMAGES = 100;

const NODE_CELLS = [
  { cell: 'node-wasm-relaxed', backend: 'wasm', relaxed: '1', engine: 'wasm-simd128' },
  { cell: 'node-wasm-simd128', backend: 'wasm', relaxed: '0', engine: 'wasm-simd128' },
  { cell: 'node-cpu-js-engine', backend: 'cpu', relaxed: '0', engine: 'js' },
] as const;
const BROWSER_CELLS = [
  { cell: 'chromium-wasm', backend: 'wasm' },
  { cell: 'chromium-webgl', backend: 'webgl' },
] as const;

/** Trains the three models briefly and writes them with the images each codes. */
async function writeCases(work: string): Promise<MatrixCase[]> {
  await initBackend({ backend: 'wasm' });
  const { train, test } = loadBundledMnist();
  const n = 1500;
  const binary = binarizeStatic(train.images.subarray(0, n * 784));
  const cases: MatrixCase[] = [];
  const save = async (name: string, model: VAE | MADE, images: Uint8Array): Promise<void> => {
    await model.save(fileStore(join(work, name)));
    model.dispose();
    writeFileSync(join(work, `${name}.bin`), images);
    cases.push({ name, checkpoint: name, images: `${name}.bin`, shape: [28, 28] });
  };
  const testBinary = binarizeStatic(test.images.subarray(0, IMAGES * 784));
  const xb = tf.tensor(binary, [n, 784]);
  const bernoulli = new VAE({ inputShape: [784], hidden: [64], latentDim: 8, likelihood: 'bernoulli', seed: 1 });
  await bernoulli.fit(xb, { epochs: 3, batchSize: 100 });
  await save('vae-bernoulli', bernoulli, testBinary);
  const made = new MADE({ inputSize: 784, hidden: [96], seed: 2 });
  await made.fit(xb, { epochs: 2, batchSize: 100 });
  await save('made', made, testBinary);
  xb.dispose();
  const x8 = tf.tidy(() => tf.sub(tf.mul(tf.tensor(train.images.subarray(0, n * 784), [n, 784], 'float32'), 2 / 255), 1));
  const logistic = new VAE({ inputShape: [784], hidden: [64], latentDim: 8, likelihood: 'discretized-logistic', seed: 3 });
  await logistic.fit(x8, { epochs: 2, batchSize: 100 });
  await save('vae-logistic', logistic, test.images.slice(0, IMAGES * 784));
  x8.dispose();
  writeFileSync(join(work, 'cases.json'), JSON.stringify(cases));
  return cases;
}

/** Bundles the Node cell to JavaScript next to this package (so it resolves gm's packages) and returns its path. */
async function nodeCellScript(): Promise<string> {
  const outfile = join(PACKAGE, 'dist', 'node-cell.mjs');
  await build({ entryPoints: [join(PACKAGE, 'cells', 'node-cell.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'silent' });
  return outfile;
}

function runNodeCell(script: string, work: string, c: (typeof NODE_CELLS)[number], phase: 'compress' | 'decompress'): CellReport {
  const out = execFileSync(process.execPath, [script, work, c.cell, c.backend, c.relaxed, c.engine, phase], { encoding: 'utf8', cwd: PACKAGE, maxBuffer: 1 << 26 });
  return JSON.parse(out.trim().split('\n').pop() as string) as CellReport;
}

describe('.gmz files decode byte for byte across backends, Node and Chromium', () => {
  const work = mkdtempSync(join(tmpdir(), 'gm-coding-matrix-'));
  let cases: MatrixCase[] = [];
  let browser: Browser | undefined;
  let site: Awaited<ReturnType<typeof serve>> | undefined;
  let script = '';
  const reports: CellReport[] = [];

  beforeAll(async () => {
    cases = await writeCases(work);
    script = await nodeCellScript();
    const page = join(work, 'page');
    mkdirSync(page);
    const bundle = await bundleForBrowser(readFileSync(join(PACKAGE, 'cells', 'browser-cell.ts'), 'utf8').replaceAll("from './cases'", `from '${join(PACKAGE, 'cells', 'cases')}'`));
    if (!bundle.ok) throw new Error(`the browser cell does not bundle: ${bundle.errors.join('; ')}`);
    writeFileSync(join(page, 'cell.js'), bundle.code);
    writeFileSync(join(page, 'index.html'), '<!doctype html><html><head><link rel="icon" href="data:,"></head><body><script type="module" src="/cell.js"></script></body></html>');
    const wasmDist = dirname(createRequire(join(PACKAGE, 'package.json')).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    site = await serve({ '/': page, '/work/': work, '/tfjs-wasm/': join(wasmDist, 'dist') });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function browserCell(c: (typeof BROWSER_CELLS)[number], phase: 'compress' | 'decompress', files: Record<string, string> = {}): Promise<CellReport & { files: Record<string, string> }> {
    const { page, log } = await openPage(browser!, site!.url);
    try {
      await page.waitForFunction(() => document.body.dataset['ready'] === 'yes', undefined, { timeout: 60_000 });
      const report = await page.evaluate(
        (request) => (window as unknown as { gmCell: (r: unknown) => Promise<CellReport & { files: Record<string, string> }> }).gmCell(request),
        { cell: c.cell, backend: c.backend, phase, cases, files },
      );
      expect(log.errors).toEqual([]);
      return report;
    } finally {
      await page.close();
    }
  }

  it('compresses the same bytes in every cell (models loaded through the packages\' own loader)', async () => {
    for (const c of NODE_CELLS) reports.push(runNodeCell(script, work, c, 'compress'));
    for (const c of BROWSER_CELLS) {
      const r = await browserCell(c, 'compress');
      mkdirSync(join(work, 'files', c.cell), { recursive: true });
      for (const [name, b64] of Object.entries(r.files)) writeFileSync(join(work, 'files', c.cell, `${name}.gmz`), Buffer.from(b64, 'base64'));
      reports.push(r);
    }
    // Each cell ran where it says: the backends and GEMM flavours really differ.
    expect(reports.map((r) => [r.cell, r.backend])).toEqual([
      ['node-wasm-relaxed', 'wasm'],
      ['node-wasm-simd128', 'wasm'],
      ['node-cpu-js-engine', 'cpu'],
      ['chromium-wasm', 'wasm'],
      ['chromium-webgl', 'webgl'],
    ]);
    expect(reports[0]!.gmSimd).toBe('relaxed');
    expect(reports[1]!.gmSimd).toBe('simd128');
    for (const r of reports) console.log(`[coding matrix] ${r.cell}: tfjs ${r.backend}${r.gmSimd === null ? '' : ` (${r.gmSimd})`}, dense engine ${r.engine}`);
    for (const c of cases) {
      const digests = new Set(reports.map((r) => r.written[c.name]));
      expect({ case: c.name, distinct: digests.size }).toEqual({ case: c.name, distinct: 1 });
      console.log(`[coding matrix] ${c.name}: ${reports.length} cells wrote the same ${readFileSync(join(work, 'files', 'node-cpu-js-engine', `${c.name}.gmz`)).length} bytes (sha256 ${[...digests][0]!.slice(0, 16)}…)`);
    }
  });

  it('decompresses every cell\'s files in every cell', async () => {
    const files: Record<string, string> = {};
    for (const r of reports) for (const c of cases) files[`${r.cell}/${c.name}`] = `files/${r.cell}/${c.name}.gmz`;
    const decoded: Record<string, Record<string, string>> = {};
    for (const c of NODE_CELLS) decoded[c.cell] = runNodeCell(script, work, c, 'decompress').decoded;
    for (const c of BROWSER_CELLS) decoded[c.cell] = (await browserCell(c, 'decompress', files)).decoded;
    const pairs = Object.keys(files).length;
    for (const [cell, results] of Object.entries(decoded)) {
      expect({ cell, results }).toEqual({ cell, results: Object.fromEntries(Object.keys(files).map((k) => [k, 'ok'])) });
    }
    console.log(`[coding matrix] ${Object.keys(decoded).length} cells × ${pairs} files (${reports.length} writers × ${cases.length} models): all decode byte for byte`);
  });
});
