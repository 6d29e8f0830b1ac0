/**
 * worker_threads entry of the data-parallel trainer (./data-parallel.ts): initialises its own tfjs backend, builds
 * the replica from the module URL and config it is given, then serves step/weight commands from shared memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '@gm/backend';
import { ReplicaRunner, serveCommands, type ReplicaSetup } from './data-parallel';
import type { Replica } from './vae-replica';

interface WorkerInit {
  replicaModule: string;
  replicaConfig: unknown;
  backend: 'wasm' | 'cpu';
  setup: ReplicaSetup;
}

async function main() {
  const init = workerData as WorkerInit;
  await initBackend({ backend: init.backend });
  const mod = (await import(init.replicaModule)) as { createReplica(config: unknown): Replica };
  const runner = new ReplicaRunner(mod.createReplica(init.replicaConfig), init.setup);
  parentPort?.postMessage('ready');
  serveCommands(runner);
  runner.dispose();
  process.exit(0);
}

main().catch((error: unknown) => {
  parentPort?.postMessage(`dp-worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
