// README code blocks as tests. `readmeBlocks` lists every fenced block of a README with its language and line;
// `runExample` runs a ```js block as an ES module in a fresh Node process, so the documentation cannot drift from
// the packages. Imports resolve as they do in the package whose folder is given (the block is written next to its
// package.json, under a temporary name); the process runs in an empty temporary folder, so files the example
// writes go there. tooling/docs checks every README of the repository with these (see its README checks).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/**
 * Every fenced code block of a README (``` or ~~~, also indented inside list items), each with the heading above
 * it. `lang` is the first word of the info string ('' for a bare fence); `line` is the 1-based line of the opening
 * fence, so the block's code line k (1-based) is README line `line + k`. The fence's indentation is removed from
 * the code.
 * @param {string} readmePath
 * @returns {import('./readme').ReadmeBlock[]}
 */
export function readmeBlocks(readmePath) {
  const lines = readFileSync(readmePath, 'utf8').split('\n');
  const out = [];
  let heading = basename(readmePath);
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]);
    if (!open) {
      const h = /^#{1,6}\s+(.*)$/.exec(lines[i]);
      if (h) heading = h[1].trim();
      continue;
    }
    const [, indent, fence, infoString] = open;
    const info = infoString.trim();
    const lang = info.split(/\s+/)[0] ?? '';
    const closing = new RegExp(`^\\s*\\${fence[0]}{${fence.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !closing.test(lines[end])) end++;
    const code = lines
      .slice(i + 1, end)
      .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
      .join('\n');
    const line = i + 1;
    out.push({ lang, info, heading, title: `${heading} (line ${line})`, line, code, closed: end < lines.length });
    i = end;
  }
  return out;
}

/**
 * The ```js blocks of a README, each with the heading above it.
 * @param {string} readmePath
 * @returns {import('./readme').ReadmeBlock[]}
 */
export function readmeExamples(readmePath) {
  return readmeBlocks(readmePath).filter((b) => b.lang === 'js');
}

/**
 * Runs one example; resolves to its stdout, rejects with its stderr when it exits non-zero or runs out of time.
 * @param {{ title: string; code: string }} example
 * @param {string} packageDir folder of the package.json whose dependencies the example imports
 * @param {{ timeoutMs?: number; where?: string }} [options] `where` names the block in errors (e.g. `README.md:28`)
 * @returns {Promise<string>}
 */
export function runExample(example, packageDir, options = {}) {
  const file = join(packageDir, `.readme-example-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.mjs`);
  const cwd = mkdtempSync(join(tmpdir(), 'gm-readme-'));
  writeFileSync(file, example.code);
  const cleanUp = () => {
    rmSync(file, { force: true });
    rmSync(cwd, { recursive: true, force: true });
  };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [file], { cwd, encoding: 'utf8', timeout: options.timeoutMs ?? 240_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      cleanUp();
      if (!error) return resolve(stdout);
      const why = error.killed ? `killed after ${options.timeoutMs ?? 240_000} ms` : `exit code ${error.code}`;
      reject(new Error(`README example ${options.where ?? ''} "${example.title}" failed (${why}):\n${stderr || error.message}\n${stdout}`));
    });
  });
}
