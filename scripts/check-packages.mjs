#!/usr/bin/env node
// Checks that every published library package installs cleanly into someone else's project:
//   1. publint (package.json fields vs files) and arethetypeswrong (types resolve for ESM, CJS and bundlers);
//   2. `pnpm pack` each package, `npm install` the tarballs into a fresh temporary project together with the
//      TensorFlow.js peers, then import them from an ESM script, a CommonJS script and a type-checked TS file.
// Run after `pnpm build`. Usage: node scripts/check-packages.mjs [--keep]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const keep = process.argv.includes('--keep');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', ...opts });

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => join(root, 'packages', dir))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, json: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter((p) => !p.json.private);

console.log(`checking ${packages.length} packages: ${packages.map((p) => p.json.name).join(', ')}`);
for (const { dir, json } of packages) {
  if (!existsSync(join(dir, 'dist'))) throw new Error(`${json.name}: no dist/ — run pnpm build first`);
  console.log(`\n== publint ${json.name}`);
  run(bin('publint'), ['run', dir, '--strict']);
  console.log(`== attw ${json.name}`);
  run(bin('attw'), ['--pack', dir, '--format', 'table-flipped']);
}

const work = mkdtempSync(join(tmpdir(), 'gm-pack-'));
try {
  const tarballs = [];
  for (const { dir, json } of packages) {
    const out = execFileSync('pnpm', ['pack', '--pack-destination', work], { cwd: dir, encoding: 'utf8' });
    const tgz = out.trim().split('\n').pop().trim();
    tarballs.push(resolve(dir, tgz));
    console.log(`packed ${json.name} → ${tgz}`);
  }
  const project = join(work, 'consumer');
  run('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'gm-consumer', private: true, type: 'module' }, null, 2));
  const tf = '4.22.0';
  run(
    'npm',
    [
      'install', '--no-audit', '--no-fund', '--loglevel=error',
      ...tarballs,
      `@tensorflow/tfjs-core@${tf}`, `@tensorflow/tfjs-layers@${tf}`, `@tensorflow/tfjs-backend-cpu@${tf}`,
      `@tensorflow/tfjs-backend-wasm@${tf}`, 'typescript@5.9.3', '@types/node@20.19.43',
    ],
    { cwd: project },
  );
  const names = packages.map((p) => p.json.name);
  // ESM consumer: every package imports and exports something; the backend really starts.
  writeFileSync(
    join(project, 'esm.mjs'),
    `import assert from 'node:assert/strict';
${names.map((n, i) => `import * as m${i} from '${n}';`).join('\n')}
const mods = { ${names.map((n, i) => `'${n}': m${i}`).join(', ')} };
for (const [name, mod] of Object.entries(mods)) assert.ok(Object.keys(mod).length > 0, name + ' exports nothing');
const choice = await mods['@gm/backend'].initBackend();
assert.equal(choice.backend, 'wasm');
assert.equal(choice.fastMatMul, true);
assert.equal(choice.gmKernels, true);
// Both cores from the installed tarballs: the worker file ships, finds the peers, and imports @gm/models' replica.
await import('@tensorflow/tfjs-layers');
const { createDataParallelTrainer } = await import('@gm/backend/data-parallel');
const { VAE, vaeReplica, vaeReplicaConfig } = mods['@gm/models'];
const vae = new VAE({ inputShape: [16], hidden: [8], latentDim: 2, seed: 1 });
const trainer = await createDataParallelTrainer({
  replica: { module: import.meta.resolve('@gm/models'), exportName: 'createVaeReplica', config: vaeReplicaConfig(vae) },
  localReplica: vaeReplica(vae),
  batchSize: 8,
  optimizer: { name: 'adam', learningRate: 0.01 },
});
for (let step = 0; step < 3; step++) {
  trainer.inputView(step, 'x').fill(step % 2);
  assert.ok(Number.isFinite(trainer.step(step)));
}
const [w0, w1] = trainer.gatherWeights();
assert.deepEqual(Array.from(w1), Array.from(w0));
await trainer.dispose();
console.log('ESM consumer ok:', Object.keys(mods).join(', '), '— backend', choice.backend, '+ data-parallel on 2 threads');
`,
  );
  // CommonJS consumer.
  writeFileSync(
    join(project, 'cjs.cjs'),
    `const assert = require('node:assert/strict');
const names = ${JSON.stringify(names)};
for (const name of names) assert.ok(Object.keys(require(name)).length > 0, name + ' exports nothing');
assert.equal(typeof require('@gm/backend/data-parallel').createDataParallelTrainer, 'function');
require('@gm/backend').initBackend({ backend: 'cpu' }).then((c) => {
  assert.equal(c.backend, 'cpu');
  console.log('CJS consumer ok:', names.join(', '));
});
`,
  );
  // Type-checked TypeScript consumer (NodeNext resolution, strict). skipLibCheck: tfjs's own .d.ts files do not pass
  // a strict lib check (e.g. the undeclared Long in tfjs-core's hash_util.d.ts); our types' resolution is attw's job.
  writeFileSync(
    join(project, 'consumer.ts'),
    `import { initBackend, type BackendChoice } from '@gm/backend';
import { createDataParallelTrainer, type DataParallelTrainer } from '@gm/backend/data-parallel';
export const makeTrainer: (batchSize: number) => Promise<DataParallelTrainer> = (batchSize) =>
  createDataParallelTrainer({ replica: { module: 'x', config: {} }, batchSize, optimizer: { name: 'adam', learningRate: 1e-3 } });
${names.map((n, i) => `import * as m${i} from '${n}';`).join('\n')}
const all: object[] = [${names.map((_, i) => `m${i}`).join(', ')}];
export async function start(): Promise<BackendChoice> {
  const choice = await initBackend({ backend: 'cpu' });
  const name: 'node' | 'webgl' | 'wasm' | 'cpu' = choice.backend;
  return { ...choice, backend: name, reason: String(all.length) };
}
`,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] }, files: ['consumer.ts'] }, null, 2),
  );
  run('node', ['esm.mjs'], { cwd: project });
  run('node', ['cjs.cjs'], { cwd: project });
  run(join(project, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: project });
  console.log('TypeScript consumer ok');
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
