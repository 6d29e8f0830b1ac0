import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readmeExamples, runExample } from '@gm/vitest-config/readme';

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..');
const examples = readmeExamples(join(PACKAGE, 'README.md'));

describe("README examples run as written (the guide's models train, report, save, load and compress)", () => {
  it('has the guide', () => {
    expect(examples.map((e) => e.title.replace(/ \(line \d+\)$/, ''))).toEqual(
      expect.arrayContaining(['A VAE with a tied decoder', 'A 2-D flow from coupling bijectors', 'An autoregressive model from `MaskedDense`']),
    );
  });
  it.each(examples)('$title', (example) => {
    const out = runExample(example, PACKAGE);
    // Every guide example prints its figures; compressing ones also say the round trip was lossless.
    if (/compress\(/.test(example.code)) expect(out).toMatch(/lossless: true/);
    expect(out.trim().length).toBeGreaterThan(0);
  });
});
