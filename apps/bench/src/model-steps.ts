/**
 * Training-step speed of the model families beyond the reference VAE against their PyTorch twins
 * (../shared/peers/torch_model_steps.py through apps/bench/twins/torch_twins.py, one thread), measured in the same run — issue 16's table. gm's side is the
 * model's own `fit` (the trainer, Adam 1e-3, on the default backend) over random data of the twin's shape: the median
 * time between consecutive batches after warm-up batches, so it is the whole step as a user runs it. The twin runs
 * before and after gm, and the ratio uses the mean of the two (a drift in machine load shows as a spread).
 *
 * Configurations are the twin's (its header), built from gm's public API. Where gm's network differs from the peers'
 * twin, the bench runs its own copy of the twin changed to gm's network (torch_twins.py says how), and the row says so.
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { gmAdam, initBackend } from '@gm/backend';
import { createDataParallelTrainer } from '@gm/backend/data-parallel';
import { dataParallelReplicas, Glow, IafVae, MADE, MAF, prepareDataParallel, RealNVPImage, SplineFlow, VAE, type ModelBase } from '@gm/models';
import { QUICK_TIMED_MS, QUICK_WARMUP_MS, TIMED_MS, WARMUP_MS } from './warmup';

/** One family: how to build gm's model, its data and batch, and the twin's name in torch_twins.py. */
interface Family {
  name: string;
  twin: string;
  batch: number;
  note: string;
  build(): ModelBase;
  data(count: number): tf.Tensor;
}

// randomUniform's float32 upper end can round to 256 itself: clip to the 8-bit range.
const pixels = (shape: number[]): tf.Tensor => tf.tidy(() => tf.clipByValue(tf.floor(tf.randomUniform(shape, 0, 256, 'float32', 2)), 0, 255));
const binary = (shape: number[]): tf.Tensor => tf.tidy(() => tf.cast(tf.greater(tf.randomUniform(shape, 0, 1, 'float32', 1), 0.8), 'float32'));

export const FAMILIES: readonly Family[] = [
  {
    name: 'realnvp-mnist',
    twin: 'realnvp-mnist',
    batch: 64,
    note: 'RealNVPImage defaults (2 scales, 3 couplings per stage, 32 filters), 8-bit pixels',
    build: () => new RealNVPImage({ inputShape: [28, 28, 1], seed: 0 }),
    data: (n) => pixels([n, 28, 28, 1]),
  },
  {
    name: 'conv-vae',
    twin: 'conv-vae-as-gm',
    batch: 128,
    note: "VAE architecture 'conv', filters 32,64, kernel 3, dense 256, latent 16, Bernoulli (twin: the peers' conv-vae with gm's decoder — transposed convs 64→64, 64→32, then a 32→1 conv; the peers' has 64→32, 32→1)",
    build: () => new VAE({ inputShape: [28, 28, 1], latentDim: 16, architecture: 'conv', conv: { filters: [32, 64], kernelSize: 3, dense: 256 }, seed: 0 }),
    data: (n) => binary([n, 28, 28, 1]),
  },
  {
    name: 'made',
    twin: 'made',
    batch: 100,
    note: 'MADE 784-500-500-784, direct connection, one mask',
    build: () => new MADE({ inputSize: 784, hidden: [500, 500], directConnection: true, seed: 0 }),
    data: (n) => binary([n, 784]),
  },
  {
    name: 'iaf-vae',
    twin: 'iaf-vae-as-gm',
    batch: 100,
    note: "IafVae 784-100-40, 2 IAF steps (MADE 40-100-100), context 40 (twin: the peers' iaf-vae with gm's network — a dense ELU context layer read by every MADE layer, ELU MADEs without a direct connection, alternating orderings)",
    build: () => new IafVae({ inputShape: [784], latentDim: 40, hidden: [100], flowSteps: 2, flowHidden: [100, 100], contextSize: 40, seed: 0 }),
    data: (n) => binary([n, 784]),
  },
  {
    name: 'glow-mnist',
    twin: 'glow-mnist-as-gm',
    batch: 64,
    note: 'Glow defaults (2 scales × 4 steps of ActNorm, LU 1×1 conv, affine coupling; 32 filters; split prior, learned top prior; logit α 0.05), 8-bit pixels',
    build: () => new Glow({ inputShape: [28, 28, 1], seed: 0 }),
    data: (n) => pixels([n, 28, 28, 1]),
  },
  {
    name: 'maf-mnist',
    twin: 'maf-mnist-as-gm',
    batch: 128,
    note: 'MAF as gm train maf builds it: 784-D 8-bit digits, 5 affine steps, MADE 784-1024-1568, orders alternating, logit α 0.05, clipNorm 10',
    build: () => new MAF({ dim: 784, levels: 256, hidden: [1024], steps: 5, seed: 0 }),
    data: (n) => pixels([n, 784]),
  },
  {
    name: 'nsf-mnist',
    twin: 'nsf-mnist-as-gm',
    batch: 128,
    note: 'SplineFlow as gm train nsf builds it: 784-D 8-bit digits, 4 rational-quadratic couplings (8 bins on [−4, 4], MLP 392-512-9016) after fixed permutations, logit α 0.05, clipNorm 10',
    build: () => new SplineFlow({ dim: 784, levels: 256, hidden: [512], couplings: 4, seed: 0 }),
    data: (n) => pixels([n, 784]),
  },
];

