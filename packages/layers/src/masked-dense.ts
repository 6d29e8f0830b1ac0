import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, serialization } from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { checkPositiveInt, GmError, type PortableOp } from '@gm/core';
import { fusedDense, FUSED_DENSE_ACTIVATIONS, type DenseTerm, type FusedDenseActivation } from '@gm/core/ops';
import { portableActivation } from './portable-activation';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { madeDegrees, maskFromDegrees, outputDegrees, type Ordering } from './made';
import {
  activate,
  optionalBoolean,
  optionalSeed,
  glorot,
  parseActivation,
  shapeList,
  zeros,
  type Activation,
  type BaseLayerArgs,
  type Kwargs,
  type Shape,
} from './util';

/** 'hidden': connect `out ≥ in` (into a hidden layer); 'output': connect `out > in` (into the output layer). */
export type MaskType = 'hidden' | 'output';

export interface MaskedDenseArgs extends BaseLayerArgs {
  /** Number of output units (= `outputDegrees.length`). */
  units: number;
  /** Degrees of the main input's features (see {@link inputDegrees}, {@link hiddenDegrees}). */
  inputDegrees: number[];
  /** Degrees of this layer's units. */
  outputDegrees: number[];
  /** Mask rule (default 'hidden'). */
  maskType?: MaskType;
  /** Degrees of a direct input (the MADE's own input x), connected with the strict rule. When given, the layer
   * takes `[h, x]` (or `[h, x, context]`): MADE's optional direct input→output connection. */
  directDegrees?: number[] | null;
  /** Width of an unmasked conditioning input (IAF's context). When given, the context is the last input. */
  contextSize?: number | null;
  /** Activation (default 'linear'). */
  activation?: Activation;
  /** Whether to add a bias (default true). */
  useBias?: boolean;
  /** Seed of the Glorot-uniform kernel initialisers. */
  seed?: number | null;
}

export interface MaskedDenseDegrees {
  inputDegrees: number[];
  outputDegrees: number[];
  directDegrees?: number[] | null;
}

/**
 * A dense layer whose kernel is multiplied by a fixed binary mask built from degrees, so that the network is
 * autoregressive: MADE's building block. A stack of `MaskedDense` layers whose degrees come from {@link madeDegrees}
 * (hidden layers with `maskType: 'hidden'`, the last with `'output'`) computes outputs where output `d` depends only
 * on the inputs that precede `d` in the ordering.
 *
 * The masks are non-trainable weights (saved with the model); {@link MaskedDense.setDegrees} and
 * {@link resampleMadeMasks} change them in place for connectivity-agnostic training.
 *
 * Inputs: `h`, or `[h, x]` with `directDegrees`, or `[h, context]` with `contextSize`, or `[h, x, context]`.
 */
export class MaskedDense extends layers.Layer {
  static className = 'GmMaskedDense';
  static readonly gmLayer = true;

  readonly units: number;
  readonly maskType: MaskType;
  readonly contextSize: number | undefined;
  readonly activation: Activation;
  readonly useBias: boolean;
  readonly seed: number | undefined;
  private inDegrees: number[];
  private outDegrees: number[];
  private directDegs: number[] | undefined;
  private kernel: LayerVariable | undefined;
  private mask: LayerVariable | undefined;
  private directKernel: LayerVariable | undefined;
  private directMask: LayerVariable | undefined;
  private contextKernel: LayerVariable | undefined;
  private bias: LayerVariable | undefined;

  constructor(args: MaskedDenseArgs) {
    super(args);
    const where = `MaskedDense "${this.name}"`;
    checkPositiveInt(`${where}: units`, args.units);
    this.units = args.units;
    const maskType = args.maskType ?? 'hidden';
    if (maskType !== 'hidden' && maskType !== 'output') {
      throw new Error(`${where}: maskType must be 'hidden' or 'output'; got ${JSON.stringify(maskType)}`);
    }
    this.maskType = maskType;
    if (args.contextSize !== undefined && args.contextSize !== null) checkPositiveInt(`${where}: contextSize`, args.contextSize);
    this.contextSize = args.contextSize ?? undefined;
    this.activation = parseActivation(args.activation, where);
    this.useBias = optionalBoolean(`${where}: useBias`, args.useBias, true);
    this.seed = optionalSeed(where, args.seed);
    const degrees = this.checkDegrees(args);
    this.inDegrees = degrees.inputDegrees;
    this.outDegrees = degrees.outputDegrees;
    this.directDegs = degrees.directDegrees ?? undefined;
  }

