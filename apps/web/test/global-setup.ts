/**
 * Builds the page once before the web tests run (the browser test files share dist/, and two builds at once would
 * race): with Vite, unless dist/ is at least as new as the page's sources and shipped files (`pnpm build` has
 * usually just run).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(APP, 'dist');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

export default async function ensureBuild(): Promise<void> {
  const index = join(DIST, 'index.html');
  const sources = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json'].map((p) => newestMtime(join(APP, p)));
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(...sources)) return;
  const started = Date.now();
  const { build } = await import('vite');
  await build({ root: APP, configFile: join(APP, 'vite.config.ts'), logLevel: 'warn' });
  console.log(`[web tests] built the page in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
