import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { ARROWS } from '../boundaries.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function messages(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${filePath}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the arrows lint rule', () => {
  it('fails a library importing a package above it, naming the allowed arrows', async () => {
    const out = await messages("import { VAE } from '@gm/models';\nexport const v = VAE;\n", 'packages/core/src/forbidden.ts');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/@gm\/core may import no other gm package/);
    const bits = await messages("import { initBackend } from '@gm/backend';\nexport const f = initBackend;\n", 'packages/bitsback/src/forbidden.ts');
    expect(bits[0]).toMatch(/@gm\/bitsback may import @gm\/core/);
    const models = await messages("import { compress } from '@gm/bitsback';\nexport const c = compress;\n", 'packages/models/src/forbidden.ts');
    expect(models[0]).toMatch(/@gm\/models may import @gm\/core, @gm\/data, @gm\/layers, @gm\/metrics/);
    const sub = await messages("import { gmAdam } from '@gm/backend/data-parallel';\nexport const g = gmAdam;\n", 'packages/layers/src/forbidden.ts');
    expect(sub).toHaveLength(1);
  });

  it('allows every arrow of the table', async () => {
    for (const [pkg, allowed] of Object.entries(ARROWS)) {
      for (const dep of allowed) {
        expect(await messages(`import * as m from '@gm/${dep}';\nexport const x = m;\n`, `packages/${pkg}/src/allowed.ts`)).toEqual([]);
      }
    }
  });

  it('fails relative imports into another package or a dist folder, anywhere', async () => {
    expect(await messages("import { x } from '../../data/src/index';\nexport const y = x;\n", 'packages/models/src/forbidden.ts')).toHaveLength(1);
    expect(await messages("import { x } from '../../../packages/models/dist/index.js';\nexport const y = x;\n", 'apps/cli/src/forbidden.ts')).toHaveLength(1);
    expect(await messages("import { x } from './dist/thing';\nexport const y = x;\n", 'apps/bench/src/forbidden.ts')).toHaveLength(1);
    expect(await messages("import { x } from '../util';\nexport const y = x;\n", 'packages/models/src/vae/allowed.ts')).toEqual([]);
  });

  it('lets tests import any package (they are not shipped)', async () => {
    expect(await messages("import { initBackend } from '@gm/backend';\nexport const f = initBackend;\n", 'packages/models/src/vae/x.test.ts')).toEqual([]);
  });
});
