/**
 * `pnpm bench`: gm's benchmark harness (not a test). Prints a table per suite and writes every figure to
 * reports/bench.json. Timings on shared 2-core machines are noisy, so each suite reports ratios measured in the
 * same run (e.g. gm vs its PyTorch twin) next to the absolute numbers.
 *
 * Usage: pnpm bench [--quick] [--suite vae-step|model-steps|idx-parse|rans|bbans|parallel …] [--out reports/bench.json]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { QUICK_WARMUP_MS, WARMUP_MS } from './warmup';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');

interface SuiteResult {
  suite: string;
  rows: Record<string, string | number | boolean | null>[];
  notes: string[];
}

interface Options {
  quick: boolean;
}

function runNode(script: string, args: string[]): { ok: true; json: Record<string, unknown> } | { ok: false; error: string } {
  const out = spawnSync(process.execPath, [join(here, script), ...args], { encoding: 'utf8', env: { ...process.env, GM_BACKEND: '' } });
  if (out.status !== 0) {
    const first = (out.stderr || out.stdout || `exit ${out.status}`).trim().split('\n')[0] ?? '';
    return { ok: false, error: first.length > 120 ? `${first.slice(0, 117)}...` : first };
  }
  const line = out.stdout.trim().split('\n').pop() ?? '';
  return { ok: true, json: JSON.parse(line) as Record<string, unknown> };
}

/**
 * Runs a PyTorch twin when /usr/bin/python3 can import torch; returns its ms/step or why it did not run. Without
 * `model`, the reference VAE step of ../shared/peers/torch_vae_step.py; with one, a model of apps/bench/twins/torch_twins.py
 * (the peers' torch_model_steps.py, plus the bench's copies changed to gm's networks where gm's model differs), timed
 * for at least `timedMs`.
 */
function runTorchTwin(threads = 1, model?: string, timedMs = 0): { msPerStep: number; line: string } | { skipped: string } {
  const python = '/usr/bin/python3';
  const peers = resolve(repoRoot, '../shared/peers');
  const script = model === undefined ? resolve(peers, 'torch_vae_step.py') : resolve(repoRoot, 'apps/bench/twins/torch_twins.py');
  const peersFile = resolve(peers, model === undefined ? 'torch_vae_step.py' : 'torch_model_steps.py');
  if (!existsSync(peersFile)) return { skipped: `${peersFile} not found` };
  if (!existsSync(python)) return { skipped: `${python} not found` };
  if (!existsSync(script)) return { skipped: `${script} not found` };
  try {
    execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    return { skipped: 'python3 cannot import torch (apt-get install -y python3-torch libopenblas0-pthread)' };
  }
  const args = model === undefined ? [script, String(threads)] : [script, model, String(threads), String(timedMs / 1000)];
  const line = execFileSync(python, args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads), GM_PEERS_DIR: peers } }).trim();
  const match = /ms\/step ([\d.]+)/.exec(line);
  if (match === null) return { skipped: `unexpected output from torch twin: ${line}` };
  return { msPerStep: Number(match[1]), line };
}

async function vaeStepSuite(options: Options): Promise<SuiteResult> {
  const rows: SuiteResult['rows'] = [];
  const notes: string[] = [];
  const variants: Array<[string, number, number]> = [
    ['node', 5, options.quick ? 10 : 30],
    ['wasm', 5, options.quick ? 10 : 50],
    ['wasm-2workers', 5, options.quick ? 10 : 50],
    ['wasm-xnnpack', 5, options.quick ? 5 : 30],
    ['wasm-stock', 2, options.quick ? 3 : 10],
    ['cpu', 1, options.quick ? 2 : 5],
  ];
  // Torch first and last, so a drift in machine load shows up as a spread rather than a bias.
  const torchRuns: number[] = [];
  const torchFirst = runTorchTwin();
  if ('msPerStep' in torchFirst) torchRuns.push(torchFirst.msPerStep);
  for (const [variant, warmup, steps] of variants) {
    const result = runNode('vae-step-worker.js', [variant, String(warmup), String(steps), String(options.quick ? QUICK_WARMUP_MS : WARMUP_MS)]);
    if (!result.ok) {
      rows.push({ backend: variant, msPerStep: null, imagesPerSecond: null, vsPyTorch: null, note: `skipped: ${result.error}` });
      continue;
    }
    const j = result.json;
    rows.push({
      backend: variant,
      msPerStep: Number((j.msPerStepMedian as number).toFixed(2)),
      imagesPerSecond: Math.round(j.imagesPerSecond as number),
      vsPyTorch: null,
      note: `${steps} steps, loss ${(j.firstLoss as number).toFixed(1)}→${(j.lastLoss as number).toFixed(1)}, leaked ${j.leakedTensors} tensors`,
    });
  }
  const torchLast = runTorchTwin();
  if ('msPerStep' in torchLast) torchRuns.push(torchLast.msPerStep);
  // gm's 2-worker row uses both cores; so may PyTorch.
  const torchTwo = runTorchTwin(2);
  if (torchRuns.length > 0) {
    const torchMs = torchRuns.reduce((a, b) => a + b, 0) / torchRuns.length;
    for (const row of rows) if (typeof row.msPerStep === 'number') row.vsPyTorch = Number((row.msPerStep / torchMs).toFixed(2));
    rows.push({
      backend: 'pytorch (1 thread)',
      msPerStep: Number(torchMs.toFixed(2)),
      imagesPerSecond: Math.round((128 / torchMs) * 1000),
      vsPyTorch: 1,
      note: `mean of ${torchRuns.map((t) => t.toFixed(1)).join(' and ')} ms (run before and after gm)`,
    });
    if ('msPerStep' in torchTwo) {
      rows.push({
        backend: 'pytorch (2 threads)',
        msPerStep: Number(torchTwo.msPerStep.toFixed(2)),
        imagesPerSecond: Math.round((128 / torchTwo.msPerStep) * 1000),
        vsPyTorch: Number((torchTwo.msPerStep / torchMs).toFixed(2)),
        note: 'both cores, for the wasm-2workers row (vsPyTorch is still against 1 thread)',
      });
    }
  } else {
    notes.push(`PyTorch twin not run: ${'skipped' in torchFirst ? torchFirst.skipped : ''}`);
  }
  notes.push(
    `Reference VAE step: MLP 784-512-256-(2×32) / 32-256-512-784, batch 128, Adam, Bernoulli logits; median ms/step after ${(options.quick ? QUICK_WARMUP_MS : WARMUP_MS) / 1000} s of warm-up.`,
  );
  notes.push(
    'wasm = gm as initBackend() sets it up (gm SIMD GEMM, fused gmAdam, sharing Identity); wasm-xnnpack = gm MatMul ' +
      'overrides without gm kernels (explicit transposes + XNNPACK, tf.train.adam); wasm-stock = tfjs-wasm as shipped; ' +
      'wasm-2workers = wasm split across this thread and one worker_thread (@gm/backend/data-parallel, sharded Adam).',
  );
  return { suite: 'vae-step', rows, notes };
}

