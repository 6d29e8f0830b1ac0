/**
 * Benchmark: the reference VAE step's GEMMs on wasm, one kernel configuration against another, interleaved round by
 * round in this process. Every call gets a right-hand operand in a new buffer (as after every optimizer step), so
 * XNNPACK's cached weight packing does not flatter the stock kernels.
 *   gm relaxed / gm simd128: gm's GEMM with the FMA or the mul + add tile;
 *   xnnpack: gm's overrides without gm's kernels (explicit transposes + stock XNNPACK);
 *   stock: tfjs-wasm as shipped (transposed products take its naive loop).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, prepareGmKernels, releaseGmKernels, installFastWasmMatMul, uninstallFastWasmMatMul } from '@gm/backend';

export interface GemmRow {
  [key: string]: string | number;
  product: string;
  variant: string;
  msMedian: number;
  gflops: number;
}

/** m×k·k×n with the step's transposes: forward x·W, dx = dy·Wᵀ, dW = xᵀ·dy. */
const SHAPES: Array<{ name: string; a: number[]; b: number[]; ta: boolean; tb: boolean; flops: number }> = [
  { name: 'x·W 128×784·784×512', a: [128, 784], b: [784, 512], ta: false, tb: false, flops: 2 * 128 * 784 * 512 },
  { name: 'dy·Wᵀ 128×784·(512×784)ᵀ', a: [128, 784], b: [512, 784], ta: false, tb: true, flops: 2 * 128 * 784 * 512 },
  { name: 'xᵀ·dy (128×784)ᵀ·128×512', a: [128, 784], b: [128, 512], ta: true, tb: false, flops: 2 * 128 * 784 * 512 },
  { name: 'h·W 128×512·512×256', a: [128, 512], b: [512, 256], ta: false, tb: false, flops: 2 * 128 * 512 * 256 },
];

type Variant = 'gm relaxed' | 'gm simd128' | 'xnnpack' | 'stock';

async function use(variant: Variant): Promise<void> {
  const backend = tf.backend();
  releaseGmKernels(backend);
  if (variant === 'stock') {
    uninstallFastWasmMatMul();
    return;
  }
  installFastWasmMatMul();
  if (variant === 'gm relaxed') await prepareGmKernels(backend, { relaxedSimd: true });
  if (variant === 'gm simd128') await prepareGmKernels(backend, { relaxedSimd: false });
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)] as number;
}

export async function runGemmBench(options: { rounds?: number; repeats?: number } = {}): Promise<{ rows: GemmRow[]; notes: string[] }> {
  const rounds = options.rounds ?? 5;
  const repeats = options.repeats ?? 5;
  const choice = await initBackend({ backend: 'wasm' });
  const variants: Variant[] = choice.gmSimd === 'relaxed' ? ['gm relaxed', 'gm simd128', 'xnnpack', 'stock'] : ['gm simd128', 'xnnpack', 'stock'];
  const times = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      await use(variant);
      for (const shape of SHAPES) {
        const a = tf.randomNormal(shape.a, 0, 1, 'float32', 1);
        const base = tf.randomNormal(shape.b, 0, 1, 'float32', 2);
        for (let r = 0; r < repeats + 1; r++) {
          const b = tf.mul(base, 1); // a new buffer, as after an optimizer step
          const t0 = performance.now();
          const c = tf.matMul(a, b, shape.ta, shape.tb);
          c.dataSync();
          const ms = performance.now() - t0;
          if (r > 0) {
            const key = `${shape.name}|${variant}`;
            times.set(key, [...(times.get(key) ?? []), ms]);
          }
          tf.dispose([b, c]);
        }
        tf.dispose([a, base]);
      }
    }
  }
  await use('gm relaxed');
  const rows: GemmRow[] = [];
  for (const shape of SHAPES) {
    for (const variant of variants) {
      const ms = median(times.get(`${shape.name}|${variant}`) ?? []);
      rows.push({ product: shape.name, variant, msMedian: Number(ms.toFixed(2)), gflops: Number((shape.flops / ms / 1e6).toFixed(1)) });
    }
  }
  return {
    rows,
    notes: [
      `median of ${rounds} interleaved rounds × ${repeats} calls; each call's right-hand operand is a new buffer (a new weight version)`,
      'gm = gm GEMM (relaxed: FMA tile; simd128: mul + add); xnnpack = explicit transposes + stock XNNPACK; stock = tfjs-wasm as shipped',
    ],
  };
}
