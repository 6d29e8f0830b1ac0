/**
 * tfjs-backend-wasm's Emscripten glue, when it starts in Node, adds `process.on('uncaughtException')` and
 * `process.on('unhandledRejection')` handlers that rethrow. A rethrow inside such a handler makes Node exit with
 * code 7 and print the glue's minified source instead of the error — so every bug in the *user's* code after
 * `initBackend()` looked like a crash in gm. gm's backend needs neither handler (they only serve Emscripten's own
 * `exit()`, which the wasm backend never calls), so it removes the ones that appeared while the backend started and
 * Node reports the user's error with its own stack and exit code 1.
 */

type ProcessEvent = 'uncaughtException' | 'unhandledRejection';
const EVENTS: readonly ProcessEvent[] = ['uncaughtException', 'unhandledRejection'];

type Listener = (...args: unknown[]) => void;
const hasProcessEvents = (): boolean => typeof process !== 'undefined' && typeof process.listeners === 'function';
// Node's typings overload listeners() per event; one signature for both of ours.
const listeners = (event: ProcessEvent): Listener[] => (process.listeners as (e: string) => Listener[])(event);

/** Runs `start` and removes the process-level error handlers it added (in Node; elsewhere just runs it). */
export async function withoutAddedProcessHandlers<T>(start: () => Promise<T>): Promise<T> {
  if (!hasProcessEvents()) return start();
  const before = new Map(EVENTS.map((e) => [e, new Set(listeners(e))]));
  try {
    return await start();
  } finally {
    for (const event of EVENTS) {
      for (const listener of listeners(event)) {
        if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
      }
    }
  }
}
