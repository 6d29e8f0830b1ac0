/** Small deterministic PRNGs so that runs in different processes and threads see identical numbers. */

import { mulberry32 } from '@gm/core';

/** mulberry32 (from @gm/data): a 32-bit seeded generator returning floats in [0, 1). */
export { mulberry32 };

/** Replaces Math.random with a seeded generator (tfjs seeds its unseeded random ops and initialisers from it). */
export function seedMathRandom(seed: number): void {
  Math.random = mulberry32(seed);
}

/** Fills `out` with standard normals (Box–Muller) from `rand`. */
export function fillNormal(out: Float32Array, rand: () => number): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const u = 1 - rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}
