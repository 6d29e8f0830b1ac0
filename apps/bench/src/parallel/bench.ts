/**
 * "Both cores" benchmark: can training use the second CPU core?
 *
 *  - threads:        the reference VAE step on the stock wasm SIMD binary vs tfjs's threaded-SIMD binary forced on
 *                    in Node (./node-wasm-threads) with 1 and 2 XNNPACK threads; one child process per run, the
 *                    variants interleaved round-robin; loss trajectories compared (Math.random is seeded).
 *  - data-parallel:  the reference step (single thread) vs the same batch split across the calling thread and one
 *                    worker_thread (./data-parallel), interleaved in blocks A/B/A/B in one process; the loss
 *                    trajectory of a single-process full-batch run on the same data and noise is compared, and the
 *                    replicas' weights are checked to be bit-identical.
 *
 * CLI: ./bench-cli.ts (node dist/parallel/bench-cli.js [--quick] [--rounds N] [--steps N] [--only threads|data-parallel] [--json file]).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { gmAdam, initBackend } from '@gm/backend';
import { createDataParallelTrainer, type DataParallelTrainer, type ParallelMode } from '@gm/backend/data-parallel';
import { createReferenceVaeStep, REFERENCE } from '../reference-vae';
import { fillNormal, mulberry32 } from './seeded-random';
import { cpuDelta, currentThreadCpu, threadCpu, type CpuDelta } from './thread-cpu';
import { createReplica, REFERENCE_VAE_CONFIG } from './vae-replica';

export interface ParallelBenchOptions {
  /** Which sections to run (default both). */
  sections?: Array<'threads' | 'data-parallel'>;
  /** Interleaved rounds (A/B/A/B…). Default 6. */
  rounds?: number;
  /** Timed steps per block (data-parallel) or per child process (threads). Default 10. */
  steps?: number;
  /** Untimed warm-up steps per block / process. Default 3. */
  warmup?: number;
  /** Steps of the loss-trajectory comparison. Default 20. */
  trajectorySteps?: number;
  /** Folder holding the compiled parallel/*.js files (default: found next to this module). */
  distDir?: string;
  log?: (line: string) => void;
}

export interface ParallelBenchRow {
  section: 'threads' | 'data-parallel';
  variant: string;
  /** Median ms/step over every timed step of every round. */
  msPerStep: number | null;
  /** Median over rounds of (baseline block median / this block median): > 1 means faster than the baseline. */
  speedupVsBaseline: number | null;
  steps: number;
  /** CPU ms per step of the main thread / of the busiest other thread (worker_thread or wasm pthread). */
  cpuMainMsPerStep: number | null;
  cpuOtherMsPerStep: number | null;
  /** Median over rounds of (baseline critical path / this critical path), critical path = max thread CPU per step:
   * the speedup this variant would show on otherwise idle cores. */
  projectedSpeedup: number | null;
  note: string;
}

