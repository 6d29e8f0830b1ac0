import { createRequire } from 'node:module';

/** The published package's own version (the built files sit one folder below package.json, in the repo and installed). */
export const cliVersion: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
