/**
 * A tfjs-layers network of Dense layers evaluated with @gm/core/ops' `fusedDense`: one kernel forward and about three
 * backward per layer where the backend has gm's kernels, instead of tfjs-layers' three forward and six backward (a
 * linear Dense takes tfjs-core's fused path while a tape records: 3-D reshapes and a clone of everything it saves,
 * nine forward and nine backward). The layers, their variables and so checkpoints stay tfjs-layers' own; only how
 * `model.apply(x)` is computed changes — the same function within float32 rounding, gradients included.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor, layers } from '@tensorflow/tfjs-layers';
import { applyDenseActivation, fusedDense, FUSED_DENSE_ACTIVATIONS, type FusedDenseActivation } from '@gm/core/ops';

type Layer = layers.Layer;

/** One step of the compiled network: the symbolic tensor it computes, from which one, and how. */
interface Instruction {
  id: number;
  from: number;
  run: (input: tf.Tensor) => tf.Tensor;
}

const isFusedActivation = (name: unknown): name is FusedDenseActivation => typeof name === 'string' && (FUSED_DENSE_ACTIVATIONS as readonly string[]).includes(name);

/** The layer's variable whose name ends in `suffix` (tfjs-layers names them `<layer>/kernel`, `<layer>/bias`). */
function variableOf(layer: Layer, suffix: string): tf.Variable | undefined {
  const w = layer.weights.find((v) => v.originalName === suffix || v.originalName.endsWith(`/${suffix}`));
  return w?.read() as tf.Variable | undefined;
}

/** How a Dense layer maps a 2-D input through `fusedDense`, or undefined when its activation is not a fused one. */
function denseStep(layer: Layer): ((x: tf.Tensor) => tf.Tensor) | undefined {
  if (layer.getClassName() !== 'Dense') return undefined;
  const activation = (layer.getConfig() as { activation?: unknown }).activation ?? 'linear';
  if (!isFusedActivation(activation)) return undefined;
  return (x) => {
    const kernel = variableOf(layer, 'kernel');
    // Unbuilt, or an input of the wrong width: tfjs-layers builds the layer or says what is wrong.
    if (kernel === undefined || kernel.shape[0] !== x.shape[1]) return layer.apply(x) as tf.Tensor;
    const bias = variableOf(layer, 'bias');
    return fusedDense([{ x, kernel }], { activation, ...(bias === undefined ? {} : { bias }) });
  };
}

/** The step that computes `t` from its one input, or undefined when its layer is not one this module runs. */
function stepFor(t: SymbolicTensor): ((input: tf.Tensor) => tf.Tensor) | undefined {
  const layer = t.sourceLayer;
  const input = t.inputs[0];
  if (t.inputs.length !== 1 || input === undefined) return undefined;
  const cls = layer.getClassName();
  if (cls === 'Dense') return input.shape.length === 2 ? denseStep(layer) : undefined;
  if (cls === 'Flatten' || cls === 'Reshape') {
    const tail = t.shape.slice(1);
    if (tail.some((d) => d === null)) return undefined;
    return (x) => tf.reshape(x, [x.shape[0] as number, ...(tail as number[])]);
  }
  if (cls === 'Activation') {
    const activation = (layer.getConfig() as { activation?: unknown }).activation;
    return isFusedActivation(activation) ? (x) => applyDenseActivation(activation, x) : undefined;
  }
  return undefined;
}

/** The instructions computing `outputs` from `input` in dependency order, or undefined when a layer is unsupported. */
function compile(input: SymbolicTensor, outputs: readonly SymbolicTensor[]): Instruction[] | undefined {
  const program: Instruction[] = [];
  const done = new Set<number>([input.id]);
  const visit = (t: SymbolicTensor): boolean => {
    if (done.has(t.id)) return true;
    const run = stepFor(t);
    const from = t.inputs[0];
    if (run === undefined || from === undefined || !visit(from)) return false;
    program.push({ id: t.id, from: from.id, run });
    done.add(t.id);
    return true;
  };
  return outputs.every(visit) ? program : undefined;
}

/**
 * `model.apply(x)` as a list of output tensors, computed with gm's fused dense op when the model is a feed-forward
 * network of Dense (activations linear, relu, elu, tanh, sigmoid, softplus), Flatten, Reshape and Activation layers
 * on one input — any branch of it may be an output, as in a view that also returns a hidden layer. Any other model,
 * or an input that is not float32 of the model's shape, goes to `model.apply` unchanged (so errors are tfjs's).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { fusedNetwork } from '@gm/layers';
 *
 * const input = tfl.input({ shape: [4] });
 * const hidden = tfl.layers.dense({ units: 8, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(hidden) as tfl.SymbolicTensor });
 * const run = fusedNetwork(model);
 * const [y] = run(tf.ones([3, 4])); // what model.apply gives, [3, 2]
 * ```
 */
export function fusedNetwork(model: LayersModel): (x: tf.Tensor) => tf.Tensor[] {
  const viaApply = (x: tf.Tensor): tf.Tensor[] => {
    const out = model.apply(x);
    return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
  };
  const input = model.inputs.length === 1 ? model.inputs[0] : undefined;
  const program = input === undefined ? undefined : compile(input, model.outputs);
  if (input === undefined || program === undefined) return viaApply;
  const tail = input.shape.slice(1);
  return (x) => {
    if (x.dtype !== 'float32' || x.rank !== input.shape.length || tail.some((d, i) => d !== null && d !== x.shape[i + 1])) return viaApply(x);
    return tf.tidy(() => {
      const values = new Map<number, tf.Tensor>([[input.id, x]]);
      for (const step of program) values.set(step.id, step.run(values.get(step.from) as tf.Tensor));
      return model.outputs.map((o) => values.get(o.id) as tf.Tensor);
    });
  };
}

/**
 * `layer.apply(x)` for one Dense layer through gm's fused dense op (the same conditions as {@link fusedNetwork}:
 * 2-D float32 input, a fused activation; otherwise `layer.apply`).
 */
export function fusedDenseLayer(layer: Layer): (x: tf.Tensor) => tf.Tensor {
  const step = denseStep(layer);
  return (x) => (step !== undefined && x.rank === 2 && x.dtype === 'float32' ? step(x) : (layer.apply(x) as tf.Tensor));
}
