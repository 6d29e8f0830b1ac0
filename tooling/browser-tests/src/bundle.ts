/**
 * Bundles a module for the browser with esbuild (`platform: 'browser'`, no externals), as an app's bundler would:
 * a package entry that reaches a Node built-in (fs, zlib, worker_threads, module…) fails here.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Message } from 'esbuild';

/** Every public entry of gm's packages, by whether it must bundle for a browser. */
export const PACKAGE_ENTRIES = {
  browser: ['@gm/core', '@gm/data', '@gm/metrics', '@gm/backend', '@gm/layers', '@gm/models', '@gm/bitsback', '@gm/bitsback/testing'],
  /** File IO, gzip and tar, worker threads, Node's zlib: these subpaths exist so the main entries need none of it. */
  nodeOnly: ['@gm/data/node', '@gm/models/node', '@gm/bitsback/node', '@gm/backend/data-parallel'],
} as const;

export interface BundleResult {
  ok: boolean;
  /** esbuild's errors, one line each. */
  errors: string[];
  /** The bundle (when ok). */
  code: string;
  /** Files that went into the bundle. */
  inputs: string[];
}

const HERE = dirname(fileURLToPath(import.meta.url));

/** Bundles `source` (module text resolved from this package, which depends on every gm package) for the browser. */
export async function bundleForBrowser(source: string, options: { minify?: boolean } = {}): Promise<BundleResult> {
  const line = (m: Message): string => `${m.text}${m.location === null ? '' : ` (${m.location.file}:${m.location.line})`}`;
  try {
    const result = await build({
      stdin: { contents: source, resolveDir: HERE, loader: 'ts', sourcefile: 'entry.ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      metafile: true,
      minify: options.minify ?? false,
      logLevel: 'silent',
    });
    return { ok: true, errors: [], code: result.outputFiles[0]?.text ?? '', inputs: Object.keys(result.metafile.inputs) };
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    if (errors === undefined) throw error;
    return { ok: false, errors: errors.map(line), code: '', inputs: [] };
  }
}
