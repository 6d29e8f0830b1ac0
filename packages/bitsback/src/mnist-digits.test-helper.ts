// Test/bench helper (not exported): real MNIST digits from the `mnist` devDependency's JSON files.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The first `perDigit` images of each requested digit class as bytes (round(v · 255) recovers them exactly),
 * binarized at > 127 when `binarize` is set.
 */
export function realDigits(perDigit: number, digits: number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], binarize = true): Uint8Array {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
  const out = new Uint8Array(perDigit * digits.length * 784);
  let o = 0;
  for (const d of digits) {
    const data = (JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')) as { data: number[] }).data;
    if (data.length < perDigit * 784) throw new RangeError(`digit ${d} has only ${data.length / 784} images`);
    for (let i = 0; i < perDigit * 784; i++) {
      const b = Math.round(data[i]! * 255);
      out[o++] = binarize ? (b > 127 ? 1 : 0) : b;
    }
  }
  return out;
}
