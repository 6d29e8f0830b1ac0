import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quantizeFrequencies } from './codecs';
import {
  cleanUnit,
  cloneMessage,
  closeLane,
  CorruptMessageError,
  createMessage,
  ExhaustedMessageError,
  flatten,
  frequencyTable,
  HEAD_LOWER,
  HEAD_UPPER,
  lookupSymbol,
  messageBits,
  openLane,
  peek,
  popCommit,
  popSymbols,
  push,
  pushSymbols,
  unflatten,
  type FrequencyTable,
  type Message,
} from './rans';

/** A random categorical table: 1..maxSymbols symbols at a random precision, every frequency ≥ 1. */
const tableArb = (maxSymbols: number, minP = 1, maxP = 32) =>
  fc.integer({ min: minP, max: maxP }).chain((p) =>
    fc
      .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: Math.min(maxSymbols, 2 ** p) })
      .map((w) => ({ p, freqs: quantizeFrequencies(w.map((v) => v * v * v), p) })),
  );

function pushSym(m: Message, lane: number, t: FrequencyTable, s: number): void {
  push(m, lane, t.starts[s]!, t.freqs[s]!, t.precision);
}

function popSym(m: Message, lane: number, t: FrequencyTable): number {
  const s = lookupSymbol(t, peek(m, lane, t.precision));
  popCommit(m, lane, t.starts[s]!, t.freqs[s]!, t.precision);
  return s;
}

/** Reference rANS in BigInt with the documented rule, to show the double arithmetic never rounds. */
class BigRans {
  heads: bigint[];
  stack: number[] = [];
  constructor(lanes: number) {
    this.heads = Array.from({ length: lanes }, () => 1n << 32n);
  }
  push(lane: number, start: number, freq: number, p: number): void {
    let x = this.heads[lane]!;
    const xmax = BigInt(freq) << BigInt(48 - p);
    while (x >= xmax) {
      this.stack.push(Number(x & 0xffffn));
      x >>= 16n;
    }
    const f = BigInt(freq);
    this.heads[lane] = (x / f << BigInt(p)) + (x % f) + BigInt(start);
  }
}