  private checkDegrees(d: MaskedDenseDegrees): MaskedDenseDegrees {
    const where = `MaskedDense "${this.name}"`;
    const inputDegrees = integerArray(`${where}: inputDegrees`, d.inputDegrees);
    const outDegrees = integerArray(`${where}: outputDegrees`, d.outputDegrees);
    if (inputDegrees.length === 0) throw new Error(`${where}: inputDegrees must not be empty`);
    if (outDegrees.length !== this.units) {
      throw new Error(`${where}: outputDegrees has ${outDegrees.length} entries; expected units = ${this.units}`);
    }
    let directDegrees: number[] | null = null;
    if (d.directDegrees !== undefined && d.directDegrees !== null) {
      directDegrees = integerArray(`${where}: directDegrees`, d.directDegrees);
      if (directDegrees.length === 0) throw new Error(`${where}: directDegrees must not be empty`);
    }
    return { inputDegrees, outputDegrees: outDegrees, directDegrees };
  }

  /** Degrees of the main input, of the units, and of the direct input (if any). Copies. */
  get degrees(): { inputDegrees: number[]; outputDegrees: number[]; directDegrees: number[] | undefined } {
    return {
      inputDegrees: [...this.inDegrees],
      outputDegrees: [...this.outDegrees],
      directDegrees: this.directDegs === undefined ? undefined : [...this.directDegs],
    };
  }

  get hasDirect(): boolean {
    return this.directDegs !== undefined;
  }

  /** The current masks as plain arrays (row-major `[in, units]`). */
  masks(): { mask: Float32Array; directMask: Float32Array | undefined } {
    const strict = this.maskType === 'output';
    return {
      mask: maskFromDegrees(this.inDegrees, this.outDegrees, strict),
      directMask: this.directDegs === undefined ? undefined : maskFromDegrees(this.directDegs, this.outDegrees, true),
    };
  }

  /**
   * Replaces the degrees (and so the masks) keeping the weights: the step of connectivity-agnostic training. The
   * sizes must stay the same, and a direct connection can be neither added nor removed.
   */
  setDegrees(degrees: MaskedDenseDegrees): void {
    const where = `MaskedDense "${this.name}": setDegrees`;
    const d = this.checkDegrees(degrees);
    if (d.inputDegrees.length !== this.inDegrees.length) {
      throw new Error(`${where}: inputDegrees has ${d.inputDegrees.length} entries; expected ${this.inDegrees.length}`);
    }
    const newDirect = d.directDegrees ?? undefined;
    if ((newDirect === undefined) !== (this.directDegs === undefined)) {
      throw new Error(`${where}: directDegrees must be given exactly when the layer has a direct connection`);
    }
    if (newDirect !== undefined && newDirect.length !== (this.directDegs as number[]).length) {
      throw new Error(`${where}: directDegrees has ${newDirect.length} entries; expected ${this.directDegs?.length}`);
    }
    this.inDegrees = d.inputDegrees;
    this.outDegrees = d.outputDegrees;
    this.directDegs = newDirect;
    if (this.built) this.writeMasks();
  }

  private writeMasks(): void {
    const { mask, directMask } = this.masks();
    tf.tidy(() => {
      this.mask?.write(tf.tensor2d(mask, [this.inDegrees.length, this.units]));
      if (directMask !== undefined && this.directDegs !== undefined) {
        this.directMask?.write(tf.tensor2d(directMask, [this.directDegs.length, this.units]));
      }
    });
  }

