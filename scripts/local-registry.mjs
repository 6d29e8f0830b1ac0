// A private npm registry on 127.0.0.1 (Verdaccio) for the release check: @gm/* packages are published to it and
// nowhere else; everything else is fetched through it from registry.npmjs.org. The registry lives in a temporary
// folder and is gone when stopped.
/* global fetch -- Node 20's built-in fetch */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const root = resolve(import.meta.dirname, '..');

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function waitFor(url, child, log, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with code ${child.exitCode}:\n${log.join('')}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`verdaccio did not answer ${url} within ${ms} ms:\n${log.join('')}`);
}

/**
 * Starts Verdaccio in `dir` and creates a user. Returns the registry URL, an npmrc file that points npm and pnpm at
 * it with that user's token (use it as NPM_CONFIG_USERCONFIG), the environment to run npm/pnpm/changesets with, and
 * `stop()`.
 */
export async function startLocalRegistry(dir) {
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      `storage: ${join(dir, 'storage')}`,
      'auth:',
      `  htpasswd: { file: ${join(dir, 'htpasswd')}, max_users: 1 }`,
      'uplinks:',
      '  npmjs: { url: https://registry.npmjs.org/, timeout: 60s }',
      'packages:',
      "  '@gm/*': { access: $all, publish: $authenticated }",
      "  '**': { access: $all, publish: $authenticated, proxy: npmjs }",
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const log = [];
  const child = spawn(process.execPath, [join(root, 'node_modules', 'verdaccio', 'bin', 'verdaccio'), '--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (b) => log.push(String(b)));
  child.stderr.on('data', (b) => log.push(String(b)));
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  try {
    await waitFor(`${url}-/ping`, child, log, 30_000);
    const res = await fetch(`${url}-/user/org.couchdb.user:gm-ci`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'gm-ci', password: `gm-ci-${port}-${Date.now()}` }),
    });
    const { token } = await res.json();
    if (!res.ok || typeof token !== 'string') throw new Error(`verdaccio refused to create a user (${res.status})`);
    const npmrc = join(dir, 'npmrc');
    writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\nfund=false\naudit=false\nupdate-notifier=false\n`);
    const env = { ...process.env, NPM_CONFIG_USERCONFIG: npmrc, npm_config_userconfig: npmrc, npm_config_registry: url, NPM_CONFIG_REGISTRY: url };
    return { url, npmrc, env, stop, log };
  } catch (error) {
    stop();
    throw error;
  }
}
