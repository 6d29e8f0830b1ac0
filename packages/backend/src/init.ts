import type * as NodeModule from 'node:module';
import type * as NodeUrl from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { registerGmAdamKernel } from './gm-adam';
import { prepareGmKernels, type GmSimdFlavour } from './gm-kernels';
import { installWasmConvKernels } from './wasm-conv';
import { installSharingWasmIdentity } from './wasm-identity';
import { installInPlaceWasmSlice } from './wasm-slice';
import { installWasmConcat } from './wasm-concat';
import { installWasmMaxPoolGrad } from './wasm-maxpool-grad';
import { installWasmUnaryKernels } from './wasm-unary';
import { installWasmSum } from './wasm-sum';
import { installWasmDense } from './wasm-dense';
import { installWasmGatedUpdate } from './wasm-gated-update';
import { installWasmBernoulli } from './wasm-bernoulli';
import { installWasmNormal } from './wasm-normal';
import { installReductionGradients } from './reduction-gradients';
import { installReluGradient } from './relu-gradient';
import { installSharedSavedTensors } from './shared-saved-tensors';
import { installTileGradient } from './tile-gradient';
import { installMultiplyGradient } from './multiply-gradient';
import { installFastWasmMatMul } from './wasm-matmul';
import { withoutAddedProcessHandlers } from './node-process-handlers';

/** Backends gm knows how to prepare, fastest first within each environment. */
export type BackendName = 'node' | 'webgl' | 'wasm' | 'cpu';

export const BACKEND_NAMES: readonly BackendName[] = ['node', 'webgl', 'wasm', 'cpu'];

/** The tfjs registry name of each gm backend (tfjs-node registers itself as "tensorflow"). */
const TFJS_NAME: Record<BackendName, string> = { node: 'tensorflow', webgl: 'webgl', wasm: 'wasm', cpu: 'cpu' };

/** Loads the package that registers a backend; throws when it cannot be loaded. */
export type BackendLoader = () => Promise<unknown>;

export interface InitBackendOptions {
  /** Use exactly this backend (no fallback). Takes precedence over the `GM_BACKEND` environment variable. */
  backend?: BackendName;
  /** Where the wasm backend finds its `.wasm` files (a URL prefix or a folder ending in `/`). Browsers served by a
   * bundler usually need this; in Node the files are found inside `@tensorflow/tfjs-backend-wasm`. */
  wasmPaths?: string;
  /** Install gm's fast wasm kernels: MatMul, conv, Sum, Identity and fused Adam (default true). */
  fastMatMul?: boolean;
  /**
   * Let gm's GEMM use relaxed-SIMD FMA when the engine has it (default true; `GM_RELAXED_SIMD=0` also turns it off).
   * In Node 20 this switches on V8's `--experimental-wasm-relaxed-simd` (standard in Node ≥ 22 and Chrome ≥ 114).
   * FMA may round differently across CPUs; with it off, results are the same bits everywhere.
   */
  relaxedSimd?: boolean;
  /** Replace how a backend package is loaded (tests use this to simulate a broken tfjs-node install). */
  loaders?: Partial<Record<BackendName, BackendLoader>>;
  /** Environment to read `GM_BACKEND` from (defaults to `process.env` in Node). */
  env?: Record<string, string | undefined>;
}

export interface SkippedBackend {
  backend: BackendName;
  reason: string;
}

export interface BackendChoice {
  /** The backend now active in tfjs. */
  backend: BackendName;
  /** Why: "forced by option", "forced by GM_BACKEND", or "fastest available". */
  reason: string;
  /** Faster backends that were tried or considered and why each was not used. */
  skipped: SkippedBackend[];
  /** Whether the wasm MatMul overrides are active (always false off wasm). */
  fastMatMul: boolean;
  /** Whether gm's own SIMD kernels (GEMM, fused Adam) run on the wasm heap; false off wasm. */
  gmKernels: boolean;
  /** Why gm's own kernels are not running, when on wasm with fastMatMul and they could not be bound. */
  gmKernelsReason?: string;
  /** The GEMM tile gm's kernels use: relaxed-SIMD FMA or SIMD128 mul + add. */
  gmSimd?: GmSimdFlavour;
  /** All of the above in one line for a log, e.g. "wasm with gm's SIMD kernels (relaxed) — fastest available; skipped node: not installed". */
  summary: string;
}

const TFJS_NODE_PACKAGE = '@tensorflow/tfjs-node';

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Candidates in order of preference for this environment. */
function candidates(): BackendName[] {
  return isNode ? ['node', 'wasm', 'cpu'] : ['webgl', 'wasm', 'cpu'];
}

