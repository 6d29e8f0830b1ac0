/**
 * Evaluates a portable network (@gm/core's `PortableNetwork`) deterministically: dense layers on gm's dense engine
 * (wasm SIMD128 or its bit-identical JavaScript twin: a fixed summation order, float32 rounding after every
 * multiply and add, no FMA), activations with gm's own elementary functions. The same network and input give the
 * same bits on every machine, JavaScript engine and browser, whatever tfjs backend trained the model.
 */
import { GmError, type PortableNetwork, type PortableOp } from '@gm/core';
import type { DenseEngine, DenseHandle } from '../exact/dense';
import { applyActivation, scaleShiftOf } from './activations';

type Step =
  | { kind: 'dense'; handle: DenseHandle; units: number; usesInput: boolean }
  | { kind: 'activation'; op: Extract<PortableOp, { op: 'activation' }> }
  | { kind: 'scale-shift'; scale: number; shift: number };

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
    this.steps = net.ops.map((o, i) => {
      if (o.op === 'dense') {
        if (o.inputSize !== width || o.kernel.length !== o.inputSize * o.units || (o.bias !== null && o.bias.length !== o.units)) {
          throw new GmError('CORRUPT', `${where}: op ${i}`, `a dense layer of ${width} → ${o.units} values with a ${width}×${o.units} kernel`);
        }
        if (o.inputKernel !== undefined && o.inputKernel.length !== net.inputSize * o.units) {
          throw new GmError('CORRUPT', `${where}: op ${i}`, `an input kernel of ${net.inputSize}×${o.units}`);
        }
        width = o.units;
        const handle = engine.load({
          inputSize: o.inputSize,
          units: o.units,
          kernel: o.kernel,
          bias: o.bias,
          ...(o.inputKernel === undefined ? {} : { inputKernel: o.inputKernel, inputKernelRows: net.inputSize }),
        });
        return { kind: 'dense' as const, handle, units: o.units, usesInput: o.inputKernel !== undefined };
      }
      if (o.op === 'activation') return { kind: 'activation' as const, op: o };
      return { kind: 'scale-shift' as const, scale: o.scale, shift: o.shift };
    });
    if (width !== net.outputSize) throw new GmError('CORRUPT', where, `its layers end at ${width} values, it says ${net.outputSize}`);
  }

  /** The network on `rows` inputs (row-major `rows × inputSize`): `rows × outputSize` float32 values. */
  run(x: Float32Array, rows: number): Float32Array {
    if (x.length !== rows * this.inputSize) throw new GmError('BAD_SHAPE', 'network input', `${rows} × ${this.inputSize} values, got ${x.length}`);
    let h = x;
    for (const s of this.steps) {
      if (s.kind === 'dense') h = this.engine.run(s.handle, h, rows, s.usesInput ? x : undefined);
      else if (s.kind === 'activation') {
        if (h === x) h = x.slice();
        applyActivation(s.op.fn, h);
      } else {
        const out = new Float32Array(h.length);
        for (let i = 0; i < h.length; i++) out[i] = scaleShiftOf(h[i]!, s.scale, s.shift);
        h = out;
      }
    }
    return h === x ? x.slice() : h;
  }
}
