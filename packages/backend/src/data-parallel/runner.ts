/**
 * One replica's side of the data-parallel protocol (./trainer.ts): used by rank 0 on the calling thread and by
 * every worker. All communication goes through SharedArrayBuffers and Atomics; no messages per step.
 *
 * Step s, 'sharded' mode (ZeRO-1 style, the default): each replica computes the gradient of (shard mean loss ×
 * shard/batch) on rows [start, end) of the batch — so the N gradients sum to the gradient of the batch mean —,
 * publishes the gradients of variables it does not own, and after a barrier adds the others' gradients of the
 * variables it owns and runs the optimizer on those alone (their Adam moments live only there); it then publishes
 * its variables' new values and, after a second barrier, every replica loads them all. Each variable has one writer,
 * so the replicas stay bit-identical. With gradient clipping the owners also exchange the sums of squares of their
 * summed gradients (a third barrier), so each knows the batch gradient's global norm and scales its own. 'replicated'
 * mode: every replica sums all N gradient slots in rank order and runs the whole update itself (also bit-identical, but
 * the update is duplicated). The optimizer works on flat buffers (./flat-optimizer.ts): one kernel call a step, however
 * many variables a replica updates. Buffers are double-buffered by step parity, so a replica can only overwrite parity
 * p at step s + 2, after everyone has left step s.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamState } from '@gm/core';
import { FlatOptimizer, type FlatOptimizerConfig } from './flat-optimizer';
import type { Replica } from './replica';

/** Adam or SGD as tf.train.adam / tf.train.sgd compute them (bit for bit), with optional clipping by global norm. */
export interface DataParallelOptimizer extends FlatOptimizerConfig {
  /**
   * Clip the batch's gradient to this global norm before the update (as `fit`'s clipNorm: scaled by
   * clipNorm / max(norm, clipNorm)).
   */
  clipNorm?: number;
}

/** Control words in the shared Int32Array. */
export const SEQ = 0; // command sequence number, bumped by rank 0
export const OP = 1; // command
export const ARG = 2; // command argument (the step for OP_STEP)
export const FAILED = 3; // rank + 1 of a replica that failed, 0 while all is well
export const STEP_SEEDED = 4; // 1 when the caller gave OP_STEP's step a seed, in STEP_SEED (its 32 bits)
export const STEP_SEED = 5;
const DONE = 8; // DONE + r: last token rank r reached
export const CTRL_WORDS = 8 + 64;
const FAILURE_BYTES = 4096;
export const MAX_REPLICAS = 64;

/**
 * Barrier tokens of command `seq`, strictly increasing over commands and their phases (a barrier waits until every
 * replica has reached at least its token): gradients published, sums of squares published (clipping), done.
 */
export const gradientsToken = (seq: number): number => 3 * seq;
export const squaresToken = (seq: number): number => 3 * seq + 1;
export const doneToken = (seq: number): number => 3 * seq + 2;

export const OP_STEP = 1;
export const OP_LOAD_WEIGHTS = 2;
export const OP_DUMP_WEIGHTS = 3;
export const OP_EXIT = 4;
export const OP_DUMP_MOMENTS = 5;
export const OP_LOAD_MOMENTS = 6;

/** Header of the moments buffer: iterations, βᵗ₁, βᵗ₂ as float64; the moments (first, then second) follow. */
const MOMENT_HEADER_BYTES = 32;

/** The SharedArrayBuffers the replicas of one trainer exchange control words, inputs, gradients, losses and weights through. */
export interface SharedBuffers {
  ctrl: SharedArrayBuffer;
  inputs: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  losses: SharedArrayBuffer;
  /** Each owner's sum of squares of its summed gradients, by step parity (clipping in 'sharded' mode; float64). */
  squares: SharedArrayBuffer;
  weights: SharedArrayBuffer;
  /** New values of each owner's variables ('sharded'). */
  exchange: SharedArrayBuffer;
  /** Adam's state of every variable, gathered from (or scattered to) the replicas that update it. */
  moments: SharedArrayBuffer;
  /** The first failure's message: byte length (Int32) then UTF-8. */
  failure: SharedArrayBuffer;
}

export type ParallelMode = 'replicated' | 'sharded';

