// README examples as tests: every ```js block of a README runs as an ES module in a fresh Node process, so the
// documentation cannot drift from the packages. Imports resolve as they do in the package (the block is written
// next to its package.json, under a temporary name); the process runs in an empty temporary folder, so files the
// example writes go there.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/**
 * The ```js blocks of a README (```ts and other fences are prose, not run), each with the heading above it.
 * @param {string} readmePath
 * @returns {{ title: string; line: number; code: string }[]}
 */
export function readmeExamples(readmePath) {
  const lines = readFileSync(readmePath, 'utf8').split('\n');
  const out = [];
  let heading = basename(readmePath);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const h = /^#{1,6}\s+(.*)$/.exec(line);
    if (h) heading = h[1].trim();
    if (line.trim() !== '```js') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== '```') end++;
    out.push({ title: `${heading} (line ${start})`, line: start, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return out;
}

/**
 * Runs one example; returns its stdout, throws with its stderr when it exits non-zero.
 * @param {{ title: string; code: string }} example
 * @param {string} packageDir folder of the package.json whose dependencies the example imports
 * @param {{ timeoutMs?: number }} [options]
 */
export function runExample(example, packageDir, options = {}) {
  const file = join(packageDir, `.readme-example-${process.pid}-${Date.now()}.mjs`);
  const cwd = mkdtempSync(join(tmpdir(), 'gm-readme-'));
  writeFileSync(file, example.code);
  try {
    return execFileSync(process.execPath, [file], { cwd, encoding: 'utf8', timeout: options.timeoutMs ?? 240_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = /** @type {{ stderr?: string; stdout?: string; message: string }} */ (error);
    throw new Error(`README example "${example.title}" failed:\n${e.stderr || e.message}\n${e.stdout ?? ''}`);
  } finally {
    rmSync(file, { force: true });
    rmSync(cwd, { recursive: true, force: true });
  }
}
