// Every ```js block of every README runs as written: an ES module in a fresh Node process, imports resolved from
// tooling/docs (which depends on every gm package and the TensorFlow.js peers), in an empty temporary folder. Two run
// at a time. Needs the packages built (pnpm build).
import { describe, expect, it } from 'vitest';
import { runExample } from '@gm/vitest-config/readme';
import { DOCS_DIR, checkedReadmes, classifiedBlocks } from '../src/index';

const examples = checkedReadmes()
  .flatMap((r) => classifiedBlocks(r))
  .filter((b) => b.blockClass === 'run');

describe.concurrent('README js blocks run as written', () => {
  it('there are examples', () => {
    expect(examples.length).toBeGreaterThan(10);
  });
  it.each(examples.map((b) => [`${b.where} ${b.heading}`, b] as const))('%s', async (_, block) => {
    const out = await runExample(block, DOCS_DIR, { where: block.where });
    // An example that prints a round trip's verdict must print a good one.
    expect(out, `${block.where} printed "lossless: false"`).not.toMatch(/lossless: false/);
    if (/\bdecompress\(/.test(block.code) && /lossless/.test(block.code)) expect(out, `${block.where} did not print "lossless: true"`).toMatch(/lossless: true/);
  });
});
