/**
 * Giving the event loop a turn: long computations (training, compression) await this between units of work so a
 * page stays responsive and a CLI can react to Ctrl-C. Uses setImmediate where it exists (Node), else a
 * MessageChannel message (browsers and workers, not clamped to 4 ms like nested setTimeout), else setTimeout.
 */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown; MessageChannel?: typeof MessageChannel };
  if (typeof g.setImmediate === 'function') return new Promise((resolve) => g.setImmediate!(resolve));
  if (typeof g.MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new g.MessageChannel!();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
