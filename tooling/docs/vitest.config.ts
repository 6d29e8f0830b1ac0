import { gmProject } from '@gm/vitest-config';

// README examples run two at a time (each in its own Node process); TypeDoc and tsc take a while on 2 busy cores.
export default gmProject('docs', { testTimeout: 300_000, hookTimeout: 300_000, maxConcurrency: 2 });
