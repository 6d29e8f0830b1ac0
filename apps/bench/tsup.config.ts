import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: [
      'src/main.ts',
      'src/vae-step-worker.ts',
      'src/bitsback/vae-rate.ts',
      // Both-cores study (src/parallel/README.md): workers are separate entry files.
      'src/parallel/bench.ts',
      'src/parallel/bench-cli.ts',
      'src/parallel/threads-step.ts',
      'src/parallel/vae-replica.ts',
      'src/parallel/profile-batch.ts',
    ],
    format: ['esm'],
    sourcemap: true,
    clean: false,
    target: 'es2022',
  },
  {
    // The reference VAE is also used by the gm CLI's demo until @gm/models ships its VAE.
    entry: ['src/reference-vae.ts'],
    format: ['esm'],
    dts: true,
    sourcemap: true,
    target: 'es2022',
  },
]);
