/**
 * End to end in real headless Chromium (Debian's /usr/bin/chromium through playwright-core): serves dist/ (built by
 * test/global-setup.ts when missing or older than the sources) on 127.0.0.1, and checks what a user sees — the
 * backend in one sentence, every shipped checkpoint drawing non-blank samples, the interpolation slider, the 2-D
 * flow's density adding up to ≈ 1 on the page's grid, training in Web Workers with no main-thread long task of
 * 100 ms or more, pause/resume/stop, a flow on drawn points, phone width, no console errors, flat tensor counts —
 * and that a checkpoint written by @gm/models' `VAE.save` in Node loads in the page (and a corrupted one is refused
 * with a clear error). Screenshots of each panel at desktop and phone width go to apps/web/artifacts/.
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

/** Sum of a canvas's red channel (changes whenever the picture does). */
function canvasSum(page: Page, id: string): Promise<number> {
  return page.evaluate((canvasId) => {
    const c = document.getElementById(canvasId) as HTMLCanvasElement;
    const d = (c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += d[i] as number;
    return sum;
  }, id);
}

/** Screenshots of the header and each panel (or `only` these) to artifacts/<size>-<what>-<panel>.png. */
async function screenshotPanels(page: Page, size: string, what: string, only?: string[]): Promise<void> {
  const panels = only ?? ['header', 'digits', 'flow', 'compress'];
  for (const panel of panels) {
    const selector = panel === 'header' ? 'header' : `#${panel}`;
    await page.locator(selector).screenshot({ path: join(ARTIFACTS, `${size}-${what}-${panel}.png`) });
  }
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

  it('shows the shipped models at once: digit samples, reconstructions, interpolation, every shipped model, the 2-D flow', async () => {
    const started = Date.now();
    const { page, log } = await openPage(requireChromium(), baseUrl);
    try {
      await checkShippedPage(page, log, started);
    } catch (error) {
      await page.screenshot({ path: join(ARTIFACTS, 'web-demo-failure.png'), fullPage: true }).catch(() => undefined);
      throw error;
    } finally {
      await page.close();
    }
  });

  async function checkShippedPage(page: Page, log: PageLog, started: number): Promise<void> {
    const state = await waitForState(page, ['ready', 'error'], 120_000);
    expect(state, `page error: ${await page.locator('#error').textContent()}`).toBe('ready');
    const backend = await page.locator('#backend').getAttribute('data-backend');
    expect(['webgl', 'wasm', 'cpu']).toContain(backend);
    expect(await page.locator('#backend').textContent()).toBe(backend);
    expect(await page.locator('#backend-sentence').textContent()).toMatch(/^The models compute on .*Web Worker/);
    console.log(`[web test] backend ${backend} ${await page.locator('#backend-detail').textContent()}; shipped model shown after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // The held-out figures are measured in the page: a −ELBO in nats and bits/dim for the reference VAE.
    expect(await page.locator('#held-out').textContent()).toMatch(/40 held-out digits: −ELBO \d+\.\d nats \(0\.\d{4} bits\/dim\)$/);

    const samples = await canvasPixels(page, 'samples', 2);
    expect(variance(samples)).toBeGreaterThan(500); // a blank or flat-grey canvas has variance ~0
    expect(variance(await canvasPixels(page, 'recon'))).toBeGreaterThan(500);

    const mid = await canvasPixels(page, 'interp', 8);
    expect(variance(mid)).toBeGreaterThan(100);
    const atZero = await moveSlider(page, 0, mid);
    expect(meanAbsDiff(mid, atZero)).toBeGreaterThan(2);
    const atOne = await moveSlider(page, 100, atZero);
    expect(meanAbsDiff(atZero, atOne)).toBeGreaterThan(5);

    // No tensor growth in the worker while the slider moves, samples are redrawn and pairs change.
    const workerTensors = () => page.evaluate(() => Number(document.getElementById('digits-tensors')?.textContent));
    const settled = async (): Promise<number> => {
      await page.waitForTimeout(1_300); // the footer refreshes every second
      return workerTensors();
    };
    const tensors = await settled();
    expect(tensors).toBeGreaterThan(0);
    let last = atOne;
    for (const v of [20, 40, 60, 80]) last = await moveSlider(page, v, last);
    const samplesBefore = await canvasSum(page, 'samples');
    await page.locator('#resample').click();
    await expect.poll(() => canvasSum(page, 'samples'), { timeout: 10_000 }).not.toBe(samplesBefore);
    const pairBefore = await canvasSum(page, 'interp-a');
    await page.locator('#pair').click();
    await expect.poll(() => canvasSum(page, 'interp-a'), { timeout: 10_000 }).not.toBe(pairBefore);
    await moveSlider(page, 50, last);
    expect(await settled()).toBe(tensors);

    await screenshotPanels(page, 'desktop', 'digits-vae');

    // Every shipped digit model loads in the worker and draws samples that are not blank.
    const options = await page.locator('#model-choice option').evaluateAll((list) => list.map((o) => (o as HTMLOptionElement).value));
    expect(options).toEqual(expect.arrayContaining(['vae-mnist', 'vae-dlogistic-mnist', 'made-mnist', 'realnvp-mnist']));
    for (const name of options.filter((o) => o !== 'trained')) {
      await page.locator('#model-choice').selectOption(name);
      await page.waitForFunction((n) => document.body.dataset.state === 'ready' && document.getElementById('status')?.textContent?.includes('shipped') && (document.getElementById('model-choice') as HTMLSelectElement).value === n, name, { timeout: 90_000 });
      const drawn = await canvasPixels(page, 'samples', 2);
      const heldOut = await page.locator('#held-out').textContent();
      console.log(`[web test] ${name}: ${await page.locator('#model-info').textContent()} | ${heldOut} | sample variance ${variance(drawn).toFixed(0)}`);
      expect(variance(drawn), name).toBeGreaterThan(300);
      expect(heldOut).toMatch(/bits\/dim/);
      // MADE and the flow have no codings: no reconstructions or interpolation to show.
      expect(await page.locator('#recon-figure').isVisible()).toBe(name.startsWith('vae-'));
      if (!name.startsWith('vae-')) await screenshotPanels(page, 'desktop', `digits-${name}`, ['digits']);
    }

    // The shipped 2-D flow: its density on the page's grid adds up to about 1, its samples are drawn.
    await page.waitForFunction(() => document.getElementById('flow')?.dataset.state === 'ready', undefined, { timeout: 60_000 });
    const total = Number(await page.locator('#flow-integral').getAttribute('data-value'));
    console.log(`[web test] shipped flow: ${await page.locator('#flow-model').textContent()}; density total on the grid ${total.toFixed(4)}`);
    expect(Math.abs(total - 1)).toBeLessThan(0.03);
    expect(variance(await canvasPixels(page, 'flow-density', 4))).toBeGreaterThan(100);
    expect(variance(await canvasPixels(page, 'flow-samples', 2))).toBeGreaterThan(100);
    expect(log.errors).toEqual([]);
  }

  it('trains in workers while the page stays responsive: no long task ≥ 100 ms, the slider answers, pause/resume/stop', async () => {
    const { page, log } = await openPage(requireChromium(), baseUrl);
    try {
      expect(await waitForState(page, ['ready', 'error'], 120_000)).toBe('ready');
      await page.waitForFunction(() => document.getElementById('flow')?.dataset.state === 'ready', undefined, { timeout: 60_000 });
      // The compression panel builds its model on the page's own thread at start: wait for it too.
      await page.waitForFunction(() => document.getElementById('compress')?.dataset.state === 'ready', undefined, { timeout: 60_000 });
      // Long tasks on the main thread from here on (the page's start — compiling wasm, loading models — is before).
      await page.evaluate(() => {
        const w = window as unknown as { longTasks: number[] };
        w.longTasks = [];
        new PerformanceObserver((list) => list.getEntries().forEach((e) => w.longTasks.push(e.duration))).observe({ type: 'longtask' });
      });
      await page.locator('#epochs').fill('6');
      await page.locator('#train').click();
      await page.locator('#flow-epochs').fill('30');
      await page.locator('#flow-train').click();
      await waitForState(page, ['training'], 10_000);
      const batches = () => page.evaluate(() => Number(document.getElementById('loss-curve')?.dataset.batches ?? 0));
      // After the first epoch the pictures and the slider work while training goes on.
      await page.waitForFunction(() => !(document.getElementById('interp-t') as HTMLInputElement).disabled, undefined, { timeout: 60_000 });
      let picture = await canvasPixels(page, 'interp', 8);
      const answers: number[] = [];
      for (const v of [10, 90, 30, 70]) {
        const t = Date.now();
        picture = await moveSlider(page, v, picture);
        answers.push(Date.now() - t);
      }
      console.log(`[web test] slider redraws during training: ${answers.join(', ')} ms`);
      expect(Math.max(...answers)).toBeLessThan(2_000);

      await page.locator('#pause').click();
      expect(await page.evaluate(() => document.body.dataset.state)).toBe('paused');
      await page.waitForTimeout(500); // the batch in flight ends
      const held = await batches();
      await page.waitForTimeout(1_500);
      expect(await batches()).toBe(held);
      await page.locator('#pause').click(); // resume
      await expect.poll(batches, { timeout: 10_000 }).toBeGreaterThan(held);

      await waitForState(page, ['ready', 'error'], 150_000);
      expect(await page.locator('#status').textContent()).toMatch(/^Trained 6 epochs in the worker/);
      expect(await page.locator('#model-info').textContent()).toContain('784-200-16');
      expect(variance(await canvasPixels(page, 'samples', 2))).toBeGreaterThan(300);
      await page.waitForFunction(() => document.getElementById('flow')?.dataset.state !== 'training', undefined, { timeout: 180_000 });
      expect(await page.locator('#flow-status').textContent()).toMatch(/^Trained 30 epochs/);
      const total = Number(await page.locator('#flow-integral').getAttribute('data-value'));
      console.log(`[web test] ${await page.locator('#status').textContent()} | flow: ${await page.locator('#flow-status').textContent()}; density total ${total.toFixed(4)}`);
      expect(Math.abs(total - 1)).toBeLessThan(0.05);
      const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
      console.log(`[web test] main-thread long tasks while two workers trained: ${longTasks.length} (longest ${Math.max(0, ...longTasks).toFixed(0)} ms)`);
      expect(Math.max(0, ...longTasks)).toBeLessThan(100);
      await screenshotPanels(page, 'desktop', 'trained', ['digits', 'flow']);

      // Stop ends a run early and keeps the page usable.
      await page.locator('#flow-train').click();
      await page.waitForFunction(() => document.getElementById('flow')?.dataset.state === 'training', undefined, { timeout: 10_000 });
      await page.locator('#flow-stop').click();
      await page.waitForFunction(() => document.getElementById('flow')?.dataset.state === 'ready', undefined, { timeout: 30_000 });
      expect(await page.locator('#flow-status').textContent()).toMatch(/^Stopped after \d+ epochs/);

      // Two short runs end with the same tensor count in the flow worker: each new flow replaces (and disposes) the
      // last one with its optimizer, and the frames drawn during training dispose what they make.
      const flowTensorsAfterRun = async (): Promise<number> => {
        await page.locator('#flow-train').click();
        await page.waitForFunction(() => document.getElementById('flow-status')?.textContent?.startsWith('Trained 3 epochs'), undefined, { timeout: 60_000 });
        await page.waitForTimeout(1_300); // the footer refreshes every second
        return page.evaluate(() => Number(document.getElementById('flow-tensors')?.textContent));
      };
      await page.locator('#flow-epochs').fill('3');
      const first = await flowTensorsAfterRun();
      expect(first).toBeGreaterThan(0);
      expect(await flowTensorsAfterRun()).toBe(first);
      expect(log.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('trains a flow on points the user draws', async () => {
    const { page, log } = await openPage(requireChromium(), baseUrl);
    try {
      await page.waitForFunction(() => document.getElementById('flow')?.dataset.state === 'ready', undefined, { timeout: 120_000 });
      await page.locator('#flow-data').selectOption('drawn');
      expect(await page.locator('#flow-count').textContent()).toBe('0');
      await page.locator('#flow-train').click();
      expect(await page.locator('#flow-error').textContent()).toMatch(/draw at least 20 points/);
      await page.locator('#flow-points').scrollIntoViewIfNeeded(); // the mouse works in the viewport
      const box = await page.locator('#flow-points').boundingBox();
      if (box === null) throw new Error('no #flow-points box');
      // Two clicks and a stroke between them.
      await page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.3);
      await page.mouse.click(box.x + box.width * 0.7, box.y + box.height * 0.7);
      await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.7);
      await page.mouse.down();
      for (let i = 1; i <= 20; i++) await page.mouse.move(box.x + box.width * (0.3 + 0.02 * i), box.y + box.height * (0.7 - 0.02 * i));
      await page.mouse.up();
      const count = Number(await page.locator('#flow-count').textContent());
      expect(count).toBeGreaterThan(60);
      await page.locator('#flow-epochs').fill('40');
      await page.locator('#flow-train').click();
      await page.waitForFunction(() => document.getElementById('flow')?.dataset.state === 'ready', undefined, { timeout: 180_000 });
      expect(await page.locator('#flow-error').isHidden()).toBe(true);
      const total = Number(await page.locator('#flow-integral').getAttribute('data-value'));
      console.log(`[web test] flow on ${count} drawn points: ${await page.locator('#flow-status').textContent()}; density total ${total.toFixed(4)}`);
      expect(Math.abs(total - 1)).toBeLessThan(0.05);
      await screenshotPanels(page, 'desktop', 'flow-drawn', ['flow']);
      expect(log.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('fits a phone-width screen: every panel within 390 px, screenshots of each', async () => {
    const { page, log } = await openPage(requireChromium(), baseUrl, { width: 390, height: 844 });
    try {
      expect(await waitForState(page, ['ready', 'error'], 120_000)).toBe('ready');
      await page.waitForFunction(() => document.getElementById('flow')?.dataset.state === 'ready', undefined, { timeout: 60_000 });
      await page.waitForFunction(() => document.getElementById('compress')?.dataset.state === 'ready', undefined, { timeout: 60_000 });
      // Anything wider than the screen, named for the failure message.
      const wide = await page.evaluate(() =>
        Array.from(document.querySelectorAll('body *'))
          .filter((e) => e.getBoundingClientRect().right > 390.5)
          .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''} (${Math.round(e.getBoundingClientRect().right)} px)`),
      );
      expect(wide).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await screenshotPanels(page, 'phone', 'start');
      expect(log.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

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
