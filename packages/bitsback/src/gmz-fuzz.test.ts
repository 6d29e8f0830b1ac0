import { describe, expect, it } from 'vitest';
import { fuzzGmz, gmzFuzzSummary } from './testing/gmz-fuzz';

// The small version of scripts/fuzz-gmz.mjs (issue 15): a few hundred seeded cases of damaged .gmz files — truncated,
// bit-flipped, and re-sealed with extreme header and chunk fields, damaged payloads, chunks reordered, dropped,
// duplicated, renumbered or from another file — decoded by decompress, decompressStream and splitGmz + decodeChunk
// with binary and 8-bit Gaussian-latent models and a MADE. Every case must end in a GmzError or the original images.
describe('.gmz fuzz (small): every damaged file is refused with a GmzError or decodes to the original images', () => {
  it('runs 400 seeded cases with no hang, raw error or silent wrong decode', async () => {
    const report = await fuzzGmz({ cases: 400, seed: 15, timeLimitMs: 2000 });
    console.log(gmzFuzzSummary(report));
    expect(report.failures).toEqual([]);
    expect({ cases: report.cases, hangs: report.hangs, raw: report.raw, silent: report.silent }).toEqual({ cases: 400, hangs: 0, raw: 0, silent: 0 });
    // Every mutation and every decoding path ran, and the damage was caught (not merely decoded around).
    expect(Object.keys(report.byMutation).sort()).toEqual(['chunk-field', 'flip', 'flip-resealed', 'foreign-chunk', 'header-field', 'payload', 'sequence', 'truncate']);
    expect(Object.keys(report.byPath).sort()).toEqual(['decompress', 'split', 'stream']);
    expect(report.refused).toBeGreaterThan(0.8 * report.cases);
    expect(report.byMutation.sequence!.refused).toBe(report.byMutation.sequence!.cases);
    expect(report.byMutation['foreign-chunk']!.refused).toBe(report.byMutation['foreign-chunk']!.cases);
  }, 120_000);

  it('crafts only files it can write: case 52,554 of seed 1 edits lanes twice (2^53 − 1, then one less) and is refused', async () => {
    // The harness once asked for lanes = 2^53 (orig + 1 after an edit to 2^53 − 1), which no varint holds, and its
    // worker died before the decoder saw a byte.
    const report = await fuzzGmz({ seed: 1, first: 52_554, cases: 1, timeLimitMs: 2000 });
    expect({ raw: report.raw, refused: report.refused }).toEqual({ raw: 0, refused: 1 });
  });
});
