/** Helpers shared by the kernel tests (not part of the package's API; tsup bundles only the entries). */
import { expect } from 'vitest';

/** Largest |a − b| / (1 + |b|) over all entries of all arrays (which must match in number and length). */
export function worst(a: Float32Array[], b: Float32Array[]): number {
  expect(a.length).toBe(b.length);
  let w = 0;
  a.forEach((ai, j) => {
    const bj = b[j] as Float32Array;
    expect(ai.length).toBe(bj.length);
    ai.forEach((v, i) => {
      w = Math.max(w, Math.abs(v - (bj[i] as number)) / (1 + Math.abs(bj[i] as number)));
    });
  });
  return w;
}
