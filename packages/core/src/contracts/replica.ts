/** What a model offers to be trained data-parallel (@gm/backend/data-parallel): a replica every thread builds. */
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';

/** One named input of a replica's loss: row-major, first axis = examples. */
export interface ReplicaInput {
  name: string;
  /** Shape of one example, e.g. [784]. */
  exampleShape: number[];
}

/** Where a replica's examples sit in the step's global batch, and the step's seed, so that it can draw its noise. */
export interface ReplicaStepContext {
  /** 0-based step number of this trainer. */
  step: number;
  /** Rows [start, end) of the global batch this replica holds. */
  rows: [number, number];
  /**
   * The step's seed, the same on every replica, when the trainer's caller gave one (`trainer.step(step, seed)`): the
   * seed one thread's step would use, so that replicas — drawing each example's noise at its place in the whole
   * batch (@gm/core's `withExampleOffset`) — draw one thread's noise. Absent: replicas derive one from the step.
   */
  seed?: number;
}

export interface Replica {
  /** Trainable variables in a fixed order, identical across replicas built from the same config. */
  readonly variables: Variable[];
  /** The inputs the loss takes, each `[examples, ...exampleShape]`. */
  readonly inputs: ReplicaInput[];
  /** Mean loss over the examples given (a mean, so that shard means weighted by shard size sum to the batch mean). */
  loss(inputs: Record<string, Tensor>, context: ReplicaStepContext): Scalar;
  dispose(): void;
}

/**
 * A replica a worker can rebuild: the URL of an ES module (or a specifier the worker can resolve) whose export
 * `exportName` (default `createReplica`) builds a {@link Replica} from `config`, a structured-clonable value.
 */
export interface ReplicaSource {
  module: string;
  exportName?: string;
  config: unknown;
}
