import { describe, expect, it } from 'vitest';
import { bundleForBrowser, PACKAGE_ENTRIES } from '../src/bundle';

describe('every package entry bundles for the browser (esbuild, platform browser, no externals)', () => {
  it.each(PACKAGE_ENTRIES.browser)('%s', async (entry) => {
    const result = await bundleForBrowser(`export * from '${entry}';\n`);
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(true);
    // The whole package went in (not an empty re-export). A Node built-in would have stopped esbuild; tfjs's own
    // `browser` field maps its Node-only imports to empty modules, which is what it ships for browsers.
    expect(result.inputs.some((f) => f.includes(`${entry.split('/')[1]}/dist/`))).toBe(true);
    expect(result.inputs.filter((f) => f.startsWith('node:'))).toEqual([]);
  });

  it.each(PACKAGE_ENTRIES.nodeOnly)('%s is Node-only, and the check sees it (it names the Node built-in)', async (entry) => {
    const result = await bundleForBrowser(`export * from '${entry}';\n`);
    expect(result.ok).toBe(false);
    expect(result.errors.join('\n')).toMatch(/Could not resolve "(node:)?(fs|fs\/promises|zlib|worker_threads|path|os|crypto|url|module|stream)"/);
  });
});
