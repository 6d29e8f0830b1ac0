/**
 * The page's worker: starts its own TensorFlow.js backend when the page asks and serves the panels' models over
 * comlink, so training and inference never block the page. The page starts one instance per panel (the same script,
 * loaded once) and uses that panel's part: `digits` (worker/digit-models.ts) or `flow` (worker/flow-2d.ts).
 */
import * as Comlink from 'comlink';
import '@tensorflow/tfjs-layers'; // registers the layers and the gradient kernels training needs
import type { BackendChoice, BackendName } from '@gm/backend';
import { startBackend } from '../backend-choice';
import { DigitModels } from './digit-models';
import { Flow2d } from './flow-2d';

let started: Promise<BackendChoice> | undefined;

const api = {
  /** Starts the backend (once); `wasmPaths` is the folder of tfjs's .wasm files as an absolute URL. */
  start(forced: BackendName | undefined, wasmPaths: string): Promise<BackendChoice> {
    started ??= startBackend(forced, wasmPaths);
    return started;
  },
  // Marked as proxies so the page's types see their methods (the page calls them by path: `remote.digits.train`).
  digits: Comlink.proxy(new DigitModels()),
  flow: Comlink.proxy(new Flow2d()),
};

/** What the page calls (through comlink every method returns a promise). */
export type PanelWorkerApi = typeof api;

Comlink.expose(api);
