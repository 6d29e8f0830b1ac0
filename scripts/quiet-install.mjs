#!/usr/bin/env node
// An install must be quiet and honest: a stack trace or an error line in its log (a failed install script, such as
// tfjs-node's native download that cannot reach its server) fails the check even when the install "succeeded".
// Used by check-packages.mjs on the consumer's npm install and by .ci/run on the workspace's pnpm install:
//   node scripts/quiet-install.mjs <install.log>
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const NOISE = [/^\s*at .+[(:]\d+/, /Unhandled 'error' event/, /^npm (ERR|error)/, /ELIFECYCLE|install: Failed|\bFailed\b.*install/];

/** The first line of `log` that shows a stack trace or an install error, or undefined. */
export function noisyLine(log) {
  return log.split('\n').find((line) => NOISE.some((re) => re.test(line)));
}

/** Throws when `log` shows a stack trace or an install error. */
export function checkQuietInstall(what, log) {
  const line = noisyLine(log);
  if (line === undefined) return;
  const lines = log.split('\n');
  const at = lines.indexOf(line);
  const context = lines.slice(Math.max(0, at - 8), at + 8).join('\n');
  throw new Error(`${what} printed a stack trace or an error (first: "${line.trim()}"); around it:\n${context}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: node scripts/quiet-install.mjs <install.log>');
    process.exit(2);
  }
  try {
    checkQuietInstall(`the install logged in ${file}`, readFileSync(file, 'utf8'));
    console.log(`${file}: no stack trace, no install error`);
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
