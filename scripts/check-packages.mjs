#!/usr/bin/env node
// Checks that gm installs from a registry into someone else's project, as a user would install it:
//   1. publint (package.json fields vs files) and arethetypeswrong (types resolve for ESM, CJS and bundlers);
//   2. starts a private registry on 127.0.0.1 (Verdaccio, scripts/local-registry.mjs) and publishes every public
//      package to it with `changeset publish` (workspace ranges become versions, as on npmjs.org);
//   3. in a fresh folder outside the workspace, `npm install`s the packages by name from that registry with the
//      TensorFlow.js peers — the install log must hold no stack trace — and runs an ESM script, a CommonJS script and
//      a type-checked TypeScript file against them;
//   4. `npx @gm/cli --version` and `npx @gm/cli demo` (the quick demo) from the registry.
// Run after `pnpm build`. Usage: node scripts/check-packages.mjs [--keep] [--no-demo]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startLocalRegistry } from './local-registry.mjs';
import { checkQuietInstall } from './quiet-install.mjs';

const root = resolve(import.meta.dirname, '..');
const keep = process.argv.includes('--keep');
const demo = !process.argv.includes('--no-demo');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', ...opts });

const publishable = (folder) =>
  readdirSync(join(root, folder))
    .map((dir) => join(root, folder, dir))
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({ dir, json: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
    .filter((p) => !p.json.private);
const packages = publishable('packages');
const cli = publishable('apps').find((p) => p.json.name === '@gm/cli');
if (cli === undefined) throw new Error('@gm/cli is private or missing: it must be published');

console.log(`checking ${packages.length} packages: ${packages.map((p) => p.json.name).join(', ')}, and ${cli.json.name}`);
for (const { dir, json } of [...packages, cli]) {
  if (!existsSync(join(dir, 'dist'))) throw new Error(`${json.name}: no dist/ — run pnpm build first`);
  if (!existsSync(join(dir, 'LICENSE')) || readFileSync(join(dir, 'LICENSE'), 'utf8') !== readFileSync(join(root, 'LICENSE'), 'utf8')) {
    throw new Error(`${json.name}: LICENSE must be a copy of the repository's LICENSE (cp LICENSE ${dir.slice(root.length + 1)}/)`);
  }
  console.log(`\n== publint ${json.name}`);
  run(bin('publint'), ['run', dir, '--strict']);
  if (json.types !== undefined) {
    console.log(`== attw ${json.name}`);
    run(bin('attw'), ['--pack', dir, '--format', 'table-flipped']);
  }
}


const work = mkdtempSync(join(tmpdir(), 'gm-release-'));
const registry = await startLocalRegistry(join(work, 'registry'));
try {
  console.log(`\n== publish to the local registry ${registry.url} (changeset publish)`);
  run(bin('changeset'), ['publish', '--no-git-tag'], { cwd: root, env: registry.env });
  for (const { json } of [...packages, cli]) {
    const published = execFileSync('npm', ['view', `${json.name}@${json.version}`, 'version'], { cwd: work, env: registry.env, encoding: 'utf8' }).trim();
    if (published !== json.version) throw new Error(`${json.name}@${json.version} is not on the local registry after publishing`);
  }
  const project = join(work, 'consumer');
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'gm-consumer', private: true, type: 'module' }, null, 2));
  const tf = '4.22.0';
  console.log(`\n== npm install from ${registry.url} into a fresh project`);
  const installLog = execFileSync(
    'npm',
    [
      'install', '--no-audit', '--no-fund',
      ...packages.map((p) => p.json.name),
      `@tensorflow/tfjs-core@${tf}`, `@tensorflow/tfjs-layers@${tf}`, `@tensorflow/tfjs-backend-cpu@${tf}`,
      `@tensorflow/tfjs-backend-wasm@${tf}`, 'typescript@5.9.3', '@types/node@20.19.43',
    ],
    { cwd: project, env: registry.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  console.log(installLog.trim());
  checkQuietInstall('npm install of the gm packages', installLog);
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
// @gm/core's subpath of fused ops: one kernel on wasm, the same values as its tfjs-op form.
const ops = await import('@gm/core/ops');
{
  const tf = await import('@tensorflow/tfjs-core');
  const terms = [{ x: tf.tensor2d([[1, 2]]), kernel: tf.tensor2d([[1, -1], [2, 0.5]]), mask: tf.tensor2d([[1, 0], [1, 1]]) }];
  assert.deepEqual(Array.from(ops.fusedDense(terms, { activation: 'elu' }).dataSync()), Array.from(ops.composedDense(terms, { activation: 'elu' }).dataSync()));
}
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
assert.equal(typeof require('@gm/core/ops').fusedDense, 'function');
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
import { fusedDense, type DenseTerm } from '@gm/core/ops';
export const dense = (terms: DenseTerm[]) => fusedDense(terms, { activation: 'relu' });
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

  // The CLI as a user meets it: npx fetches @gm/cli (and its dependencies) from the registry into its own cache.
  const npx = (args) => execFileSync('npx', ['--yes', `${cli.json.name}@${cli.json.version}`, ...args], { cwd: project, env: { ...registry.env, npm_config_cache: join(work, 'npx-cache') }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const version = npx(['--version']).trim();
  if (version !== cli.json.version) throw new Error(`npx ${cli.json.name} --version printed "${version}", expected ${cli.json.version}`);
  console.log(`npx ${cli.json.name} --version: ${version}`);
  if (demo) {
    const out = npx(['demo', '--out', join(work, 'demo')]);
    console.log(out.trim().split('\n').slice(-3).join('\n'));
    if (!existsSync(join(work, 'demo', 'test-digits.gmz'))) throw new Error('npx @gm/cli demo wrote no test-digits.gmz');
    console.log(`npx ${cli.json.name} demo ok`);
  }
} finally {
  registry.stop();
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
