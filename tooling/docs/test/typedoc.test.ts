// The API reference builds from the doc comments without a warning: TypeDoc with the root typedoc.json (every
// package's entries, treatWarningsAsErrors), rendered into a temporary folder instead of docs/api; its "Defined in"
// links name files of the repository.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO, REPO_URL } from '../src/index';

const out = mkdtempSync(join(tmpdir(), 'gm-typedoc-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('TypeDoc builds the API reference of every package without warnings', async () => {
  const pkg = createRequire(join(REPO, 'package.json')).resolve('typedoc/package.json');
  const bin = join(dirname(pkg), (JSON.parse(readFileSync(pkg, 'utf8')) as { bin: { typedoc: string } }).bin.typedoc);
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(process.execPath, [bin, '--out', out, '--logLevel', 'Warn'], { cwd: REPO, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
  const warnings = output.split('\n').filter((l) => /\[(warning|error)\]/.test(l));
  expect(warnings, `TypeDoc (npx typedoc at the root) reported:\n${output}`).toEqual([]);
  expect(code, output).toBe(0);
  for (const page of ['index.html', 'modules/_gm_core.html']) expect(existsSync(join(out, page)), `${page} in TypeDoc's output`).toBe(true);

  const sources = new Set<string>();
  for (const page of readdirSync(out, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.html'))) {
    for (const m of readFileSync(join(out, page), 'utf8').matchAll(new RegExp(`${REPO_URL}/blob/main/([^"#?]+)`, 'g'))) sources.add(m[1] ?? '');
  }
  expect(sources.size, 'source links in the API reference').toBeGreaterThan(50);
  expect([...sources].filter((f) => !existsSync(join(REPO, f))), 'source links to files that are not in the repository').toEqual([]);
});
