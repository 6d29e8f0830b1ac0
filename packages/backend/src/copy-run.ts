/**
 * Copying one run of elements between typed arrays, the step every gathering kernel (Slice, Concat) repeats per row.
 * A `subarray` + `set` costs ~100 ns whatever the length, so a Real NVP coupling's channel-axis split or concat
 * (64×14×14 rows of 2 floats) spent ~4 ms in them; runs this short are copied element by element instead.
 */
export type Typed = Float32Array | Int32Array | Uint8Array;

/** Below this many elements a loop beats `subarray` + `set` (measured in Node 20: they break even near 24). */
const SHORT_RUN = 32;

/** dst[dstStart .. dstStart + length) = src[srcStart .. srcStart + length). */
export function copyRun(src: Typed, srcStart: number, dst: Typed, dstStart: number, length: number): void {
  if (length < SHORT_RUN) {
    for (let i = 0; i < length; i++) dst[dstStart + i] = src[srcStart + i]!;
  } else {
    dst.set(src.subarray(srcStart, srcStart + length), dstStart);
  }
}
