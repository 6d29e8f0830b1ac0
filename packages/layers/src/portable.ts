/**
 * A tfjs model (or list of layers) as a portable network (@gm/core's `PortableNetwork`): its weights and operations
 * as plain data, which @gm/bitsback evaluates with its own deterministic arithmetic so a compressed file decodes
 * bit for bit on every machine. Supported: input, flatten and reshape layers (no-ops on flat vectors), Dense,
 * Activation, and gm's DenseTranspose and MaskedDense; anything else is a GmError naming the layer.
 */
import type { layers, LayersModel } from '@tensorflow/tfjs-layers';
import { GmError, type PortableNetwork, type PortableOp } from '@gm/core';
import { portableActivation } from './portable-activation';

type Layer = layers.Layer;

interface WithPortableOps {
  portableOps(): PortableOp[];
}

const hasPortableOps = (l: unknown): l is WithPortableOps => typeof (l as Partial<WithPortableOps>).portableOps === 'function';

function weight(layer: Layer, suffix: string): Float32Array | null {
  const w = layer.weights.find((v) => v.originalName === suffix || v.originalName.endsWith(`/${suffix}`));
  return w === undefined ? null : Float32Array.from(w.read().dataSync() as Float32Array);
}

function layerOps(layer: Layer, where: string): PortableOp[] {
  const cls = layer.getClassName();
  if (hasPortableOps(layer)) return layer.portableOps();
  if (cls === 'InputLayer' || cls === 'Flatten' || cls === 'Reshape') return [];
  const config = layer.getConfig() as { activation?: string; units?: number };
  if (cls === 'Activation') return config.activation === 'linear' ? [] : [{ op: 'activation', fn: portableActivation(String(config.activation), `${where}: layer "${layer.name}"`) }];
  if (cls === 'Dense') {
    const kernel = weight(layer, 'kernel') as Float32Array;
    const units = config.units as number;
    const ops: PortableOp[] = [{ op: 'dense', inputSize: kernel.length / units, units, kernel, bias: weight(layer, 'bias') }];
    if (config.activation !== undefined && config.activation !== 'linear') ops.push({ op: 'activation', fn: portableActivation(config.activation, `${where}: layer "${layer.name}"`) });
    return ops;
  }
  throw new GmError('UNSUPPORTED', `${where}: layer "${layer.name}"`, `a ${cls} layer has no portable form (portable: Dense, Activation, Flatten, Reshape, DenseTranspose, MaskedDense)`);
}

/**
 * The network of `model` (a feed-forward chain: each layer reads the previous one's output; MADE's direct
 * connection reads the network input) as portable data. `inputSize` is the flat input width.
 *
 * @example
 * ```ts
 * const net = portableNetwork(vae.decoder); // { inputSize: 32, outputSize: 784, ops: [dense, relu, dense, …] }
 * ```
 */
export function portableNetwork(model: LayersModel | readonly Layer[], where = 'portableNetwork'): PortableNetwork {
  const list: readonly Layer[] = Array.isArray(model) ? model : (model as LayersModel).layers;
  const ops = list.flatMap((l) => layerOps(l, where));
  const dense = ops.filter((o): o is Extract<PortableOp, { op: 'dense' }> => o.op === 'dense');
  if (dense.length === 0) throw new GmError('UNSUPPORTED', where, 'a network without a dense layer has no portable form');
  let width = (dense[0] as { inputSize: number }).inputSize;
  const inputSize = width;
  for (const o of ops) {
    if (o.op !== 'dense') continue;
    if (o.inputSize !== width) throw new GmError('UNSUPPORTED', where, `layers do not form a chain: a dense layer reads ${o.inputSize} values after a width of ${width}`);
    if (o.inputKernel !== undefined && o.inputKernel.length !== inputSize * o.units) {
      throw new GmError('UNSUPPORTED', where, `a direct connection must read the network input (${inputSize} values)`);
    }
    width = o.units;
  }
  return { inputSize, outputSize: width, ops };
}

/**
 * Columns `[from, to)` of a portable dense op (its units' kernel, second-kernel and bias columns): the same units'
 * outputs, bit for bit, as the whole op gives them (every unit is its own sum), e.g. one head of a layer whose
 * output is `[mean ‖ log σ]`.
 */
export function portableDenseColumns(op: Extract<PortableOp, { op: 'dense' }>, from: number, to: number): Extract<PortableOp, { op: 'dense' }> {
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > op.units || from >= to) {
    throw new GmError('BAD_ARGUMENT', 'portableDenseColumns', `columns [from, to) within the ${op.units} units`, `[${from}, ${to})`);
  }
  const units = to - from;
  const columns = (kernel: Float32Array): Float32Array => {
    const rows = kernel.length / op.units;
    const out = new Float32Array(rows * units);
    for (let k = 0; k < rows; k++) out.set(kernel.subarray(k * op.units + from, k * op.units + to), k * units);
    return out;
  };
  return {
    ...op,
    units,
    kernel: columns(op.kernel),
    bias: op.bias === null ? null : op.bias.slice(from, to),
    ...(op.inputKernel === undefined ? {} : { inputKernel: columns(op.inputKernel) }),
  };
}
