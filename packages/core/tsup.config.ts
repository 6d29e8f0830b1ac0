import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    // The fused ops import @tensorflow/tfjs-core at run time; the main entry stays free of it (an optional peer).
    ops: 'src/ops/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
