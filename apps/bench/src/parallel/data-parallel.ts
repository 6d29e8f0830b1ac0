/**
 * Data-parallel training across worker_threads (prototype).
 *
 * N replicas (rank 0 on the calling thread, ranks 1..N-1 in worker_threads, each with its own tfjs + wasm
 * instance) hold identical copies of a model. For every step the caller writes the full batch into a
 * SharedArrayBuffer; replica r takes rows [start_r, end_r), computes gradients of (shard mean loss × shard/batch)
 * with tf.variableGrads, and copies them straight from its wasm heap into its slot of a shared gradient buffer.
 * After a barrier (Atomics.wait/notify) every replica sums the N slots in rank order directly into the heap
 * memory of persistent gradient tensors and applies the same optimizer update, so the replicas stay bit-identical
 * without broadcasting weights. The sum of the scaled shard gradients is the gradient of the full-batch mean.
 *
 * Per step and replica the only copies are: shard inputs SAB→heap, own gradients heap→SAB, summed gradients
 * SAB→heap. Buffers are double-buffered by step parity, so one barrier per step suffices: a replica can only
 * overwrite parity p at step s+2 after every replica has arrived at step s+1, i.e. finished reading step s.
 *
 * mode 'sharded' (ZeRO-1 style) removes the duplicated O(parameters) work: the variables are split into N groups of
 * about equal size; replica r owns group r. Each replica publishes only the gradients of variables it does not own,
 * the owner adds them to its own (in wasm) and runs the optimizer on its group alone (so Adam's moments live only
 * there), writes the new weights of its group to a shared buffer, and after a second barrier every replica copies in
 * the groups it does not own. Replicas stay bit-identical because each variable has a single writer.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { gmAdam } from '@gm/backend';
import { currentThreadCpu } from './thread-cpu';
import type { Replica } from './vae-replica';

export interface OptimizerConfig {
  name: 'adam' | 'sgd';
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Adam is gmAdam: tf.train.adam bit for bit, one fused kernel per variable where gm's wasm kernels are bound. */
export function createOptimizer(config: OptimizerConfig): tf.Optimizer {
  if (config.name === 'sgd') return tf.train.sgd(config.learningRate);
  return gmAdam(config.learningRate, config.beta1, config.beta2, config.epsilon);
}

/** Control words in the shared Int32Array. */
const SEQ = 0; // command sequence number, bumped by rank 0
const OP = 1; // command
const ARG = 2; // command argument (step index for STEP)
const DONE = 8; // DONE + r: last sequence number rank r finished (STEP: arrived at the barrier)
const CTRL_WORDS = 8 + 64;

export const OP_STEP = 1;
export const OP_LOAD_WEIGHTS = 2;
export const OP_DUMP_WEIGHTS = 3;
export const OP_EXIT = 4;

export interface SharedBuffers {
  ctrl: SharedArrayBuffer;
  inputs: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  losses: SharedArrayBuffer;
  weights: SharedArrayBuffer;
  /** Updated weights of each owner's group ('sharded' mode). */
  exchange: SharedArrayBuffer;
}

export type ParallelMode = 'replicated' | 'sharded';

export interface ReplicaSetup {
  rank: number;
  replicas: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  buffers: SharedBuffers;
  mode: ParallelMode;
}

/** Owner rank of each variable: largest first to the least-loaded rank (deterministic, about equal sizes). */
export function assignOwners(sizes: number[], replicas: number): number[] {
  const load = new Array<number>(replicas).fill(0);
  const owner = new Array<number>(sizes.length).fill(0);
  const order = sizes.map((size, i) => ({ size, i })).sort((a, b) => b.size - a.size || a.i - b.i);
  for (const { size, i } of order) {
    let best = 0;
    for (let r = 1; r < replicas; r++) if ((load[r] as number) < (load[best] as number)) best = r;
    owner[i] = best;
    load[best] = (load[best] as number) + size;
  }
  return owner;
}

interface InputLayout {
  name: string;
  exampleShape: number[];
  exampleSize: number;
  /** Offset (floats) of this input inside one parity of the input buffer. */
  offset: number;
}

/** Rows [start, end) of the batch handled by `rank`. */
export function shardRange(batchSize: number, replicas: number, rank: number): [number, number] {
  const base = Math.floor(batchSize / replicas);
  const extra = batchSize % replicas;
  const start = rank * base + Math.min(rank, extra);
  return [start, start + base + (rank < extra ? 1 : 0)];
}