async function idxParseSuite(): Promise<SuiteResult> {
  const { runIdxParseBench } = await import('./idx-parse');
  return {
    suite: 'idx-parse',
    rows: runIdxParseBench(),
    notes: ['MB/s counts the uncompressed IDX bytes (47 MB) for both rows; median of 7 runs after a warm-up.'],
  };
}

/** Both cores (issue 2): threaded wasm and data-parallel steps vs one thread, interleaved; ~7 minutes, opt-in. */
async function parallelSuite(options: Options): Promise<SuiteResult> {
  const out = join(tmpdir(), `gm-parallel-${process.pid}.json`);
  const args = [join(here, 'parallel', 'bench-cli.js'), '--json', out, ...(options.quick ? ['--quick'] : [])];
  const run = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (run.status !== 0) throw new Error(`parallel bench failed (exit ${run.status})`);
  const result = JSON.parse(readFileSync(out, 'utf8')) as { rows: SuiteResult['rows']; notes: string[]; loadAverage?: number[] };
  rmSync(out, { force: true });
  return { suite: 'parallel', rows: result.rows, notes: result.notes };
}

const suites: Record<string, (o: Options) => Promise<SuiteResult>> = {
  'vae-step': vaeStepSuite,
  'idx-parse': idxParseSuite,
  rans: async (o) => (await import('./bitsback/suites')).ransSuite(o),
  bbans: async (o) => (await import('./bitsback/suites')).bbansSuite(o),
  parallel: parallelSuite,
  'model-steps': async (o) => ({ suite: 'model-steps', ...(await (await import('./model-steps')).modelStepsSuite(o.quick, (model, timedMs) => runTorchTwin(1, model, timedMs))) }),
  gemm: async (o) => ({ suite: 'gemm', ...(await (await import('./gemm')).runGemmBench(o.quick ? { rounds: 2, repeats: 2 } : {})) }),
};

/** Suites run when no --suite is given (the long both-cores study is opt-in). */
const DEFAULT_SUITES = ['vae-step', 'model-steps', 'gemm', 'idx-parse', 'rans', 'bbans'];

function printTable(result: SuiteResult): void {
  const columns = [...new Set(result.rows.flatMap((r) => Object.keys(r)))];
  const cells = result.rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '—' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] as number)).join('  ');
  console.log(`\n## ${result.suite}`);
  console.log(line(columns));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of cells) console.log(line(row));
  for (const note of result.notes) console.log(`  ${note}`);
}

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      suite: { type: 'string', multiple: true },
      out: { type: 'string', default: join(process.cwd(), 'reports', 'bench.json') },
    },
  });
  const names = values.suite ?? DEFAULT_SUITES;
  for (const name of names) if (!(name in suites)) throw new Error(`unknown suite "${name}"; known: ${Object.keys(suites).join(', ')}`);
  const results: SuiteResult[] = [];
  for (const name of names) {
    const result = await (suites[name] as (o: Options) => Promise<SuiteResult>)({ quick: values.quick ?? false });
    printTable(result);
    results.push(result);
  }
  const out = resolve(values.out as string);
  mkdirSync(dirname(out), { recursive: true });
  const report = { date: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length, results };
  writeFileSync(`${out}.tmp`, JSON.stringify(report, null, 2) + '\n');
  renameSync(`${out}.tmp`, out);
  console.log(`\nwrote ${out}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
