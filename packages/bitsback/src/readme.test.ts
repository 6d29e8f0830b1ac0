import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readmeExamples, runExample } from '@gm/vitest-config/readme';

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..');
const examples = readmeExamples(join(PACKAGE, 'README.md'));

describe('README examples run as written (they compress, decompress and report)', () => {
  it('has runnable examples', () => {
    expect(examples.length).toBeGreaterThan(0);
  });
  it.each(examples)('$title', (example) => {
    const out = runExample(example, PACKAGE);
    // Every example prints its figures; compressing ones also say the round trip was lossless.
    if (/compress\(/.test(example.code)) expect(out).toMatch(/lossless: true/);
    expect(out.trim().length).toBeGreaterThan(0);
  });
});
