// The 8-bit recipe of issue 21: a discretized-logistic-mixture VAE trained on the 8,000 bundled 8-bit training digits
// whose .gmz file of the 2,000 bundled 8-bit test digits beats brotli. Runs the `gm` CLI end to end:
//   1. gm train vae --likelihood discretized-logistic-mixture --hidden 500 --latent 40 --epochs 60       (the ELBO)
//   2. gm train vae --resume <1> --objective iwae --k 5 --epochs 10              (fine-tuned on the IWAE bound)
//   3. gm eval --k <particles>                                     (−ELBO and the IS bound BB-CIS codes at)
//   4. gm compress mnist-bundled:test --method bbis --particles <k>, gm decompress, and a byte-for-byte check of the
//      decompressed IDX file against the bundled test digits
// and prints (and writes as JSON) the file's rate next to brotli, gzip, PNG per image and PNG as one sheet, in
// bits/dim and bytes, with compress/decompress images/s. The settings were fixed without looking at the test digits'
// rates more than once (see packages/bitsback/README.md, "8-bit digits").
// Run from the repository root after building the CLI (npx -y pnpm@9.15.9 exec turbo run build --filter=@gm/cli...):
//   node packages/bitsback/scripts/eight-bit-recipe.mjs [--out /tmp/gm-eight-bit] [--epochs 60] [--iwae-epochs 10]
//     [--iwae-k 5] [--particles 50] [--chunk n] [--elbo <checkpoint>] [--skip-train] [--limit n] [--json <file>] [--gm apps/cli/dist/gm.js]
//   --elbo <dir>:   start from a checkpoint stage 1 already wrote (its config and epochs are checked) instead of training it
//   --skip-train:   both checkpoints are already in --out (elbo/, iwae/): evaluate and code only
//   --limit n:      evaluate and code only the first n test digits (a smoke test; the recipe's figures are of all 2,000)
// Training takes about 60 × 20 s + 10 × 70 s on one idle core of this machine (more when it is shared); never add --workers here.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { values } = parseArgs({ options: {
  out: { type: 'string' }, epochs: { type: 'string' }, 'iwae-epochs': { type: 'string' }, 'iwae-k': { type: 'string' },
  particles: { type: 'string' }, chunk: { type: 'string' }, limit: { type: 'string' }, elbo: { type: 'string' }, 'skip-train': { type: 'boolean', default: false },
  json: { type: 'string' }, gm: { type: 'string' },
} });
const out = resolve(values.out ?? '/tmp/gm-eight-bit');
const epochs = Number(values.epochs ?? 60);
const iwaeEpochs = Number(values['iwae-epochs'] ?? 10);
const iwaeK = Number(values['iwae-k'] ?? 5);
const particles = Number(values.particles ?? 50);
const chunk = values.chunk === undefined ? undefined : Number(values.chunk); // images per chunk (gm compress's default 500)
const limit = values.limit === undefined ? undefined : Number(values.limit); // a smoke test on the first n digits
const gm = resolve(values.gm ?? join(repo, 'apps', 'cli', 'dist', 'gm.js'));
const jsonPath = resolve(values.json ?? join(out, 'eight-bit-recipe.json'));
for (const [name, v] of [['--epochs', epochs], ['--iwae-epochs', iwaeEpochs], ['--iwae-k', iwaeK], ['--particles', particles]]) {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
}
if (!existsSync(gm)) throw new Error(`${gm} not found: build the CLI first (npx -y pnpm@9.15.9 exec turbo run build --filter=@gm/cli...)`);
mkdirSync(out, { recursive: true });
const elboDir = join(out, 'elbo');
const modelDir = join(out, 'iwae');
const gmz = join(out, 'test.gmz');
const decoded = join(out, 'test-decoded-idx3-ubyte');

