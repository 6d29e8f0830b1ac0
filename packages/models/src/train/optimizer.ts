/**
 * Optimizers: by name or factory, kept by a model across `fit` calls (so resuming keeps Adam's moments), and their
 * state as checkpoint files so that training resumed from a checkpoint equals training without interruption.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GmError, type OptimizerFactory, type OptimizerName } from '@gm/core';

export type { OptimizerFactory, OptimizerName };

/** `tf.train.adam` with tfjs's defaults. */
export const tfjsAdam: OptimizerFactory = (learningRate) => tf.train.adam(learningRate);

/** Momentum of the `momentum` and `nesterov` optimizers (Keras's usual choice, and the lecture's). */
export const SGD_MOMENTUM = 0.9;

/**
 * Optimizers by name. RMSprop's decay 0.9 and Adadelta's ρ 0.95 are Keras's (and tfjs's Adadelta default); tfjs's
 * RMSprop defaults to no momentum and ε 1e-10, Keras's ε is 1e-7 — the difference shows only near zero gradients.
 */
export const OPTIMIZERS: Readonly<Record<OptimizerName, OptimizerFactory>> = {
  adam: tfjsAdam,
  sgd: (lr) => tf.train.sgd(lr),
  momentum: (lr) => tf.train.momentum(lr, SGD_MOMENTUM),
  nesterov: (lr) => tf.train.momentum(lr, SGD_MOMENTUM, true),
  rmsprop: (lr) => tf.train.rmsprop(lr, 0.9),
  adadelta: (lr) => tf.train.adadelta(lr, 0.95, 1e-7),
};

/**
 * The learning rate a named optimizer starts from when the caller sets none (Adam's is the model's own default):
 * 1e-2 for the SGD family, 1e-3 for RMSprop, and 1 for Adadelta — Zeiler's method has no rate (it is 1 in the
 * paper and in Keras before 2.3); a rate of 1e-3 leaves it barely moving.
 */
export const DEFAULT_LEARNING_RATES: Readonly<Partial<Record<OptimizerName, number>>> = {
  sgd: 1e-2,
  momentum: 1e-2,
  nesterov: 1e-2,
  rmsprop: 1e-3,
  adadelta: 1,
};

/** The factory for a name or a factory; errors name the option. */
export function optimizerFactory(choice: OptimizerName | OptimizerFactory | undefined, where: string): OptimizerFactory {
  if (choice === undefined) return tfjsAdam;
  if (typeof choice === 'function') return choice;
  const f = OPTIMIZERS[choice as OptimizerName];
  if (f === undefined) throw new GmError('BAD_ARGUMENT', `${where}: optimizer`, `one of ${Object.keys(OPTIMIZERS).join(', ')} or a factory (learningRate) => tf.Optimizer`, choice);
  return f;
}

/**
 * Sets the learning rate of the optimizer's next step: tfjs's Adam, RMSProp and Adadelta read their `learningRate`
 * field every step; SGD (and momentum) keep a tensor of it, renewed by their `setLearningRate`.
 */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  const o = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (o.learningRate === learningRate) return;
  if (typeof o.setLearningRate === 'function') o.setLearningRate(learningRate);
  else o.learningRate = learningRate;
}

/**
 * Frees an optimizer. tfjs 4.22's MomentumOptimizer.dispose frees its momentum and accumulators but not the
 * learning-rate scalar `c` its SGD base keeps, so one tensor leaked per momentum optimizer; it is freed here.
 */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  if (optimizer.getClassName() === 'Momentum') (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
  optimizer.dispose();
}

/**
 * The optimizer a model holds across `fit` calls: the same one while the factory and the trained variables are the
 * same (its state carries over; a learning-rate change only changes the rate), a new one (the old freed) when either
 * changes (e.g. after freezing part of a model: tfjs keeps optimizer state by position in the variable list).
 */
export class OptimizerSlot {
  private optimizer: tf.Optimizer | undefined;
  private factory: OptimizerFactory | undefined;
  /** The variables the optimizer's state belongs to (by id, in order). */
  private variables = '';
  /** State read from a checkpoint, applied to the next optimizer built. */
  private pending: OptimizerStateFiles | undefined;

  get(factory: OptimizerFactory, learningRate: number, variables: readonly tf.Variable[]): tf.Optimizer {
    const ids = variables.map((v) => v.id).join(',');
    if (this.optimizer === undefined || this.factory !== factory || this.variables !== ids) {
      if (this.optimizer !== undefined) disposeOptimizer(this.optimizer);
      this.optimizer = factory(learningRate);
      this.factory = factory;
      this.variables = ids;
    }
    setLearningRate(this.optimizer, learningRate);
    return this.optimizer;
  }

  /** The optimizer in the slot, if any. */
  get current(): tf.Optimizer | undefined {
    return this.optimizer;
  }

  /** Optimizer state from a checkpoint: restored into the optimizer of the next `fit` (for its variables). */
  setPending(state: OptimizerStateFiles | undefined): void {
    this.pending = state;
  }

  /** Takes the pending checkpoint state (once). */
  takePending(): OptimizerStateFiles | undefined {
    const p = this.pending;
    this.pending = undefined;
    return p;
  }

  dispose(): void {
    if (this.optimizer !== undefined) disposeOptimizer(this.optimizer);
    this.optimizer = undefined;
    this.pending = undefined;
  }
}

/** An optimizer's state as checkpoint files (`optimizer.json` + `optimizer.bin`). */
export type OptimizerStateFiles = ReadonlyMap<string, Uint8Array>;

export const OPTIMIZER_JSON = 'optimizer.json';
export const OPTIMIZER_BIN = 'optimizer.bin';

