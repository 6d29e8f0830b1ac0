import { defineConfig } from 'vitest/config';

// One vitest run over every workspace package; each package's vitest.config.ts names its project.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tooling/eslint-config', 'tooling/browser-tests', 'tooling/docs'],
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
    maxWorkers: 2,
    passWithNoTests: true,
  },
});