const commands = [];
/** Runs `gm <args>` (progress to stderr), returns its --json report and the wall time. */
function gmRun(args, { json = true } = {}) {
  const line = `gm ${args.join(' ')}`;
  commands.push(line);
  console.error(`$ ${line}`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [gm, ...args, ...(json ? ['--json'] : [])], { stdio: ['ignore', json ? 'pipe' : 'inherit', 'inherit'], maxBuffer: 1 << 28 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${line} failed with status ${r.status}`);
  return { report: json ? JSON.parse(r.stdout.toString('utf8')) : null, seconds };
}
const configOf = (dir) => JSON.parse(readFileSync(join(dir, 'gm-checkpoint.json'), 'utf8'));

// 1–2. Training.
const stage1 = ['train', 'vae', '--likelihood', 'discretized-logistic-mixture', '--hidden', '500', '--latent', '40', '--epochs', String(epochs), '--out', elboDir];
const stage2 = ['train', 'vae', '--resume', elboDir, '--objective', 'iwae', '--k', String(iwaeK), '--epochs', String(iwaeEpochs), '--out', modelDir];
const training = {};
if (values['skip-train']) {
  for (const d of [elboDir, modelDir]) if (!existsSync(join(d, 'gm-checkpoint.json'))) throw new Error(`--skip-train: ${d} holds no checkpoint`);
  commands.push(`gm ${stage1.join(' ')}`, `gm ${stage2.join(' ')}`);
} else {
  if (values.elbo !== undefined) {
    const m = configOf(values.elbo);
    const c = m.config;
    const want = { likelihood: 'discretized-logistic-mixture', latentDim: 40, objective: 'elbo', seed: 0 };
    for (const [k, v] of Object.entries(want)) if (c[k] !== v) throw new Error(`--elbo ${values.elbo}: config.${k} is ${JSON.stringify(c[k])}, stage 1 trains ${JSON.stringify(v)}`);
    if (JSON.stringify(c.hidden) !== '[500]' || m.extra?.epochsTrained !== epochs) throw new Error(`--elbo ${values.elbo}: hidden ${JSON.stringify(c.hidden)}, ${m.extra?.epochsTrained} epochs; stage 1 trains [500] for ${epochs}`);
    cpSync(values.elbo, elboDir, { recursive: true });
    commands.push(`gm ${stage1.join(' ')}`);
    console.error(`stage 1: copied ${values.elbo} (the checkpoint of: gm ${stage1.join(' ')})`);
  } else {
    training.elboSeconds = gmRun(stage1, { json: false }).seconds;
  }
  training.iwaeSeconds = gmRun(stage2, { json: false }).seconds;
}
const sidecar = JSON.parse(readFileSync(join(modelDir, 'gm-cli.json'), 'utf8'));
training.history = sidecar.history;
training.trainSeconds = sidecar.history.reduce((s, h) => s + h.seconds, 0);

// 3. The model's bounds on the test digits (validation of `gm train` runs on them too, for information only).
const evalReport = gmRun(['eval', '--model', modelDir, '--k', String(particles), ...(limit === undefined ? [] : ['--test-limit', String(limit)])]).report;

// 4. Coding and the round trip.
const c = gmRun(['compress', 'mnist-bundled:test', gmz, '--model', modelDir, '--method', 'bbis', '--particles', String(particles), ...(chunk === undefined ? [] : ['--chunk', String(chunk)]), ...(limit === undefined ? [] : ['--limit', String(limit)])]).report;
const d = gmRun(['decompress', gmz, decoded, '--model', modelDir]).report;
const require = createRequire(join(repo, 'apps', 'cli', 'package.json'));
const { loadBundledMnist } = await import(pathToFileURL(join(dirname(require.resolve('@gm/data/package.json')), 'dist', 'node.js')).href);
const all = loadBundledMnist().test.images;
const original = limit === undefined ? all : all.subarray(0, limit * 784);
const idx = readFileSync(decoded);
const payload = idx.subarray(16); // IDX3 header: magic + 3 dims
const identical = idx.readUInt32BE(0) === 0x0803 && idx.readUInt32BE(4) === original.length / 784 && payload.length === original.length && Buffer.compare(payload, Buffer.from(original.buffer, original.byteOffset, original.byteLength)) === 0;
if (c.pixels !== 'u8' || c.binarized) throw new Error(`the coder saw ${c.pixels} pixels (binarized: ${c.binarized}); the recipe codes the 8-bit digits`);
if (!identical) throw new Error(`round trip: ${decoded} differs from the bundled test digits`);

const dims = original.length;
const rows = c.table.map((r) => ({ method: r.method, bytes: r.bytes, bitsPerDim: r.bitsPerDim, bytesPerImage: r.bytes === null ? null : r.bytes / c.images }));
const find = (re) => rows.find((r) => re.test(r.method));
const brotli = find(/^brotli/);
const result = {
  images: c.images,
  dims,
  particles,
  commands,
  training,
  eval: evalReport.metrics,
  file: { bytes: c.bytes, bitsPerDim: c.bitsPerDim, compressSeconds: c.seconds, decompressSeconds: d.seconds, compressImagesPerSecond: c.images / c.seconds, decompressImagesPerSecond: c.images / d.seconds },
  roundTrip: identical ? 'identical' : 'differs',
  vsBrotli: c.bitsPerDim / brotli.bitsPerDim,
  table: rows,
};

const w = Math.max(...rows.map((r) => r.method.length));
console.log(`\n${c.images} bundled 8-bit test digits (${dims.toLocaleString('en-US')} pixels), BB-CIS k = ${particles}; round trip ${result.roundTrip} byte for byte`);
console.log(`${'method'.padEnd(w)}  ${'bytes'.padStart(9)}  ${'bytes/image'.padStart(11)}  ${'bits/dim'.padStart(8)}  ${'vs brotli'.padStart(9)}`);
for (const r of rows) {
  console.log(`${r.method.padEnd(w)}  ${(r.bytes === null ? '—' : r.bytes.toLocaleString('en-US')).padStart(9)}  ${(r.bytesPerImage === null ? '—' : r.bytesPerImage.toFixed(1)).padStart(11)}  ${r.bitsPerDim.toFixed(4).padStart(8)}  ${`${(r.bitsPerDim / brotli.bitsPerDim).toFixed(4)}×`.padStart(9)}`);
}
console.log(`compress ${result.file.compressImagesPerSecond.toFixed(1)} images/s (${c.seconds.toFixed(1)} s), decompress ${result.file.decompressImagesPerSecond.toFixed(1)} images/s (${d.seconds.toFixed(1)} s); training ${training.trainSeconds.toFixed(0)} s over ${sidecar.history.length} epochs`);
console.log(`gm eval: −ELBO ${evalReport.metrics.negElboBitsPerDim.toFixed(4)} bits/dim, ${particles}-sample IS bound ${evalReport.metrics.isNllBitsPerDim.toFixed(4)}`);
writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${jsonPath}`);
