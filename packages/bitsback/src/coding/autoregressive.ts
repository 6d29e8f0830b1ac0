/**
 * Coding binary images with an autoregressive model (@gm/core's `AutoregressiveCoding`, e.g. a MADE): no latent
 * variable and so no bits-back — each pixel is pushed with P(x_d = 1 | the pixels before d in the order).
 *
 * The decoder cannot run the network once: a conditional needs the pixels before it, which it is still decoding.
 * Running the whole network once per pixel costs D passes per image (578 s for 200 digits before this file). Instead
 * the network is evaluated unit by unit, each unit as soon as the pixels it depends on are decoded: a unit's
 * dependencies are read off its nonzero weights (masked weights are exact zeros), so every unit is computed exactly
 * once and a whole batch of images is decoded with one network pass in total, spread over the pixels. The encoder
 * runs the very same unit-by-unit evaluation (all at once), so both sides get the same bits by construction; the
 * arithmetic is gm's deterministic float32 (fixed summation order, no FMA, ./activations), as everywhere on the coding
 * path. The dependency analysis also proves the network autoregressive: a conditional that depends on a pixel coded
 * at or after it is refused before anything is coded.
 */
import { GmError, type AutoregressiveCoding, type PortableNetwork } from '@gm/core';
import { closeState, openState, peek, popCommitState, pushState, type RansState } from '../rans';
import { bernoulliFrequency, ransMessage, type Codec } from '../codecs';
import { exactSigmoid } from '../exact/math';
import { activationOf } from './activations';

/** One stage of the network: the input, a dense layer or an element-wise operation, `width` units. */
type Stage =
  | { kind: 'input'; width: number }
  | {
      kind: 'dense';
      width: number;
      /** Unit n reads kernel entries `offsets[n] .. offsets[n+1]`: previous-stage unit `rows[j]` with weight `weights[j]`. */
      offsets: Int32Array;
      rows: Int32Array;
      weights: Float32Array;
      /** The direct connection from the network input (MADE's), in the same layout, or null. */
      input: { offsets: Int32Array; rows: Int32Array; weights: Float32Array } | null;
      bias: Float32Array | null;
    }
  | { kind: 'map'; width: number; fn: (x: number) => number };

/** Column-sparse form of a row-major `[rows, units]` kernel: the nonzero entries of each column in row order. */
function sparseColumns(kernel: Float32Array, rows: number, units: number, where: string): { offsets: Int32Array; rows: Int32Array; weights: Float32Array } {
  const offsets = new Int32Array(units + 1);
  let nonzero = 0;
  for (let i = 0; i < kernel.length; i++) {
    const w = kernel[i]!;
    if (!Number.isFinite(w)) throw new GmError('CORRUPT', where, `finite weights, got ${w} at row ${Math.floor(i / units)}, column ${i % units}`);
    if (w !== 0) nonzero++;
  }
  const rowOf = new Int32Array(nonzero);
  const weights = new Float32Array(nonzero);
  let j = 0;
  for (let n = 0; n < units; n++) {
    offsets[n] = j;
    for (let k = 0; k < rows; k++) {
      const w = kernel[k * units + n]!;
      if (w !== 0) {
        rowOf[j] = k;
        weights[j++] = w;
      }
    }
  }
  offsets[units] = j;
  return { offsets, rows: rowOf, weights };
}

function stagesOf(net: PortableNetwork, where: string): Stage[] {
  const stages: Stage[] = [{ kind: 'input', width: net.inputSize }];
  net.ops.forEach((o, i) => {
    const width = stages[stages.length - 1]!.width;
    const at = `${where}: op ${i}`;
    if (o.op === 'dense') {
      if (o.inputSize !== width || o.kernel.length !== width * o.units || (o.bias !== null && o.bias.length !== o.units)) {
        throw new GmError('CORRUPT', at, `a dense layer of ${width} → ${o.units} values with a ${width}×${o.units} kernel`);
      }
      if (o.inputKernel !== undefined && o.inputKernel.length !== net.inputSize * o.units) {
        throw new GmError('CORRUPT', at, `an input kernel of ${net.inputSize}×${o.units}`);
      }
      if (o.inputSlot !== undefined) throw new GmError('UNSUPPORTED', at, "the autoregressive coder's dense layers read the network input, not a register");
      if (o.bias !== null && !o.bias.every(Number.isFinite)) throw new GmError('CORRUPT', at, 'a finite bias');
      stages.push({
        kind: 'dense',
        width: o.units,
        ...sparseColumns(o.kernel, width, o.units, at),
        input: o.inputKernel === undefined ? null : sparseColumns(o.inputKernel, net.inputSize, o.units, `${at} (input kernel)`),
        bias: o.bias,
      });
    } else if (o.op === 'activation') {
      stages.push({ kind: 'map', width, fn: activationOf(o.fn) });
    } else if (o.op === 'scale-shift') {
      const { scale, shift } = o;
      stages.push({ kind: 'map', width, fn: (x) => Math.fround(x * scale + shift) });
    } else {
      throw new GmError('UNSUPPORTED', at, `the autoregressive coder evaluates a chain of dense, activation and scale-shift ops; got a "${String(o.op)}" op`);
    }
  });
  if (stages[stages.length - 1]!.width !== net.outputSize) {
    throw new GmError('CORRUPT', where, `its layers end at ${stages[stages.length - 1]!.width} values, it says ${net.outputSize}`);
  }
  return stages;
}

