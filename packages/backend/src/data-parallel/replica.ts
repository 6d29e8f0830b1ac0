/**
 * What a model offers to be trained data-parallel: a replica that every thread builds from the same plain config.
 */

import type { Replica, ReplicaSource } from '@gm/core';

export type { Replica, ReplicaInput, ReplicaSource, ReplicaStepContext } from '@gm/core';

export type ReplicaFactory = (config: unknown) => Replica | Promise<Replica>;

/** The replica factory `source` names: its module imported, the export checked to be a function. */
export async function loadReplicaFactory(source: ReplicaSource): Promise<ReplicaFactory> {
  const mod = (await import(/* @vite-ignore */ source.module)) as Record<string, unknown>;
  const name = source.exportName ?? 'createReplica';
  const factory = mod[name];
  if (typeof factory !== 'function') throw new Error(`data-parallel: ${source.module} exports no function "${name}"`);
  return factory as ReplicaFactory;
}

export async function buildReplica(source: ReplicaSource): Promise<Replica> {
  return (await loadReplicaFactory(source))(source.config);
}