describe('rANS message', () => {
  it('round-trips random symbol streams under random tables, precisions and lanes (property, 4000 cases)', () => {
    fc.assert(
      fc.property(
        fc.array(tableArb(300), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { minLength: 0, maxLength: 120 }),
        fc.boolean(),
        (specs, lanes, raw, viaBytes) => {
          const tables = specs.map((s) => frequencyTable(s.freqs, s.p));
          // Each op: (table, lane, symbol) — mixing precisions within one message.
          const ops = raw.map(([a, b, c]) => {
            const ti = a % tables.length;
            return { ti, lane: b % lanes, s: c % tables[ti]!.freqs.length };
          });
          let m = createMessage(lanes, { onEmpty: 'throw' });
          for (const o of ops) pushSym(m, o.lane, tables[o.ti]!, o.s);
          for (let l = 0; l < lanes; l++) {
            expect(m.heads[l]).toBeGreaterThanOrEqual(HEAD_LOWER);
            expect(m.heads[l]).toBeLessThan(HEAD_UPPER);
          }
          if (viaBytes) m = unflatten(flatten(m), { onEmpty: 'throw' });
          for (let i = ops.length - 1; i >= 0; i--) {
            const o = ops[i]!;
            expect(popSym(m, o.lane, tables[o.ti]!)).toBe(o.s);
          }
          expect(m.size).toBe(0);
          for (let l = 0; l < lanes; l++) expect(m.heads[l]).toBe(HEAD_LOWER);
        },
      ),
      { numRuns: 4000, seed: 1 },
    );
  });

  it('matches a BigInt reference implementation bit for bit (property, 1500 cases)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 32 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(3)), {
          maxLength: 80,
        }),
        (ops) => {
          const m = createMessage(4);
          const ref = new BigRans(4);
          for (const [p, a, b, lane] of ops) {
            const M = 2 ** p;
            const freq = Math.max(1, Math.min(M, Math.floor(a * M)));
            const start = Math.min(M - freq, Math.floor(b * M));
            push(m, lane, start, freq, p);
            ref.push(lane, start, freq, p);
          }
          expect(Array.from(m.heads, (h) => BigInt(h))).toEqual(ref.heads);
          expect(Array.from(m.stack.subarray(0, m.size))).toEqual(ref.stack);
        },
      ),
      { numRuns: 1500, seed: 2 },
    );
  });

  it('costs −log2 P per symbol: message size tracks the information pushed', () => {
    const t = frequencyTable(quantizeFrequencies([0.5, 0.25, 0.125, 0.0625, 0.0625], 12), 12);
    const m = createMessage(1);
    let info = 0;
    let s = 7;
    for (let i = 0; i < 20000; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      const sym = s % 5;
      info -= Math.log2(t.freqs[sym]! / 4096);
      pushSym(m, 0, t, sym);
    }
    expect(Math.abs(messageBits(m) - info)).toBeLessThan(1e-6 * info + 1);
  });

  it('draws counted, seeded clean bits when popping an empty stack, and gives them back', () => {
    const t = frequencyTable(quantizeFrequencies([0.3, 0.7], 20), 20);
    const m = createMessage(2, { seed: 42 });
    const popped: [number, number][] = [];
    for (let i = 0; i < 300; i++) popped.push([i % 2, popSym(m, i % 2, t)]);
    expect(m.cleanUnits).toBeGreaterThan(10);
    // Popping uses the clean bits as data: the symbols follow the distribution, not a constant.
    const ones = popped.filter(([, s]) => s === 1).length;
    expect(ones / popped.length).toBeGreaterThan(0.55);
    expect(ones / popped.length).toBeLessThan(0.85);
    for (let i = popped.length - 1; i >= 0; i--) pushSym(m, popped[i]![0], t, popped[i]![1]);
    expect(m.size).toBe(m.cleanUnits);
    for (let i = 0; i < m.size; i++) expect(m.stack[i]).toBe(cleanUnit(42, m.cleanUnits - 1 - i));
    // A different seed draws different bits.
    const m2 = createMessage(2, { seed: 43 });
    for (let i = 0; i < 300; i++) popSym(m2, i % 2, t);
    expect(Array.from(m2.heads)).not.toEqual(Array.from(createMessage(2, { seed: 42 }).heads.map(() => 0)));
    const again = createMessage(2, { seed: 42 });
    const pops2: number[] = [];
    for (let i = 0; i < 300; i++) pops2.push(popSym(again, i % 2, t));
    expect(pops2).toEqual(popped.map(([, s]) => s));
  });

  it('throws ExhaustedMessageError instead of inventing bits when told to', () => {
    const m = createMessage(1, { onEmpty: 'throw' });
    const t = frequencyTable([1, 1], 1);
    expect(() => {
      for (let i = 0; i < 100; i++) popSym(m, 0, t);
    }).toThrow(ExhaustedMessageError);
  });

  it('opens lanes from the stack and closes them exactly', () => {
    const m = createMessage(3, { closed: true, seed: 5 });
    const t = frequencyTable([3, 5, 8], 4);
    expect(flatten(m).length).toBe(2 + 2); // two varints + 15 bits of closed-head tags
    openLane(m, 0);
    expect(m.cleanUnits).toBe(2);
    for (let i = 0; i < 50; i++) pushSym(m, 0, t, i % 3);
    const before = cloneMessage(m);
    openLane(m, 1);
    expect(m.cleanUnits).toBe(2); // paid for by lane 0's bits
    expect(() => push(m, 2, 0, 1, 4)).toThrow(/closed/);
    closeLane(m, 1);
    expect(Array.from(m.heads)).toEqual(Array.from(before.heads));
    expect(Array.from(m.stack.subarray(0, m.size))).toEqual(Array.from(before.stack.subarray(0, before.size)));
    expect(() => closeLane(m, 0)).toThrow(CorruptMessageError);
  });

  it('flattens to only the bits the heads hold and rejects malformed bytes', () => {
    const fresh = createMessage(8);
    expect(flatten(fresh).length).toBe(2 + Math.ceil((8 * 37) / 8));
    const m = createMessage(3);
    const t = frequencyTable(quantizeFrequencies([1, 2, 3, 4, 5, 6, 7], 16), 16);
    for (let i = 0; i < 1000; i++) pushSym(m, i % 3, t, (i * 7) % 7);
    const bytes = flatten(m);
    // Heads: 5-bit tag + 32 + ⌊log2(x/2^32)⌋ bits each; plus two varints and byte padding.
    expect(8 * bytes.length).toBeLessThanOrEqual(messageBits(m) + 3 * (5 + 32) + 24 + 7);
    const back = unflatten(bytes);
    expect(Array.from(back.heads)).toEqual(Array.from(m.heads));
    for (let cut = 0; cut < bytes.length; cut += 37) expect(() => unflatten(bytes.subarray(0, cut))).toThrow(CorruptMessageError);
    expect(() => unflatten(Uint8Array.from([...bytes, 0]))).toThrow(CorruptMessageError);
    const bad = bytes.slice();
    bad[2] = 0xff; // first head tag becomes 31 > 16
    expect(() => unflatten(bad)).toThrow(CorruptMessageError);
  });

  it('bulk pushSymbols/popSymbols agree with the scalar coder on every lane count (property, 500 cases)', () => {
    fc.assert(
      fc.property(tableArb(256, 1, 24), fc.integer({ min: 1, max: 7 }), fc.array(fc.nat(), { maxLength: 400 }), ({ p, freqs }, lanes, raw) => {
        const t = frequencyTable(freqs, p);
        const syms = raw.map((v) => v % freqs.length);
        const a = pushSymbols(createMessage(lanes), syms, t);
        const b = createMessage(lanes);
        syms.forEach((s, i) => pushSym(b, i % lanes, t, s));
        expect(Array.from(a.heads)).toEqual(Array.from(b.heads));
        expect(flatten(a)).toEqual(flatten(b));
        const out = popSymbols(unflatten(flatten(a), { onEmpty: 'throw' }), syms.length, t, new Int32Array(syms.length));
        expect(Array.from(out)).toEqual(syms);
      }),
      { numRuns: 500, seed: 3 },
    );
  });

  it('rejects bad input with clear errors', () => {
    expect(() => frequencyTable([1, 2], 2)).toThrow(/sum to 2\^2/);
    expect(() => frequencyTable([4], 33)).toThrow(/precision/);
    expect(() => createMessage(0)).toThrow(/lanes/);
    const t = frequencyTable([0, 4], 2);
    expect(() => pushSymbols(createMessage(1), [0], t)).toThrow(/cannot be coded/);
  });
});