interface OptimizerStateJson {
  format: 'gm-optimizer';
  version: 1;
  /** tfjs class name (AdamOptimizer, SGDOptimizer, …). */
  className: string;
  iterations: number;
  /** Adam's running β powers, which tfjs's setWeights would recompute with pow (not bit-identical). */
  accBeta1?: number;
  accBeta2?: number;
  /** Slot tensors in getWeights() order, without the iteration count; bytes in optimizer.bin. */
  tensors: Array<{ shape: number[]; offset: number; length: number }>;
  /** Sizes of the trained variables, in order: the state only applies to the same variables. */
  variableSizes: number[];
}

interface AdamFields {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

/** Serialises the optimizer's state for `variables` (in that order). */
export async function optimizerStateFiles(optimizer: tf.Optimizer, variables: readonly tf.Variable[]): Promise<Map<string, Uint8Array>> {
  const weights = await optimizer.getWeights();
  const [iter, ...slots] = weights;
  const iterations = iter === undefined ? 0 : ((await iter.tensor.data())[0] as number);
  iter?.tensor.dispose(); // a new scalar; the slots are the optimizer's own variables
  const parts: Float32Array[] = [];
  const tensors: OptimizerStateJson['tensors'] = [];
  let offset = 0;
  for (const s of slots) {
    const data = (await s.tensor.data()) as Float32Array;
    tensors.push({ shape: [...s.tensor.shape], offset, length: data.length });
    parts.push(data);
    offset += data.length;
  }
  const json: OptimizerStateJson = {
    format: 'gm-optimizer',
    version: 1,
    className: optimizer.getClassName(),
    iterations,
    tensors,
    variableSizes: variables.map((v) => v.size),
  };
  // Not instanceof: tfjs's optimizers answer instanceof by duck typing (every optimizer is an AdamOptimizer to it).
  if (optimizer.getClassName() === 'Adam') {
    const f = optimizer as unknown as AdamFields;
    json.accBeta1 = f.accBeta1.dataSync()[0] as number;
    json.accBeta2 = f.accBeta2.dataSync()[0] as number;
  }
  const bin = new Float32Array(offset);
  let at = 0;
  for (const p of parts) {
    bin.set(p, at);
    at += p.length;
  }
  return new Map([
    [OPTIMIZER_JSON, new TextEncoder().encode(JSON.stringify(json))],
    [OPTIMIZER_BIN, new Uint8Array(bin.buffer)],
  ]);
}

/**
 * Restores state written by {@link optimizerStateFiles} into `optimizer` for `variables` (the same variables, in the
 * same order; their names may differ, as they do in another process). A different optimizer class or variable list
 * is an error naming both.
 */
export async function restoreOptimizerState(optimizer: tf.Optimizer, variables: readonly tf.Variable[], files: OptimizerStateFiles, label: string): Promise<void> {
  const jsonBytes = files.get(OPTIMIZER_JSON);
  const bin = files.get(OPTIMIZER_BIN);
  const where = `${label}/${OPTIMIZER_JSON}`;
  if (jsonBytes === undefined || bin === undefined) throw new GmError('CORRUPT', where, `expected ${OPTIMIZER_JSON} and ${OPTIMIZER_BIN}`);
  let json: OptimizerStateJson;
  try {
    json = JSON.parse(new TextDecoder().decode(jsonBytes)) as OptimizerStateJson;
  } catch {
    throw new GmError('CORRUPT', where, 'not valid JSON');
  }
  if (json.format !== 'gm-optimizer' || json.version !== 1) throw new GmError('CORRUPT', where, 'not a gm optimizer state (format "gm-optimizer", version 1)');
  if (json.className !== optimizer.getClassName()) {
    throw new GmError('WRONG_KIND', where, `holds the state of a ${json.className}, but training uses a ${optimizer.getClassName()} (pass the same optimizer to resume)`);
  }
  const sizes = variables.map((v) => v.size);
  if (sizes.length !== json.variableSizes.length || sizes.some((s, i) => s !== json.variableSizes[i])) {
    throw new GmError('WRONG_MODEL', where, `holds state for ${json.variableSizes.length} variables of sizes [${json.variableSizes.join(', ')}], this model has [${sizes.join(', ')}]`);
  }
  const values = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  // tfjs's setWeights matches slots to variables by position (names are only labels), after the iteration count.
  const named: Array<{ name: string; tensor: tf.Tensor }> = [{ name: 'iter', tensor: tf.scalar(json.iterations, 'int32') }];
  json.tensors.forEach((t, k) => {
    if (t.offset + t.length > values.length) throw new GmError('CORRUPT', `${label}/${OPTIMIZER_BIN}`, 'shorter than its optimizer.json says');
    const variable = variables[k % Math.max(1, variables.length)];
    named.push({ name: `${variable?.name ?? 'slot'}/${k}`, tensor: tf.tensor(values.subarray(t.offset, t.offset + t.length), t.shape) });
  });
  // setWeights replaces the slot variables without freeing the old ones: free them first.
  const [iter, ...old] = await optimizer.getWeights();
  iter?.tensor.dispose();
  tf.dispose(old.map((w) => w.tensor));
  await optimizer.setWeights(named);
  tf.dispose(named.map((n) => n.tensor));
  if (optimizer.getClassName() === 'Adam' && json.accBeta1 !== undefined && json.accBeta2 !== undefined) {
    const f = optimizer as unknown as AdamFields;
    tf.tidy(() => {
      f.accBeta1.assign(tf.scalar(json.accBeta1 as number));
      f.accBeta2.assign(tf.scalar(json.accBeta2 as number));
    });
  }
}
