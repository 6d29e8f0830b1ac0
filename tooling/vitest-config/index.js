// Shared vitest settings for every gm workspace package. Tests run in forked processes (tfjs keeps global
// engine state, so one process per file keeps files independent) with generous timeouts for 2-core CI.
import { defineProject } from 'vitest/config';

/** @param {string} name project name shown in reports @param {import('vitest/config').UserWorkspaceConfig['test']} [test] */
export function gmProject(name, test = {}) {
  return defineProject({
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      environment: 'node',
      pool: 'forks',
      testTimeout: 60_000,
      hookTimeout: 60_000,
      ...test,
    },
  });
}