/** What one replica needs to take part: its rank among `replicas`, the batch, the optimizer, the shared buffers and the mode. */
export interface ReplicaSetup {
  rank: number;
  replicas: number;
  batchSize: number;
  optimizer: DataParallelOptimizer;
  buffers: SharedBuffers;
  mode: ParallelMode;
}

/** Thrown in every replica when one of them failed, so no thread waits forever at a barrier. */
export class ReplicaFailedError extends Error {
  constructor(
    readonly rank: number,
    readonly reason: string,
  ) {
    super(`data-parallel: replica ${rank} failed: ${reason}`);
    this.name = 'ReplicaFailedError';
  }
}

function readFailure(buffer: SharedArrayBuffer): string {
  const length = new Int32Array(buffer, 0, 1)[0] as number;
  return new TextDecoder().decode(new Uint8Array(buffer, 4, length).slice());
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

/** Rows [start, end) of the batch handled by `rank`. */
export function shardRange(batchSize: number, replicas: number, rank: number): [number, number] {
  const base = Math.floor(batchSize / replicas);
  const extra = batchSize % replicas;
  const start = rank * base + Math.min(rank, extra);
  return [start, start + base + (rank < extra ? 1 : 0)];
}

interface InputLayout {
  name: string;
  exampleShape: number[];
  exampleSize: number;
  /** Offset (floats) of this input inside one parity of the input buffer. */
  offset: number;
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
    squares: new SharedArrayBuffer(2 * replicas * 8),
    weights: new SharedArrayBuffer(replicas * p * 4),
    exchange: new SharedArrayBuffer(p * 4),
    moments: new SharedArrayBuffer(MOMENT_HEADER_BYTES + 2 * p * 4),
    failure: new SharedArrayBuffer(4 + FAILURE_BYTES),
  };
}

interface HeapBackend {
  typedArrayFromHeap(t: { shape: number[]; dtype: tf.DataType; dataId: object }): Float32Array;
}

/** The tensor's values in place in the wasm heap (no copy), or undefined on other backends. */
function heapView(t: tf.Tensor): Float32Array | undefined {
  const backend = tf.backend() as unknown as Partial<HeapBackend>;
  if (tf.getBackend() !== 'wasm' || typeof backend.typedArrayFromHeap !== 'function') return undefined;
  return backend.typedArrayFromHeap({ shape: t.shape, dtype: t.dtype, dataId: t.dataId });
}

/**
 * A tensor holding a copy of `view` (wasm copies into its heap at once; other backends may keep the array). `view`
 * must not be on the wasm heap: the allocation may grow the heap and detach it.
 */
function tensorFrom(view: Float32Array, shape: number[]): tf.Tensor {
  return tf.tensor(tf.getBackend() === 'wasm' ? view : view.slice(), shape);
}

/** A tensor's values without a copy where the backend allows (read-only use). */
function valuesOf(t: tf.Tensor): Float32Array {
  return heapView(t) ?? (t.dataSync() as Float32Array);
}

export class ReplicaRunner {
  readonly ctrl: Int32Array;
  readonly paramCount: number;
  /** Owner rank of each variable ('sharded'). */
  readonly owners: number[];
  /** Accumulated wall ms per phase of 'sharded' steps when `profile` is set. */
  readonly phaseMs: Record<string, number> = {};
  /** Same, by `cpuClock` (e.g. thread CPU time), when one was given. */
  readonly phaseCpuMs: Record<string, number> = {};
  profile = false;
  private readonly inputs: Float32Array;
  private readonly grads: Float32Array;
  private readonly losses: Float64Array;
  private readonly squares: Float64Array;
  private readonly weights: Float32Array;
  private readonly exchange: Float32Array;
  private readonly layout: InputLayout[];
  private readonly floatsPerParity: number;
  private readonly shard: [number, number];
  private readonly scale: number;
  private readonly shardInputs: Record<string, tf.Tensor>;
  private readonly offsets: number[];
  /** Indices of the variables this replica updates (all of them when replicated), in the optimizer's flat order. */
  private readonly updated: number[];
  /** Offset of each of them in the optimizer's flat buffers. */
  private readonly flatOffsets: number[];
  private readonly optimizer: FlatOptimizer;
  /** 'replicated': the new values, out of the wasm heap, for the variables' tensors. */
  private readonly staging: Float32Array;

