/**
 * How the page and its workers pick a TensorFlow.js backend: @gm/backend's order (webgl, else wasm, else cpu), but not
 * WebGL on a software rasteriser (headless Chromium without a GPU renders WebGL with SwiftShader, where tfjs-webgl
 * trains several times slower than tfjs-wasm). `?backend=` forces one. Works on the main thread and in a worker
 * (WebGL is probed on an OffscreenCanvas there).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl'; // registers webgl so initBackend can pick it
import { BACKEND_NAMES, initBackend, type BackendChoice, type BackendName } from '@gm/backend';

/** What WebGL this browser offers: the renderer's name and whether it is a software rasteriser. */
export interface WebglInfo {
  renderer: string;
  /** SwiftShader, llvmpipe and other CPU rasterisers: tfjs-webgl runs there, but far slower than tfjs-wasm. */
  software: boolean;
}

const SOFTWARE = /swiftshader|llvmpipe|softpipe|software/i;

/** Probes a throw-away WebGL context; undefined when the browser gives none (e.g. GPU disabled and no fallback). */
export function probeWebgl(): WebglInfo | undefined {
  const canvas: HTMLCanvasElement | OffscreenCanvas = typeof document !== 'undefined' ? document.createElement('canvas') : new OffscreenCanvas(1, 1);
  const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
  if (gl === null) return undefined;
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(debug === null ? gl.RENDERER : debug.UNMASKED_RENDERER_WEBGL));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return { renderer, software: SOFTWARE.test(renderer) };
}

/** `?backend=` as a backend name (undefined when absent); a clear error for anything else. */
export function parseBackend(value: string | null): BackendName | undefined {
  if (value === null || value === '') return undefined;
  if ((BACKEND_NAMES as readonly string[]).includes(value) && value !== 'node') return value as BackendName;
  throw new Error(`?backend=${value}: expected one of ${BACKEND_NAMES.filter((b) => b !== 'node').join(', ')}`);
}

/** Starts the backend (`forced`, or the fastest that is not software WebGL); `wasmPaths`: the folder of tfjs's .wasm files. */
export function startBackend(forced: BackendName | undefined, wasmPaths: string): Promise<BackendChoice> {
  return initBackend({
    backend: forced,
    wasmPaths,
    loaders:
      forced === undefined
        ? {
            webgl: async () => {
              if (tf.findBackendFactory('webgl') === null) throw new Error('@tensorflow/tfjs-backend-webgl is not loaded');
              const gl = probeWebgl();
              if (gl === undefined) throw new Error('this browser gives no WebGL context');
              if (gl.software) throw new Error(`WebGL is software-rendered (${gl.renderer}), slower than wasm`);
            },
          }
        : undefined,
  });
}

const PLAIN: Record<string, string> = {
  webgl: 'your graphics card (WebGL)',
  wasm: 'your processor, through WebAssembly with SIMD (wasm)',
  cpu: 'plain JavaScript on your processor (cpu, the slowest)',
};

/** One plain sentence on where the numbers are computed, for a newcomer. */
export function plainSentence(choice: BackendChoice): string {
  return `The models compute on ${PLAIN[choice.backend] ?? choice.backend}, in a background thread (a Web Worker), so the page stays responsive while they train.`;
}

/** The details behind the sentence: why this backend, what was skipped. */
export function backendDetails(choice: BackendChoice): string {
  const skipped = choice.skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
  return `${choice.backend} — ${choice.reason}${choice.fastMatMul ? ', fast wasm MatMul' : ''}${choice.gmKernels ? ", gm's SIMD kernels" : ''}${skipped ? `; skipped ${skipped}` : ''}`;
}
