/**
 * worker_threads entry of the data-parallel trainer: starts its own tfjs backend (gm's kernels), builds its replica
 * from the module and config it is given, then serves step and weight commands from shared memory until told to
 * exit. A failure is reported to every replica (their barriers throw) and to the parent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../init';
import { loadReplicaFactory, type ReplicaSource } from './replica';
import { ReplicaRunner, serveCommands, type ReplicaSetup } from './runner';

interface WorkerInit {
  replica: ReplicaSource;
  backend: 'wasm' | 'cpu';
  setup: ReplicaSetup;
}

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  // The replica's module first: it loads @tensorflow/tfjs-layers, whose bundle registers tfjs's stock gradients again
  // and would undo the ones initBackend installs (Tile's, Sum's, Mean's) if it loaded after.
  const factory = await loadReplicaFactory(init.replica);
  await initBackend({ backend: init.backend });
  const runner = new ReplicaRunner(await factory(init.replica.config), init.setup);
  parentPort?.postMessage('ready');
  try {
    serveCommands(runner);
  } catch (error) {
    runner.fail(error);
    throw error;
  } finally {
    runner.dispose();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    parentPort?.postMessage(`data-parallel worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
