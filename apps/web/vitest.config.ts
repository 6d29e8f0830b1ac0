import { gmProject } from '@gm/vitest-config';

// The browser test builds the page when dist/ is missing or stale, serves it on 127.0.0.1 and drives Debian's
// Chromium through playwright-core; training in the page runs on a busy 2-core machine, hence the long timeouts.
export default gmProject('web', { testTimeout: 180_000, hookTimeout: 240_000 });
