import { gmProject } from '@gm/vitest-config';

// The browser tests serve dist/ on 127.0.0.1 and drive Debian's Chromium through playwright-core; the page is built
// once first (test/global-setup.ts). They run after every other project (groupOrder 1) and one file at a time: the
// long-task test measures the page's main thread while two workers train, and on a 2-core machine shared with other
// test files every task's wall time stretches (a CI run measured 405 ms tasks that take < 62 ms alone). Training in
// the page runs on a busy 2-core machine, hence the long timeouts.
export default gmProject('web', {
  testTimeout: 180_000,
  hookTimeout: 240_000,
  globalSetup: ['test/global-setup.ts'],
  sequence: { groupOrder: 1 },
  fileParallelism: false,
});
