import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quantizeFrequencies } from './codecs';
import {
  cleanUnit,
  closeState,
  openState,
  pushState,
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
  popCommitState,
  popSymbols,
  popUniform,
  push,
  pushSymbols,
  pushUniform,
  stackUnits,
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

function pushSym(m: Message, lane: number, t: FrequencyTable, s: number): Message {
  return push(m, lane, t.starts[s]!, t.freqs[s]!, t.precision);
}

function popSym(m: Message, lane: number, t: FrequencyTable): [Message, number] {
  const s = lookupSymbol(t, peek(m, lane, t.precision));
  return [popCommit(m, lane, t.starts[s]!, t.freqs[s]!, t.precision), s];
}

/** Everything a message is (heads, size, stack units, clean-bit count), copied out, to check a message never changes. */
function snapshot(m: Message): { bytes: number[]; heads: number[]; size: number; units: number[]; cleanUnits: number } {
  return { bytes: Array.from(flatten(m)), heads: Array.from(m.heads), size: m.size, units: Array.from(stackUnits(m)), cleanUnits: m.cleanUnits };
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
          for (const o of ops) m = pushSym(m, o.lane, tables[o.ti]!, o.s);
          for (let l = 0; l < lanes; l++) {
            expect(m.heads[l]).toBeGreaterThanOrEqual(HEAD_LOWER);
            expect(m.heads[l]).toBeLessThan(HEAD_UPPER);
          }
          if (viaBytes) m = unflatten(flatten(m), { onEmpty: 'throw' });
          for (let i = ops.length - 1; i >= 0; i--) {
            const o = ops[i]!;
            let s: number;
            [m, s] = popSym(m, o.lane, tables[o.ti]!);
            expect(s).toBe(o.s);
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
          let m = createMessage(4);
          const ref = new BigRans(4);
          for (const [p, a, b, lane] of ops) {
            const M = 2 ** p;
            const freq = Math.max(1, Math.min(M, Math.floor(a * M)));
            const start = Math.min(M - freq, Math.floor(b * M));
            m = push(m, lane, start, freq, p);
            ref.push(lane, start, freq, p);
          }
          expect(Array.from(m.heads, (h) => BigInt(h))).toEqual(ref.heads);
          expect(Array.from(stackUnits(m))).toEqual(ref.stack);
        },
      ),
      { numRuns: 1500, seed: 2 },
    );
  });

  it('costs −log2 P per symbol: message size tracks the information pushed', () => {
    const t = frequencyTable(quantizeFrequencies([0.5, 0.25, 0.125, 0.0625, 0.0625], 12), 12);
    let m = createMessage(1);
    let info = 0;
    let s = 7;
    for (let i = 0; i < 20000; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      const sym = s % 5;
      info -= Math.log2(t.freqs[sym]! / 4096);
      m = pushSym(m, 0, t, sym);
    }
    expect(Math.abs(messageBits(m) - info)).toBeLessThan(1e-6 * info + 1);
  });

  it('draws counted, seeded clean bits when popping an empty stack, and gives them back', () => {
    const t = frequencyTable(quantizeFrequencies([0.3, 0.7], 20), 20);
    let m = createMessage(2, { seed: 42 });
    const popped: [number, number][] = [];
    for (let i = 0; i < 300; i++) {
      let s: number;
      [m, s] = popSym(m, i % 2, t);
      popped.push([i % 2, s]);
    }
    expect(m.cleanUnits).toBeGreaterThan(10);
    // Popping uses the clean bits as data: the symbols follow the distribution, not a constant.
    const ones = popped.filter(([, s]) => s === 1).length;
    expect(ones / popped.length).toBeGreaterThan(0.55);
    expect(ones / popped.length).toBeLessThan(0.85);
    for (let i = popped.length - 1; i >= 0; i--) m = pushSym(m, popped[i]![0], t, popped[i]![1]);
    expect(m.size).toBe(m.cleanUnits);
    const units = stackUnits(m);
    for (let i = 0; i < m.size; i++) expect(units[i]).toBe(cleanUnit(42, m.cleanUnits - 1 - i));
    // A different seed draws different bits.
    let m2 = createMessage(2, { seed: 43 });
    for (let i = 0; i < 300; i++) [m2] = popSym(m2, i % 2, t);
    expect(Array.from(m2.heads)).not.toEqual(Array.from(createMessage(2, { seed: 42 }).heads.map(() => 0)));
    let again = createMessage(2, { seed: 42 });
    const pops2: number[] = [];
    for (let i = 0; i < 300; i++) {
      let s: number;
      [again, s] = popSym(again, i % 2, t);
      pops2.push(s);
    }
    expect(pops2).toEqual(popped.map(([, s]) => s));
  });

  it('throws ExhaustedMessageError instead of inventing bits when told to', () => {
    let m = createMessage(1, { onEmpty: 'throw' });
    const t = frequencyTable([1, 1], 1);
    expect(() => {
      for (let i = 0; i < 100; i++) [m] = popSym(m, 0, t);
    }).toThrow(ExhaustedMessageError);
  });

  it('opens lanes from the stack and closes them exactly', () => {
    let m = createMessage(3, { closed: true, seed: 5 });
    const t = frequencyTable([3, 5, 8], 4);
    expect(flatten(m).length).toBe(2 + 2); // two varints + 15 bits of closed-head tags
    m = openLane(m, 0);
    expect(m.cleanUnits).toBe(2);
    for (let i = 0; i < 50; i++) m = pushSym(m, 0, t, i % 3);
    const before = m; // a value: opening and closing below return new messages and leave this one as it is
    const beforeState = snapshot(before);
    m = openLane(m, 1);
    expect(m.cleanUnits).toBe(2); // paid for by lane 0's bits
    expect(() => push(m, 2, 0, 1, 4)).toThrow(/closed/);
    m = closeLane(m, 1);
    expect(Array.from(m.heads)).toEqual(Array.from(before.heads));
    expect(Array.from(stackUnits(m))).toEqual(Array.from(stackUnits(before)));
    expect(() => closeLane(m, 0)).toThrow(CorruptMessageError);
    expect(snapshot(before)).toEqual(beforeState);
  });

  it('flattens to only the bits the heads hold and rejects malformed bytes', () => {
    const fresh = createMessage(8);
    expect(flatten(fresh).length).toBe(2 + Math.ceil((8 * 37) / 8));
    let m = createMessage(3);
    const t = frequencyTable(quantizeFrequencies([1, 2, 3, 4, 5, 6, 7], 16), 16);
    for (let i = 0; i < 1000; i++) m = pushSym(m, i % 3, t, (i * 7) % 7);
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
        let b = createMessage(lanes);
        syms.forEach((s, i) => {
          b = pushSym(b, i % lanes, t, s);
        });
        expect(Array.from(a.heads)).toEqual(Array.from(b.heads));
        expect(flatten(a)).toEqual(flatten(b));
        const [, out] = popSymbols(unflatten(flatten(a), { onEmpty: 'throw' }), syms.length, t, new Int32Array(syms.length));
        expect(Array.from(out)).toEqual(syms);
      }),
      { numRuns: 500, seed: 3 },
    );
  });

  it('messages are values: a push, pop or lane change returns a new message and leaves the old one intact (copy-on-write stack)', () => {
    const t = frequencyTable(quantizeFrequencies([1, 2, 3, 4, 5, 6, 7], 16), 16);
    const syms = Array.from({ length: 300 }, (_, i) => (i * 5 + (i >> 3)) % 7);
    // Lane 0 carries the data; lane 1 stays at HEAD_LOWER so it can be closed below. Small capacity: growth copies too.
    let m1 = createMessage(2, { onEmpty: 'throw', capacity: 16 });
    for (const s of syms) m1 = pushSym(m1, 0, t, s);
    expect(m1.size).toBeGreaterThan(16);
    const before = snapshot(m1);
    // A 32-bit uniform push always spills two units (x ≥ 2^32 ≥ freq · 2^16): m2 appends into m1's storage.
    const m2 = pushUniform(m1, 0, 0x89abcdef, 32);
    expect(m2.size).toBe(m1.size + 2);
    expect(m2.buffer).toBe(m1.buffer); // appended in place: m1 ended where the shared storage's written units end
    expect(snapshot(m1)).toEqual(before);
    const after2 = snapshot(m2);
    // Branch: two more writers start from the same m1 and spill different units (lane 1's head, then lane 1 closed).
    const m3 = pushUniform(m1, 1, 0x01234567, 32);
    const m4 = closeLane(m1, 1);
    expect(m3.size).toBe(m1.size + 2);
    expect(m4.size).toBe(m1.size + 2);
    expect(m3.buffer).not.toBe(m1.buffer); // m1 no longer owns the top of that storage: m3 and m4 copied first
    expect(m4.buffer).not.toBe(m1.buffer);
    expect(Array.from(stackUnits(m3).subarray(m1.size))).not.toEqual(Array.from(stackUnits(m2).subarray(m1.size)));
    expect(snapshot(m1)).toEqual(before);
    expect(snapshot(m2)).toEqual(after2);
    // Popping from m1 after m2..m4 were derived from it still gives m1's symbols, and pushing onto a popped message
    // (its size now below the shared storage's top) copies instead of overwriting units m2..m4 own.
    let p1 = m1;
    for (let i = syms.length - 1; i >= syms.length - 40; i--) {
      let s: number;
      [p1, s] = popSym(p1, 0, t);
      expect(s).toBe(syms[i]);
    }
    const p2 = pushUniform(p1, 1, 0xfedcba98, 32);
    const p3 = pushUniform(m2, 1, 0x13579bdf, 32);
    expect(snapshot(m1)).toEqual(before);
    expect(snapshot(m2)).toEqual(after2);
    // Every branch decodes exactly (and decoding changes none of them either).
    const decodeAll = (m: Message, upTo: number): void => {
      for (let i = upTo - 1; i >= 0; i--) {
        let s: number;
        [m, s] = popSym(m, 0, t);
        expect(s).toBe(syms[i]);
      }
      expect(m.size).toBe(0);
      expect(Array.from(m.heads)).toEqual([HEAD_LOWER, HEAD_LOWER]);
    };
    let v: number;
    let r: Message;
    [r, v] = popUniform(m2, 0, 32);
    expect(v).toBe(0x89abcdef);
    decodeAll(r, syms.length);
    [r, v] = popUniform(m3, 1, 32);
    expect(v).toBe(0x01234567);
    decodeAll(r, syms.length);
    r = openLane(m4, 1);
    expect(Array.from(r.heads)).toEqual(Array.from(m1.heads));
    decodeAll(r, syms.length);
    [r, v] = popUniform(p2, 1, 32);
    expect(v).toBe(0xfedcba98);
    decodeAll(r, syms.length - 40);
    [r, v] = popUniform(p3, 1, 32);
    expect(v).toBe(0x13579bdf);
    [r, v] = popUniform(r, 0, 32);
    expect(v).toBe(0x89abcdef);
    decodeAll(r, syms.length);
    decodeAll(m1, syms.length);
    decodeAll(m1, syms.length); // twice: the first decode left m1 as it was
    expect(snapshot(m1)).toEqual(before);
    expect(snapshot(m2)).toEqual(after2);
  });

  it('messages are values under random trees of pushes and pops from any earlier message (property, 300 cases)', () => {
    const tables = [
      frequencyTable(quantizeFrequencies([5, 1, 1, 2, 8, 3], 12), 12),
      frequencyTable(quantizeFrequencies([0.97, 0.01, 0.01, 0.01], 32), 32),
    ];
    type Op = { kind: 'sym'; lane: number; t: number; s: number } | { kind: 'bulk'; t: number; syms: number[] } | { kind: 'uniform'; lane: number; v: number };
    type Node = { m: Message; ops: Op[]; snap: ReturnType<typeof snapshot> };
    const undo = (m: Message, op: Op): Message => {
      if (op.kind === 'sym') {
        const [m2, s] = popSym(m, op.lane, tables[op.t]!);
        expect(s).toBe(op.s);
        return m2;
      }
      if (op.kind === 'uniform') {
        const [m2, v] = popUniform(m, op.lane, 32);
        expect(v).toBe(op.v);
        return m2;
      }
      const [m2, out] = popSymbols(m, op.syms.length, tables[op.t]!, new Int32Array(op.syms.length));
      expect(Array.from(out)).toEqual(op.syms);
      return m2;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(5), fc.nat(), fc.array(fc.nat(), { maxLength: 24 })), { minLength: 1, maxLength: 60 }),
        (lanes, actions) => {
          const root = createMessage(lanes, { onEmpty: 'throw', capacity: 16 });
          const nodes: Node[] = [{ m: root, ops: [], snap: snapshot(root) }];
          for (const [pick, kind, a, list] of actions) {
            const from = nodes[pick % nodes.length]!;
            let node: Node;
            if (kind === 0 && from.ops.length > 0) {
              // Pop the last thing this message holds, from a message others may have been derived from.
              const m = undo(from.m, from.ops[from.ops.length - 1]!);
              node = { m, ops: from.ops.slice(0, -1), snap: snapshot(m) };
            } else if (kind <= 2) {
              const ti = kind === 1 ? 0 : 1;
              const op: Op = { kind: 'sym', lane: a % lanes, t: ti, s: (a >> 3) % tables[ti]!.freqs.length };
              const m = pushSym(from.m, op.lane, tables[ti]!, op.s);
              node = { m, ops: [...from.ops, op], snap: snapshot(m) };
            } else if (kind === 3) {
              const op: Op = { kind: 'uniform', lane: a % lanes, v: Math.imul(a, 0x9e3779b1) >>> 0 };
              const m = pushUniform(from.m, op.lane, op.v, 32);
              node = { m, ops: [...from.ops, op], snap: snapshot(m) };
            } else {
              const ti = kind === 4 ? 0 : 1;
              const op: Op = { kind: 'bulk', t: ti, syms: list.map((v) => v % tables[ti]!.freqs.length) };
              const m = pushSymbols(from.m, op.syms, tables[ti]!);
              node = { m, ops: [...from.ops, op], snap: snapshot(m) };
            }
            expect(snapshot(from.m)).toEqual(from.snap);
            nodes.push(node);
          }
          // Every message ever made is still exactly what it was, and decodes to everything pushed on its path.
          for (const node of nodes) {
            expect(snapshot(node.m)).toEqual(node.snap);
            let m = node.m;
            for (let k = node.ops.length - 1; k >= 0; k--) m = undo(m, node.ops[k]!);
            expect(m.size).toBe(0);
            for (let l = 0; l < lanes; l++) expect(m.heads[l]).toBe(HEAD_LOWER);
          }
          for (const node of nodes) expect(snapshot(node.m)).toEqual(node.snap);
        },
      ),
      { numRuns: 300, seed: 4 },
    );
  });

  it('appends in place within one operation: a batch of pushes copies the stack at most when it must grow', () => {
    // Copying on every spill would make a batched codec quadratic in its length; the results would still be right.
    const st = openState(createMessage(1));
    pushState(st, 0, 0, 1, 32);
    const first = st.stack;
    for (let i = 0; i < 6; i++) pushState(st, 0, 0, 1, 32);
    expect(st.size).toBe(14);
    expect(st.stack).toBe(first);
    expect(stackUnits(closeState(st)).length).toBe(14);
  });

  it('pops below a shared stack then pushes, in one operation: one copy, earlier messages intact (the BB-CIS slot exchange)', () => {
    // A message with a long stack, and a sibling that shares its storage.
    let base = createMessage(2, { onEmpty: 'throw', capacity: 16 });
    const values: number[] = [];
    for (let i = 0; i < 400; i++) {
      values.push(Math.imul(i + 1, 0x9e3779b1) >>> 0);
      base = pushUniform(base, i % 2, values[i]!, 32);
    }
    const sibling = pushUniform(base, 0, 0xabcdef01, 32);
    const baseSnap = snapshot(base);
    const siblingSnap = snapshot(sibling);
    // Each round pops 32 bits and pushes two 16-bit halves of another value: the stack dips below the shared top
    // every time, as baseGiven's push-slot / pop-bucket pairs do.
    const st = openState(base);
    const stacks = new Set<Uint16Array>();
    const popped: number[] = [];
    for (let r = 0; r < 60; r++) {
      const lane = r % 2;
      const v = peek(st, lane, 16);
      popCommitState(st, lane, v, 1, 16);
      pushState(st, lane, (r * 37) & 0xffff, 1, 16);
      pushState(st, lane, (r * 91) & 0xffff, 1, 16);
      popped.push(v);
      stacks.add(st.stack);
    }
    expect(stacks.size).toBe(1); // copied once, then rewritten in place
    const after = closeState(st);
    expect(snapshot(base)).toEqual(baseSnap);
    expect(snapshot(sibling)).toEqual(siblingSnap);
    // The new message decodes what the operation pushed, latest first.
    let m = after;
    for (let r = 59; r >= 0; r--) {
      const lane = r % 2;
      const [m1, b] = popUniform(m, lane, 16);
      expect(b).toBe((r * 91) & 0xffff);
      const [m2, a] = popUniform(m1, lane, 16);
      expect(a).toBe((r * 37) & 0xffff);
      m = pushUniform(m2, lane, popped[r]!, 16); // undo the round's pop
    }
    expect(snapshot(m)).toEqual(baseSnap); // back to exactly the message the operation started from
    // The old messages still decode everything they held, and a push onto `after` does not disturb them.
    const later = pushUniform(after, 1, 7, 32);
    let b2 = base;
    for (let i = 399; i >= 0; i--) {
      const [next, v] = popUniform(b2, i % 2, 32);
      expect(v).toBe(values[i]);
      b2 = next;
    }
    expect(popUniform(sibling, 0, 32)[1]).toBe(0xabcdef01);
    expect(popUniform(later, 1, 32)[1]).toBe(7);
  });

  it('rejects bad input with clear errors', () => {
    expect(() => frequencyTable([1, 2], 2)).toThrow(/sum to 2\^2/);
    expect(() => frequencyTable([4], 33)).toThrow(/precision/);
    expect(() => createMessage(0)).toThrow(/lanes/);
    const t = frequencyTable([0, 4], 2);
    expect(() => pushSymbols(createMessage(1), [0], t)).toThrow(/cannot be coded/);
  });
});