  constructor(
    readonly replica: Replica,
    readonly setup: ReplicaSetup,
    private readonly cpuClock?: () => number,
  ) {
    const { buffers, batchSize, replicas, rank } = setup;
    this.ctrl = new Int32Array(buffers.ctrl);
    this.inputs = new Float32Array(buffers.inputs);
    this.grads = new Float32Array(buffers.grads);
    this.losses = new Float64Array(buffers.losses);
    this.squares = new Float64Array(buffers.squares);
    this.weights = new Float32Array(buffers.weights);
    this.exchange = new Float32Array(buffers.exchange);
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
    let offset = 0;
    this.offsets = replica.variables.map((v) => {
      const o = offset;
      offset += v.size;
      return o;
    });
    this.owners = assignOwners(
      replica.variables.map((v) => v.size),
      replicas,
    );
    this.updated = replica.variables.map((_, i) => i).filter((i) => setup.mode === 'replicated' || this.owners[i] === rank);
    let flat = 0;
    this.flatOffsets = this.updated.map((i) => {
      const o = flat;
      flat += (replica.variables[i] as tf.Variable).size;
      return o;
    });
    this.optimizer = new FlatOptimizer(setup.optimizer, flat);
    this.staging = new Float32Array(setup.mode === 'replicated' ? this.paramCount : 0);
  }

  /** One whole step of this replica; `seq` is the command's sequence number. */
  runStep(step: number, seq: number): void {
    if (this.setup.mode === 'replicated') {
      this.computeGradients(step, false);
      this.barrier(gradientsToken(seq));
      this.applySummed(step, seq);
    } else {
      this.stepSharded(step, seq);
    }
  }

  private stepSharded(step: number, seq: number): void {
    let wall = performance.now();
    let cpu = this.profile && this.cpuClock ? this.cpuClock() : 0;
    const lap = (name: string) => {
      if (!this.profile) return;
      const now = performance.now();
      this.phaseMs[name] = (this.phaseMs[name] ?? 0) + now - wall;
      wall = now;
      if (this.cpuClock) {
        const c = this.cpuClock();
        this.phaseCpuMs[name] = (this.phaseCpuMs[name] ?? 0) + c - cpu;
        cpu = c;
      }
    };
    const { rank, replicas } = this.setup;
    const parity = step & 1;
    const vars = this.replica.variables;
    const grads = this.computeGradients(step, true);
    lap('grads');
    this.barrier(gradientsToken(seq));
    lap('wait1');
    // The owned gradients: this replica's, then every other replica's in rank order.
    const others = [...Array(replicas).keys()].filter((r) => r !== rank);
    this.gatherGradients((i) => valuesOf(grads[(vars[i] as tf.Variable).name] as tf.Tensor), others, parity);
    tf.dispose(Object.values(grads));
    const clipNorm = this.setup.optimizer.clipNorm;
    if (clipNorm !== undefined) this.clip(clipNorm, parity, seq);
    this.updateFlat();
    lap('update');
    const { params } = this.optimizer.views();
    this.updated.forEach((i, k) => {
      const q = this.flatOffsets[k] as number;
      this.exchange.set(params.subarray(q, q + (vars[i] as tf.Variable).size), this.offsets[i] as number);
    });
    lap('exchange');
    this.barrier(doneToken(seq));
    lap('wait2');
    this.loadVariables(this.exchange, 0);
    lap('load');
  }

  /**
   * The optimizer's gradient buffer ← the sum, over the updated variables, of `first(i)` and then of the gradient
   * slots of `others` (ranks, in that order) at this step's parity: the same float32 additions in the same order on
   * every path, so every owner's sum is reproducible.
   */
  private gatherGradients(first: (i: number) => Float32Array, others: number[], parity: number): void {
    const { replicas } = this.setup;
    const vars = this.replica.variables;
    const { gradient } = this.optimizer.views();
    this.updated.forEach((i, k) => gradient.set(first(i), this.flatOffsets[k] as number));
    for (const r of others) {
      const slot = (parity * replicas + r) * this.paramCount;
      const { scratch } = this.optimizer.views();
      this.updated.forEach((i, k) => {
        const o = slot + (this.offsets[i] as number);
        scratch.set(this.grads.subarray(o, o + (vars[i] as tf.Variable).size), this.flatOffsets[k] as number);
      });
      this.optimizer.addScratch();
    }
  }

