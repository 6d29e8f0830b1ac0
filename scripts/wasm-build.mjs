/**
 * What gm's wasm build scripts (packages/backend/scripts/build-native.mjs, packages/bitsback/scripts/build-native.mjs)
 * share: compiling C with clang and wasm text with wat2wasm, refusing modules with static data, and writing the
 * modules base64-encoded into a committed TypeScript file — or, with --check (CI), failing when the committed file
 * differs from what the sources build to. One copy, so the two packages cannot drift apart in what they refuse.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Section ids present in a wasm binary (https://webassembly.github.io/spec/core/binary/modules.html#sections). */
export function sectionIds(bytes) {
  const ids = [];
  let offset = 8;
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[offset++];
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  };
  while (offset < bytes.length) {
    const id = bytes[offset++];
    const size = leb();
    ids.push(id);
    offset += size;
  }
  return ids;
}

/** Throws when a module has a data or data-count section: gm's kernels must not use static data. */
export function refuseStaticData(name, bytes) {
  const forbidden = { 11: 'data', 12: 'data count' };
  const ids = sectionIds(bytes);
  for (const [id, what] of Object.entries(forbidden)) {
    if (ids.includes(Number(id))) {
      throw new Error(`${name}: the build produced a ${what} section; the kernels must not use static data`);
    }
  }
}

/**
 * Refuses a module whose code reads or writes a global: in these modules the only one is wasm-ld's stack pointer, so
 * a function that touches it keeps a C stack frame (an array indexed in a loop, an address-taken local) at a fixed
 * address inside the heap the module shares. Disassembles with wabt's wasm2wat.
 */
export function refuseStackUse(name, work, bytes) {
  const path = join(work, 'stack-check.wasm');
  writeFileSync(path, bytes);
  const text = execFileSync('wasm2wat', [path], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (/\bglobal\.(get|set)\b/.test(text)) {
    throw new Error(`${name}: the build uses the C stack (its code reads or writes the stack pointer); keep every function's state in locals (no arrays indexed in loops, no address-taken locals)`);
  }
}

/** Runs `build(work)` with a fresh temporary directory, removed afterwards. */
export function withWorkDir(build) {
  const work = mkdtempSync(join(tmpdir(), 'gm-native-'));
  try {
    return build(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Compiles one C file with clang and the given flags; returns the module's bytes. */
export function compileC(work, source, flags, outName = 'module.wasm') {
  const out = join(work, outName);
  execFileSync('clang', [...flags, '-o', out, source], { stdio: 'inherit' });
  return readFileSync(out);
}

/** Assembles wasm text with wat2wasm (extra flags e.g. --enable-relaxed-simd); returns the module's bytes. */
export function assembleWat(work, name, text, flags = []) {
  const watFile = join(work, `${name}.wat`);
  const out = join(work, `${name}.wasm`);
  writeFileSync(watFile, text);
  execFileSync('wat2wasm', [...flags, watFile, '-o', out], { stdio: 'inherit' });
  return readFileSync(out);
}

/** Lower-case hex SHA-256 of the byte arrays, in order. */
export function sha256Of(...parts) {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** `export const NAME = ['…', '…'].join('');` holding the bytes as base64, preceded by a comment with their size and sha256. */
export function base64Constant(name, bytes) {
  const lines = Buffer.from(bytes).toString('base64').match(/.{1,112}/g) ?? [];
  return (
    `// ${bytes.length} bytes, sha256 ${sha256Of(bytes)}\n` +
    // An array joined once, not a chain of + (a parser recurses once per +: ESLint's overflowed its stack at ~1,100).
    `export const ${name} = [\n` +
    lines.map((line) => `  '${line}',`).join('\n') +
    `\n].join('');\n`
  );
}

/**
 * Writes `text` to `target` (through a temporary file, so a failed write never leaves half a file), or with `check`
 * compares it to the committed file and sets exit status 1 when they differ (process.exitCode, not process.exit, so
 * withWorkDir still removes its directory). `messages.stale` is printed on a difference, `messages.ok` /
 * `messages.wrote` on success.
 */
export function writeOrCheck(target, text, check, messages) {
  if (check) {
    let committed = '';
    try {
      committed = readFileSync(target, 'utf8');
    } catch {
      // Missing file: reported below as a difference.
    }
    if (committed !== text) {
      console.error(messages.stale);
      process.exitCode = 1;
      return;
    }
    console.log(messages.ok);
  } else {
    const temporary = `${target}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, target);
    console.log(messages.wrote);
  }
}
