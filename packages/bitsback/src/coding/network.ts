/**
 * Evaluates a portable network (@gm/core's `PortableNetwork`) deterministically: dense layers on gm's dense engine
 * (wasm SIMD128 or its bit-identical JavaScript twin: a fixed summation order, float32 rounding after every
 * multiply and add, no FMA), activations with gm's own elementary functions, and the register operations (store,
 * load, element-wise add / multiply, concatenation) as single float32 operations. The same network and input give
 * the same bits on every machine, JavaScript engine and browser, whatever tfjs backend trained the model.
 */
import { GmError, type PortableCombination, type PortableNetwork, type PortableOp } from '@gm/core';
import type { DenseEngine, DenseHandle } from '../exact/dense';
import { applyActivation, combineOf, scaleShiftOf } from './activations';

type Step =
  /** `second`: the dense layer's second input — `null` none, `''` the network input, else a register. */
  | { kind: 'dense'; handle: DenseHandle; units: number; second: string | null }
  | { kind: 'activation'; op: Extract<PortableOp, { op: 'activation' }> }
  | { kind: 'scale-shift'; scale: number; shift: number }
  | { kind: 'store' | 'load' | 'concat'; slot: string; width: number }
  | { kind: 'combine'; fn: PortableCombination; slot: string };

/** The network input as a dense layer's second input (register names are never empty). */
const NETWORK_INPUT = '';

export class NetworkEvaluator {
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly steps: Step[];

  constructor(
    net: PortableNetwork,
    readonly engine: DenseEngine,
    where = 'network',
  ) {
    this.inputSize = net.inputSize;
    this.outputSize = net.outputSize;
    let width = net.inputSize;
    /** Width of each register stored so far. */
    const slots = new Map<string, number>();
    const slotWidth = (slot: unknown, at: string): number => {
      const w = typeof slot === 'string' ? slots.get(slot) : undefined;
      if (w === undefined) throw new GmError('CORRUPT', at, `a register stored by an earlier op, got ${JSON.stringify(slot)}`);
      return w;
    };
    this.steps = net.ops.map((o, i): Step => {
      const at = `${where}: op ${i}`;
      switch (o.op) {
        case 'dense': {
          if (o.inputSize !== width || o.kernel.length !== o.inputSize * o.units || (o.bias !== null && o.bias.length !== o.units)) {
            throw new GmError('CORRUPT', at, `a dense layer of ${width} → ${o.units} values with a ${width}×${o.units} kernel`);
          }
          if (o.inputSlot !== undefined && o.inputKernel === undefined) throw new GmError('CORRUPT', at, 'an inputKernel for its inputSlot');
          const rows = o.inputSlot === undefined ? net.inputSize : slotWidth(o.inputSlot, at);
          if (o.inputKernel !== undefined && o.inputKernel.length !== rows * o.units) {
            throw new GmError('CORRUPT', at, `an input kernel of ${rows}×${o.units}`);
          }
          width = o.units;
          const handle = this.engine.load({
            inputSize: o.inputSize,
            units: o.units,
            kernel: o.kernel,
            bias: o.bias,
            ...(o.inputKernel === undefined ? {} : { inputKernel: o.inputKernel, inputKernelRows: rows }),
          });
          return { kind: 'dense', handle, units: o.units, second: o.inputKernel === undefined ? null : (o.inputSlot ?? NETWORK_INPUT) };
        }
        case 'activation':
          return { kind: 'activation', op: o };
        case 'scale-shift':
          return { kind: 'scale-shift', scale: o.scale, shift: o.shift };
        case 'store':
          if (typeof o.slot !== 'string' || o.slot === NETWORK_INPUT) throw new GmError('CORRUPT', at, `a register name (a non-empty string), got ${JSON.stringify(o.slot)}`);
          slots.set(o.slot, width);
          return { kind: 'store', slot: o.slot, width };
        case 'load':
          width = slotWidth(o.slot, at);
          return { kind: 'load', slot: o.slot, width };
        case 'combine': {
          const w = slotWidth(o.slot, at);
          if (o.fn !== 'add' && o.fn !== 'mul') throw new GmError('CORRUPT', at, `'add' or 'mul', got ${JSON.stringify(o.fn)}`);
          if (w !== width) throw new GmError('CORRUPT', at, `register "${o.slot}" of the current width ${width}, it holds ${w}`);
          return { kind: 'combine', fn: o.fn, slot: o.slot };
        }
        case 'concat': {
          const w = slotWidth(o.slot, at);
          width += w;
          return { kind: 'concat', slot: o.slot, width: w };
        }
        default:
          throw new GmError('CORRUPT', at, `a dense, activation, scale-shift, store, load, combine or concat op, got ${JSON.stringify((o as { op?: unknown }).op)}`);
      }
    });
    if (width !== net.outputSize) throw new GmError('CORRUPT', where, `its layers end at ${width} values, it says ${net.outputSize}`);
  }

  /** The network on `rows` inputs (row-major `rows × inputSize`): `rows × outputSize` float32 values. */
  run(x: Float32Array, rows: number): Float32Array {
    if (x.length !== rows * this.inputSize) throw new GmError('BAD_SHAPE', 'network input', `${rows} × ${this.inputSize} values, got ${x.length}`);
    const registers = new Map<string, Float32Array>([[NETWORK_INPUT, x]]);
    let h = x;
    // Whether h is this run's own array (activations work in place; the input and registers must not change).
    let owned = false;
    for (const s of this.steps) {
      switch (s.kind) {
        case 'dense':
          h = this.engine.run(s.handle, h, rows, s.second === null ? undefined : registers.get(s.second));
          owned = true;
          break;
        case 'activation':
          if (!owned) h = h.slice();
          owned = true;
          applyActivation(s.op.fn, h);
          break;
        case 'scale-shift': {
          const out = new Float32Array(h.length);
          for (let i = 0; i < h.length; i++) out[i] = scaleShiftOf(h[i]!, s.scale, s.shift);
          h = out;
          owned = true;
          break;
        }
        case 'store':
          registers.set(s.slot, h);
          owned = false;
          break;
        case 'load':
          h = registers.get(s.slot)!;
          owned = false;
          break;
        case 'combine': {
          const r = registers.get(s.slot)!;
          const f = combineOf(s.fn);
          const out = new Float32Array(h.length);
          for (let i = 0; i < h.length; i++) out[i] = f(h[i]!, r[i]!);
          h = out;
          owned = true;
          break;
        }
        case 'concat': {
          const r = registers.get(s.slot)!;
          const a = h.length / rows;
          const out = new Float32Array(h.length + r.length);
          for (let row = 0; row < rows; row++) {
            out.set(h.subarray(row * a, (row + 1) * a), row * (a + s.width));
            out.set(r.subarray(row * s.width, (row + 1) * s.width), row * (a + s.width) + a);
          }
          h = out;
          owned = true;
          break;
        }
      }
    }
    return owned ? h : h.slice();
  }
}
