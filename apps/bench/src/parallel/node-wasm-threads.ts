/**
 * Runs tfjs-backend-wasm's threaded-SIMD binary under Node (prototype; tfjs 4.22 refuses to).
 *
 * Why stock tfjs cannot do it, and what this shim supplies:
 * 1. `flags_wasm.js` registers `WASM_HAS_MULTITHREAD_SUPPORT` to return false whenever `IS_NODE`
 *    (tfjs issue #3830), so `init()` loads the plain SIMD binary. We set the flag to true first.
 * 2. tfjs then hands Emscripten two Blobs: the pthread worker script (via `locateFile` →
 *    `URL.createObjectURL(blob)`) and `mainScriptUrlOrBlob` (the whole factory as text). Node's
 *    `worker_threads.Worker` cannot start a `blob:nodedata:` URL, and the worker's `importScripts` is
 *    `fs.readFileSync(url)`, so the first worker dies with
 *    `ENOENT: no such file or directory, open 'blob:nodedata:…'`. We record every Blob's text while
 *    the backend initialises, write the two scripts to a temporary folder, and point the worker at the
 *    factory file instead of the Blob.
 * 3. The factory text is a closure cut out of the rollup bundle `tf-backend-wasm.node.js`; it refers
 *    to the bundle's `require$$0` (fs), `require$$1` (path), `require$$3` (perf_hooks), `require$$4`
 *    (os), `commonjsGlobal` and `_scriptDir`, which do not exist in the worker. We prepend them.
 * 4. `init_with_threads_count(n)` caps n at `emscripten_num_logical_cores() / 2` (it assumes 2-way
 *    SMT), which Emscripten answers with `os.cpus().length` in Node: 2 cores → at most 1 thread,
 *    whatever `setThreadsCount` says. While the backend initialises we make `os.cpus()` report
 *    2 × threads entries.
 *
 * With these the module loads, Emscripten starts its pool of 8 pthread workers, and XNNPACK's
 * pthreadpool runs `threads - 1` of them next to the calling thread. Emscripten `ref()`s a worker while it runs a
 * pthread, and XNNPACK's pool threads never end, so the process would never exit on its own: we `unref()` them.
 * All 8 pool workers have loaded the two scripts once the backend is ready, so the folder is removed at once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';

const FACTORY_PREFIX = 'var WasmBackendModuleThreadedSimd';

export interface NodeWasmThreadsInfo {
  /** Threads XNNPACK reports after initialisation (tf wasm `getThreadsCount()`). */
  threads: number;
  /** pthread workers Emscripten started (its pool) and how many run a thread now. */
  pthreadWorkers: { pool: number; running: number };
}

interface EmscriptenPThread {
  unusedWorkers: Array<{ unref(): void }>;
  runningWorkers: Array<{ unref(): void }>;
}

/**
 * Calls `init` (which must initialise the wasm backend, e.g. `() => initBackend({ backend: 'wasm' })`) with
 * the threaded-SIMD binary enabled and `threads` XNNPACK threads. Must run before the wasm backend has been
 * initialised in this process.
 */
export async function withNodeWasmThreads<T>(threads: number, init: () => Promise<T>): Promise<{ result: T; info: NodeWasmThreadsInfo }> {
  const dir = mkdtempSync(join(os.tmpdir(), 'gm-wasm-threads-'));
  const factoryPath = join(dir, 'tfjs-backend-wasm-threaded-simd.factory.cjs');
  let workerCount = 0;

  const RealBlob = globalThis.Blob;
  const realCreateObjectURL = URL.createObjectURL;
  const realCpus = os.cpus;
  const texts = new WeakMap<Blob, string>();

  class RecordingBlob extends RealBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts !== undefined && parts.every((p) => typeof p === 'string')) {
        const text = (parts as string[]).join('');
        texts.set(this, text);
        if (text.startsWith(FACTORY_PREFIX)) {
          const prelude =
            "var require$$0=require('fs'),require$$1=require('path'),require$$3=require('perf_hooks'),require$$4=require('os')," +
            `commonjsGlobal=globalThis,_scriptDir=${JSON.stringify(factoryPath)};\n`;
          writeFileSync(factoryPath, prelude + text);
        }
      }
    }
  }

  globalThis.Blob = RecordingBlob as typeof Blob;
  URL.createObjectURL = (obj: Blob | MediaSource): string => {
    const text = obj instanceof RealBlob ? texts.get(obj) : undefined;
    if (text === undefined) return realCreateObjectURL(obj as Blob);
    // The pthread worker script: load the factory from our file, not from a Blob it cannot read.
    const patched = text.replace('importScripts(objectUrl)', `importScripts(${JSON.stringify(factoryPath)})`);
    if (patched === text) throw new Error('gm wasm threads: unexpected pthread worker script (tfjs version changed?)');
    const path = join(dir, `tfjs-backend-wasm-threaded-simd.worker${workerCount++}.cjs`);
    writeFileSync(path, patched);
    return path;
  };
  os.cpus = () => {
    const cpus = realCpus();
    return Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length] as os.CpuInfo);
  };
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    const result = await init();
    const backend = tf.findBackend('wasm') as unknown as { wasm?: { PThread?: EmscriptenPThread } } | null;
    const pthread = backend?.wasm?.PThread;
    for (const worker of pthread?.runningWorkers ?? []) worker.unref();
    const running = pthread?.runningWorkers.length ?? 0;
    const pool = running + (pthread?.unusedWorkers.length ?? 0);
    return { result, info: { threads: wasm.getThreadsCount(), pthreadWorkers: { pool, running } } };
  } finally {
    globalThis.Blob = RealBlob;
    URL.createObjectURL = realCreateObjectURL;
    os.cpus = realCpus;
    rmSync(dir, { recursive: true, force: true });
  }
}
