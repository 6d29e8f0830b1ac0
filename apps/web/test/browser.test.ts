/**
 * End to end in real headless Chromium (Debian's /usr/bin/chromium through playwright-core): serves dist/ (built by
 * test/global-setup.ts when missing or older than the sources) on 127.0.0.1, and checks what a user sees — the active
 * backend, a non-blank sample canvas after in-page training, an interpolation slider that changes the picture,
 * no console errors, no tensor growth while the slider moves — and that a checkpoint written by @gm/models'
 * `VAE.save` in Node loads in the page (and a corrupted one is refused with a clear error). Screenshots go to
 * apps/web/artifacts/.
 */
import { mkdirSync, readFileSync, writeFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage, serve, type PageLog } from '@gm/browser-tests';

const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(APP, 'dist');
const ARTIFACTS = join(APP, 'artifacts');
/** The Chromium started in beforeAll; a test fails (not skips) when it could not start. */
function requireChromium(): Browser {
  if (browser === undefined) throw new Error(launchError ?? 'Chromium did not start (see the beforeAll error)');
  return browser;
}
let browser: Browser | undefined;
let launchError: string | undefined;
/** In-page training length for the test: enough for recognisable blobs, small enough for a busy 2-core machine. */
const TEST_EPOCHS = 12;

/** Writes a small trained VAE checkpoint with @gm/models in Node (wasm backend), as `gm train` would. */
async function writeCheckpoint(dir: string): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-layers');
  const { initBackend } = await import('@gm/backend');
  await initBackend({ backend: 'wasm' });
  const { VAE } = await import('@gm/models');
  const { binarizeStatic } = await import('@gm/data');
  const { loadBundledMnist } = await import('@gm/data/node');
  const { train } = loadBundledMnist();
  const n = 600;
  const x = tf.tensor(binarizeStatic(train.images.subarray(0, n * 784)), [n, 784]);
  const vae = new VAE({ inputShape: [784], hidden: [32], latentDim: 4, likelihood: 'bernoulli', seed: 7 });
  await vae.fit(x, { epochs: 4, batchSize: 50 });
  const { fileStore } = await import('@gm/models/node');
  await vae.save(fileStore(dir));
  vae.dispose();
  x.dispose();
}

async function waitForState(page: Page, states: string[], timeout: number): Promise<string> {
  await page.waitForFunction((want) => want.includes(document.body.dataset.state ?? ''), states, { timeout, polling: 250 });
  return page.evaluate(() => document.body.dataset.state ?? '');
}

/**
 * The canvas's grey levels (red channel) as read back in the page, one value per `step × step` block (the canvases
 * draw 28×28 digits scaled up by whole factors, so a block's centre is one digit pixel).
 */
async function canvasPixels(page: Page, id: string, step = 1): Promise<number[]> {
  return page.evaluate(
    ([canvasId, s]) => {
      const canvas = document.getElementById(canvasId) as HTMLCanvasElement;
      const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
      const { data, width, height } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const out: number[] = [];
      for (let y = Math.floor(s / 2); y < height; y += s) for (let x = Math.floor(s / 2); x < width; x += s) out.push(data[(y * width + x) * 4] as number);
      return out;
    },
    [id, step] as const,
  );
}

function variance(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
}

function meanAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}

/** Moves the interpolation slider and waits until the picture has been redrawn for the new value. */
async function moveSlider(page: Page, value: number, before: number[]): Promise<number[]> {
  await page.locator('#interp-t').fill(String(value));
  await page.waitForFunction((v) => document.getElementById('interp-value')?.textContent === (v / 100).toFixed(2), value);
  let after = before;
  for (let i = 0; i < 40; i++) {
    after = await canvasPixels(page, 'interp', 8);
    if (meanAbsDiff(before, after) > 0) break;
    await page.waitForTimeout(100);
  }
  return after;
}

