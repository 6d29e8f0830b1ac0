// The README checks catch drift: each check on made-up README text that breaks it, and on text that does not.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLinks, checkPlaceholders, checkShellBlock, classProblem, classifiedBlocks, headingSlug, typecheckBlocks, type ClassifiedBlock } from '../src/index';

const dir = mkdtempSync(join(tmpdir(), 'gm-docs-checks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The blocks of `markdown`, as if it were the README at `readme`. */
function blocksOf(readme: string, markdown: string): ClassifiedBlock[] {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.md`);
  writeFileSync(file, markdown);
  return classifiedBlocks(readme, file);
}

const sh = (readme: string, code: string): ClassifiedBlock => ({
  lang: 'sh',
  info: 'sh',
  heading: 'h',
  title: 'h (line 10)',
  line: 10,
  code,
  closed: true,
  readme,
  where: `${readme}:10`,
  blockClass: 'shell',
});

describe('classes', () => {
  it('a bare fence, an unknown language and an unclosed fence are problems naming the README line', () => {
    const blocks = blocksOf('apps/cli/README.md', '# t\n\n```\nout\n```\n\n```bash\nls\n```\n\n- item\n\n  ```js\n  console.log(1);\n  ```\n\n```ts\nlet x = 1;\n');
    expect(blocks.map((b) => [b.line, b.lang, b.blockClass])).toEqual([
      [3, '', undefined],
      [7, 'bash', undefined],
      [13, 'js', 'run'],
      [17, 'ts', 'typecheck'],
    ]);
    expect(blocks[2]?.code).toBe('console.log(1);');
    expect(blocks.map(classProblem)).toEqual([
      expect.stringMatching(/^apps\/cli\/README\.md:3: a bare ``` block \(no language\) is in no class/),
      expect.stringMatching(/^apps\/cli\/README\.md:7: a ```bash block is in no class/),
      undefined,
      'apps/cli/README.md:17: the ```ts block is never closed',
    ]);
  });
});

