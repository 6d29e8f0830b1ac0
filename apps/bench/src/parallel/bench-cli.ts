/**
 * CLI of the "both cores" benchmark (./bench.ts): prints a table and notes, optionally writes JSON.
 * Usage: node dist/parallel/bench-cli.js [--quick] [--rounds N] [--steps N] [--warmup N] [--only threads|data-parallel] [--json file]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runParallelBench } from './bench';

async function cli() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      only: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const result = await runParallelBench({
    rounds: values.rounds !== undefined ? Number(values.rounds) : quick ? 2 : 6,
    steps: values.steps !== undefined ? Number(values.steps) : quick ? 4 : 10,
    warmup: values.warmup !== undefined ? Number(values.warmup) : quick ? 1 : 3,
    trajectorySteps: quick ? 8 : 20,
    sections: values.only !== undefined ? [values.only as 'threads' | 'data-parallel'] : undefined,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  console.table(result.rows.map((r) => ({ ...r })));
  for (const n of result.notes) console.log(`- ${n}`);
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(result, null, 2));
  process.exit(0);
}

cli().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
