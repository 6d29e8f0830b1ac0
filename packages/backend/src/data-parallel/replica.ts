/**
 * What a model offers to be trained data-parallel: a replica that every thread builds from the same plain config.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** One named input of a replica's loss: row-major, first axis = examples. */
export interface ReplicaInput {
  name: string;
  /** Shape of one example, e.g. [784]. */
  exampleShape: number[];
}

/** Where a replica's examples sit in the step's global batch, so that it can derive its noise from them. */
export interface ReplicaStepContext {
  /** 0-based step number of this trainer. */
  step: number;
  /** Rows [start, end) of the global batch this replica holds. */
  rows: [number, number];
}

export interface Replica {
  /** Trainable variables in a fixed order, identical across replicas built from the same config. */
  readonly variables: tf.Variable[];
  /** The inputs the loss takes, each `[examples, ...exampleShape]`. */
  readonly inputs: ReplicaInput[];
  /** Mean loss over the examples given (a mean, so that shard means weighted by shard size sum to the batch mean). */
  loss(inputs: Record<string, tf.Tensor>, context: ReplicaStepContext): tf.Scalar;
  dispose(): void;
}

/**
 * A replica a worker can rebuild: the URL of an ES module (or a specifier the worker can resolve) whose export
 * `exportName` (default `createReplica`) builds a {@link Replica} from `config`, a structured-clonable value. A worker
 * is a fresh JavaScript realm: the module must import what its loss needs, in particular `@tensorflow/tfjs-layers`,
 * which registers tfjs's gradient functions.
 */
export interface ReplicaSource {
  module: string;
  exportName?: string;
  config: unknown;
}

export type ReplicaFactory = (config: unknown) => Replica | Promise<Replica>;

export async function buildReplica(source: ReplicaSource): Promise<Replica> {
  const mod = (await import(/* @vite-ignore */ source.module)) as Record<string, unknown>;
  const name = source.exportName ?? 'createReplica';
  const factory = mod[name];
  if (typeof factory !== 'function') throw new Error(`data-parallel: ${source.module} exports no function "${name}"`);
  return (factory as ReplicaFactory)(source.config);
}
