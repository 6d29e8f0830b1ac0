/** Thread-CPU ms of one VAE gradient evaluation (and of the forward pass) vs batch size: shows the batch-independent cost that data parallelism duplicates. Build: npx tsup src/parallel/profile-batch.ts --format esm --out-dir dist/parallel; run: node dist/parallel/profile-batch.js */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@gm/backend';
import { createReplica, REFERENCE_VAE_CONFIG } from './vae-replica';
import { currentThreadCpu } from './thread-cpu';

async function main() {
  await initBackend({ backend: 'wasm' });
  const r = createReplica(REFERENCE_VAE_CONFIG);
  const sizes = [8, 32, 64, 128];
  const ins = sizes.map((b) => ({ x: tf.keep(tf.cast(tf.greater(tf.randomUniform([b, 784]), 0.5), 'float32')), eps: tf.keep(tf.randomNormal([b, 32])) }));
  const g: Record<number, number[]> = {}; const f: Record<number, number[]> = {};
  for (let rep = 0; rep < 10; rep++) sizes.forEach((b, k) => {
    let c = currentThreadCpu().cpu;
    const { value, grads } = tf.variableGrads(() => r.loss(ins[k]!, { step: rep, rows: [0, b] }), r.variables); value.dataSync();
    (g[b] ??= []).push(currentThreadCpu().cpu - c); tf.dispose([value, ...Object.values(grads)]);
    c = currentThreadCpu().cpu;
    tf.tidy(() => r.loss(ins[k]!, { step: rep, rows: [0, b] }).dataSync());
    (f[b] ??= []).push(currentThreadCpu().cpu - c);
  });
  const med = (v: number[]) => { const s = v.slice(2).sort((a, b) => a - b); return +s[Math.floor(s.length / 2)]!.toFixed(1); };
  console.log(JSON.stringify({ grads: Object.fromEntries(sizes.map((b) => [b, med(g[b]!)])), forward: Object.fromEntries(sizes.map((b) => [b, med(f[b]!)])) }));
  process.exit(0);
}
main();
