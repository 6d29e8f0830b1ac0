import { gmProject } from '@gm/vitest-config';

// Bundling every entry, training three small models and driving Chromium on a busy 2-core machine: long timeouts.
export default gmProject('browser-tests', { testTimeout: 240_000, hookTimeout: 300_000 });
