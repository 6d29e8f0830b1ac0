import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { loadBundledMnist } from '@gm/data/node';
import { balancedIndices, encodeDigits } from './src/digits-format';

/** Training digits per class and held-out digits per class shipped with the page. */
const TRAIN_PER_CLASS = 100;
const HELD_OUT_PER_CLASS = 4;
const WASM_DIR = 'tfjs-wasm';
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

/** `digits.bin`: real MNIST digits from @gm/data (Node, at build time), 1,000 to train on and 40 held out. */
function digitsAsset(): Uint8Array {
  const { train, test } = loadBundledMnist();
  const pixels = 28 * 28;
  const pick = (from: typeof train, perClass: number) => {
    const idx = balancedIndices(from.labels, perClass);
    const images = new Uint8Array(idx.length * pixels);
    idx.forEach((src, dst) => images.set(from.images.subarray(src * pixels, (src + 1) * pixels), dst * pixels));
    return { images, labels: Uint8Array.from(idx, (i) => from.labels[i] as number) };
  };
  const a = pick(train, TRAIN_PER_CLASS);
  const b = pick(test, HELD_OUT_PER_CLASS);
  const count = a.labels.length + b.labels.length;
  const images = new Uint8Array(count * pixels);
  images.set(a.images);
  images.set(b.images, a.images.length);
  const labels = new Uint8Array(count);
  labels.set(a.labels);
  labels.set(b.labels, a.labels.length);
  return encodeDigits({ images, labels, count, trainCount: a.labels.length, rows: 28, cols: 28 });
}

function wasmFile(name: string): Uint8Array {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  return readFileSync(join(pkg, 'dist', name));
}

/**
 * Ships the page's binary assets: `digits.bin` and tfjs-backend-wasm's `.wasm` files (under `tfjs-wasm/`, the
 * prefix the page passes to `initBackend({ wasmPaths })`). Emitted into the build, served by the dev server.
 */
function gmAssets(): Plugin {
  let digits: Uint8Array | undefined;
  const files = (): Map<string, Uint8Array> => {
    digits ??= digitsAsset();
    const map = new Map<string, Uint8Array>([['digits.bin', digits]]);
    for (const name of WASM_FILES) map.set(`${WASM_DIR}/${name}`, wasmFile(name));
    return map;
  };
  return {
    name: 'gm-web-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = (req.url ?? '').split('?')[0]?.replace(/^\//, '') ?? '';
        const body = path === 'digits.bin' || path.startsWith(`${WASM_DIR}/`) ? files().get(path) : undefined;
        if (body === undefined) return next();
        res.setHeader('Content-Type', path.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream');
        res.end(body);
      });
    },
    generateBundle() {
      for (const [fileName, source] of files()) this.emitFile({ type: 'asset', fileName, source });
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [gmAssets()],
  // The panels' workers import code-split chunks (tfjs, @gm/*), which needs module workers.
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    // tfjs (core, layers, three backends) is one large chunk by nature; say so instead of warning on every build.
    chunkSizeWarningLimit: 2_000,
  },
});
