/**
 * How long a benchmark trains before its steps are timed. V8 compiles a step's JavaScript (tfjs's engine, the tape,
 * the layers) in tiers over its first tens to hundreds of calls: an IAF-VAE step (~7 ms) ran 9–11 ms for its first
 * ~40 steps, and the reference VAE step (~20 ms) 21–32 ms after 5 warm-up steps against 19.8–20.9 ms after 150. A
 * fixed count of warm-up steps measured the compiler, not the step: warm up by time (and a minimum count) instead.
 */
export const WARMUP_MS = 3000;
export const QUICK_WARMUP_MS = 500;

/**
 * How long the model-steps suite times steps, at least (besides a minimum count), on both sides — gm's and the
 * PyTorch twin's: 20 steps of a ~5 ms step (the IAF-VAE) were a 0.1 s window, which one slow moment of a shared
 * machine filled, so that a row flipped between runs (the two-thread IAF-VAE read 4.9 and 8.7 ms in two runs of one
 * morning). A median over seconds is the step's typical time.
 */
export const TIMED_MS = 2000;
export const QUICK_TIMED_MS = 0;

/** Runs `step` at least `minSteps` times and for at least `ms` milliseconds; returns what each call returned. */
export function warmUp<T>(step: () => T, minSteps: number, ms: number): T[] {
  const results: T[] = [];
  const t0 = performance.now();
  while (results.length < minSteps || performance.now() - t0 < ms) results.push(step());
  return results;
}