export function layoutInputs(replica: Replica, batchSize: number): { layout: InputLayout[]; floatsPerParity: number } {
  let offset = 0;
  const layout = replica.inputs.map((spec) => {
    const exampleSize = spec.exampleShape.reduce((a, b) => a * b, 1);
    const entry = { name: spec.name, exampleShape: spec.exampleShape, exampleSize, offset };
    offset += batchSize * exampleSize;
    return entry;
  });
  return { layout, floatsPerParity: offset };
}

export function parameterCount(replica: Replica): number {
  return replica.variables.reduce((n, v) => n + v.size, 0);
}

export function allocateBuffers(replica: Replica, batchSize: number, replicas: number): SharedBuffers {
  const { floatsPerParity } = layoutInputs(replica, batchSize);
  const p = parameterCount(replica);
  return {
    ctrl: new SharedArrayBuffer(CTRL_WORDS * 4),
    inputs: new SharedArrayBuffer(2 * floatsPerParity * 4),
    grads: new SharedArrayBuffer(2 * replicas * p * 4),
    losses: new SharedArrayBuffer(2 * replicas * 8),
    weights: new SharedArrayBuffer(replicas * p * 4),
    exchange: new SharedArrayBuffer(p * 4),
  };
}

interface HeapBackend {
  typedArrayFromHeap(t: { shape: number[]; dtype: tf.DataType; dataId: object }): Float32Array;
}

function heapView(t: tf.Tensor): Float32Array | undefined {
  const backend = tf.backend() as unknown as Partial<HeapBackend>;
  if (tf.getBackend() !== 'wasm' || typeof backend.typedArrayFromHeap !== 'function') return undefined;
  return backend.typedArrayFromHeap({ shape: t.shape, dtype: t.dtype, dataId: t.dataId });
}

/** A tensor holding a copy of `view` (wasm copies into its heap at once; other backends may keep the array). */
function tensorFrom(view: Float32Array, shape: number[]): tf.Tensor {
  return tf.tensor(tf.getBackend() === 'wasm' ? view : view.slice(), shape);
}

/**
 * One replica's side of the protocol: used by rank 0 on the calling thread and by every worker.
 */
export class ReplicaRunner {
  readonly ctrl: Int32Array;
  readonly optimizer: tf.Optimizer;
  readonly paramCount: number;
  private readonly inputs: Float32Array;
  private readonly grads: Float32Array;
  private readonly losses: Float64Array;
  private readonly weights: Float32Array;
  private readonly layout: InputLayout[];
  private readonly floatsPerParity: number;
  private readonly shard: [number, number];
  private readonly scale: number;
  private readonly shardInputs: Record<string, tf.Tensor>;
  private readonly summed: tf.Tensor[];
  private readonly offsets: number[];
  private readonly names: string[];
  private readonly exchange: Float32Array;
  /** Owner rank of each variable ('sharded'). */
  readonly owners: number[];
  /** Accumulated wall ms per phase of 'sharded' steps (for profiling; reset freely). */
  readonly phaseMs: Record<string, number> = { grads: 0, publish: 0, wait1: 0, update: 0, exchange: 0, wait2: 0, load: 0 };
  /** Same, thread CPU ms (Linux schedstat). */
  readonly phaseCpuMs: Record<string, number> = { grads: 0, publish: 0, wait1: 0, update: 0, exchange: 0, wait2: 0, load: 0 };
  /** Set to collect phaseMs / phaseCpuMs (costs a few /proc reads per step). */
  profile = false;

  constructor(
    readonly replica: Replica,
    readonly setup: ReplicaSetup,
  ) {
    const { buffers, batchSize, replicas, rank } = setup;
    this.ctrl = new Int32Array(buffers.ctrl);
    this.inputs = new Float32Array(buffers.inputs);
    this.grads = new Float32Array(buffers.grads);
    this.losses = new Float64Array(buffers.losses);
    this.weights = new Float32Array(buffers.weights);
    const { layout, floatsPerParity } = layoutInputs(replica, batchSize);
    this.layout = layout;
    this.floatsPerParity = floatsPerParity;
    this.paramCount = parameterCount(replica);
    this.shard = shardRange(batchSize, replicas, rank);
    const rows = this.shard[1] - this.shard[0];
    this.scale = rows / batchSize;
    this.shardInputs = Object.fromEntries(
      layout.map((l) => [l.name, tf.keep(tf.tensor(new Float32Array(rows * l.exampleSize), [rows, ...l.exampleShape]))]),
    );
    // Persistent summed-gradient tensors ('replicated' mode writes into their heap memory every step).
    this.summed = setup.mode === 'replicated' ? replica.variables.map((v) => tf.keep(tf.tensor(new Float32Array(v.size), v.shape))) : [];
    let offset = 0;
    this.offsets = replica.variables.map((v) => {
      const o = offset;
      offset += v.size;
      return o;
    });
    this.names = replica.variables.map((v) => v.name);
    this.optimizer = createOptimizer(setup.optimizer);
    this.exchange = new Float32Array(buffers.exchange);
    this.owners = assignOwners(
      replica.variables.map((v) => v.size),
      replicas,
    );
  }