export interface ParallelBenchResult {
  rows: ParallelBenchRow[];
  notes: string[];
  loadAverage: number[];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function findDist(distDir?: string): string {
  if (distDir !== undefined) return distDir.endsWith('/') ? distDir : `${distDir}/`;
  for (const rel of ['./', './parallel/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}vae-replica.js`)) return dir;
  }
  throw new Error('runParallelBench: cannot find dist/parallel/vae-replica.js; build src/parallel first');
}

// ---------------------------------------------------------------------------------------------------------------
// (1) threaded-SIMD wasm binary, in child processes

interface ThreadRun {
  binary: string;
  threads: number;
  msPerStepMedian: number;
  cpu: CpuDelta;
  times: number[];
  losses: number[];
}

function runThreadsSection(dist: string, o: Required<Omit<ParallelBenchOptions, 'distDir' | 'sections' | 'log'>>, log: (s: string) => void) {
  const rows: ParallelBenchRow[] = [];
  const notes: string[] = [];
  const variants: Array<[string, string, string]> = [
    ['simd (stock, 1 thread)', 'simd', '1'],
    ['threaded-simd, 1 thread', 'threaded', '1'],
    ['threaded-simd, 2 threads', 'threaded', '2'],
  ];
  const runs = new Map<string, ThreadRun[]>(variants.map(([name]) => [name, []]));
  const errors: string[] = [];
  for (let round = 0; round < o.rounds; round++) {
    // Rotate the order so that no variant always runs first or last in a round.
    for (let k = 0; k < variants.length; k++) {
      const [name, binary, threads] = variants[(round + k) % variants.length] as [string, string, string];
      const out = spawnSync(process.execPath, [`${dist}threads-step.js`, binary, threads, String(o.warmup), String(o.steps)], {
        encoding: 'utf8',
        env: { ...process.env, GM_BACKEND: '' },
      });
      if (out.status !== 0) {
        errors.push(`${name}: ${(out.stderr || out.stdout).trim().split('\n')[0]}`);
        continue;
      }
      const run = JSON.parse(out.stdout.trim().split('\n').pop() as string) as ThreadRun;
      runs.get(name)?.push(run);
      log(`  threads round ${round + 1}/${o.rounds} ${name}: ${run.msPerStepMedian.toFixed(1)} ms/step (XNNPACK threads ${run.threads})`);
    }
  }
  const base = runs.get(variants[0]![0]) ?? [];
  for (const [name] of variants) {
    const rs = runs.get(name) ?? [];
    if (rs.length === 0) {
      rows.push({ section: 'threads', variant: name, msPerStep: null, speedupVsBaseline: null, steps: 0, cpuMainMsPerStep: null, cpuOtherMsPerStep: null, projectedSpeedup: null, note: 'did not run' });
      continue;
    }
    const all = rs.flatMap((r) => r.times);
    const ratios = rs.map((r, i) => (base[i] ? base[i].msPerStepMedian / r.msPerStepMedian : Number.NaN)).filter(Number.isFinite);
    const crit = (r: ThreadRun) => Math.max(r.cpu.main, r.cpu.busiestOther) / r.times.length;
    const projected = rs.map((r, i) => (base[i] ? crit(base[i]) / crit(r) : Number.NaN)).filter(Number.isFinite);
    const lossDiff = Math.max(...rs.map((r, i) => (base[i] ? Math.max(...r.losses.map((l, j) => Math.abs(l - (base[i]!.losses[j] as number)))) : 0)));
    rows.push({
      section: 'threads',
      variant: name,
      msPerStep: round2(median(all)),
      speedupVsBaseline: round2(median(ratios)),
      steps: all.length,
      cpuMainMsPerStep: round2(median(rs.map((r) => r.cpu.main / r.times.length))),
      cpuOtherMsPerStep: round2(median(rs.map((r) => r.cpu.busiestOther / r.times.length))),
      projectedSpeedup: round2(median(projected)),
      note: `XNNPACK threads ${rs[0]!.threads}; max |loss − stock| over ${rs[0]!.losses.length} steps = ${lossDiff.toExponential(2)}`,
    });
  }
  notes.push(...errors.map((e) => `threads: ${e}`));
  return { rows, notes };
}

// ---------------------------------------------------------------------------------------------------------------
// (2) data-parallel steps in worker_threads, in this process

function makeDataset(batches: number, batch: number, inputDim: number, seed: number): Float32Array[] {
  const rand = mulberry32(seed);
  return Array.from({ length: batches }, () => {
    const x = new Float32Array(batch * inputDim);
    for (let i = 0; i < x.length; i++) x[i] = rand() < 0.5 ? 1 : 0;
    return x;
  });
}

/** Glorot-uniform kernels and zero biases from a seeded generator, flattened in variable order. */
function initialWeights(shapes: number[][], seed: number): Float32Array[] {
  const rand = mulberry32(seed);
  return shapes.map((shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const w = new Float32Array(size);
    if (shape.length === 2) {
      const limit = Math.sqrt(6 / ((shape[0] as number) + (shape[1] as number)));
      for (let i = 0; i < size; i++) w[i] = (2 * rand() - 1) * limit;
    }
    return w;
  });
}

async function runDataParallelSection(dist: string, o: Required<Omit<ParallelBenchOptions, 'distDir' | 'sections' | 'log'>>, log: (s: string) => void) {
  const rows: ParallelBenchRow[] = [];
  const notes: string[] = [];
  await initBackend({ backend: 'wasm' });
  const { batch, learningRate } = REFERENCE;
  const inputDim = REFERENCE_VAE_CONFIG.inputDim;
  const latentDim = REFERENCE_VAE_CONFIG.latentDim;
  const dataset = makeDataset(4, batch, inputDim, 7);
  const epsFor = (step: number, out: Float32Array) => fillNormal(out, mulberry32(1_000_003 + step));
  const optimizer = { name: 'adam' as const, learningRate };

  const modes: ParallelMode[] = ['sharded', 'replicated'];
  const trainers = new Map<ParallelMode, DataParallelTrainer>();
  for (const mode of modes) {
    trainers.set(
      mode,
      await createDataParallelTrainer({
        replica: { module: pathToFileURL(`${dist}vae-replica.js`).href, config: REFERENCE_VAE_CONFIG },
        replicas: 2,
        batchSize: batch,
        optimizer,
        backend: 'wasm',
        mode,
        cpuClock: () => currentThreadCpu().cpu,
      }),
    );
  }
  const anyTrainer = trainers.get('sharded') as DataParallelTrainer;
  const shapes = anyTrainer.replica.variables.map((v) => v.shape);
  const init = initialWeights(shapes, 42);
  const setWeights = (vars: tf.Variable[]) => tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(init[i] as Float32Array, v.shape))));

  // Single-process twin: same replica code, full batch, same optimizer, same data and noise.
  let single = createReplica(REFERENCE_VAE_CONFIG);
  let singleOpt = gmAdam(optimizer.learningRate);
  const singleEps = new Float32Array(batch * latentDim);
  const singleStep = (step: number): number => {
    epsFor(step, singleEps);
    const { value, grads } = tf.variableGrads(() => {
      const x = tf.tensor2d(dataset[step % dataset.length] as Float32Array, [batch, inputDim]);
      const eps = tf.tensor2d(singleEps, [batch, latentDim]);
      return single.loss({ x, eps }, { step, rows: [0, batch] });
    }, single.variables);
    singleOpt.applyGradients(single.variables.map((v) => ({ name: v.name, tensor: grads[v.name] as tf.Tensor })));
    const loss = value.dataSync()[0] as number;
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  };
  const parallelStep = (trainer: DataParallelTrainer) => (step: number): number => {
    trainer.inputView(step, 'x').set(dataset[step % dataset.length] as Float32Array);
    epsFor(step, trainer.inputView(step, 'eps'));
    return trainer.step(step);
  };

  // --- Loss trajectory: single-process vs data-parallel from identical weights, data and noise.
  const singleLosses: number[] = [];
  setWeights(single.variables);
  for (let i = 0; i < o.trajectorySteps; i++) singleLosses.push(singleStep(i));
  const singleWeights = new Float32Array(anyTrainer.runner.paramCount);
  let off = 0;
  for (const v of single.variables) {
    singleWeights.set(v.dataSync() as Float32Array, off);
    off += v.size;
  }
  for (const mode of modes) {
    const trainer = trainers.get(mode) as DataParallelTrainer;
    setWeights(trainer.replica.variables);
    trainer.broadcastWeights();
    const step = parallelStep(trainer);
    const parallelLosses: number[] = [];
    for (let i = 0; i < o.trajectorySteps; i++) parallelLosses.push(step(i));
    const replicaWeights = trainer.gatherWeights();
    let identical = true;
    let maxWeightDiff = 0;
    for (let k = 0; k < trainer.runner.paramCount; k++) {
      if (replicaWeights[0]![k] !== replicaWeights[1]![k]) identical = false;
      maxWeightDiff = Math.max(maxWeightDiff, Math.abs((replicaWeights[0]![k] as number) - (singleWeights[k] as number)));
    }
    const maxRel = Math.max(...parallelLosses.map((l, i) => Math.abs(l - (singleLosses[i] as number)) / Math.abs(singleLosses[i] as number)));
    notes.push(
      `data-parallel (${mode}) trajectory over ${o.trajectorySteps} steps: loss ${singleLosses[0]!.toFixed(3)}→${singleLosses.at(-1)!.toFixed(3)} (single process) vs ` +
        `${parallelLosses[0]!.toFixed(3)}→${parallelLosses.at(-1)!.toFixed(3)} (2 replicas); max relative loss difference ${maxRel.toExponential(2)}; ` +
        `max |weight − single-process weight| ${maxWeightDiff.toExponential(2)}; replicas bit-identical: ${identical}`,
    );
    log(`  ${notes.at(-1)}`);
  }
  // Fresh twin for timing (its optimizer state restarts; irrelevant to speed).
  single.dispose();
  singleOpt.dispose();
  single = createReplica(REFERENCE_VAE_CONFIG);
  singleOpt = gmAdam(optimizer.learningRate);
  let stepIndex = o.trajectorySteps;

  // --- Timing, interleaved A/B/C blocks in this process.
  const reference = createReferenceVaeStep(0);
  const variants: Array<[string, (s: number) => number]> = [
    ['reference step (1 thread, optimizer.minimize)', () => reference.step()],
    ['data-parallel sharded, 2 replicas (main + 1 worker_thread)', parallelStep(anyTrainer)],
    ['data-parallel replicated, 2 replicas (main + 1 worker_thread)', parallelStep(trainers.get('replicated') as DataParallelTrainer)],
    ['single-process twin (1 thread, same code path)', singleStep],
  ];
  const blocks = new Map<string, number[][]>(variants.map(([name]) => [name, []]));
  const cpus = new Map<string, CpuDelta[]>(variants.map(([name]) => [name, []]));
  for (let round = 0; round < o.rounds; round++) {
    for (const [name, fn] of variants) {
      for (let i = 0; i < o.warmup; i++) fn(stepIndex++);
      const times: number[] = [];
      const before = threadCpu();
      for (let i = 0; i < o.steps; i++) {
        const t0 = performance.now();
        fn(stepIndex++);
        times.push(performance.now() - t0);
      }
      cpus.get(name)?.push(cpuDelta(before, threadCpu()));
      blocks.get(name)?.push(times);
      log(`  data-parallel round ${round + 1}/${o.rounds} ${name}: ${median(times).toFixed(1)} ms/step`);
    }
  }
  const baseBlocks = blocks.get(variants[0]![0]) ?? [];
  const baseCpu = cpus.get(variants[0]![0]) ?? [];
  const crit = (c: CpuDelta) => Math.max(c.main, c.busiestOther) / o.steps;
  for (const [name] of variants) {
    const bs = blocks.get(name) ?? [];
    const cs = cpus.get(name) ?? [];
    const ratios = bs.map((b, i) => median(baseBlocks[i] ?? []) / median(b));
    rows.push({
      section: 'data-parallel',
      variant: name,
      msPerStep: round2(median(bs.flat())),
      speedupVsBaseline: round2(median(ratios)),
      steps: bs.flat().length,
      cpuMainMsPerStep: round2(median(cs.map((c) => c.main / o.steps))),
      cpuOtherMsPerStep: round2(median(cs.map((c) => c.busiestOther / o.steps))),
      projectedSpeedup: round2(median(cs.map((c, i) => (baseCpu[i] ? crit(baseCpu[i]) : Number.NaN) / crit(c)))),
      note: `batch ${batch}; per-round speedups ${ratios.map((r) => r.toFixed(2)).join(' ')}`,
    });
  }
  // Where rank 0's time goes in a sharded step (thread CPU vs wall, per phase), and leak check.
  const sharded = anyTrainer.runner;
  const tensorsBefore = tf.memory().numTensors;
  sharded.profile = true;
  const shardedStep = parallelStep(anyTrainer);
  for (let i = 0; i < o.steps; i++) shardedStep(stepIndex++);
  sharded.profile = false;
  const per = (rec: Record<string, number>) =>
    Object.entries(rec)
      .map(([k, v]) => `${k} ${(v / o.steps).toFixed(1)}`)
      .join(', ');
  notes.push(`sharded step, rank 0 per phase (ms/step) — thread CPU: ${per(sharded.phaseCpuMs)}; wall: ${per(sharded.phaseMs)}`);
  notes.push(`tensors on rank 0 after ${o.steps} more sharded steps: ${tf.memory().numTensors - tensorsBefore >= 0 ? '+' : ''}${tf.memory().numTensors - tensorsBefore}`);
  log(`  ${notes.at(-2)}`);
  reference.dispose();
  single.dispose();
  singleOpt.dispose();
  for (const t of trainers.values()) await t.dispose();
  return { rows, notes };
}

/** Runs the "both cores" measurements and returns one row per variant (see the file comment). */
export async function runParallelBench(options: ParallelBenchOptions = {}): Promise<ParallelBenchResult> {
  const o = {
    rounds: options.rounds ?? 6,
    steps: options.steps ?? 10,
    warmup: options.warmup ?? 3,
    trajectorySteps: options.trajectorySteps ?? 20,
  };
  const log = options.log ?? (() => {});
  const sections = options.sections ?? ['threads', 'data-parallel'];
  const dist = findDist(options.distDir);
  const rows: ParallelBenchRow[] = [];
  const notes: string[] = [`cpus ${os.cpus().length}, load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`];
  if (sections.includes('threads')) {
    const r = runThreadsSection(dist, o, log);
    rows.push(...r.rows);
    notes.push(...r.notes);
  }
  if (sections.includes('data-parallel')) {
    const r = await runDataParallelSection(dist, o, log);
    rows.push(...r.rows);
    notes.push(...r.notes);
  }
  notes.push(`load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  return { rows, notes, loadAverage: os.loadavg() };
}
