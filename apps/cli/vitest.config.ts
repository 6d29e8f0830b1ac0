import { gmProject } from '@gm/vitest-config';

// CLI tests run the built `gm` as a subprocess, as a user would; `pnpm test` builds first.
export default gmProject('cli', { testTimeout: 180_000, hookTimeout: 180_000 });