  /** One whole step of this replica (both modes); `seq` is the command's sequence number. */
  runStep(step: number, seq: number): void {
    if (this.setup.mode === 'replicated') {
      this.computeGradients(step);
      this.barrier(2 * seq);
      this.applySummed(step);
    } else {
      this.stepSharded(step, seq);
    }
  }

  /** 'sharded' mode: publish non-owned gradients, update the owned group, exchange weights. */
  private stepSharded(step: number, seq: number): void {
    const ph = this.phaseMs;
    const pc = this.phaseCpuMs;
    const profile = this.profile;
    let t = performance.now();
    let c = profile ? currentThreadCpu().cpu : 0;
    const lap = (name: string) => {
      if (!profile) return;
      const now = performance.now();
      const cpu = currentThreadCpu().cpu;
      ph[name] = (ph[name] ?? 0) + now - t;
      pc[name] = (pc[name] ?? 0) + cpu - c;
      t = now;
      c = cpu;
    };
    this.readShard(step);
    const { rank, replicas } = this.setup;
    const parity = step & 1;
    const p = this.paramCount;
    const scale = this.scale;
    const vars = this.replica.variables;
    const { value, grads } = tf.variableGrads(() => tf.mul(this.replica.loss(this.shardInputs), scale) as tf.Scalar, vars);
    this.losses[parity * replicas + rank] = value.dataSync()[0] as number;
    lap('grads');
    const slot = (parity * replicas + rank) * p;
    vars.forEach((v, i) => {
      if (this.owners[i] === rank) return;
      const g = grads[v.name] as tf.Tensor;
      this.grads.set(heapView(g) ?? (g.dataSync() as Float32Array), slot + (this.offsets[i] as number));
    });
    lap('publish');
    this.barrier(2 * seq);
    lap('wait1');
    tf.tidy(() => {
      const list: Array<{ name: string; tensor: tf.Tensor }> = [];
      vars.forEach((v, i) => {
        if (this.owners[i] !== rank) return;
        let g = grads[v.name] as tf.Tensor;
        for (let r = 0; r < replicas; r++) {
          if (r === rank) continue;
          const o = (parity * replicas + r) * p + (this.offsets[i] as number);
          g = tf.add(g, tensorFrom(this.grads.subarray(o, o + v.size), v.shape));
        }
        list.push({ name: v.name, tensor: g });
      });
      this.optimizer.applyGradients(list);
    });
    tf.dispose([value, ...Object.values(grads)]);
    lap('update');
    vars.forEach((v, i) => {
      if (this.owners[i] !== rank) return;
      this.exchange.set(heapView(v) ?? (v.dataSync() as Float32Array), this.offsets[i] as number);
    });
    lap('exchange');
    this.barrier(2 * seq + 1);
    lap('wait2');
    vars.forEach((v, i) => {
      if (this.owners[i] === rank) return;
      const o = this.offsets[i] as number;
      tf.tidy(() => v.assign(tensorFrom(this.exchange.subarray(o, o + v.size), v.shape)));
    });
    lap('load');
  }

  /** Loads this replica's weights from weight slot `slot`. */
  loadWeights(slot = 0): void {
    const base = slot * this.paramCount;
    this.replica.variables.forEach((v, i) => {
      const o = base + (this.offsets[i] as number);
      tf.tidy(() => v.assign(tf.tensor(this.weights.slice(o, o + v.size), v.shape)));
    });
  }

  /** Writes this replica's weights into weight slot `slot`. */
  dumpWeights(slot = this.setup.rank): void {
    const base = slot * this.paramCount;
    this.replica.variables.forEach((v, i) => {
      this.weights.set(v.dataSync() as Float32Array, base + (this.offsets[i] as number));
    });
  }

