/**
 * The "compress your own images" panel: pictures the user drops or picks become 28×28 grey digits (as gm's data
 * loader reads a picture folder), black or white (pixel > 127, as `gm compress` binarizes for a Bernoulli model),
 * and are coded with bits-back (@gm/bitsback) by the VAE shipped with the page into a `.gmz` file to download —
 * with its size beside the pictures' own bytes, PNG and WebP from the browser's encoders, and gzip from
 * `CompressionStream`. A dropped `.gmz` is decoded, drawn, and checked against the originals when the page knows
 * them (pictures dropped with it, or a file this page wrote). Files are the ones `gm compress` / `gm decompress`
 * read and write in Node.
 */
import * as tf from '@tensorflow/tfjs-core';
import { compress, decompress, GmzError, packBits } from '@gm/bitsback';
import { sha256Hex, type CodingModel } from '@gm/core';
import { binarizeStatic } from '@gm/data';
import { urlStore, VAE } from '@gm/models';
import { pictureToDigit, readPicture, sniff, SIDE } from './pictures';
import { drawGrid } from './render';
import { el } from './dom';
import { DrawPad } from './draw-pad';

/** The checkpoint shipped with the page (public/models/, written by scripts/train-models.mjs), relative to the page. */
export const SHIPPED_MODEL = 'models/vae-mnist/';
/** `gm compress`'s defaults: 500 images per independently decodable chunk, a chunk deflated when that is smaller. */
const CHUNK_SIZE = 500;
const PIXELS = SIDE * SIDE;
/** Images drawn per grid (the rest are coded and checked, not drawn). */
const SHOWN = 40;
const GRID_COLS = 10;
const CELL = 2 * SIDE;
/** Names gm's folder reader takes as pictures. */
const PICTURE_NAME = /\.(png|jpe?g)$/i;

/** A file with the path it was dropped or picked under (a folder's files keep their folder). */
interface Picked {
  file: File;
  path: string;
}

/** Pictures the page converted and coded: what the model saw and the file it wrote. */
interface Coded {
  paths: string[];
  /** 28×28 grey bytes as converted. */
  grey: Uint8Array;
  /** The coded pixels, 0/255 (what `gm decompress` writes back). */
  pixels: Uint8Array;
  gmz: Uint8Array;
}

interface PanelModel {
  vae: VAE;
  coding: CodingModel;
  describe: string;
}

export interface CompressPanel {
  /** Resolves once the shipped model is loaded (or rejects with why not). */
  ready: Promise<void>;
}

type PanelState = 'loading' | 'ready' | 'working' | 'error';

/** Bits per dimension: bits over pixels. */
const bitsPerDim = (bytes: number, pixels: number): number => (8 * bytes) / pixels;

async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream('gzip'));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/**
 * Bytes of each 28×28 image (0..255 grey) encoded by the browser's canvas encoder as `type`, summed (NaN when the
 * browser has no such encoder), and whether the first images decode back to the same pixels (WebP at quality 1 is
 * lossless in Chromium, lossy elsewhere).
 */
async function canvasEncoded(images: Uint8Array, count: number, type: 'image/png' | 'image/webp'): Promise<{ bytes: number; lossless: boolean }> {
  const canvas = document.createElement('canvas');
  canvas.width = SIDE;
  canvas.height = SIDE;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (ctx === null) throw new Error('this browser gives no 2-D canvas context');
  let bytes = 0;
  let lossless = true;
  for (let i = 0; i < count; i++) {
    const image = new ImageData(SIDE, SIDE);
    for (let p = 0; p < PIXELS; p++) {
      const v = images[i * PIXELS + p] as number;
      image.data.set([v, v, v, 255], 4 * p);
    }
    ctx.putImageData(image, 0, 0);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, type, 1));
    if (blob === null || blob.type !== type) return { bytes: Number.NaN, lossless: false };
    bytes += blob.size;
    if (i < 10 && lossless) {
      const bitmap = await createImageBitmap(blob);
      ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
      const back = ctx.getImageData(0, 0, SIDE, SIDE).data;
      for (let p = 0; p < PIXELS && lossless; p++) lossless = back[4 * p] === image.data[4 * p];
    }
  }
  return { bytes, lossless };
}

