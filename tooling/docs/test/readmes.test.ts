// Every README of the repository, every code block in a class: ts blocks type-check (one TypeScript program for
// all), sh blocks name commands, scripts, flags and choices that exist (`gm … --help` is run), json parses; links
// resolve and package READMEs link only to what their npm tarball holds. The js blocks run in readme-examples.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  EXCLUDED_READMES,
  allReadmes,
  checkJsonBlock,
  checkLinks,
  checkPlaceholders,
  checkShellBlock,
  checkedReadmes,
  classProblem,
  classifiedBlocks,
  staleTypecheckOnly,
  typecheckBlocks,
  workspacePackages,
  repoPath,
} from '../src/index';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const readmes = checkedReadmes();
const blocks = readmes.flatMap((r) => classifiedBlocks(r));

describe('which READMEs are checked', () => {
  it('finds the root, package and app READMEs and the bench study; excludes only what EXCLUDED_READMES names', () => {
    const expected = ['README.md', 'apps/bench/src/parallel/README.md'];
    for (const p of workspacePackages()) {
      const readme = join(p.dir, 'README.md');
      if (existsSync(readme)) expected.push(repoPath(readme));
    }
    expect(readmes).toEqual(expect.arrayContaining(expected));
    expect(readmes.length).toBeGreaterThanOrEqual(11);
    for (const excluded of Object.keys(EXCLUDED_READMES)) expect(allReadmes()).toContain(excluded);
    expect(allReadmes().filter((r) => !readmes.includes(r))).toEqual(Object.keys(EXCLUDED_READMES));
  });

  it('the root README runs an example of every package', () => {
    const root = classifiedBlocks('README.md').filter((b) => b.blockClass === 'run');
    const missing = workspacePackages()
      .filter((p) => p.dir.includes('/packages/'))
      .map((p) => p.name)
      .filter((name) => !root.some((b) => b.code.includes(`from '${name}'`)));
    expect(missing).toEqual([]);
  });
});

describe.each(readmes)('%s', (readme) => {
  const own = blocks.filter((b) => b.readme === readme);

  it('every code block is in a class (js runs, ts type-checks, sh is checked, text is output, json parses)', () => {
    expect(own.map(classProblem).filter((p) => p !== undefined)).toEqual([]);
  });

  it('links resolve, and a package README links only to files its npm tarball holds', () => {
    expect(checkLinks(readme)).toEqual([]);
  });

  it('no placeholders', () => {
    expect(checkPlaceholders(readme)).toEqual([]);
  });

  const shell = own.filter((b) => b.blockClass === 'shell');
  if (shell.length > 0) {
    it(`${shell.length} sh block(s): commands, scripts, flags and choices exist`, () => {
      expect(shell.flatMap(checkShellBlock)).toEqual([]);
    });
  }

  const json = own.filter((b) => b.blockClass === 'json');
  if (json.length > 0) {
    it(`${json.length} json block(s) parse`, () => {
      expect(json.flatMap(checkJsonBlock)).toEqual([]);
    });
  }
});

describe('ts blocks type-check against the built packages (one TypeScript program)', () => {
  const typed = blocks.filter((b) => b.blockClass === 'typecheck');
  let errors = new Map<string, string[]>();
  beforeAll(() => {
    errors = typecheckBlocks(typed);
  });

  it('tsc reports nothing outside the blocks', () => {
    expect(errors.get('tsc') ?? []).toEqual([]);
  });
  it('TYPECHECK_ONLY names only blocks that exist', () => {
    expect(staleTypecheckOnly()).toEqual([]);
  });
  it.each(typed.map((b) => [b.where, b] as const))('%s', (where) => {
    expect(errors.get(where) ?? []).toEqual([]);
  });
});