  /** Copies this replica's shard of step `step`'s inputs into the persistent shard tensors. */
  private readShard(step: number): void {
    const parity = step & 1;
    const [start, end] = this.shard;
    for (const l of this.layout) {
      const from = parity * this.floatsPerParity + l.offset + start * l.exampleSize;
      const src = this.inputs.subarray(from, from + (end - start) * l.exampleSize);
      const t = this.shardInputs[l.name] as tf.Tensor;
      const heap = heapView(t);
      if (heap !== undefined) heap.set(src);
      else {
        const fresh = tf.keep(tf.tensor(src.slice(), t.shape));
        t.dispose();
        this.shardInputs[l.name] = fresh;
      }
    }
  }

  /** Computes this replica's scaled shard gradients into its slot; returns its loss contribution. */
  computeGradients(step: number): number {
    this.readShard(step);
    const { rank, replicas } = this.setup;
    const parity = step & 1;
    const slot = (parity * replicas + rank) * this.paramCount;
    const scale = this.scale;
    const { value, grads } = tf.variableGrads(
      () => tf.mul(this.replica.loss(this.shardInputs), scale) as tf.Scalar,
      this.replica.variables,
    );
    this.replica.variables.forEach((v, i) => {
      const g = grads[v.name] as tf.Tensor;
      const dst = slot + (this.offsets[i] as number);
      this.grads.set(heapView(g) ?? (g.dataSync() as Float32Array), dst);
    });
    const loss = value.dataSync()[0] as number;
    tf.dispose([value, ...Object.values(grads)]);
    this.losses[parity * replicas + rank] = loss;
    return loss;
  }

  /** Sums every replica's slot (rank order) into the persistent gradient tensors and applies the update. */
  applySummed(step: number): void {
    const { replicas } = this.setup;
    const parity = step & 1;
    const p = this.paramCount;
    const g = this.grads;
    this.replica.variables.forEach((v, i) => {
      const o = this.offsets[i] as number;
      let t = this.summed[i] as tf.Tensor;
      const heap = heapView(t);
      const out = heap ?? new Float32Array(v.size);
      const base = parity * replicas * p + o;
      out.set(g.subarray(base, base + v.size));
      for (let r = 1; r < replicas; r++) {
        const b = base + r * p;
        for (let k = 0; k < v.size; k++) out[k] = (out[k] as number) + (g[b + k] as number);
      }
      if (heap === undefined) {
        t.dispose();
        t = tf.keep(tf.tensor(out, v.shape));
        this.summed[i] = t;
      }
    });
    this.optimizer.applyGradients(this.names.map((name, i) => ({ name, tensor: this.summed[i] as tf.Tensor })));
  }

  /** Sum of every replica's loss contribution at `step` (the full-batch mean loss); valid after the barrier. */
  stepLoss(step: number): number {
    const { replicas } = this.setup;
    const parity = step & 1;
    let s = 0;
    for (let r = 0; r < replicas; r++) s += this.losses[parity * replicas + r] as number;
    return s;
  }

  /** Marks this rank as having reached `token` (monotonic: 2·seq, 2·seq+1) and waits for every other rank. */
  barrier(token: number): void {
    const { rank, replicas } = this.setup;
    Atomics.store(this.ctrl, DONE + rank, token);
    Atomics.notify(this.ctrl, DONE + rank);
    for (let r = 0; r < replicas; r++) {
      if (r === rank) continue;
      for (;;) {
        const seen = Atomics.load(this.ctrl, DONE + r);
        if (seen >= token) break;
        Atomics.wait(this.ctrl, DONE + r, seen);
      }
    }
  }

  dispose(): void {
    tf.dispose([...Object.values(this.shardInputs), ...this.summed]);
    this.optimizer.dispose();
    this.replica.dispose();
  }
}

/** Worker loop: runs commands published by rank 0 until OP_EXIT. */
export function serveCommands(runner: ReplicaRunner): void {
  const ctrl = runner.ctrl;
  let seen = Atomics.load(ctrl, SEQ);
  for (;;) {
    Atomics.wait(ctrl, SEQ, seen);
    const seq = Atomics.load(ctrl, SEQ);
    if (seq === seen) continue;
    seen = seq;
    const op = Atomics.load(ctrl, OP);
    const arg = Atomics.load(ctrl, ARG);
    if (op === OP_STEP) {
      runner.runStep(arg, seq);
      continue;
    }
    if (op === OP_LOAD_WEIGHTS) runner.loadWeights(0);
    else if (op === OP_DUMP_WEIGHTS) runner.dumpWeights();
    const rank = runner.setup.rank;
    Atomics.store(ctrl, DONE + rank, 2 * seq + 1);
    Atomics.notify(ctrl, DONE + rank);
    if (op === OP_EXIT) return;
  }
}