/** Batches of random data `fit` cycles through (epoch boundaries fall every so many steps; the median ignores them). */
const POOL_BATCHES = 48;

/** gm's median ms per training step of a family: `fit` with gm's Adam, at least `warmup` steps and `warmupMs` of warm-up, then at least `steps` timed steps and `timedMs` of them. */
export async function gmStepMs(family: Family, warmup: number, steps: number, warmupMs = WARMUP_MS, timedMs = 0): Promise<number> {
  const model = family.build();
  const x = family.data(family.batch * POOL_BATCHES);
  const stamps: number[] = [];
  const stop = new AbortController();
  let warm = false;
  let warmedSteps = 0;
  const t0 = performance.now();
  try {
    // gm's fused Adam, as `gm train` trains (tfjs's Adam costs ~10 kernels per variable per step).
    await model.fit(x, {
      epochs: 1_000_000,
      batchSize: family.batch,
      shuffle: false,
      optimizer: gmAdam,
      signal: stop.signal,
      onBatchEnd: () => {
        const now = performance.now();
        if (!warm) {
          warmedSteps++;
          warm = warmedSteps >= warmup && now - t0 >= warmupMs;
          if (!warm) return;
        }
        stamps.push(now); // the first stamp (the end of warm-up) starts the first timed step
        if (stamps.length > steps && now - (stamps[0] as number) >= timedMs) stop.abort();
      },
    });
  } finally {
    x.dispose();
    model.dispose();
  }
  const gaps = stamps.slice(1).map((t, i) => t - (stamps[i] as number));
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)] as number;
}

/**
 * gm's median ms per data-parallel training step on `replicas` threads (this one + worker_threads, each with its own
 * wasm backend): the family's batch split across them, gm's Adam, timed as {@link gmStepMs} times.
 */
export async function gmParallelStepMs(family: Family, replicas: number, warmup: number, steps: number, warmupMs = WARMUP_MS, timedMs = 0): Promise<number> {
  const model = family.build();
  const x = family.data(family.batch);
  const rows = x.dataSync() as Float32Array;
  // As gm train does: state (ActNorm) initialised from the first batch on this thread; the model's own clipping.
  prepareDataParallel(model, { x }, { epoch: 1, batch: 1, batches: 1, seed: 0 });
  x.dispose();
  const { clipNorm } = model.trainingDefaults();
  const { source, local } = await dataParallelReplicas(model, 0, import.meta.resolve('@gm/models'));
  const trainer = await createDataParallelTrainer({
    replica: source,
    localReplica: local,
    replicas,
    batchSize: family.batch,
    optimizer: { name: 'adam', learningRate: 1e-3, ...(clipNorm === undefined ? {} : { clipNorm }) },
  });
  const times: number[] = [];
  try {
    const start = performance.now();
    let warmedSteps = 0;
    let timedFrom = Number.POSITIVE_INFINITY;
    for (let step = 0; times.length < steps || performance.now() - timedFrom < timedMs; step++) {
      const t0 = performance.now();
      trainer.inputView(step, 'x').set(rows);
      trainer.step(step);
      // Warm-up as in gmStepMs: at least `warmup` steps and `warmupMs` (every worker compiles its own step).
      if (warmedSteps >= warmup && t0 - start >= warmupMs) {
        timedFrom = Math.min(timedFrom, t0);
        times.push(performance.now() - t0);
      } else warmedSteps++;
    }
  } finally {
    await trainer.dispose();
    model.dispose(); // rank 0's replica is the caller's, which the trainer leaves alone
  }
  const kept = times.sort((a, b) => a - b);
  return kept[Math.floor(kept.length / 2)] as number;
}

