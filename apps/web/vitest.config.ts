import { gmProject } from '@gm/vitest-config';

// The browser tests serve dist/ on 127.0.0.1 and drive Debian's Chromium through playwright-core; the page is built
// once first (test/global-setup.ts). Training in the page runs on a busy 2-core machine, hence the long timeouts.
export default gmProject('web', { testTimeout: 180_000, hookTimeout: 240_000, globalSetup: ['test/global-setup.ts'] });
