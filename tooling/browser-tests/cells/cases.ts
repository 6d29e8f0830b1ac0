/**
 * What a cell of the coding matrix does, shared by the Node cell (node-cell.ts, run as a child process) and the
 * Chromium cell (browser-cell.ts, bundled into a page): load each model through @gm/models' own loader, hand its
 * coding model to @gm/bitsback, compress the case's images, and decompress files written by other cells.
 */
import { compress, decompress } from '@gm/bitsback';
import { GmError, sha256Hex, type CheckpointStore } from '@gm/core';
import { loadModel } from '@gm/models';

/** One model and the images it codes; paths are relative to the work folder (Node) or its URL (Chromium). */
export interface MatrixCase {
  name: string;
  checkpoint: string;
  images: string;
  shape: number[];
}

export interface CellReport {
  cell: string;
  /** The tfjs backend that was active, and gm's GEMM flavour on wasm. */
  backend: string;
  gmSimd: string | null;
  /** The dense engine the coder used. */
  engine: string;
  /** Compress phase: sha256 of each written file by case name. */
  written: Record<string, string>;
  /** Decompress phase: `<cell>/<case>` → 'ok' or the error. */
  decoded: Record<string, string>;
}

/** Where a cell reads checkpoints, images and files. */
export interface CellIO {
  store(path: string): CheckpointStore;
  read(path: string): Promise<Uint8Array>;
}

/** Compresses every case with its model; returns the files by case name. */
export async function compressCases(io: CellIO, cases: readonly MatrixCase[], engine: 'js' | 'wasm-simd128'): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const c of cases) {
    const model = await loadModel(io.store(c.checkpoint));
    try {
      if (model.codingModel === undefined) throw new GmError('UNSUPPORTED', c.name, `a "${model.kind}" has no coding model`);
      // The model's own code in every chunk (no deflate fallback): the matrix is about the deterministic coding path.
      out[c.name] = await compress(await io.read(c.images), model.codingModel(), { shape: c.shape, chunkSize: 50, fallback: false, engine });
    } finally {
      model.dispose();
    }
  }
  return out;
}

/** Decompresses `files` (`<cell>/<case>` → path) with each case's model and checks the images byte for byte. */
export async function decompressCases(io: CellIO, cases: readonly MatrixCase[], files: Record<string, string>, engine: 'js' | 'wasm-simd128'): Promise<Record<string, string>> {
  const decoded: Record<string, string> = {};
  for (const c of cases) {
    const model = await loadModel(io.store(c.checkpoint));
    try {
      const coding = model.codingModel!();
      const want = await io.read(c.images);
      for (const [key, path] of Object.entries(files)) {
        if (!key.endsWith(`/${c.name}`)) continue;
        try {
          const { images } = await decompress(await io.read(path), coding, { engine });
          decoded[key] = images.length === want.length && images.every((v, i) => v === want[i]) ? 'ok' : 'decoded to different images';
        } catch (error) {
          decoded[key] = (error as Error).message;
        }
      }
    } finally {
      model.dispose();
    }
  }
  return decoded;
}

/** sha256 of each file. */
export function digests(files: Record<string, Uint8Array>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, sha256Hex(v)]));
}
