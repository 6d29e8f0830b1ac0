// Seeded fuzz of .gmz decoding (issue 15): truncations at every byte of six files, random bit flips, and files
// re-sealed after damage (every checksum recomputed, so only the structural checks can catch it) — extreme header
// fields (shape, count, chunk size, latent size, lanes, precisions, bucket bits, growth, seed, versions), extreme
// chunk fields (method, index, first image, count, image CRC, lengths, trailer count), damaged payloads, chunks
// reordered, dropped, duplicated or renumbered, chunks spliced in from another file — for binary and 8-bit
// Gaussian-latent models and a MADE, each case decoded by decompress, decompressStream (random piece sizes) or
// splitGmz + decodeChunk per chunk. Every case must end in a GmzError or the original images.
//
// The cases run on a worker thread under a watchdog: a case that never ends is killed, counted as a hang, and the
// run goes on from the next case (case k depends only on the seed and k). Prints one summary line (and, with
// --verbose, each mutation's outcomes and the refusals' GmzError codes); exits 1 if any case hung (over
// --time-limit), threw something other than a GmzError, or decoded to images other than the original.
// Run after `npx tsup`:  node scripts/fuzz-gmz.mjs [--cases 50000] [--seed 1] [--time-limit 2000] [--verbose]
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { setInterval, clearInterval } from 'node:timers';
import { parseArgs } from 'node:util';
import { fuzzGmz, gmzFuzzCorpus, gmzFuzzSummary, gmzFuzzTally } from '@gm/bitsback/testing';

if (!isMainThread) {
  const { seed, first, cases, timeLimitMs } = workerData;
  const corpus = await gmzFuzzCorpus(seed);
  parentPort.postMessage({ type: 'corpus', truncationCuts: corpus.truncationCuts });
  await fuzzGmz({
    seed,
    first,
    cases,
    timeLimitMs,
    corpus,
    onStart: (index, c) => parentPort.postMessage({ type: 'start', index, family: c.family, mutation: c.mutation, path: c.path, detail: c.detail }),
    onCase: (result) => parentPort.postMessage({ type: 'case', result }),
  });
  parentPort.postMessage({ type: 'done' });
} else {
  const { values } = parseArgs({
    options: { cases: { type: 'string' }, seed: { type: 'string' }, 'time-limit': { type: 'string' }, verbose: { type: 'boolean' } },
  });
  const cases = Number(values.cases ?? 50_000);
  const seed = Number(values.seed ?? 1);
  const timeLimitMs = Number(values['time-limit'] ?? 2000);
  for (const [name, v] of [['--cases', cases], ['--seed', seed], ['--time-limit', timeLimitMs]]) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  }
  // A case still running after this is stuck: the watchdog kills the worker and the run resumes after it.
  const killAfterMs = Math.max(10_000, 5 * timeLimitMs);
  const t0 = performance.now();
  let tally = null;
  let next = 0;
  let lastProgress = 0;
  while (next < cases) {
    await new Promise((resolve) => {
      const worker = new Worker(new URL(import.meta.url), { workerData: { seed, first: next, cases: cases - next, timeLimitMs } });
      let current = null;
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearInterval(watchdog);
        void worker.terminate().then(resolve);
      };
      // A case that never ends, or a worker that dies, is recorded against the case it was running.
      const lost = (outcome, message) => {
        const c = current ?? { index: next, family: 'latent-binary', mutation: 'truncate', path: 'decompress', detail: '(before the first case)' };
        const ms = current === null ? 0 : performance.now() - current.at;
        tally ??= gmzFuzzTally(seed, 0);
        tally.add({ index: c.index, family: c.family, mutation: c.mutation, path: c.path, detail: c.detail, outcome, hang: outcome === 'killed', ms, message });
        next = c.index + 1;
        finish();
      };
      const watchdog = setInterval(() => {
        if (current !== null && performance.now() - current.at > killAfterMs) lost('killed', `still running after ${killAfterMs} ms: killed by the watchdog`);
      }, 250);
      worker.on('message', (m) => {
        if (m.type === 'corpus') tally ??= gmzFuzzTally(seed, m.truncationCuts);
        else if (m.type === 'start') current = { ...m, at: performance.now() };
        else if (m.type === 'case') {
          tally.add(m.result);
          current = null;
          next = m.result.index + 1;
          if (next - lastProgress >= 5000) {
            lastProgress = next;
            const r = tally.report(performance.now() - t0);
            process.stderr.write(`  … ${next} cases, ${(r.ms / 1000).toFixed(0)} s: hangs ${r.hangs}, raw ${r.raw}, silent ${r.silent}\n`);
          }
        } else if (m.type === 'done') {
          next = cases;
          finish();
        }
      });
      worker.on('error', (e) => lost('raw', `the worker died: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`));
      worker.on('exit', (code) => {
        if (!settled) lost('raw', `the worker exited with code ${code}`);
      });
    });
  }
  const report = tally.report(performance.now() - t0);
  if (values.verbose) {
    for (const [m, s] of Object.entries(report.byMutation)) {
      const codes = Object.entries(s.codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
      console.log(`  ${m.padEnd(14)} ${String(s.cases).padStart(6)} cases: ${s.refused} refused (${codes}), ${s.decoded} decoded exactly, ${s.failed} failed`);
    }
    console.log(`  paths: ${Object.entries(report.byPath).map(([p, n]) => `${p} ${n}`).join(', ')}; slowest: #${report.slowest.index} ${report.slowest.what}`);
  }
  for (const f of report.failures) console.log(`  FAIL #${f.index} ${f.outcome}${f.hang ? ' (hang)' : ''} ${f.mutation}/${f.path} ${f.detail}: ${f.message} [${f.ms.toFixed(0)} ms]`);
  console.log(gmzFuzzSummary(report));
  if (report.hangs + report.raw + report.silent + report.failures.length > 0) process.exit(1);
}