describe('sh blocks', () => {
  it('gm commands, flags, flag choices and argument choices must be what `gm --help` says', () => {
    expect(checkShellBlock(sh('apps/cli/README.md', 'gm train vae --epochs 3 --architecture conv   # fine\ngm demo --json > r.json && gm bench --quick --suite vae-step'))).toEqual([]);
    expect(
      checkShellBlock(sh('apps/cli/README.md', 'gm train vae --epoch 3\ngm train vea\ngm train vae --architecture cnn\ngm frobnicate --n 2\ngm eval --model m --k')),
    ).toEqual([
      'apps/cli/README.md:11: gm train vae --epoch 3: `gm train --help` lists no --epoch',
      expect.stringMatching(/^apps\/cli\/README\.md:12: gm train vea: "vea" is not one of gm train's choices \(vae, /),
      'apps/cli/README.md:13: gm train vae --architecture cnn: --architecture cnn is not one of its choices (mlp, conv)',
      expect.stringMatching(/^apps\/cli\/README\.md:14: gm frobnicate --n 2: gm has no command "frobnicate"/),
      'apps/cli/README.md:15: gm eval --model m --k: --k needs a value',
    ]);
  });

  it('node scripts must exist and define the flags used; node apps/cli/dist/gm.js is gm', () => {
    expect(checkShellBlock(sh('packages/bitsback/README.md', 'node scripts/bench-rans.mjs [--symbols N] [--lanes L]\nnode ../../apps/cli/dist/gm.js sample --n 4'))).toEqual([]);
    expect(checkShellBlock(sh('packages/bitsback/README.md', 'node scripts/bench-rans.mjs --symbol 5\nnode scripts/nope.mjs\nnode ../../apps/cli/dist/gm.js sample --count 4'))).toEqual([
      'packages/bitsback/README.md:11: node scripts/bench-rans.mjs --symbol: packages/bitsback/scripts/bench-rans.mjs defines no --symbol option',
      'packages/bitsback/README.md:12: node scripts/nope.mjs: packages/bitsback/scripts/nope.mjs does not exist (commands run in packages/bitsback)',
      'packages/bitsback/README.md:13: gm sample --count 4: `gm sample --help` lists no --count',
    ]);
  });

  it('pnpm scripts, the pinned pnpm, npm packages and unknown commands', () => {
    expect(checkShellBlock(sh('README.md', 'npx -y pnpm@9.15.9 install --frozen-lockfile && npx -y pnpm@9.15.9 demo\npnpm --filter @gm/web... build\npnpm run docs'))).toEqual([]);
    expect(
      checkShellBlock(sh('README.md', 'npx -y pnpm@9.15.8 test\npnpm demoo\npnpm --filter @gm/webb dev\nnpm install @gm/models @gm/docs left-pad\nrm -rf out\npnpm docs')),
    ).toEqual([
      'README.md:11: pnpm@9.15.8: the root package.json pins pnpm@9.15.9',
      'README.md:12: pnpm demoo: package.json has no "demoo" script',
      'README.md:13: pnpm --filter @gm/webb dev: no workspace package is called @gm/webb',
      'README.md:14: npm install @gm/docs: neither a published gm package nor a dependency of one',
      'README.md:14: npm install left-pad: neither a published gm package nor a dependency of one',
      'README.md:15: rm: no check knows this command (add one to tooling/docs/src/shell.ts, or show it as text)',
      'README.md:16: pnpm docs: runs pnpm\'s own "docs" command, not the script: write pnpm run docs',
    ]);
  });
});

describe('links', () => {
  it('relative links and anchors must resolve', () => {
    const md = '# A title\n\n## `gm train <model>`\n\nSee [x](#gm-train-model), [y](#a-title), [z](#nope), [w](missing.md) and [v](../core/README.md#gm-core).\n';
    expect(checkLinks('apps/cli/README.md', md)).toEqual([
      'apps/cli/README.md:5: the link to #nope: apps/cli/README.md has no heading with the anchor #nope',
      'apps/cli/README.md:5: the link to missing.md points to nothing (apps/cli/missing.md does not exist)',
      'apps/cli/README.md:5: the link to ../core/README.md#gm-core points to nothing (apps/core/README.md does not exist)',
    ]);
  });

  it('a published package README links to repository files by URL, and the URL must name a file that exists', () => {
    const md = 'Run [the example](scripts/example.mjs); [ok](https://github.com/gm-js/gm/blob/main/packages/layers/scripts/example.mjs); [gone](https://github.com/gm-js/gm/blob/main/packages/layers/scripts/nope.mjs); [odd](https://github.com/gm-js/gm-old/x); `[not a link](scripts/example.mjs)`\n';
    expect(checkLinks('packages/layers/README.md', md)).toEqual([
      expect.stringMatching(
        /^packages\/layers\/README\.md:1: the link to scripts\/example\.mjs works in the repository but not in the npm tarball of @gm\/layers, .* link https:\/\/github\.com\/gm-js\/gm\/blob\/main\/packages\/layers\/scripts\/example\.mjs instead$/,
      ),
      'packages/layers/README.md:1: https://github.com/gm-js/gm/blob/main/packages/layers/scripts/nope.mjs names packages/layers/scripts/nope.mjs, which is not in the repository',
      expect.stringMatching(/^packages\/layers\/README\.md:1: https:\/\/github\.com\/gm-js\/gm-old\/x is not https:\/\/github\.com\/gm-js\/gm, /),
    ]);
    // A private package's README is not published: relative links into the repository are fine there.
    expect(checkLinks('apps/web/README.md', '[s](../../packages/layers/scripts/example.mjs)\n')).toEqual([]);
  });

  it('headings slug as on GitHub; placeholders are found', () => {
    expect(headingSlug('`gm compress` and `gm decompress`')).toBe('gm-compress-and-gm-decompress');
    expect(headingSlug('Data: `--data`')).toBe('data---data');
    expect(checkPlaceholders('README.md', 'a\n```text\nFUZZ_SUMMARY_PLACEHOLDER\n```\nTODO: write\n')).toEqual([
      'README.md:3: a placeholder is left in: FUZZ_SUMMARY_PLACEHOLDER',
      'README.md:5: a placeholder is left in: TODO: write',
    ]);
  });
});

describe('ts blocks', () => {
  it('type errors are reported at their README line, and a syntax error in one block hides no error in another', () => {
    const blocks = blocksOf(
      'packages/core/README.md',
      [
        '# t',
        '```ts',
        "import { mulberry32 } from '@gm/core';",
        'const r: string = mulberry32(1)();',
        '```',
        '```ts',
        'const x = ;',
        '```',
        '```ts',
        "import { permutation } from '@gm/core';",
        'const p: Uint32Array = permutation(4, 1);',
        '```',
      ].join('\n'),
    );
    const errors = typecheckBlocks(blocks);
    expect(errors.get('packages/core/README.md:2')).toEqual([expect.stringMatching(/^packages\/core\/README\.md:4: TS2322 Type 'number' is not assignable to type 'string'/)]);
    expect(errors.get('packages/core/README.md:6')).toEqual([expect.stringMatching(/^packages\/core\/README\.md:7: TS1109 /)]);
    expect(errors.has('packages/core/README.md:9')).toBe(false);
    expect(errors.has('tsc')).toBe(false);
  });
});
