import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, serialization } from '@tensorflow/tfjs-core';
import { LayerVariable, layers } from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { PortableOp } from '@gm/core';
import { portableActivation } from './portable-activation';
import {
  activate,
  optionalBoolean,
  oneShape,
  oneTensor,
  parseActivation,
  zeros,
  type Activation,
  type BaseLayerArgs,
  type Kwargs,
  type Shape,
} from './util';

type Layer = layers.Layer;

export interface DenseTransposeArgs extends BaseLayerArgs {
  /**
   * The encoder layer whose kernel this layer uses transposed: the layer object itself, or its name. A name is
   * resolved when this layer is first applied to symbolic inputs, by searching the layers upstream of those inputs
   * (descending into nested models); for other arrangements call {@link tieDenseTransposeLayers} on the model.
   * Any layer with a 2-D `kernel` variable of shape `[inputDim, units]` (a tfjs `Dense`) can be the source.
   */
  tiedTo: Layer | string | { name: string };
  /** Output width (= the source's input width). Optional when the source is built; checked against it. */
  units?: number;
  /** Activation applied after the bias (default 'linear'). */
  activation?: Activation;
  /** Whether to add this layer's own bias (default true). */
  useBias?: boolean;
}

function kernelOf(layer: Layer): LayerVariable | undefined {
  const direct = (layer as unknown as { kernel?: unknown }).kernel;
  if (direct instanceof LayerVariable) return direct;
  return layer.weights.find((w) => w.originalName === 'kernel' || w.originalName.endsWith('/kernel'));
}

function hasKernelSlot(layer: Layer): boolean {
  return 'kernel' in (layer as object) || kernelOf(layer) !== undefined;
}

/** Finds a layer by name among `roots`, the layers upstream of them, and the layers of nested models. */
function findUpstream(roots: Layer[], name: string): Layer | undefined {
  const seen = new Set<Layer>();
  const queue = [...roots];
  while (queue.length > 0) {
    const layer = queue.shift() as Layer;
    if (seen.has(layer)) continue;
    seen.add(layer);
    if (layer.name === name && hasKernelSlot(layer)) return layer;
    const nested = (layer as unknown as { layers?: unknown }).layers;
    if (Array.isArray(nested)) queue.push(...(nested as Layer[]));
    for (const node of layer.inboundNodes) queue.push(...node.inboundLayers);
  }
  return undefined;
}

/**
 * A dense layer tied to an encoder `Dense` layer: `y = activation(x · Kᵀ + b)` where `K` is the encoder's kernel
 * (the very same variable — one kernel, not a copy) and `b` is this layer's own bias. Training a model that contains
 * both layers updates the single shared kernel with the gradients of both uses.
 *
 * Only the bias is a weight of this layer, so a saved model stores the kernel once (under the encoder), and a loaded
 * model ties this layer to the loaded encoder kernel again: the config refers to the source by name
 * (`tiedTo: {name}`), resolved when the loaded graph is rebuilt.
 *
 * @example
 * ```ts
 * const input = tf.input({ shape: [784] });
 * const enc = tf.layers.dense({ units: 30, activation: 'selu' });
 * const codings = enc.apply(input) as tf.SymbolicTensor;
 * const out = new DenseTranspose({ tiedTo: enc, activation: 'sigmoid' }).apply(codings) as tf.SymbolicTensor;
 * const tiedAe = tf.model({ inputs: input, outputs: out });
 * ```
 */
export class DenseTranspose extends layers.Layer {
  static className = 'GmDenseTranspose';
  /** Marks gm's classes so registration can tell its own classes from foreign ones with the same className. */
  static readonly gmLayer = true;

  readonly tiedName: string;
  readonly activation: Activation;
  readonly useBias: boolean;
  units: number | undefined;
  private source: Layer | undefined;
  private bias: LayerVariable | undefined;

