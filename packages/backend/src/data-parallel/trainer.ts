/**
 * Data-parallel training on the machine's cores (Node): rank 0 on the calling thread, ranks 1..N−1 in
 * worker_threads, each with its own tfjs wasm backend (gm's kernels) and its own replica of the model. See
 * ./runner.ts for the protocol. Measured on the reference VAE step: apps/bench/src/parallel/README.md.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { AdamState } from '@gm/core';
import { buildReplica, type Replica, type ReplicaSource } from './replica';
import {
  allocateBuffers,
  ARG,
  doneToken,
  FAILED,
  layoutInputs,
  MAX_REPLICAS,
  OP,
  OP_DUMP_MOMENTS,
  OP_DUMP_WEIGHTS,
  OP_EXIT,
  OP_LOAD_MOMENTS,
  OP_LOAD_WEIGHTS,
  OP_STEP,
  ReplicaRunner,
  SEQ,
  STEP_SEED,
  STEP_SEEDED,
  type DataParallelOptimizer,
  type ParallelMode,
} from './runner';

export interface DataParallelOptions {
  /** How every worker builds its replica (the module must be importable from a worker: pass a file URL). */
  replica: ReplicaSource;
  /** Rank 0's replica, when the caller already holds the model (default: built from `replica` here too). Its
   * weights are copied to every worker at start. */
  localReplica?: Replica;
  /** Replicas including the calling thread (default 2). */
  replicas?: number;
  /** Examples per step, split across the replicas (each step takes exactly this many). */
  batchSize: number;
  optimizer: DataParallelOptimizer;
  /** Default 'sharded' (each variable updated by one owner, also with `optimizer.clipNorm`), or 'replicated', which
   * duplicates the update on every replica. */
  mode?: ParallelMode;
  /** Backend every worker starts with @gm/backend's initBackend (default: the calling thread's, wasm or cpu). */
  backend?: 'wasm' | 'cpu';
  /** The compiled worker entry (default: data-parallel-worker.js next to this module). */
  workerUrl?: URL;
  /** Clock for per-phase CPU profiling of rank 0 (e.g. thread CPU ms); wall time is always kept. */
  cpuClock?: () => number;
}

export interface DataParallelTrainer {
  /** Rank 0's replica: its variables are the model's current weights after every step. */
  readonly replica: Replica;
  /** Rank 0's runner (profiling: set `profile`, read `phaseMs` / `phaseCpuMs`). */
  readonly runner: ReplicaRunner;
  readonly replicas: number;
  readonly batchSize: number;
  /** Where to write input `name` of step `step`: batchSize rows, row-major. */
  inputView(step: number, name: string): Float32Array;
  /**
   * Runs one synchronous step on the inputs written for `step` (0, 1, 2, …); returns the batch's mean loss. `seed`
   * (an unsigned 32-bit integer), when given, is the step's seed every replica's loss gets (`ReplicaStepContext.seed`),
   * e.g. the one a one-thread `fit` would use for this step.
   */
  step(step: number, seed?: number): number;
  /** Copies rank 0's weights to every replica (after changing them on rank 0, e.g. restoring a snapshot). */
  broadcastWeights(): void;
  /** Every replica's weights, rank order (for checks). */
  gatherWeights(): Float32Array[];
  /**
   * Adam's state for the replica's variables in their order, gathered from the replicas that update them: the same
   * layout as one thread's Adam over those variables (`getWeights()` minus the names), so a checkpoint can keep it.
   */
  optimizerState(): AdamState;
  /** Sets every replica's Adam state (e.g. from a checkpoint, or one thread's): each owner takes its variables'. */
  setOptimizerState(state: AdamState): void;
  /** Stops the workers and frees rank 0's optimizer (and its replica unless it was the caller's). */
  dispose(): Promise<void>;
}

const defaultWorkerUrl = (): URL => new URL('./data-parallel-worker.js', import.meta.url);

/**
 * Starts the workers and returns a trainer. Every step's batch is split across the replicas; each variable is
 * updated by one replica and copied to the others, so every replica holds the same weights after each step.
 *
 * @example
 * ```ts
 * import { initBackend } from '@gm/backend';
 * import { createDataParallelTrainer } from '@gm/backend/data-parallel';
 *
 * await initBackend({ backend: 'wasm' });
 * const trainer = await createDataParallelTrainer({
 *   replica: { module: new URL('./my-replica.js', import.meta.url).href, config: { hidden: 128 } },
 *   batchSize: 128,
 *   optimizer: { name: 'adam', learningRate: 1e-3 },
 * });
 * trainer.inputView(0, 'x').set(firstBatch); // 128 rows
 * const loss = trainer.step(0);
 * await trainer.dispose();
 * ```
 */
