/**
 * Optimizers: by name or factory, kept by a model across `fit` calls (so resuming keeps Adam's moments), and their
 * state as checkpoint files so that training resumed from a checkpoint equals training without interruption.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GmError, type AdamState, type OptimizerFactory, type OptimizerName } from '@gm/core';

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

/** The two files of an optimizer's state: slot tensors concatenated in optimizer.bin, the rest in optimizer.json. */
function encodeState(json: Omit<OptimizerStateJson, 'format' | 'version' | 'tensors'>, slots: ReadonlyArray<{ shape: readonly number[]; data: Float32Array }>): Map<string, Uint8Array> {
  const tensors: OptimizerStateJson['tensors'] = [];
  let offset = 0;
  for (const s of slots) {
    tensors.push({ shape: [...s.shape], offset, length: s.data.length });
    offset += s.data.length;
  }
  const bin = new Float32Array(offset);
  slots.forEach((s, k) => bin.set(s.data, (tensors[k] as { offset: number }).offset));
  const full: OptimizerStateJson = { format: 'gm-optimizer', version: 1, ...json, tensors };
  return new Map([
    [OPTIMIZER_JSON, new TextEncoder().encode(JSON.stringify(full))],
    [OPTIMIZER_BIN, new Uint8Array(bin.buffer)],
  ]);
}

/** Serialises the optimizer's state for `variables` (in that order). */
export async function optimizerStateFiles(optimizer: tf.Optimizer, variables: readonly tf.Variable[]): Promise<Map<string, Uint8Array>> {
  const weights = await optimizer.getWeights();
  const [iter, ...slots] = weights;
  const iterations = iter === undefined ? 0 : ((await iter.tensor.data())[0] as number);
  iter?.tensor.dispose(); // a new scalar; the slots are the optimizer's own variables
  const data: Array<{ shape: number[]; data: Float32Array }> = [];
  for (const s of slots) data.push({ shape: s.tensor.shape, data: (await s.tensor.data()) as Float32Array });
  const className = optimizer.getClassName();
  // Not instanceof: tfjs's optimizers answer instanceof by duck typing (every optimizer is an AdamOptimizer to it).
  const betas =
    className === 'Adam'
      ? { accBeta1: (optimizer as unknown as AdamFields).accBeta1.dataSync()[0] as number, accBeta2: (optimizer as unknown as AdamFields).accBeta2.dataSync()[0] as number }
      : {};
  return encodeState({ className, iterations, ...betas, variableSizes: variables.map((v) => v.size) }, data);
}

/**
 * Adam's state as plain values (@gm/core's `AdamState`, e.g. gathered by a data-parallel trainer) as checkpoint
 * files: the very files one thread's Adam over the same `variables` writes, so either can resume the other.
 */
export function adamStateFiles(state: AdamState, variables: readonly tf.Variable[]): Map<string, Uint8Array> {
  const slots = [...state.firstMoments, ...state.secondMoments].map((data, k) => ({ shape: (variables[k % variables.length] as tf.Variable).shape, data }));
  return encodeState({ className: 'Adam', iterations: state.iterations, accBeta1: state.accBeta1, accBeta2: state.accBeta2, variableSizes: variables.map((v) => v.size) }, slots);
}

/** optimizer.json, checked to be gm's format for `className` and `variables`; optimizer.bin as floats. */
function decodeState(files: OptimizerStateFiles, variables: readonly tf.Variable[], className: string, label: string): { json: OptimizerStateJson; values: Float32Array } {
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
  if (json.className !== className) {
    throw new GmError('WRONG_KIND', where, `holds the state of a ${json.className}, but training uses a ${className} (pass the same optimizer to resume)`);
  }
  const sizes = variables.map((v) => v.size);
  if (sizes.length !== json.variableSizes.length || sizes.some((s, i) => s !== json.variableSizes[i])) {
    throw new GmError('WRONG_MODEL', where, `holds state for ${json.variableSizes.length} variables of sizes [${json.variableSizes.join(', ')}], this model has [${sizes.join(', ')}]`);
  }
  const values = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  for (const t of json.tensors) {
    if (t.offset + t.length > values.length) throw new GmError('CORRUPT', `${label}/${OPTIMIZER_BIN}`, 'shorter than its optimizer.json says');
  }
  return { json, values };
}

/** The Adam state kept in checkpoint files (by {@link optimizerStateFiles} or {@link adamStateFiles}) for `variables`. */
export function readAdamStateFiles(files: OptimizerStateFiles, variables: readonly tf.Variable[], label: string): AdamState {
  const { json, values } = decodeState(files, variables, 'Adam', label);
  const n = variables.length;
  const where = `${label}/${OPTIMIZER_JSON}`;
  if (json.tensors.length === 0) {
    // Saved before the first step: Adam has created no moments yet.
    const zeros = () => variables.map((v) => new Float32Array(v.size));
    return { iterations: json.iterations, accBeta1: json.accBeta1 ?? 0.9, accBeta2: json.accBeta2 ?? 0.999, firstMoments: zeros(), secondMoments: zeros() };
  }
  if (json.tensors.length !== 2 * n) throw new GmError('CORRUPT', where, `an Adam state needs ${2 * n} moment tensors for ${n} variables; it lists ${json.tensors.length}`);
  if (json.accBeta1 === undefined || json.accBeta2 === undefined) throw new GmError('CORRUPT', where, 'an Adam state keeps accBeta1 and accBeta2');
  const slot = (k: number) => {
    const t = json.tensors[k] as OptimizerStateJson['tensors'][number];
    if (t.length !== (variables[k % n] as tf.Variable).size) throw new GmError('CORRUPT', where, `moment ${k} has ${t.length} values; its variable has ${(variables[k % n] as tf.Variable).size}`);
    return values.slice(t.offset, t.offset + t.length);
  };
  return {
    iterations: json.iterations,
    accBeta1: json.accBeta1,
    accBeta2: json.accBeta2,
    firstMoments: variables.map((_, k) => slot(k)),
    secondMoments: variables.map((_, k) => slot(n + k)),
  };
}

/**
 * Restores state written by {@link optimizerStateFiles} into `optimizer` for `variables` (the same variables, in the
 * same order; their names may differ, as they do in another process). A different optimizer class or variable list
 * is an error naming both.
 */
export async function restoreOptimizerState(optimizer: tf.Optimizer, variables: readonly tf.Variable[], files: OptimizerStateFiles, label: string): Promise<void> {
  const { json, values } = decodeState(files, variables, optimizer.getClassName(), label);
  // tfjs's setWeights matches slots to variables by position (names are only labels), after the iteration count.
  const named: Array<{ name: string; tensor: tf.Tensor }> = [{ name: 'iter', tensor: tf.scalar(json.iterations, 'int32') }];
  json.tensors.forEach((t, k) => {
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