  /** The optimizer's step on the updated variables' current values (their tensors are not touched). */
  private updateFlat(): void {
    const vars = this.replica.variables;
    const { params } = this.optimizer.views();
    this.updated.forEach((i, k) => params.set(valuesOf(vars[i] as tf.Variable), this.flatOffsets[k] as number));
    this.optimizer.apply();
  }

  /** Every variable ← its values at `base` + its offset in `source` (a shared or plain array, not the wasm heap). */
  private loadVariables(source: Float32Array, base: number): void {
    this.replica.variables.forEach((v, i) => {
      const o = base + (this.offsets[i] as number);
      tf.tidy(() => v.assign(tensorFrom(source.subarray(o, o + v.size), v.shape)));
    });
  }

  /**
   * Gradients of this replica's scaled shard loss, published to its slot (all of them, or in 'sharded' mode only
   * those of variables it does not own). Returns the gradients when `keep` (the caller disposes them).
   */
  private computeGradients(step: number, keep: boolean): tf.NamedTensorMap {
    this.readShard(step);
    const { rank, replicas } = this.setup;
    const parity = step & 1;
    const slot = (parity * replicas + rank) * this.paramCount;
    const seeded = Atomics.load(this.ctrl, STEP_SEEDED) === 1;
    const context = { step, rows: [...this.shard] as [number, number], ...(seeded ? { seed: Atomics.load(this.ctrl, STEP_SEED) >>> 0 } : {}) };
    const { value, grads } = tf.variableGrads(
      () => tf.mul(this.replica.loss(this.shardInputs, context), this.scale) as tf.Scalar,
      this.replica.variables,
    );
    this.losses[parity * replicas + rank] = value.dataSync()[0] as number;
    value.dispose();
    const sharded = this.setup.mode === 'sharded';
    this.replica.variables.forEach((v, i) => {
      if (sharded && this.owners[i] === rank) return;
      const g = grads[v.name] as tf.Tensor;
      this.grads.set(heapView(g) ?? (g.dataSync() as Float32Array), slot + (this.offsets[i] as number));
    });
    if (!keep) tf.dispose(Object.values(grads));
    return grads;
  }

  /** Sums every replica's slot (rank order), updates every variable and loads the new values. */
  private applySummed(step: number, seq: number): void {
    const { replicas } = this.setup;
    const parity = step & 1;
    const slot0 = parity * replicas * this.paramCount;
    const vars = this.replica.variables;
    this.gatherGradients(
      (i) => this.grads.subarray(slot0 + (this.offsets[i] as number), slot0 + (this.offsets[i] as number) + (vars[i] as tf.Variable).size),
      [...Array(replicas).keys()].slice(1),
      parity,
    );
    const clipNorm = this.setup.optimizer.clipNorm;
    if (clipNorm !== undefined) this.clip(clipNorm, parity, seq);
    this.updateFlat();
    // Every variable is updated here, in variable order: the flat buffer is the parameter vector.
    this.staging.set(this.optimizer.views().params);
    this.loadVariables(this.staging, 0);
  }

  /**
   * Scales the summed gradient to global norm ≤ clipNorm (by clipNorm / norm, in float32). 'replicated': every replica
   * sums the same slots in the same order, so each computes the same norm (float64) alone. 'sharded': each publishes
   * the sum of squares of the gradients it owns and, after a barrier, adds all of them in rank order — again the same
   * norm everywhere.
   */
  private clip(clipNorm: number, parity: number, seq: number): void {
    const { rank, replicas } = this.setup;
    let total = this.optimizer.gradientSquares();
    if (this.setup.mode === 'sharded') {
      this.squares[parity * replicas + rank] = total;
      this.barrier(squaresToken(seq));
      total = 0;
      for (let r = 0; r < replicas; r++) total += this.squares[parity * replicas + r] as number;
    }
    const norm = Math.sqrt(total);
    if (norm > clipNorm) this.optimizer.scaleGradient(clipNorm / norm);
  }

