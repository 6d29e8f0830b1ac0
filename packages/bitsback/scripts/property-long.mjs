// Long property run (≥ 10^5 cases) against the built package: random symbol streams under random frequency
// tables and per-call precisions (1..32) round-trip exactly through flatten/unflatten, the bulk coder agrees with
// the scalar one, and every codec round-trips under random parameters.
// Run after `npx tsup`:  node scripts/property-long.mjs [--scale 1]
import fc from 'fast-check';
import { parseArgs } from 'node:util';
import {
  createMessage, flatten, unflatten, frequencyTable, lookupSymbol, peek, popCommit, push, pushSymbols, popSymbols,
  quantizeFrequencies, bernoulliBatch, diagGaussianBuckets, discretizedLogisticBatch,
} from '@gm/bitsback';

const { values } = parseArgs({ options: { scale: { type: 'string' }, seed: { type: 'string' } } });
const scale = Number(values.scale ?? 1);
const seed = Number(values.seed ?? 12345);
const eq = (a, b) => {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`mismatch at ${i}: ${a[i]} != ${b[i]}`);
};
const tableArb = (maxSymbols, minP, maxP) =>
  fc.integer({ min: minP, max: maxP }).chain((p) =>
    fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: Math.min(maxSymbols, 2 ** p) })
      .map((w) => frequencyTable(quantizeFrequencies(w.map((v) => v ** 3), p), p)));

const props = [
  ['mixed-precision streams, random lanes, via bytes', 50_000, fc.property(
    fc.array(tableArb(300, 1, 32), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 6 }),
    fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { maxLength: 150 }),
    (tables, lanes, raw) => {
      const ops = raw.map(([a, b, c]) => { const t = tables[a % tables.length]; return { t, lane: b % lanes, s: c % t.freqs.length }; });
      let m = createMessage(lanes);
      for (const o of ops) push(m, o.lane, o.t.starts[o.s], o.t.freqs[o.s], o.t.precision);
      m = unflatten(flatten(m), { onEmpty: 'throw' });
      for (let i = ops.length - 1; i >= 0; i--) {
        const o = ops[i];
        const s = lookupSymbol(o.t, peek(m, o.lane, o.t.precision));
        popCommit(m, o.lane, o.t.starts[s], o.t.freqs[s], o.t.precision);
        if (s !== o.s) throw new Error(`popped ${s}, pushed ${o.s}`);
      }
      if (m.size !== 0) throw new Error('stack not empty');
    })],
  ['bulk pushSymbols/popSymbols == scalar', 20_000, fc.property(
    tableArb(256, 1, 24), fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(), { maxLength: 500 }),
    (t, lanes, raw) => {
      const syms = raw.map((v) => v % t.freqs.length);
      const a = pushSymbols(createMessage(lanes), syms, t);
      const b = createMessage(lanes);
      syms.forEach((s, i) => push(b, i % lanes, t.starts[s], t.freqs[s], t.precision));
      eq(flatten(a), flatten(b));
      eq(popSymbols(unflatten(flatten(a), { onEmpty: 'throw' }), syms.length, t, new Int32Array(syms.length)), syms);
    })],
  ['Bernoulli', 10_000, fc.property(
    fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()), { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 31 }),
    (items, P) => {
      const c = bernoulliBatch(items.map((t) => t[0]), 1, items.length, P);
      const bits = items.map((t) => (t[1] ? 1 : 0));
      eq(c.pop(unflatten(flatten(c.push(createMessage(1), bits)), { onEmpty: 'throw' }))[1], bits);
    })],
  ['diagonal Gaussian over buckets', 12_000, fc.property(
    fc.integer({ min: 1, max: 16 }).chain((B) => fc.tuple(fc.constant(B), fc.integer({ min: B + 2, max: 32 }),
      fc.array(fc.tuple(fc.double({ min: -8, max: 8, noNaN: true }), fc.double({ min: 1e-7, max: 20, noNaN: true }), fc.nat()), { minLength: 1, maxLength: 10 }))),
    ([B, P, items]) => {
      const c = diagGaussianBuckets(items.map((t) => t[0]), items.map((t) => t[1]), 1, items.length, B, P);
      const z = items.map((t) => t[2] % 2 ** B);
      eq(c.pop(unflatten(flatten(c.push(createMessage(1), z)), { onEmpty: 'throw' }))[1], z);
    })],
  ['discretised logistic mixture', 8_000, fc.property(
    fc.integer({ min: 1, max: 4 }), fc.integer({ min: 10, max: 32 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.double({ min: -4, max: 4, noNaN: true }), fc.double({ min: -12, max: 4, noNaN: true }), fc.double({ min: -8, max: 8, noNaN: true })), { minLength: 4, maxLength: 32 }),
    (C, P, items) => {
      const pix = Math.floor(items.length / C);
      const u = items.slice(0, pix * C);
      const c = discretizedLogisticBatch({ mean: u.map((t) => t[1]), logScale: u.map((t) => t[2]), logits: u.map((t) => t[3]), components: C }, 1, pix, P);
      const x = u.filter((_, i) => i % C === 0).map((t) => t[0]);
      eq(c.pop(unflatten(flatten(c.push(createMessage(1), x)), { onEmpty: 'throw' }))[1], x);
    })],
];

let total = 0;
const t0 = performance.now();
for (const [name, runs, prop] of props) {
  const n = Math.round(runs * scale);
  const t = performance.now();
  fc.assert(prop, { numRuns: n, seed });
  total += n;
  console.log(`ok  ${name}: ${n} cases in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
console.log(`all ${total} cases passed in ${((performance.now() - t0) / 1000).toFixed(1)} s (seed ${seed})`);