/** The autoregressive coder of a model: its codec for a batch of images, and its exact coding cost. */
export interface AutoregressiveCoder {
  readonly pixelsPerImage: number;
  /** The conditional logits of `batch` images (`batch × D` 0/1 pixels), image-major: what the codec codes with. */
  logits(pixels: ArrayLike<number>, batch: number): Float32Array;
  /**
   * The codec of `batch` images (`batch × D` 0/1 pixels, popped as a Uint8Array) at `precision` bits on `lane`:
   * pushes pixel by pixel in reverse coding order, so popping recovers the first coded pixel of every image first.
   */
  codec(batch: number, precision: number, lane?: number): Codec<ArrayLike<number>>;
}

/** Builds the coder; throws a GmError naming `where` if the network is malformed or not autoregressive in `order`. */
export function autoregressiveCoder(model: AutoregressiveCoding, where = 'coding model'): AutoregressiveCoder {
  const D = model.pixelsPerImage;
  const net = model.network;
  if (!Number.isInteger(D) || D < 1) throw new GmError('CORRUPT', `${where}: pixelsPerImage`, `a positive integer, got ${D}`);
  if (net.inputSize !== D || net.outputSize !== D) {
    throw new GmError('CORRUPT', `${where}: network`, `${D} → ${D} values (a conditional logit per pixel), got ${net.inputSize} → ${net.outputSize}`);
  }
  const order = model.order;
  const position = new Int32Array(D).fill(-1);
  if (order.length !== D) throw new GmError('CORRUPT', `${where}: order`, `a permutation of 0…${D - 1}, got ${order.length} entries`);
  for (let k = 0; k < D; k++) {
    const d = order[k]!;
    if (!(d >= 0 && d < D) || position[d] !== -1) throw new GmError('CORRUPT', `${where}: order`, `a permutation of 0…${D - 1} (entry ${k} is ${d})`);
    position[d] = k;
  }
  const stages = stagesOf(net, `${where}: network`);

  // ready[s][n]: how many pixels (in coding order) must be known before unit n of stage s can be computed.
  const ready = stages.map((st) => new Int32Array(st.width));
  for (let d = 0; d < D; d++) ready[0]![d] = position[d]! + 1;
  for (let s = 1; s < stages.length; s++) {
    const st = stages[s]!;
    const r = ready[s]!;
    const prev = ready[s - 1]!;
    if (st.kind === 'map') r.set(prev);
    else if (st.kind === 'dense') {
      for (let n = 0; n < st.width; n++) {
        let need = 0;
        for (let j = st.offsets[n]!; j < st.offsets[n + 1]!; j++) need = Math.max(need, prev[st.rows[j]!]!);
        if (st.input !== null) for (let j = st.input.offsets[n]!; j < st.input.offsets[n + 1]!; j++) need = Math.max(need, ready[0]![st.input.rows[j]!]!);
        r[n] = need;
      }
    }
  }
  const last = stages.length - 1;
  for (let k = 0; k < D; k++) {
    const d = order[k]!;
    if (ready[last]![d]! > k) {
      throw new GmError(
        'CORRUPT',
        `${where}: network`,
        `an autoregressive network, but the conditional of pixel ${d} (coded ${k === 0 ? 'first' : `at position ${k}`}) depends on pixels coded at or after it`,
      );
    }
  }
  // The units to compute once step t's pixels (the first t in coding order) are known, stage by stage. Units that
  // need every pixel feed no conditional and are never computed.
  const byStep: Array<Array<[stage: number, unit: number]>> = Array.from({ length: D }, () => []);
  for (let s = 1; s < stages.length; s++) {
    for (let n = 0; n < stages[s]!.width; n++) {
      const t = ready[s]![n]!;
      if (t < D) byStep[t]!.push([s, n]);
    }
  }

  /** Unit-major values of every stage for a batch: value of unit n for image b at n · batch + b. */
  const allocate = (batch: number): Float32Array[] => stages.map((st) => new Float32Array(st.width * batch));

  /** Computes unit n of stage s for every image (the same arithmetic on both sides of the codec). */
  const compute = (values: Float32Array[], s: number, n: number, batch: number, scratch: Float32Array): void => {
    const st = stages[s]!;
    const out = values[s]!;
    const o = n * batch;
    if (st.kind === 'map') {
      const src = values[s - 1]!;
      for (let b = 0; b < batch; b++) out[o + b] = st.fn(src[o + b]!);
      return;
    }
    if (st.kind !== 'dense') return;
    // Sequential float32 sums in row order; the Float32Array stores round after every add.
    const src = values[s - 1]!;
    out.fill(0, o, o + batch);
    for (let j = st.offsets[n]!; j < st.offsets[n + 1]!; j++) {
      const xo = st.rows[j]! * batch;
      const w = st.weights[j]!;
      for (let b = 0; b < batch; b++) out[o + b] = out[o + b]! + Math.fround(src[xo + b]! * w);
    }
    if (st.input !== null) {
      const x = values[0]!;
      scratch.fill(0, 0, batch);
      for (let j = st.input.offsets[n]!; j < st.input.offsets[n + 1]!; j++) {
        const xo = st.input.rows[j]! * batch;
        const w = st.input.weights[j]!;
        for (let b = 0; b < batch; b++) scratch[b] = scratch[b]! + Math.fround(x[xo + b]! * w);
      }
      for (let b = 0; b < batch; b++) out[o + b] = out[o + b]! + scratch[b]!;
    }
    if (st.bias !== null) {
      const bias = st.bias[n]!;
      for (let b = 0; b < batch; b++) out[o + b] = out[o + b]! + bias;
    }
  };

  const checkBatch = (batch: number): void => {
    if (!Number.isInteger(batch) || batch < 1) throw new GmError('BAD_ARGUMENT', 'autoregressive codec: batch', `a positive integer, got ${batch}`);
  };

  /** All values of `batch` images whose pixels are known (encoder side). */
  const evaluate = (pixels: ArrayLike<number>, batch: number): Float32Array[] => {
    checkBatch(batch);
    if (pixels.length !== batch * D) throw new GmError('BAD_SHAPE', 'autoregressive codec: pixels', `${batch} × ${D} values, got ${pixels.length}`);
    const values = allocate(batch);
    const x = values[0]!;
    for (let b = 0; b < batch; b++) {
      for (let d = 0; d < D; d++) {
        const v = pixels[b * D + d];
        if (v !== 0 && v !== 1) throw new GmError('BAD_ARGUMENT', 'autoregressive codec: pixels', `0 or 1, got ${String(v)} at image ${b}, pixel ${d}`);
        x[d * batch + b] = v;
      }
    }
    const scratch = new Float32Array(batch);
    for (const units of byStep) for (const [s, n] of units) compute(values, s, n, batch, scratch);
    return values;
  };

  return {
    pixelsPerImage: D,
    logits(pixels, batch) {
      const out = evaluate(pixels, batch)[last]!;
      const logits = new Float32Array(batch * D);
      for (let b = 0; b < batch; b++) for (let d = 0; d < D; d++) logits[b * D + d] = out[d * batch + b]!;
      return logits;
    },
    codec(batch, precision, lane = 0) {
      checkBatch(batch);
      if (!Number.isInteger(precision) || precision < 1 || precision > 31) {
        throw new GmError('BAD_ARGUMENT', 'autoregressive codec: precision', `an integer in [1, 31], got ${precision}`);
      }
      const M = 2 ** precision;
      const splitOf = (logit: number): number => M - bernoulliFrequency(exactSigmoid(logit), precision);
      return {
        push(m, pixels) {
          const values = evaluate(pixels, batch);
          const out = values[last]!;
          const x = values[0]!;
          const st: RansState = openState(ransMessage(m));
          for (let k = D - 1; k >= 0; k--) {
            const d = order[k]!;
            for (let b = batch - 1; b >= 0; b--) {
              const split = splitOf(out[d * batch + b]!);
              if (x[d * batch + b] === 1) pushState(st, lane, split, M - split, precision);
              else pushState(st, lane, 0, split, precision);
            }
          }
          return closeState(st);
        },
        pop(m) {
          const values = allocate(batch);
          const out = values[last]!;
          const x = values[0]!;
          const scratch = new Float32Array(batch);
          const pixels = new Uint8Array(batch * D);
          const st: RansState = openState(ransMessage(m));
          for (let k = 0; k < D; k++) {
            for (const [s, n] of byStep[k]!) compute(values, s, n, batch, scratch);
            const d = order[k]!;
            for (let b = 0; b < batch; b++) {
              const split = splitOf(out[d * batch + b]!);
              if (peek(st, lane, precision) >= split) {
                popCommitState(st, lane, split, M - split, precision);
                x[d * batch + b] = 1;
                pixels[b * D + d] = 1;
              } else popCommitState(st, lane, 0, split, precision);
            }
          }
          return [closeState(st), pixels];
        },
      };
    },
  };
}