  constructor(args: DenseTransposeArgs) {
    super(args);
    const where = `DenseTranspose "${this.name}"`;
    const tied = (args as { tiedTo?: unknown }).tiedTo;
    if (tied instanceof layers.Layer) {
      this.source = tied;
      this.tiedName = tied.name;
    } else if (typeof tied === 'string' && tied.length > 0) {
      this.tiedName = tied;
    } else if (typeof tied === 'object' && tied !== null && typeof (tied as { name?: unknown }).name === 'string') {
      this.tiedName = (tied as { name: string }).name;
    } else {
      throw new Error(`${where}: tiedTo must be the encoder Dense layer or its name; got ${JSON.stringify(tied)}`);
    }
    if (args.units !== undefined && args.units !== null) {
      if (!Number.isInteger(args.units) || args.units <= 0) {
        throw new Error(`${where}: units must be a positive integer; got ${JSON.stringify(args.units)}`);
      }
      this.units = args.units;
    }
    this.activation = parseActivation(args.activation, where);
    this.useBias = optionalBoolean(`${where}: useBias`, args.useBias, true);
    this.supportsMasking = true;
  }

  /** The layer whose kernel is shared, once resolved. */
  get tiedLayer(): Layer | undefined {
    return this.source;
  }

  /** Ties this layer to `layer` (must be the layer named in the config). Used by {@link tieDenseTransposeLayers}. */
  tie(layer: Layer): void {
    if (layer.name !== this.tiedName) {
      throw new Error(`DenseTranspose "${this.name}": tie(): expected layer "${this.tiedName}", got "${layer.name}"`);
    }
    this.source = layer;
    if (this.built) this.checkKernel();
  }

  override apply(
    inputs: Tensor | Tensor[] | SymbolicTensor | SymbolicTensor[],
    kwargs?: Kwargs,
  ): Tensor | Tensor[] | SymbolicTensor | SymbolicTensor[] {
    if (this.source === undefined) {
      const list = (Array.isArray(inputs) ? inputs : [inputs]) as unknown[];
      const roots = list
        .map((t) => (t as { sourceLayer?: Layer }).sourceLayer)
        .filter((l): l is Layer => l instanceof layers.Layer);
      const found = findUpstream(roots, this.tiedName);
      if (found !== undefined) this.source = found;
    }
    return super.apply(inputs, kwargs);
  }

  /** The shared kernel `[units, inputDim]` of the source, with clear errors when it is not available. */
  private sharedKernel(): LayerVariable {
    const where = `DenseTranspose "${this.name}"`;
    if (this.source === undefined) {
      throw new Error(
        `${where}: tied layer "${this.tiedName}" was not found upstream of this layer's inputs; build the encoder ` +
          `Dense and this layer into one model graph, or call tieDenseTransposeLayers(model) on a model that holds both`,
      );
    }
    const kernel = kernelOf(this.source);
    if (kernel === undefined) {
      throw new Error(`${where}: tied layer "${this.tiedName}" has no kernel yet (build it before this layer)`);
    }
    if (kernel.shape.length !== 2) {
      throw new Error(`${where}: tied layer "${this.tiedName}" kernel must be 2-D; got shape [${kernel.shape}]`);
    }
    return kernel;
  }