  private requireAdam(): void {
    if (this.setup.optimizer.name !== 'adam') throw new Error(`data-parallel: only Adam keeps optimizer state (this trainer runs ${this.setup.optimizer.name})`);
  }

  /**
   * Writes the Adam moments of the variables this replica updates into the moments buffer ('replicated': rank 0
   * alone, which holds all of them), and rank 0 the iteration count and βᵗ, which every replica shares.
   */
  dumpMoments(): void {
    this.requireAdam();
    const { rank } = this.setup;
    if (this.setup.mode === 'replicated' && rank !== 0) return;
    const vars = this.replica.variables;
    const { first, second } = this.optimizer.views();
    const { header, body } = this.momentViews();
    this.updated.forEach((i, k) => {
      const [q, size, o] = [this.flatOffsets[k] as number, (vars[i] as tf.Variable).size, this.offsets[i] as number];
      body.set(first.subarray(q, q + size), o);
      body.set(second.subarray(q, q + size), this.paramCount + o);
    });
    const { iterations, accBeta1, accBeta2 } = this.optimizer.adamCounters;
    if (rank === 0) header.set([iterations, accBeta1, accBeta2]);
  }

  /** Sets this replica's Adam state from the moments buffer (the variables it updates, the shared counters). */
  loadMoments(): void {
    this.requireAdam();
    const vars = this.replica.variables;
    const { first, second } = this.optimizer.views();
    const { header, body } = this.momentViews();
    this.updated.forEach((i, k) => {
      const [q, size, o] = [this.flatOffsets[k] as number, (vars[i] as tf.Variable).size, this.offsets[i] as number];
      first.set(body.subarray(o, o + size), q);
      second.set(body.subarray(this.paramCount + o, this.paramCount + o + size), q);
    });
    const [iterations, accBeta1, accBeta2] = header as unknown as [number, number, number];
    this.optimizer.adamCounters = { iterations, accBeta1, accBeta2 };
  }

  /** The moments buffer's header (iterations, βᵗ₁, βᵗ₂) and body (first moments, then second, at variable offsets). */
  private momentViews(): { header: Float64Array; body: Float32Array } {
    const buffer = this.setup.buffers.moments;
    return { header: new Float64Array(buffer, 0, 3), body: new Float32Array(buffer, MOMENT_HEADER_BYTES) };
  }

  /** The whole Adam state gathered in the moments buffer (after every replica's dumpMoments), in variable order. */
  momentsInBuffer(): AdamState {
    const { header, body } = this.momentViews();
    const [iterations, accBeta1, accBeta2] = header as unknown as [number, number, number];
    const part = (base: number) => this.replica.variables.map((v, i) => body.slice(base + (this.offsets[i] as number), base + (this.offsets[i] as number) + v.size));
    return { iterations, accBeta1, accBeta2, firstMoments: part(0), secondMoments: part(this.paramCount) };
  }

  /** Puts a whole Adam state (variable order) into the moments buffer, for every replica's loadMoments. */
  momentsToBuffer(values: AdamState): void {
    const vars = this.replica.variables;
    const { header, body } = this.momentViews();
    const check = (list: Float32Array[], what: string) => {
      if (list.length !== vars.length) throw new Error(`data-parallel: the optimizer state has ${list.length} ${what} moments; the replica has ${vars.length} variables`);
      list.forEach((m, i) => {
        if (m.length !== (vars[i] as tf.Variable).size) throw new Error(`data-parallel: ${what} moment ${i} has ${m.length} values; variable ${i} has ${(vars[i] as tf.Variable).size}`);
      });
    };
    check(values.firstMoments, 'first');
    check(values.secondMoments, 'second');
    vars.forEach((_, i) => {
      body.set(values.firstMoments[i] as Float32Array, this.offsets[i] as number);
      body.set(values.secondMoments[i] as Float32Array, this.paramCount + (this.offsets[i] as number));
    });
    header.set([values.iterations, values.accBeta1, values.accBeta2]);
  }

