/** Starts an instance of the page's worker (worker/panel-worker.ts) and wraps it with comlink. */
import * as Comlink from 'comlink';
import type { PanelWorkerApi } from './worker/panel-worker';

export function startPanelWorker(): Comlink.Remote<PanelWorkerApi> {
  return Comlink.wrap<PanelWorkerApi>(new Worker(new URL('./worker/panel-worker.ts', import.meta.url), { type: 'module' }));
}
