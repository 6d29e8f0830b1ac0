/**
 * A Node cell of the coding matrix, run as its own process so each gets a fresh tfjs engine:
 *   node --experimental-strip-types … node-cell.ts  (see coding-matrix.test.ts for how it is started)
 * argv: <work-dir> <cell> <cpu|wasm> <relaxed 0|1> <engine js|wasm-simd128> <compress|decompress>
 * Prints its CellReport as JSON on the last line of stdout.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import '@tensorflow/tfjs-layers';
import { initBackend, type BackendName } from '@gm/backend';
import { fileStore } from '@gm/models/node';
import { compressCases, decompressCases, digests, type CellIO, type CellReport, type MatrixCase } from './cases';

const [work, cell, backend, relaxed, engine, phase] = process.argv.slice(2) as [string, string, BackendName, string, 'js' | 'wasm-simd128', string];
const choice = await initBackend({ backend, relaxedSimd: relaxed === '1' });
const cases = JSON.parse(readFileSync(join(work, 'cases.json'), 'utf8')) as MatrixCase[];
const io: CellIO = { store: (p) => fileStore(join(work, p)), read: async (p) => new Uint8Array(readFileSync(join(work, p))) };
const report: CellReport = { cell, backend: choice.backend, gmSimd: choice.gmSimd ?? null, engine, written: {}, decoded: {} };
if (phase === 'compress') {
  const files = await compressCases(io, cases, engine);
  mkdirSync(join(work, 'files', cell), { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(work, 'files', cell, `${name}.gmz`), bytes);
  report.written = digests(files);
} else {
  const files: Record<string, string> = {};
  for (const from of readdirSync(join(work, 'files'))) for (const f of readdirSync(join(work, 'files', from))) files[`${from}/${f.replace(/\.gmz$/, '')}`] = `files/${from}/${f}`;
  report.decoded = await decompressCases(io, cases, files, engine);
}
console.log(JSON.stringify(report));