// Dynamic imports keep every backend package optional: a missing or broken one is skipped, not fatal.
const defaultLoaders: Record<BackendName, BackendLoader> = {
  node: () => importFromHereOrApp(TFJS_NODE_PACKAGE, process.argv[1]),
  webgl: async () => {
    // webgl is registered by the app importing @tensorflow/tfjs-backend-webgl; gm does not depend on it.
    if (tf.findBackendFactory('webgl') === null) throw new Error('@tensorflow/tfjs-backend-webgl is not loaded');
  },
  wasm: () => import('@tensorflow/tfjs-backend-wasm'),
  cpu: () => import('@tensorflow/tfjs-backend-cpu'),
};

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * Imports `specifier` as @gm/backend sees it, or else as the running app sees it. An optional backend such as
 * tfjs-node is usually a dependency of the app, not of @gm/backend: in a pnpm workspace (or with a linked @gm/backend)
 * the package is then invisible from here, so resolve it from the app's entry script (`process.argv[1]`) as well.
 */
export async function importFromHereOrApp(specifier: string, appEntry: string | undefined): Promise<unknown> {
  try {
    // A variable specifier: bundlers must not try to pack native packages such as tfjs-node into browser builds.
    return await import(/* @vite-ignore */ specifier);
  } catch (error) {
    if (!isModuleNotFound(error) || appEntry === undefined || appEntry === '') throw error;
    // Variable specifiers again: a browser bundle of this package must not pull in Node's built-ins (Node only).
    const [nodeModule, nodeUrl] = ['node:module', 'node:url'];
    const [{ createRequire }, { pathToFileURL }] = (await Promise.all([import(/* @vite-ignore */ nodeModule), import(/* @vite-ignore */ nodeUrl)])) as [
      typeof NodeModule,
      typeof NodeUrl,
    ];
    let resolved: string;
    try {
      resolved = createRequire(appEntry).resolve(specifier);
    } catch {
      throw error;
    }
    return import(/* @vite-ignore */ pathToFileURL(resolved).href);
  }
}

function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}

function parseBackendName(value: string, source: string): BackendName {
  const name = value.trim().toLowerCase();
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new Error(`${source}: unknown backend "${value}"; expected one of ${BACKEND_NAMES.join(', ')}`);
}

async function tryBackend(name: BackendName, options: InitBackendOptions): Promise<void> {
  const loader = options.loaders?.[name] ?? defaultLoaders[name];
  const module = await loader();
  if (name === 'wasm' && options.wasmPaths !== undefined) {
    const wasm = module as { setWasmPaths?: (prefix: string) => void };
    wasm.setWasmPaths?.(options.wasmPaths);
  }
  const tfjsName = TFJS_NAME[name];
  if (tf.findBackendFactory(tfjsName) === null) throw new Error(`loading it registered no "${tfjsName}" backend`);
  // The wasm module starts here, and with it Emscripten's process handlers (see node-process-handlers.ts).
  await withoutAddedProcessHandlers(async () => {
    const ok = await tf.setBackend(tfjsName);
    if (!ok) throw new Error(`tfjs could not initialise the "${tfjsName}" backend`);
    await tf.ready();
  });
}

