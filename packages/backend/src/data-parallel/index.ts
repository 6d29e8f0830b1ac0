/**
 * @gm/backend/data-parallel — training on every core of a Node machine: one replica of the model per thread, the
 * batch split across them, each variable updated by one owner and copied to the others. Node only
 * (worker_threads, SharedArrayBuffer).
 */
export { createDataParallelTrainer, type DataParallelOptions, type DataParallelTrainer } from './trainer';
export type { Replica, ReplicaInput, ReplicaSource, ReplicaStepContext } from './replica';
export { shardRange, ReplicaFailedError, type DataParallelOptimizer, type ParallelMode, type ReplicaRunner, type ReplicaSetup, type SharedBuffers } from './runner';
