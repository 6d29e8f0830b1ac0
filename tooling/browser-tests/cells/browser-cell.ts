/**
 * The Chromium cell of the coding matrix, bundled for the browser by esbuild: `window.gmCell(request)` initialises
 * the requested tfjs backend and runs the same steps as the Node cell over fetch (checkpoints load through
 * @gm/models' `urlStore`), returning its CellReport plus the written files (base64).
 */
import '@tensorflow/tfjs-backend-webgl';
import { initBackend, type BackendName } from '@gm/backend';
import { urlStore } from '@gm/models';
import { compressCases, decompressCases, digests, type CellIO, type CellReport, type MatrixCase } from './cases';

export interface CellRequest {
  cell: string;
  backend: BackendName;
  phase: 'compress' | 'decompress';
  cases: MatrixCase[];
  /** Decompress phase: `<cell>/<case>` → URL path. */
  files: Record<string, string>;
}

async function read(path: string): Promise<Uint8Array> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

async function gmCell(request: CellRequest): Promise<CellReport & { files: Record<string, string> }> {
  const choice = await initBackend({ backend: request.backend, wasmPaths: '/tfjs-wasm/' });
  const io: CellIO = { store: (p) => urlStore(`/work/${p}`), read: (p) => read(`/work/${p}`) };
  const report: CellReport = { cell: request.cell, backend: choice.backend, gmSimd: choice.gmSimd ?? null, engine: 'wasm-simd128', written: {}, decoded: {} };
  const files: Record<string, string> = {};
  if (request.phase === 'compress') {
    const written = await compressCases(io, request.cases, 'wasm-simd128');
    report.written = digests(written);
    for (const [name, bytes] of Object.entries(written)) files[name] = base64(bytes);
  } else {
    report.decoded = await decompressCases(io, request.cases, request.files, 'wasm-simd128');
  }
  return { ...report, files };
}

(window as unknown as { gmCell: typeof gmCell }).gmCell = gmCell;
document.body.dataset['ready'] = 'yes';