  /** Loads this replica's weights from weight slot `slot`. */
  loadWeights(slot = 0): void {
    this.loadVariables(this.weights, slot * this.paramCount);
  }

  /** Writes this replica's weights into weight slot `slot`. */
  dumpWeights(slot = this.setup.rank): void {
    const base = slot * this.paramCount;
    this.replica.variables.forEach((v, i) => this.weights.set(v.dataSync() as Float32Array, base + (this.offsets[i] as number)));
  }

  /** Copies this replica's rows of step `step`'s inputs into the persistent shard tensors. */
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

  /** Sum of every replica's loss contribution at `step` (the batch mean loss); valid after the first barrier. */
  stepLoss(step: number): number {
    const { replicas } = this.setup;
    const parity = step & 1;
    let s = 0;
    for (let r = 0; r < replicas; r++) s += this.losses[parity * replicas + r] as number;
    return s;
  }

  /** Marks this rank as having reached `token` (monotonic) and waits for every other rank (or a failure). */
  barrier(token: number): void {
    const { rank, replicas } = this.setup;
    Atomics.store(this.ctrl, DONE + rank, token);
    Atomics.notify(this.ctrl, DONE + rank);
    for (let r = 0; r < replicas; r++) {
      if (r === rank) continue;
      for (;;) {
        const failed = Atomics.load(this.ctrl, FAILED);
        if (failed !== 0) throw new ReplicaFailedError(failed - 1, readFailure(this.setup.buffers.failure));
        const seen = Atomics.load(this.ctrl, DONE + r);
        if (seen >= token) break;
        // Wake up now and then to notice a failure reported by a replica other than r.
        Atomics.wait(this.ctrl, DONE + r, seen, 200);
      }
    }
  }

  /** Reports this replica's failure to every other one (their barriers then throw). The first failure wins. */
  fail(error?: unknown): void {
    if (Atomics.compareExchange(this.ctrl, FAILED, 0, this.setup.rank + 1) === 0) {
      const text = error instanceof Error ? error.message : error === undefined ? 'stopped' : String(error);
      const bytes = new TextEncoder().encode(text).slice(0, FAILURE_BYTES);
      new Uint8Array(this.setup.buffers.failure, 4).set(bytes);
      new Int32Array(this.setup.buffers.failure, 0, 1)[0] = bytes.length;
    }
    for (let r = 0; r < this.setup.replicas; r++) Atomics.notify(this.ctrl, DONE + r);
    Atomics.notify(this.ctrl, SEQ);
  }

  /** Frees the runner's tensors and optimizer, and the replica unless `keepReplica` (the caller's model). */
  dispose(keepReplica = false): void {
    tf.dispose(Object.values(this.shardInputs));
    this.optimizer.dispose();
    if (!keepReplica) this.replica.dispose();
  }
}

/**
 * Worker loop: runs the commands rank 0 publishes until OP_EXIT (or a failure anywhere). Starts from sequence 0,
 * not from the current value: rank 0 may publish its first command before this worker gets here.
 */
export function serveCommands(runner: ReplicaRunner): void {
  const ctrl = runner.ctrl;
  let seen = 0;
  for (;;) {
    if (Atomics.load(ctrl, FAILED) !== 0) return;
    Atomics.wait(ctrl, SEQ, seen, 1000);
    const seq = Atomics.load(ctrl, SEQ);
    if (seq === seen) continue;
    // Rank 0 waits for every command to finish before it publishes the next, so seq is always seen + 1.
    seen = seq;
    const op = Atomics.load(ctrl, OP);
    const arg = Atomics.load(ctrl, ARG);
    if (op === OP_STEP) {
      runner.runStep(arg, seq);
      continue;
    }
    if (op === OP_LOAD_WEIGHTS) runner.loadWeights(0);
    else if (op === OP_DUMP_WEIGHTS) runner.dumpWeights();
    else if (op === OP_DUMP_MOMENTS) runner.dumpMoments();
    else if (op === OP_LOAD_MOMENTS) runner.loadMoments();
    const rank = runner.setup.rank;
    Atomics.store(ctrl, DONE + rank, doneToken(seq));
    Atomics.notify(ctrl, DONE + rank);
    if (op === OP_EXIT) return;
  }
}