export interface ModelStepRow {
  [key: string]: string | number | boolean | null;
  model: string;
  runner: string;
  msPerStep: number | null;
  imagesPerSecond: number | null;
  vsPyTorch: number | null;
  note: string;
}

/**
 * The suite: per family, the twin (before), gm on the default backend, the twin (after); rows of ms/step, images/s and
 * gm / PyTorch. `twin(model)` runs the PyTorch twin and returns its ms/step or why it did not run.
 */
export async function modelStepsSuite(quick: boolean, twin: (model: string, timedMs: number) => { msPerStep: number } | { skipped: string }): Promise<{ rows: ModelStepRow[]; notes: string[] }> {
  const backend = (await initBackend()).backend;
  const cores = availableParallelism();
  const warmupMs = quick ? QUICK_WARMUP_MS : WARMUP_MS;
  const timedMs = quick ? QUICK_TIMED_MS : TIMED_MS;
  const steps = quick ? 6 : 20;
  const rows: ModelStepRow[] = [];
  const notes: string[] = [
    `gm backend: ${backend}; the median of at least ${steps} steps and ${timedMs / 1000} s of steps after at least 3 warm-up steps and ${warmupMs / 1000} s of warm-up; PyTorch: the twin's median of blocks of 4 steps over at least 20 steps and ${timedMs / 1000} s after 3 warm-up steps, 1 thread, mean of a run before and after gm`,
  ];
  for (const family of FAMILIES) {
    const before = twin(family.twin, timedMs);
    const gmMs = await gmStepMs(family, 3, steps, warmupMs, timedMs);
    const after = twin(family.twin, timedMs);
    const torchRuns = [before, after].flatMap((r) => ('msPerStep' in r ? [r.msPerStep] : []));
    const torchMs = torchRuns.length === 0 ? null : torchRuns.reduce((a, b) => a + b, 0) / torchRuns.length;
    const ips = (ms: number) => Math.round((family.batch / ms) * 1000);
    rows.push({ model: family.name, runner: `gm (${backend}, 1 thread)`, msPerStep: Number(gmMs.toFixed(1)), imagesPerSecond: ips(gmMs), vsPyTorch: torchMs === null ? null : Number((gmMs / torchMs).toFixed(2)), note: family.note });
    if (cores >= 2 && backend === 'wasm') {
      const parallelMs = await gmParallelStepMs(family, 2, 3, steps, warmupMs, timedMs);
      rows.push({ model: family.name, runner: 'gm (wasm, 2 threads, data-parallel)', msPerStep: Number(parallelMs.toFixed(1)), imagesPerSecond: ips(parallelMs), vsPyTorch: torchMs === null ? null : Number((parallelMs / torchMs).toFixed(2)), note: `batch ${family.batch} split over 2 replicas` });
    }
    if (torchMs !== null) {
      rows.push({ model: family.name, runner: 'pytorch (1 thread)', msPerStep: Number(torchMs.toFixed(1)), imagesPerSecond: ips(torchMs), vsPyTorch: 1, note: `${torchRuns.map((t) => t.toFixed(1)).join(' and ')} ms (before and after gm)` });
    } else {
      notes.push(`${family.name}: PyTorch twin not run: ${'skipped' in before ? before.skipped : ''}`);
    }
  }
  return { rows, notes };
}