  private expectedWidths(): number[] {
    const widths = [this.inDegrees.length];
    if (this.directDegs !== undefined) widths.push(this.directDegs.length);
    if (this.contextSize !== undefined) widths.push(this.contextSize);
    return widths;
  }

  private inputNames(): string {
    return ['h', ...(this.directDegs ? ['x'] : []), ...(this.contextSize ? ['context'] : [])].join(', ');
  }

  override build(inputShape: Shape | Shape[]): void {
    const where = `MaskedDense "${this.name}"`;
    const shapes = shapeList(inputShape);
    const widths = this.expectedWidths();
    if (shapes.length !== widths.length) {
      throw new Error(`${where}: expected ${widths.length} input(s) [${this.inputNames()}]; got ${shapes.length}`);
    }
    shapes.forEach((s, i) => {
      const w = s[s.length - 1];
      if (s.length !== 2 || w !== widths[i]) {
        throw new Error(`${where}: input ${i} must have shape [batch, ${widths[i]}]; got [${s.map(String)}]`);
      }
    });
    const inDim = this.inDegrees.length;
    this.kernel = this.addWeight('kernel', [inDim, this.units], 'float32', glorot(this.seed, 0));
    this.mask = this.addWeight('mask', [inDim, this.units], 'float32', zeros(), undefined, false);
    if (this.directDegs !== undefined) {
      const d = this.directDegs.length;
      this.directKernel = this.addWeight('direct_kernel', [d, this.units], 'float32', glorot(this.seed, 1));
      this.directMask = this.addWeight('direct_mask', [d, this.units], 'float32', zeros(), undefined, false);
    }
    if (this.contextSize !== undefined) {
      this.contextKernel = this.addWeight('context_kernel', [this.contextSize, this.units], 'float32', glorot(this.seed, 2));
    }
    if (this.useBias) this.bias = this.addWeight('bias', [this.units], 'float32', zeros());
    this.built = true;
    this.writeMasks();
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const first = shapeList(inputShape)[0] as Shape;
    return [first[0] ?? null, this.units];
  }

  override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const widths = this.expectedWidths();
      if (list.length !== widths.length) {
        throw new Error(`MaskedDense "${this.name}": expected inputs [${this.inputNames()}]; got ${list.length} tensor(s)`);
      }
      // The mask multiplies the kernel (not the output): masked weights then get exactly zero gradient. One fused
      // op for the whole layer (terms, bias, activation): one dispatch forward and one per gradient where the backend
      // has the kernels (gm's wasm), the same tfjs ops as before elsewhere.
      const terms: DenseTerm[] = [{ x: list[0] as Tensor, kernel: (this.kernel as LayerVariable).read(), mask: (this.mask as LayerVariable).read() }];
      let next = 1;
      if (this.directKernel !== undefined && this.directMask !== undefined) {
        terms.push({ x: list[next++] as Tensor, kernel: this.directKernel.read(), mask: this.directMask.read() });
      }
      if (this.contextKernel !== undefined) terms.push({ x: list[next] as Tensor, kernel: this.contextKernel.read() });
      const fusable = (FUSED_DENSE_ACTIVATIONS as readonly string[]).includes(this.activation);
      const y = fusedDense(terms, {
        ...(this.bias === undefined ? {} : { bias: this.bias.read() }),
        activation: fusable ? (this.activation as FusedDenseActivation) : 'linear',
      });
      return fusable ? y : activate(this.activation, y);
    });
  }

  /**
   * This layer as portable operations: the masked kernel (masked weights exactly zero), the masked direct kernel as
   * the network-input kernel, and the activation. A context input (a conditional MADE, as in an IAF step) is read
   * from register `contextSlot` of the portable network, with the context kernel as the dense op's second kernel;
   * without `contextSlot` such a layer has no portable form, nor has one with both a direct and a context input (a
   * dense op has one second input).
   */
  portableOps(options: { contextSlot?: string } = {}): PortableOp[] {
    const where = `MaskedDense "${this.name}"`;
    if (this.contextKernel !== undefined && options.contextSlot === undefined) throw new GmError('UNSUPPORTED', where, 'a layer with a context input has a portable form only with the register holding the context (contextSlot)');
    if (this.contextKernel !== undefined && this.directKernel !== undefined) throw new GmError('UNSUPPORTED', where, 'a layer with both a direct and a context input has no portable form');
    const masked = (k: LayerVariable, mask: LayerVariable) => tf.tidy(() => Float32Array.from(tf.mul(k.read(), mask.read()).dataSync() as Float32Array));
    const kernel = masked(this.kernel as LayerVariable, this.mask as LayerVariable);
    const second =
      this.contextKernel !== undefined
        ? { inputKernel: Float32Array.from(this.contextKernel.read().dataSync() as Float32Array), inputSlot: options.contextSlot as string }
        : this.directKernel !== undefined && this.directMask !== undefined
          ? { inputKernel: masked(this.directKernel, this.directMask) }
          : {};
    const op: PortableOp = {
      op: 'dense',
      inputSize: this.inDegrees.length,
      units: this.units,
      kernel,
      bias: this.bias === undefined ? null : Float32Array.from(this.bias.read().dataSync() as Float32Array),
      ...second,
    };
    return [op, ...(this.activation === 'linear' ? [] : [{ op: 'activation' as const, fn: portableActivation(this.activation, where) }])];
  }

  override getConfig(): serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      inputDegrees: [...this.inDegrees],
      outputDegrees: [...this.outDegrees],
      maskType: this.maskType,
      directDegrees: this.directDegs === undefined ? null : [...this.directDegs],
      contextSize: this.contextSize ?? null,
      activation: this.activation,
      useBias: this.useBias,
      seed: this.seed ?? null,
    };
  }
}