describe('browser demo in headless Chromium', () => {
  let site: Awaited<ReturnType<typeof serve>> | undefined;
  let baseUrl = '';
  const tmp = mkdtempSync(join(tmpdir(), 'gm-web-test-'));

  beforeAll(async () => {
    try {
      browser = await launchChromium();
    } catch (error) {
      launchError = (error as Error).message;
      return; // each test then fails with this message
    }
    const t = Date.now();
    await writeCheckpoint(join(tmp, 'good'));
    console.log(`[web test] checkpoint written in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    cpSync(join(tmp, 'good'), join(tmp, 'corrupt'), { recursive: true });
    const weights = join(tmp, 'corrupt', 'decoder', 'weights.bin');
    const bytes = readFileSync(weights);
    bytes[100] = (bytes[100] as number) ^ 0xff;
    writeFileSync(weights, bytes);
    site = await serve({ '/': DIST, '/ckpt/': tmp });
    baseUrl = site.url;
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('trains a VAE in the page, shows samples, and the interpolation slider changes the picture', async () => {
    const started = Date.now();
    const { page, log } = await openPage(requireChromium(), `${baseUrl}?epochs=${TEST_EPOCHS}`);
    try {
      await checkTrainedPage(page, log, started);
    } catch (error) {
      await page.screenshot({ path: join(ARTIFACTS, 'web-demo-failure.png'), fullPage: true }).catch(() => undefined);
      throw error;
    } finally {
      await page.close();
    }
  });

  async function checkTrainedPage(page: Page, log: PageLog, started: number): Promise<void> {
    const state = await waitForState(page, ['ready', 'error'], 150_000);
    const error = await page.locator('#error').textContent();
    expect(state, `page error: ${error}`).toBe('ready');

    const backend = await page.locator('#backend').getAttribute('data-backend');
    expect(['webgl', 'wasm', 'cpu']).toContain(backend);
    expect(await page.locator('#backend').textContent()).toBe(backend);
    const detail = await page.locator('#backend-detail').textContent();
    console.log(`[web test] backend ${backend} ${detail}; trained ${TEST_EPOCHS} epochs, ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`[web test] ${await page.locator('#status').textContent()}`);

    const samples = await canvasPixels(page, 'samples', 2);
    expect(variance(samples)).toBeGreaterThan(500); // a blank or flat-grey canvas has variance ~0
    const recon = await canvasPixels(page, 'recon');
    expect(variance(recon)).toBeGreaterThan(500);

    const mid = await canvasPixels(page, 'interp', 8);
    expect(variance(mid)).toBeGreaterThan(100);
    const atZero = await moveSlider(page, 0, mid);
    expect(meanAbsDiff(mid, atZero)).toBeGreaterThan(2);
    const atOne = await moveSlider(page, 100, atZero);
    expect(meanAbsDiff(atZero, atOne)).toBeGreaterThan(5);

    // No tensor growth while the slider moves (every render disposes what it made).
    const tensors = Number(await page.locator('#tensors').textContent());
    let last = atOne;
    for (const v of [20, 40, 60, 80]) last = await moveSlider(page, v, last);
    expect(Number(await page.locator('#tensors').textContent())).toBe(tensors);

    // New samples and a new interpolation pair redraw their canvases and also leave the tensor count flat.
    const sumOf = (id: string) =>
      page.evaluate((canvasId) => {
        const c = document.getElementById(canvasId) as HTMLCanvasElement;
        const d = (c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
        let sum = 0;
        for (let i = 0; i < d.length; i += 4) sum += d[i] as number;
        return sum;
      }, id);
    const samplesBefore = await sumOf('samples');
    await page.locator('#resample').click();
    await expect.poll(() => sumOf('samples'), { timeout: 10_000 }).not.toBe(samplesBefore);
    const pairBefore = await sumOf('interp-a');
    await page.locator('#pair').click();
    await expect.poll(() => sumOf('interp-a'), { timeout: 10_000 }).not.toBe(pairBefore);
    await moveSlider(page, 50, last);
    await expect.poll(async () => Number(await page.locator('#tensors').textContent()), { timeout: 5_000 }).toBe(tensors);

    await page.screenshot({ path: join(ARTIFACTS, 'web-demo.png'), fullPage: true });
    expect(log.errors).toEqual([]);
  }

  it('loads a checkpoint written by VAE.save and refuses a corrupted one with a clear error', async () => {
    const { page, log } = await openPage(requireChromium(), `${baseUrl}?model=${encodeURIComponent('/ckpt/good/')}`);
    const state = await waitForState(page, ['ready', 'error'], 60_000);
    expect(state, `page error: ${await page.locator('#error').textContent()}`).toBe('ready');
    expect(await page.locator('#model-info').textContent()).toContain('784-32-4');
    expect(await page.locator('#backend').getAttribute('data-backend')).toBe('wasm');
    const wasmSamples = await canvasPixels(page, 'samples', 2);
    expect(variance(wasmSamples)).toBeGreaterThan(100);
    await page.screenshot({ path: join(ARTIFACTS, 'web-checkpoint.png'), fullPage: true });
    expect(log.errors).toEqual([]);
    await page.close();

    // The same checkpoint on webgl (forced: under --disable-gpu Chromium renders WebGL with SwiftShader, which the
    // page's automatic choice skips for wasm): the seeded samples match the wasm ones up to float rounding.
    const gl = await openPage(requireChromium(), `${baseUrl}?backend=webgl&model=${encodeURIComponent('/ckpt/good/')}`);
    const glState = await waitForState(gl.page, ['ready', 'error'], 60_000);
    expect(glState, `page error on webgl: ${await gl.page.locator('#error').textContent()}`).toBe('ready');
    expect(await gl.page.locator('#backend').getAttribute('data-backend')).toBe('webgl');
    const glSamples = await canvasPixels(gl.page, 'samples', 2);
    expect(meanAbsDiff(wasmSamples, glSamples)).toBeLessThan(1);
    expect(gl.log.errors).toEqual([]);
    await gl.page.close();

    const bad = await openPage(requireChromium(), `${baseUrl}?model=${encodeURIComponent('/ckpt/corrupt/')}`);
    expect(await waitForState(bad.page, ['ready', 'error'], 60_000)).toBe('error');
    const message = await bad.page.locator('#error').textContent();
    expect(message).toMatch(/decoder\/weights\.bin: sha256 [0-9a-f]{64} does not match/);
    expect(await bad.page.locator('#error').isVisible()).toBe(true);

    const missing = await openPage(requireChromium(), `${baseUrl}?model=${encodeURIComponent('/ckpt/nothing-here/')}`);
    expect(await waitForState(missing.page, ['ready', 'error'], 60_000)).toBe('error');
    expect(await missing.page.locator('#error').textContent()).toMatch(/gm-checkpoint\.json: not found — .* is not a gm checkpoint folder \(.*HTTP 404/);
    await bad.page.close();
    await missing.page.close();
  });
});