/**
 * Chooses and initialises the fastest TensorFlow.js backend available, and says why.
 *
 * Order in Node: `node` (when `@tensorflow/tfjs-node` loads) → `wasm` → `cpu`; in browsers: `webgl` (when the app
 * has imported `@tensorflow/tfjs-backend-webgl`) → `wasm` → `cpu`. `options.backend` or `GM_BACKEND=node|wasm|cpu`
 * force one backend and fail loudly if it cannot start. On wasm the fast MatMul kernels are installed, and a correct
 * MaxPoolGrad (tfjs-wasm 4.22's misroutes the gradient of windows whose values are all ≤ 0). Some gradients are
 * replaced too (Tile's on every backend; Sum's and Mean's on wasm): load `@tensorflow/tfjs-layers` (or `@gm/models`,
 * which imports it) before calling this, because its bundle registers tfjs's stock gradients again when it loads.
 *
 * @example
 * ```ts
 * import { initBackend } from '@gm/backend';
 * const choice = await initBackend();
 * console.log(`tfjs backend: ${choice.backend} (${choice.reason})`);
 * for (const s of choice.skipped) console.log(`  skipped ${s.backend}: ${s.reason}`);
 * ```
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendChoice> {
  const env = options.env ?? (isNode ? process.env : {});
  let forced: BackendName | undefined;
  let reason = 'fastest available';
  if (options.backend !== undefined) {
    forced = parseBackendName(options.backend, 'initBackend option "backend"');
    reason = 'forced by option';
  } else if (env.GM_BACKEND !== undefined && env.GM_BACKEND !== '') {
    forced = parseBackendName(env.GM_BACKEND, 'environment variable GM_BACKEND');
    reason = 'forced by GM_BACKEND';
  }

  const skipped: SkippedBackend[] = [];
  let chosen: BackendName | undefined;
  if (forced !== undefined) {
    try {
      await tryBackend(forced, options);
    } catch (error) {
      throw new Error(`gm backend "${forced}" (${reason}) could not start: ${message(error)}`);
    }
    chosen = forced;
  } else {
    for (const name of candidates()) {
      try {
        await tryBackend(name, options);
        chosen = name;
        break;
      } catch (error) {
        const missing = isModuleNotFound(error) && name === 'node';
        skipped.push({ backend: name, reason: missing ? `not installed (npm i ${TFJS_NODE_PACKAGE} to use it)` : message(error) });
      }
    }
    if (chosen === undefined) {
      const why = skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
      throw new Error(`gm found no TensorFlow.js backend that starts (${why})`);
    }
  }

  // A correctness fix, not a speed-up, so also without the fast kernels: tfjs-wasm 4.22's MaxPoolGrad sends the
  // gradient of a window whose values are all ≤ 0 to the wrong pixel.
  if (chosen === 'wasm') installWasmMaxPoolGrad();
  // Every backend: tfjs's Tile gradient runs two kernels per tile (a broadcast over a batch of images: thousands).
  installTileGradient();
  // Every backend: tfjs's Multiply gradient casts float32 operands to float32, a kernel per operand per product.
  installMultiplyGradient();
  let fastMatMul = false;
  let gmKernels = false;
  let gmKernelsReason: string | undefined;
  let gmSimd: GmSimdFlavour | undefined;
  if (chosen === 'wasm' && options.fastMatMul !== false) {
    fastMatMul = installFastWasmMatMul().length === 2;
    installSharingWasmIdentity();
    installSharedSavedTensors();
    installInPlaceWasmSlice();
    installWasmConcat();
    // @gm/core/ops' fusedDense, gatedUpdate, bernoulliLogProb, normalSample and standardNormalLogProb as one dispatch
    // each way (on tfjs-wasm's kernels or JavaScript where gm's are not bound).
    installWasmDense();
    installWasmGatedUpdate();
    installWasmBernoulli();
    installWasmNormal();
    // Without gm's kernels bound, the MatMul overrides fall back to explicit transposes + XNNPACK.
    const relaxedSimd = options.relaxedSimd ?? env.GM_RELAXED_SIMD !== '0';
    const status = await prepareGmKernels(tf.backend(), { relaxedSimd });
    gmKernels = status.ready;
    gmKernelsReason = status.reason;
    gmSimd = status.flavour;
    if (gmKernels) {
      registerGmAdamKernel();
      installWasmConvKernels();
      installWasmSum();
      installWasmUnaryKernels();
      installReductionGradients();
      installReluGradient();
    }
  }
  const choice = {
    backend: chosen,
    reason,
    skipped,
    fastMatMul,
    gmKernels,
    ...(gmKernelsReason ? { gmKernelsReason } : {}),
    ...(gmSimd ? { gmSimd } : {}),
  };
  return { ...choice, summary: describeBackend(choice) };
}

/** One line on a backend choice: what runs, with which kernels, why, and what was skipped. */
export function describeBackend(choice: Omit<BackendChoice, 'summary'>): string {
  const kernels = choice.gmKernels
    ? ` with gm's SIMD kernels (${choice.gmSimd ?? 'simd128'})`
    : choice.fastMatMul
      ? ' with fast MatMul kernels'
      : choice.backend === 'wasm'
        ? ` with tfjs's stock kernels${choice.gmKernelsReason ? ` (${choice.gmKernelsReason})` : ''}`
        : '';
  const skipped = choice.skipped.length === 0 ? '' : `; skipped ${choice.skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`;
  return `${choice.backend}${kernels} — ${choice.reason}${skipped}`;
}

/** The gm name of the backend tfjs is running now, or undefined if it is not one gm prepares. */
export function currentBackend(): BackendName | undefined {
  const active = tf.getBackend();
  return BACKEND_NAMES.find((name) => TFJS_NAME[name] === active);
}
