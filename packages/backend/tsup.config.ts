import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    // Node only: worker_threads. A subpath of its own keeps the main entry browser-safe.
    'data-parallel': 'src/data-parallel/index.ts',
    // Spawned by the trainer (never imported): found next to the built trainer as data-parallel-worker.js.
    'data-parallel-worker': 'src/data-parallel/worker.ts',
  },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', 'data-parallel': 'src/data-parallel/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // import.meta.url (the worker's location) in the CommonJS build.
  shims: true,
});