export interface ResampleMadeOptions {
  /** Seed for the new hidden degrees (and a new random ordering). */
  seed: number;
  /** A new input ordering (order-agnostic training); default: keep the current one. */
  ordering?: Ordering;
}

/**
 * Draws new random hidden degrees for a MADE stack (`layers[0…L−2]` hidden, `layers[L−1]` the output layer whose
 * units are `k` parameters per input in the blocks of {@link outputDegrees}) and rewrites every mask, keeping the
 * weights: connectivity-agnostic training. With `ordering` the input ordering changes too. Returns the new degrees
 * `[input, hidden_1, …, hidden_{L−1}]`.
 */
export function resampleMadeMasks(stack: readonly MaskedDense[], options: ResampleMadeOptions): number[][] {
  if (stack.length === 0) throw new Error('resampleMadeMasks: the stack is empty');
  const out = stack[stack.length - 1] as MaskedDense;
  if (out.maskType !== 'output') throw new Error(`resampleMadeMasks: the last layer "${out.name}" must have maskType 'output'`);
  stack.slice(0, -1).forEach((l, i) => {
    if (l.maskType !== 'hidden') throw new Error(`resampleMadeMasks: layer ${i} "${l.name}" must have maskType 'hidden'`);
  });
  const first = stack[0] as MaskedDense;
  const inputSize = first.degrees.inputDegrees.length;
  if (out.units % inputSize !== 0) {
    throw new Error(`resampleMadeMasks: output units ${out.units} are not a multiple of the input size ${inputSize}`);
  }
  const degrees = madeDegrees({
    inputSize,
    hiddenSizes: stack.slice(0, -1).map((l) => l.units),
    ordering: options.ordering ?? first.degrees.inputDegrees,
    hiddenMode: 'random',
    seed: options.seed,
  });
  const inDeg = degrees[0] as number[];
  stack.forEach((layer, l) => {
    const isOut = l === stack.length - 1;
    layer.setDegrees({
      inputDegrees: degrees[l] as number[],
      outputDegrees: isOut ? outputDegrees(inDeg, layer.units / inputSize) : (degrees[l + 1] as number[]),
      directDegrees: layer.hasDirect ? inDeg : null,
    });
  });
  return degrees;
}

function integerArray(where: string, value: unknown): number[] {
  if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v))) throw new GmError('BAD_ARGUMENT', where, 'an array of integers', value);
  return [...(value as number[])];
}
