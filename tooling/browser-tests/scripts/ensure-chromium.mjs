#!/usr/bin/env node
// The README's test command runs this first: the browser tests need Debian's Chromium. If it is missing and this
// user may install packages (root, or sudo without a password), install it with apt; otherwise say in one line what
// to install and exit 1, before anything is built.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHROMIUM, CHROMIUM_APT_PACKAGE, MISSING_CHROMIUM } from '../src/chromium-path.js';

const ok = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

if (existsSync(CHROMIUM)) process.exit(0);
const canApt = ok('sh', ['-c', 'command -v apt-get']);
const prefix = process.getuid?.() === 0 ? [] : canApt && ok('sudo', ['-n', 'true']) ? ['sudo', '-n'] : null;
if (!canApt || prefix === null || !CHROMIUM.startsWith('/usr/bin/')) {
  console.error(`gm: ${MISSING_CHROMIUM}`);
  process.exit(1);
}
console.log(`gm: installing Debian's ${CHROMIUM_APT_PACKAGE} for the browser tests (apt-get)`);
const apt = (...args) => {
  const [cmd, ...rest] = [...prefix, 'apt-get', ...args];
  execFileSync(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
};
apt('update', '-qq');
apt('install', '-y', '-qq', CHROMIUM_APT_PACKAGE);
if (!existsSync(CHROMIUM)) {
  console.error(`gm: apt-get installed ${CHROMIUM_APT_PACKAGE} but ${CHROMIUM} is still missing`);
  process.exit(1);
}