export async function createDataParallelTrainer(options: DataParallelOptions): Promise<DataParallelTrainer> {
  const replicas = options.replicas ?? 2;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw new Error(`data-parallel: replicas must be an integer in 1..${MAX_REPLICAS}; got ${String(replicas)}`);
  }
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < replicas) {
    throw new Error(`data-parallel: batchSize must be an integer ≥ replicas (${replicas}); got ${String(batchSize)}`);
  }
  const active = tf.getBackend();
  const backend = options.backend ?? (active === 'wasm' || active === 'cpu' ? active : undefined);
  if (backend === undefined) throw new Error(`data-parallel: runs on wasm or cpu; the active backend is "${active}"`);
  const ownReplica = options.localReplica === undefined;
  const replica = options.localReplica ?? (await buildReplica(options.replica));
  const buffers = allocateBuffers(replica, batchSize, replicas);
  const clipNorm = options.optimizer.clipNorm;
  if (clipNorm !== undefined && !(Number.isFinite(clipNorm) && clipNorm > 0)) throw new Error(`data-parallel: optimizer.clipNorm must be a positive number, got ${clipNorm}`);
  const mode = options.mode ?? 'sharded';
  const setup = { replicas, batchSize, optimizer: options.optimizer, buffers, mode };
  const runner = new ReplicaRunner(replica, { ...setup, rank: 0 }, options.cpuClock);
  const workers: Worker[] = [];
  const started: Array<Promise<void>> = [];
  for (let rank = 1; rank < replicas; rank++) {
    const worker = new Worker(options.workerUrl ?? defaultWorkerUrl(), {
      workerData: { replica: options.replica, backend, setup: { ...setup, rank } },
    });
    workers.push(worker);
    started.push(
      new Promise((resolve, reject) => {
        worker.once('message', (m: unknown) => (m === 'ready' ? resolve() : reject(new Error(String(m)))));
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`data-parallel: worker ${rank} exited with code ${code} while starting`)));
      }),
    );
  }
  const ctrl = runner.ctrl;
  const stopAll = async () => {
    runner.fail();
    await Promise.all(workers.map((w) => w.terminate()));
  };
  try {
    await Promise.all(started);
  } catch (error) {
    await stopAll();
    runner.dispose(!ownReplica);
    throw error;
  }
  // A worker that dies later (uncaught error) must not leave rank 0 waiting at a barrier.
  for (const worker of workers) worker.on('error', (error) => runner.fail(error));

  const inputs = new Float32Array(buffers.inputs);
  const { layout, floatsPerParity } = layoutInputs(replica, batchSize);
  const publish = (op: number, arg: number): number => {
    Atomics.store(ctrl, OP, op);
    Atomics.store(ctrl, ARG, arg);
    const seq = Atomics.add(ctrl, SEQ, 1) + 1;
    Atomics.notify(ctrl, SEQ);
    return seq;
  };
  const command = (op: number): void => {
    const seq = publish(op, 0);
    runner.barrier(doneToken(seq));
  };
  const broadcastWeights = () => {
    runner.dumpWeights(0);
    command(OP_LOAD_WEIGHTS);
  };
  broadcastWeights();
  // Checked here, before any worker is asked: a worker that threw would stop the whole trainer.
  const checkAdam = (): void => {
    if (options.optimizer.name !== 'adam') throw new Error(`data-parallel: only Adam keeps optimizer state (this trainer runs ${options.optimizer.name})`);
  };

  return {
    replica,
    runner,
    replicas,
    batchSize,
    inputView(step, name) {
      const l = layout.find((e) => e.name === name);
      if (l === undefined) throw new Error(`data-parallel: the replica has no input "${name}" (it has ${layout.map((e) => e.name).join(', ')})`);
      const from = (step & 1) * floatsPerParity + l.offset;
      return inputs.subarray(from, from + batchSize * l.exampleSize);
    },
    step(step, seed) {
      if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) throw new Error(`data-parallel: a step's seed must be an unsigned 32-bit integer; got ${String(seed)}`);
      Atomics.store(ctrl, STEP_SEEDED, seed === undefined ? 0 : 1);
      Atomics.store(ctrl, STEP_SEED, (seed ?? 0) | 0);
      const seq = publish(OP_STEP, step);
      try {
        runner.runStep(step, seq);
      } catch (error) {
        runner.fail(error);
        throw error;
      }
      return runner.stepLoss(step);
    },
    broadcastWeights,
    gatherWeights() {
      command(OP_DUMP_WEIGHTS);
      runner.dumpWeights(0);
      const all = new Float32Array(buffers.weights);
      return Array.from({ length: replicas }, (_, r) => all.slice(r * runner.paramCount, (r + 1) * runner.paramCount));
    },
    optimizerState() {
      checkAdam();
      command(OP_DUMP_MOMENTS);
      runner.dumpMoments();
      return runner.momentsInBuffer();
    },
    setOptimizerState(state) {
      checkAdam();
      runner.momentsToBuffer(state);
      command(OP_LOAD_MOMENTS);
      runner.loadMoments();
    },
    async dispose() {
      const exited = workers.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
      if (Atomics.load(ctrl, FAILED) === 0) command(OP_EXIT);
      else await Promise.all(workers.map((w) => w.terminate()));
      await Promise.all(exited);
      runner.dispose(!ownReplica);
    },
  };
}