  private checkKernel(): void {
    const kernel = this.sharedKernel();
    if (this.units !== undefined && kernel.shape[0] !== this.units) {
      throw new Error(
        `DenseTranspose "${this.name}": units ${this.units} does not match the input width ${kernel.shape[0]} of ` +
          `tied layer "${this.tiedName}"`,
      );
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = oneShape(inputShape, `DenseTranspose "${this.name}"`);
    const lastDim = shape[shape.length - 1];
    if (this.source !== undefined && kernelOf(this.source) !== undefined) {
      this.checkKernel();
      const kernel = this.sharedKernel();
      this.units = kernel.shape[0] as number;
      if (lastDim !== null && lastDim !== undefined && lastDim !== kernel.shape[1]) {
        throw new Error(
          `DenseTranspose "${this.name}": input width ${lastDim} does not match the output width ` +
            `${kernel.shape[1]} of tied layer "${this.tiedName}"`,
        );
      }
    } else if (this.units === undefined) {
      // Without the source we cannot know the output width; with `units` the tie may be made later.
      this.sharedKernel();
    }
    if (this.useBias) this.bias = this.addWeight('bias', [this.units as number], 'float32', zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = oneShape(inputShape, `DenseTranspose "${this.name}"`);
    const units = this.units ?? (this.source ? kernelOf(this.source)?.shape[0] : undefined);
    if (units === undefined) this.sharedKernel();
    return [...shape.slice(0, -1), units as number];
  }

  override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
    return tf.tidy(() => {
      const x = oneTensor(inputs, `DenseTranspose "${this.name}"`);
      const kernel = this.sharedKernel().read();
      // transposeB: one MatMul, no materialised transpose (@gm/backend makes this fast on wasm).
      let y = x.rank === 2 ? tf.matMul(x, kernel, false, true) : this.matMulND(x, kernel);
      if (this.bias !== undefined) y = tf.add(y, this.bias.read());
      return activate(this.activation, y);
    });
  }

  private matMulND(x: Tensor, kernel: Tensor): Tensor {
    const lead = x.shape.slice(0, -1);
    const flat = tf.reshape(x, [-1, x.shape[x.rank - 1] as number]);
    const y = tf.matMul(flat, kernel, false, true);
    return tf.reshape(y, [...lead, kernel.shape[0] as number]);
  }

  /** This layer as portable operations: the tied kernel, transposed, and the activation (see `portableNetwork`). */
  portableOps(): PortableOp[] {
    const kernel = this.sharedKernel().read();
    const [units, inputSize] = kernel.shape as [number, number];
    const kernelT = tf.tidy(() => tf.transpose(kernel).dataSync() as Float32Array);
    return [
      { op: 'dense', inputSize, units, kernel: Float32Array.from(kernelT), bias: this.bias === undefined ? null : Float32Array.from(this.bias.read().dataSync() as Float32Array) },
      ...(this.activation === 'linear' ? [] : [{ op: 'activation' as const, fn: portableActivation(this.activation, `DenseTranspose "${this.name}"`) }]),
    ];
  }

  override getConfig(): serialization.ConfigDict {
    return {
      ...super.getConfig(),
      // An object with a `name` key: tfjs-layers re-cases every other string in a saved config
      // (snake_case on save, camelCase on load), which would turn "dense_1" into "dense1".
      tiedTo: { name: this.tiedName },
      units: this.units ?? null,
      activation: this.activation,
      useBias: this.useBias,
    };
  }
}

/**
 * Ties every untied {@link DenseTranspose} in `model` (searching nested models too) to the layer its config names.
 * Needed only when the encoder Dense is not upstream of the DenseTranspose in the graph, e.g. an encoder and a
 * decoder saved as two sub-models of one Sequential model. Returns the number of layers tied.
 */
export function tieDenseTransposeLayers(model: Layer | Layer[]): number {
  const all: Layer[] = [];
  const collect = (layer: Layer) => {
    all.push(layer);
    const nested = (layer as unknown as { layers?: unknown }).layers;
    if (Array.isArray(nested)) for (const l of nested as Layer[]) collect(l);
  };
  for (const l of Array.isArray(model) ? model : [model]) collect(l);
  let tied = 0;
  for (const layer of all) {
    if (!(layer instanceof DenseTranspose) || layer.tiedLayer !== undefined) continue;
    const source = all.find((l) => l.name === layer.tiedName && l !== layer && hasKernelSlot(l));
    if (source === undefined) {
      throw new Error(`tieDenseTransposeLayers: layer "${layer.tiedName}" tied to by "${layer.name}" is not in the model`);
    }
    layer.tie(source);
    tied++;
  }
  return tied;
}