/** Files under a dropped folder entry, recursively, with their paths. */
async function entryFiles(entry: FileSystemEntry, path: string): Promise<Picked[]> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    return [{ file, path }];
  }
  if (!entry.isDirectory) return [];
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const children: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    children.push(...batch);
  }
  const nested = await Promise.all(children.map((c) => entryFiles(c, `${path}/${c.name}`)));
  return nested.flat();
}

/** What a drop holds: folders are walked (their entries must be taken before the event returns). */
async function droppedFiles(data: DataTransfer): Promise<Picked[]> {
  const entries = Array.from(data.items, (item) => (item.kind === 'file' ? item.webkitGetAsEntry?.() ?? null : null));
  if (entries.length > 0 && entries.every((e) => e !== null)) {
    const all = await Promise.all(entries.map((e) => entryFiles(e as FileSystemEntry, (e as FileSystemEntry).name)));
    return all.flat();
  }
  return Array.from(data.files, (file) => ({ file, path: file.name }));
}

function pickedFiles(list: FileList | null): Picked[] {
  return Array.from(list ?? [], (file) => ({ file, path: file.webkitRelativePath || file.name }));
}

/** Draws up to {@link SHOWN} images (0..255 grey) on a grid canvas sized to them. */
function drawImages(canvas: HTMLCanvasElement, images: Uint8Array, count: number): void {
  const shown = Math.min(count, SHOWN);
  const cols = Math.min(shown, GRID_COLS);
  canvas.width = Math.max(1, cols) * CELL;
  canvas.height = Math.max(1, Math.ceil(shown / GRID_COLS)) * CELL;
  drawGrid(canvas, Float32Array.from(images.subarray(0, shown * PIXELS), (v) => v / 255), shown, cols);
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
const fmtBytes = (n: number): string => (Number.isNaN(n) ? '—' : n.toLocaleString('en-US'));

/** Sets up the panel; the shipped model loads in the background. `changed` runs after each coding (tensor count). */
export function initCompressPanel(changed: () => void): CompressPanel {
  const ui = {
    panel: el<HTMLElement>('compress'),
    model: el<HTMLElement>('compress-model'),
    drop: el<HTMLElement>('compress-drop'),
    files: el<HTMLInputElement>('compress-files'),
    folder: el<HTMLInputElement>('compress-folder'),
    invert: el<HTMLInputElement>('compress-invert'),
    status: el<HTMLElement>('compress-status'),
    error: el<HTMLElement>('compress-error'),
    coded: el<HTMLElement>('compress-coded'),
    grey: el<HTMLCanvasElement>('compress-grey'),
    binary: el<HTMLCanvasElement>('compress-binary'),
    sizes: el<HTMLTableSectionElement>('compress-sizes'),
    download: el<HTMLAnchorElement>('compress-download'),
    roundTrip: el<HTMLElement>('compress-roundtrip'),
    decoded: el<HTMLElement>('compress-decoded'),
    decodedCanvas: el<HTMLCanvasElement>('compress-decoded-canvas'),
    verdict: el<HTMLElement>('compress-verdict'),
    pad: el<HTMLCanvasElement>('compress-pad'),
    padAdd: el<HTMLButtonElement>('compress-pad-add'),
    padClear: el<HTMLButtonElement>('compress-pad-clear'),
    padCode: el<HTMLButtonElement>('compress-pad-code'),
    padCount: el<HTMLElement>('compress-pad-count'),
  };
  let model: PanelModel | undefined;
  /** Files this page wrote in this visit, by sha256, so dropping one back is checked against its pictures. */
  const written = new Map<string, Coded>();
  let queue: Promise<void> = Promise.resolve();
  let runs = 0;

  const setState = (state: PanelState, status: string): void => {
    ui.panel.dataset.state = state;
    ui.status.textContent = status;
  };
  const showError = (error: unknown): void => {
    ui.error.textContent = error instanceof Error ? error.message : String(error);
    ui.error.hidden = false;
  };

  const ready = (async () => {
    setState('loading', 'Loading the shipped model…');
    const vae = await VAE.load(urlStore(new URL(SHIPPED_MODEL, document.baseURI).href));
    const c = vae.config;
    const describe = `VAE 784-${c.hidden.join('-')}-${c.latentDim}, ${c.likelihood}, ${vae.epochsTrained} epochs of gm train on 8,000 MNIST digits`;
    model = { vae, coding: vae.codingModel(), describe };
    ui.model.textContent = describe;
    setState('ready', 'Drop pictures or a .gmz file.');
    changed();
  })();
  ready.catch((error: unknown) => {
    showError(error);
    setState('error', 'The shipped model did not load.');
  });

  /** The model's −ELBO on the coded pixels (0/1), in bits/dim: the rate bits-back coding aims at. */
  const negElboBitsPerDim = (m: PanelModel, pixels01: Uint8Array, count: number): number => {
    const x = tf.tensor(Float32Array.from(pixels01), [count, PIXELS]);
    try {
      return m.vae.negativeElbo(x, { samples: 1, seed: 12345 }) / (PIXELS * Math.LN2); // nats per image → bits per pixel
    } finally {
      x.dispose();
    }
  };

  const code = async (m: PanelModel, pictures: Picked[]): Promise<Coded> => {
    const count = pictures.length;
    const grey = new Uint8Array(count * PIXELS);
    for (const [i, p] of pictures.entries()) {
      setState('working', `Reading ${p.path} (${i + 1} of ${count})…`);
      grey.set(pictureToDigit(await readPicture(p.file, p.path), { invert: ui.invert.checked }), i * PIXELS);
    }
    const pixels01 = binarizeStatic(grey);
    setState('working', `Coding ${plural(count, 'image')} with bits-back…`);
    const started = performance.now();
    const gmz = await compress(pixels01, m.coding, { shape: [SIDE, SIDE], chunkSize: CHUNK_SIZE, fallback: true });
    const seconds = (performance.now() - started) / 1000;
    const coded: Coded = { paths: pictures.map((p) => p.path), grey, pixels: pixels01.map((v) => v * 255), gmz };
    written.set(sha256Hex(gmz), coded);

    drawImages(ui.grey, grey, count);
    drawImages(ui.binary, coded.pixels, count);
    const dims = count * PIXELS;
    const inputBytes = pictures.reduce((a, p) => a + p.file.size, 0);
    const png = await canvasEncoded(coded.pixels, count, 'image/png');
    const webp = await canvasEncoded(coded.pixels, count, 'image/webp');
    const rows: [string, number | null, number][] = [
      ['.gmz file (bits-back with the VAE)', gmz.length, 0],
      ['the model\u2019s −ELBO on these images (what bits-back aims at)', null, negElboBitsPerDim(m, pixels01, count)],
      ['your files as dropped (PNG/JPEG, full size)', inputBytes, 0],
      ['PNG of each 28×28 image (the browser\u2019s encoder)', png.bytes, 0],
      [`WebP of each 28×28 image (the browser\u2019s encoder, quality 1: ${webp.lossless ? 'lossless' : 'lossy'})`, webp.bytes, 0],
      ['gzip of the pixels, 8 per byte (CompressionStream)', await gzipSize(packBits(pixels01)), 0],
      ['raw, 1 bit per pixel', Math.ceil(dims / 8), 0],
    ];
    ui.sizes.replaceChildren(
      ...rows.map(([what, bytes, bpd], i) => {
        const tr = document.createElement('tr');
        const bits = bytes === null ? bpd : bitsPerDim(bytes, dims);
        const ratio = bytes === null || Number.isNaN(bytes) ? '—' : `${(bytes / gmz.length).toFixed(2)}×`;
        for (const text of [what, bytes === null ? '—' : fmtBytes(bytes), Number.isNaN(bits) ? '—' : bits.toFixed(4), i === 0 ? '1.00×' : ratio]) {
          const td = document.createElement('td');
          td.textContent = text;
          tr.append(td);
        }
        if (i === 0) tr.className = 'gmz';
        return tr;
      }),
    );
    if (ui.download.href.startsWith('blob:')) URL.revokeObjectURL(ui.download.href);
    const folder = pictures[0]?.path.includes('/') === true && pictures.every((p) => p.path.split('/')[0] === pictures[0]?.path.split('/')[0]);
    ui.download.download = `${folder ? pictures[0]!.path.split('/')[0] : count === 1 ? pictures[0]!.path.replace(PICTURE_NAME, '') : 'pictures'}.gmz`;
    ui.download.href = URL.createObjectURL(new Blob([gmz as BlobPart], { type: 'application/octet-stream' }));
    ui.download.textContent = `Download ${ui.download.download} (${fmtBytes(gmz.length)} bytes)`;
    ui.download.dataset.sha256 = sha256Hex(gmz);

    // Decode the file again at once: the round trip in the page.
    const back = await decompress(gmz, m.coding);
    const same = back.images.length === pixels01.length && back.images.every((v, i) => v === pixels01[i]);
    ui.roundTrip.textContent = same
      ? `Coded ${plural(count, 'image')} in ${seconds.toFixed(2)} s and decoded the file again in the page: identical, byte for byte.`
      : 'Decoding the file again in the page gave different images: please report this as a bug.';
    ui.roundTrip.dataset.ok = String(same);
    ui.coded.hidden = false;
    ui.coded.dataset.count = String(count);
    ui.coded.dataset.sha256 = sha256Hex(coded.pixels);
    return coded;
  };

  const decode = async (m: PanelModel, picked: Picked, originals: Coded | undefined): Promise<void> => {
    setState('working', `Decoding ${picked.path}…`);
    const bytes = new Uint8Array(await picked.file.arrayBuffer());
    let result: Awaited<ReturnType<typeof decompress>>;
    try {
      result = await decompress(bytes, m.coding);
    } catch (error) {
      if (error instanceof GmzError && error.code === 'wrong-model') throw new Error(`${picked.path}: ${error.message} — this page decodes files written with its shipped model only`);
      if (error instanceof GmzError) throw new Error(`${picked.path}: not a valid .gmz file (${error.code}: ${error.message})`);
      throw error;
    }
    const { count } = result;
    const shape = result.shape.join('×');
    if (result.images.length !== count * PIXELS) throw new Error(`${picked.path}: holds images of ${shape}, the model's are 28×28`);
    const images = result.images.map((v) => (result.header.pixels === 'binary' ? v * 255 : v));
    drawImages(ui.decodedCanvas, images, count);
    const known = originals ?? written.get(sha256Hex(bytes));
    let verdict: string;
    if (known === undefined) {
      verdict = `${plural(count, 'image')} decoded from ${picked.path}. The originals are not known here (drop the pictures together with the file to compare); the file's own checksums — a CRC of each chunk's images and a SHA-256 of the whole file — all match.`;
      ui.verdict.dataset.match = 'unknown';
    } else if (known.pixels.length !== images.length) {
      verdict = `${picked.path} holds ${plural(count, 'image')}, the originals are ${plural(known.paths.length, 'picture')}: not the same set.`;
      ui.verdict.dataset.match = 'no';
    } else {
      const differ: number[] = [];
      for (let i = 0; i < count; i++) {
        for (let p = 0; p < PIXELS; p++) {
          if (images[i * PIXELS + p] !== known.pixels[i * PIXELS + p]) {
            differ.push(i);
            break;
          }
        }
      }
      ui.verdict.dataset.match = differ.length === 0 ? 'yes' : 'no';
      verdict =
        differ.length === 0
          ? `${plural(count, 'image')} decoded from ${picked.path}: every one identical to its original, byte for byte.`
          : `${plural(count, 'image')} decoded from ${picked.path}: ${differ.length} differ from the originals (${differ
              .slice(0, 10)
              .map((i) => known.paths[i])
              .join(', ')}${differ.length > 10 ? ', …' : ''}).`;
    }
    ui.verdict.textContent = verdict;
    ui.decoded.hidden = false;
    ui.decoded.dataset.count = String(count);
    ui.decoded.dataset.sha256 = sha256Hex(images);
  };

  const handle = async (files: Picked[]): Promise<void> => {
    await ready;
    const m = model;
    if (m === undefined) return;
    ui.error.hidden = true;
    const visible = files.filter((f) => !f.path.split('/').some((part) => part.startsWith('.')));
    // Code-unit order of the paths: gm's folder reader's order (name order, class folder by class folder).
    visible.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const pictures = visible.filter((f) => PICTURE_NAME.test(f.path));
    const rest = visible.filter((f) => !PICTURE_NAME.test(f.path));
    const gmzFiles: Picked[] = [];
    const skipped: string[] = [];
    for (const f of rest) {
      if (/\.gmz$/i.test(f.path) || sniff(new Uint8Array(await f.file.slice(0, 8).arrayBuffer())) === 'gmz') gmzFiles.push(f);
      else skipped.push(f.path);
    }
    if (pictures.length === 0 && gmzFiles.length === 0) {
      throw new Error(files.length === 0 ? 'Nothing to read: drop PNG or JPEG pictures, a folder of them, or a .gmz file.' : `No PNG or JPEG pictures and no .gmz file among ${skipped.slice(0, 5).join(', ')}${skipped.length > 5 ? ', …' : ''}.`);
    }
    const done: string[] = [];
    let coded: Coded | undefined;
    if (pictures.length > 0) {
      coded = await code(m, pictures);
      done.push(`coded ${plural(pictures.length, 'picture')}`);
    }
    for (const g of gmzFiles) {
      await decode(m, g, coded);
      done.push(`decoded ${g.path}`);
    }
    if (skipped.length > 0) done.push(`skipped ${plural(skipped.length, 'file')} that ${skipped.length === 1 ? 'is' : 'are'} neither a picture nor a .gmz (${skipped.slice(0, 3).join(', ')}${skipped.length > 3 ? ', …' : ''})`);
    const text = done.join('; ');
    setState('ready', `${text.charAt(0).toUpperCase()}${text.slice(1)}.`);
  };

  const enqueue = (files: Picked[] | Promise<Picked[]>): void => {
    queue = queue
      .then(async () => handle(await files))
      .catch((error: unknown) => {
        showError(error);
        setState('ready', 'That did not work (see above); drop other files to try again.');
      })
      .finally(() => {
        runs++;
        ui.panel.dataset.runs = String(runs);
        changed();
      });
  };

  // A drop anywhere else on the page must not navigate away to the dropped file.
  for (const type of ['dragover', 'drop'] as const) window.addEventListener(type, (event) => event.preventDefault());
  ui.drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    if (event.dataTransfer !== null) event.dataTransfer.dropEffect = 'copy';
    ui.drop.classList.add('over');
  });
  ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
  ui.drop.addEventListener('drop', (event) => {
    event.preventDefault();
    ui.drop.classList.remove('over');
    if (event.dataTransfer !== null) enqueue(droppedFiles(event.dataTransfer));
  });
  // Digits drawn on the pad: each "add" keeps the drawing as a PNG; "compress" codes them like dropped pictures.
  const pad = new DrawPad(ui.pad);
  const drawn: Picked[] = [];
  const showDrawn = (): void => {
    ui.padCount.textContent = plural(drawn.length, 'drawn digit');
    ui.padCode.disabled = drawn.length === 0;
  };
  ui.padAdd.addEventListener('click', () => {
    if (pad.empty) {
      showError(new Error('Draw a digit on the black square first.'));
      return;
    }
    const path = `drawn-${String(drawn.length + 1).padStart(2, '0')}.png`;
    pad
      .toFile(path)
      .then((file) => {
        drawn.push({ file, path });
        pad.clear();
        showDrawn();
      })
      .catch(showError);
  });
  ui.padClear.addEventListener('click', () => pad.clear());
  ui.padCode.addEventListener('click', () => {
    ui.invert.checked = false; // drawn white on black, as MNIST
    enqueue([...drawn]);
  });
  showDrawn();
  for (const input of [ui.files, ui.folder]) {
    input.addEventListener('change', () => {
      const files = pickedFiles(input.files);
      input.value = '';
      enqueue(files);
    });
  }
  return { ready };
}
