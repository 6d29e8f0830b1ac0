import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // gradient kernels for the training-step test
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { currentBackend, importFromHereOrApp, initBackend } from './init';
import { isFastWasmMatMulInstalled } from './wasm-matmul';
import { supportsRelaxedSimd } from './gm-kernels';

/** What a failed native install of @tensorflow/tfjs-node throws when required. */
const brokenTfjsNode = async () => {
  throw new Error(
    'The specified module could not be found.\n/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node',
  );
};

describe('initBackend', () => {
  it('picks wasm with fast MatMul when tfjs-node cannot load, and says why node was skipped', async () => {
    const choice = await initBackend({ loaders: { node: brokenTfjsNode }, env: {} });
    expect(choice.summary).toMatch(/^wasm with gm's SIMD kernels \((relaxed|simd128)\) — fastest available; skipped node: The specified module could not be found\.$/);
    expect(choice.backend).toBe('wasm');
    expect(choice.reason).toBe('fastest available');
    expect(choice.skipped).toEqual([{ backend: 'node', reason: 'The specified module could not be found.' }]);
    expect(choice.fastMatMul).toBe(true);
    expect(isFastWasmMatMulInstalled()).toBe(true);
    expect(tf.getBackend()).toBe('wasm');
    expect(currentBackend()).toBe('wasm');
    // gm's own kernels are bound to the wasm heap, with the relaxed-SIMD tile where this Node can run it.
    expect(choice.gmKernels).toBe(true);
    expect(choice.gmSimd).toBe((await supportsRelaxedSimd()) ? 'relaxed' : 'simd128');
    for (const kernel of ['GmAdam', 'Conv2DBackpropFilter']) expect(tf.getKernel(kernel, 'wasm')).toBeDefined();
  });

  it('falls back when tfjs-node is simply not installed (the real loader)', async () => {
    const choice = await initBackend({ env: {} });
    // On machines where tfjs-node does load this would be "node"; here its native library cannot be fetched.
    expect(['node', 'wasm']).toContain(choice.backend);
    if (choice.backend === 'wasm') expect(choice.skipped.map((s) => s.backend)).toEqual(['node']);
  });

  it('falls through to cpu when wasm fails too', async () => {
    const choice = await initBackend({
      loaders: { node: brokenTfjsNode, wasm: async () => Promise.reject(new Error('no wasm here')) },
      env: {},
    });
    expect(choice.backend).toBe('cpu');
    expect(choice.skipped.map((s) => s.backend)).toEqual(['node', 'wasm']);
    expect(choice.skipped[1]?.reason).toBe('no wasm here');
    expect(choice.fastMatMul).toBe(false);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('is forced by option', async () => {
    const choice = await initBackend({ backend: 'cpu', env: {} });
    expect(choice).toMatchObject({ backend: 'cpu', reason: 'forced by option', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('is forced by GM_BACKEND, and the option wins over it', async () => {
    expect(await initBackend({ env: { GM_BACKEND: 'cpu' } })).toMatchObject({
      backend: 'cpu',
      reason: 'forced by GM_BACKEND',
    });
    expect(await initBackend({ env: { GM_BACKEND: ' WASM ' } })).toMatchObject({ backend: 'wasm', fastMatMul: true });
    expect(await initBackend({ backend: 'cpu', env: { GM_BACKEND: 'wasm' } })).toMatchObject({ backend: 'cpu' });
  });

  it('reads GM_BACKEND from process.env by default', async () => {
    const saved = process.env.GM_BACKEND;
    process.env.GM_BACKEND = 'cpu';
    try {
      expect((await initBackend()).reason).toBe('forced by GM_BACKEND');
    } finally {
      if (saved === undefined) delete process.env.GM_BACKEND;
      else process.env.GM_BACKEND = saved;
    }
  });

  it('rejects an unknown backend name with a clear error', async () => {
    await expect(initBackend({ env: { GM_BACKEND: 'gpu' } })).rejects.toThrow(
      'environment variable GM_BACKEND: unknown backend "gpu"; expected one of node, webgl, wasm, cpu',
    );
  });

  it('fails loudly when a forced backend cannot start', async () => {
    await expect(initBackend({ backend: 'node', loaders: { node: brokenTfjsNode } })).rejects.toThrow(
      'gm backend "node" (forced by option) could not start: The specified module could not be found.',
    );
  });

  it('can leave the stock wasm kernels in place', async () => {
    const { uninstallFastWasmMatMul } = await import('./wasm-matmul');
    uninstallFastWasmMatMul();
    const choice = await initBackend({ backend: 'wasm', fastMatMul: false });
    expect(choice.fastMatMul).toBe(false);
    expect(isFastWasmMatMulInstalled()).toBe(false);
  });
});

describe('importFromHereOrApp', () => {
  it("finds a package that only the running app depends on (e.g. tfjs-node in a workspace app)", async () => {
    const app = mkdtempSync(join(tmpdir(), 'gm-app-'));
    try {
      const pkg = join(app, 'node_modules', 'gm-only-the-app-has-this');
      mkdirSync(pkg, { recursive: true });
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'gm-only-the-app-has-this', main: 'index.js' }));
      writeFileSync(join(pkg, 'index.js'), 'module.exports = { answer: 42 };');
      writeFileSync(join(app, 'main.js'), '');
      const loaded = (await importFromHereOrApp('gm-only-the-app-has-this', join(app, 'main.js'))) as { default: { answer: number } };
      expect(loaded.default.answer).toBe(42);
      // Without the app's entry the package is not visible from @gm/backend: the original error is kept.
      await expect(importFromHereOrApp('gm-only-the-app-has-this', undefined)).rejects.toThrow(/Cannot find (package|module)/);
      await expect(importFromHereOrApp('gm-nobody-has-this', join(app, 'main.js'))).rejects.toThrow(/Cannot find (package|module)/);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});

describe('training on the chosen backend', () => {
  it.each(['wasm', 'cpu'] as const)('keeps tf.memory().numTensors flat across steps on %s', async (backend) => {
    await initBackend({ backend });
    const w1 = tf.variable(tf.randomNormal([20, 16], 0, 0.1, 'float32', 1));
    const w2 = tf.variable(tf.randomNormal([16, 20], 0, 0.1, 'float32', 2));
    const x = tf.randomUniform([8, 20], 0, 1, 'float32', 3);
    const optimizer = tf.train.adam(1e-2);
    const step = () =>
      optimizer.minimize(() => tf.mean(tf.square(tf.sub(tf.matMul(tf.relu(tf.matMul(x, w1)), w2), x))), true);
    step()?.dispose(); // Adam allocates its moment variables on the first step
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const loss = step() as tf.Scalar;
      losses.push(loss.dataSync()[0] as number);
      loss.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(losses.at(-1)).toBeLessThan(losses[0] as number); // it does learn
    optimizer.dispose();
    tf.dispose([w1, w2, x]);
  });
});

describe('initBackend in a user\u2019s program', () => {
  const PACKAGE = join(import.meta.dirname, '..');
  const run = (code: string) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: PACKAGE, encoding: 'utf8', env: { ...process.env, GM_BACKEND: 'wasm' } });

  it.each([
    ['a throw in a timer', "setTimeout(() => { throw new Error('the user\\'s own bug'); }, 1);"],
    ['an unhandled rejection', "Promise.reject(new Error('the user\\'s own bug'));"],
  ])('leaves errors in the user\u2019s code the user\u2019s after wasm started: %s exits 1 with its own message', (_name, bug) => {
    const r = run(`import { initBackend } from '@gm/backend';\nconst c = await initBackend();\nconsole.log(c.summary);\n${bug}`);
    expect(r.stdout).toMatch(/^wasm with gm's SIMD kernels \((relaxed|simd128)\) — forced by GM_BACKEND/);
    expect(r.status).toBe(1); // Emscripten's rethrowing handlers made it 7
    expect(r.stderr).toMatch(/Error: the user's own bug\n\s+at /);
    expect(r.stderr).not.toMatch(/tf-backend-wasm/); // no dump of tfjs's source
  });
});