export interface DataParallelOptions {
  /** URL of an ES module exporting `createReplica(config)` (imported by every worker and by rank 0). */
  replicaModule: string;
  replicaConfig: unknown;
  /** Number of replicas including the calling thread (2 uses both cores of these machines). */
  replicas: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  /** 'replicated': every replica sums all gradients and runs the full update; 'sharded': see the file comment. */
  mode?: ParallelMode;
  /** URL of the compiled worker entry (./dp-worker.js). */
  workerUrl: URL;
  /** Backend each worker initialises (the calling thread must already run the same one). */
  backend: 'wasm' | 'cpu';
}

export interface DataParallelTrainer {
  readonly replica: Replica;
  /** Rank 0's runner (profiling: set `profile`, read `phaseMs` / `phaseCpuMs`). */
  readonly runner: ReplicaRunner;
  readonly paramCount: number;
  /** Writes the full batch of step `step` (row-major, batchSize rows per input) into the shared input buffer. */
  inputView(step: number, name: string): Float32Array;
  /** Runs one synchronous data-parallel step on the inputs already written for `step`; returns the batch loss. */
  step(step: number): number;
  /** Copies rank 0's weights to every replica. */
  broadcastWeights(): void;
  /** Every replica's weights (rank order), for checks. */
  gatherWeights(): Float32Array[];
  dispose(): Promise<void>;
}

export async function createDataParallelTrainer(options: DataParallelOptions): Promise<DataParallelTrainer> {
  const mod = (await import(options.replicaModule)) as { createReplica(config: unknown): Replica };
  const replica = mod.createReplica(options.replicaConfig);
  const buffers = allocateBuffers(replica, options.batchSize, options.replicas);
  const mode = options.mode ?? 'sharded';
  const runner = new ReplicaRunner(replica, {
    rank: 0,
    replicas: options.replicas,
    batchSize: options.batchSize,
    optimizer: options.optimizer,
    buffers,
    mode,
  });
  const workers: Worker[] = [];
  const ready: Promise<void>[] = [];
  for (let rank = 1; rank < options.replicas; rank++) {
    const worker = new Worker(options.workerUrl, {
      workerData: {
        replicaModule: options.replicaModule,
        replicaConfig: options.replicaConfig,
        backend: options.backend,
        setup: { rank, replicas: options.replicas, batchSize: options.batchSize, optimizer: options.optimizer, buffers, mode },
      },
    });
    workers.push(worker);
    ready.push(
      new Promise((resolve, reject) => {
        worker.once('message', (m: unknown) => (m === 'ready' ? resolve() : reject(new Error(String(m)))));
        worker.once('error', reject);
      }),
    );
  }
  await Promise.all(ready);
  const ctrl = runner.ctrl;
  const inputs = new Float32Array(buffers.inputs);
  const { layout, floatsPerParity } = layoutInputs(replica, options.batchSize);

  const publish = (op: number, arg: number): number => {
    Atomics.store(ctrl, OP, op);
    Atomics.store(ctrl, ARG, arg);
    const seq = Atomics.add(ctrl, SEQ, 1) + 1;
    Atomics.notify(ctrl, SEQ);
    return seq;
  };
  const command = (op: number): void => {
    const seq = publish(op, 0);
    runner.barrier(2 * seq + 1);
  };

  return {
    replica,
    runner,
    paramCount: runner.paramCount,
    inputView(step, name) {
      const l = layout.find((e) => e.name === name);
      if (l === undefined) throw new Error(`unknown input ${name}`);
      const from = (step & 1) * floatsPerParity + l.offset;
      return inputs.subarray(from, from + options.batchSize * l.exampleSize);
    },
    step(step) {
      const seq = publish(OP_STEP, step);
      runner.runStep(step, seq);
      return runner.stepLoss(step);
    },
    broadcastWeights() {
      runner.dumpWeights(0);
      command(OP_LOAD_WEIGHTS);
    },
    gatherWeights() {
      command(OP_DUMP_WEIGHTS);
      runner.dumpWeights(0);
      const all = new Float32Array(buffers.weights);
      return Array.from({ length: options.replicas }, (_, r) => all.slice(r * runner.paramCount, (r + 1) * runner.paramCount));
    },
    async dispose() {
      const exited = workers.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
      command(OP_EXIT);
      await Promise.all(exited);
      runner.dispose();
    },
  };
}
