// Long property run (≥ 10^5 cases) against the built package: random symbol streams under random frequency
// tables and per-call precisions (1..32) round-trip exactly through flatten/unflatten, the bulk coder agrees with
// the scalar one, messages are values (branches from one message decode independently and leave it unchanged),
// every codec round-trips under random parameters, and whole .gmz files round-trip with random synthetic coding
// models (Gaussian-latent, binary and 8-bit, coded with BB-ANS or BB-CIS, and random MADEs) under random settings — byte-identical on the
// wasm SIMD128 and JavaScript dense engines.
// Run after `npx tsup`:  node scripts/property-long.mjs [--scale 1] [--seed 12345]
import fc from 'fast-check';
import { parseArgs } from 'node:util';
import {
  createMessage, flatten, unflatten, frequencyTable, lookupSymbol, peek, popCommit, push, pushSymbols, popSymbols,
  quantizeFrequencies, bernoulliBatch, diagGaussianBuckets, discretizedLogisticBatch, compress, decompress,
  supportsWasmSimd128,
} from '@gm/bitsback';
import { linearBernoulliModel, linearLogisticModel, randomMadeModel } from '@gm/bitsback/testing';

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

/** Pushes `ops` ({ t, lane, s }) onto `m` in order; returns the new message (messages are values). */
const pushOps = (m, ops) => ops.reduce((acc, o) => push(acc, o.lane, o.t.starts[o.s], o.t.freqs[o.s], o.t.precision), m);
/** Pops `ops` back in reverse order from `m`, checking each symbol; returns the message left. */
const popOps = (m, ops) => {
  for (let i = ops.length - 1; i >= 0; i--) {
    const o = ops[i];
    const s = lookupSymbol(o.t, peek(m, o.lane, o.t.precision));
    m = popCommit(m, o.lane, o.t.starts[s], o.t.freqs[s], o.t.precision);
    if (s !== o.s) throw new Error(`popped ${s}, pushed ${o.s}`);
  }
  return m;
};
const opsArb = (maxOps) => fc.tuple(fc.array(tableArb(300, 1, 32), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 6 }))
  .chain(([tables, lanes]) => fc.tuple(fc.constant(lanes), ...[0, 1, 2].map(() => fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { maxLength: maxOps })
    .map((raw) => raw.map(([a, b, c]) => { const t = tables[a % tables.length]; return { t, lane: b % lanes, s: c % t.freqs.length }; })))));

const engines = supportsWasmSimd128() ? ['wasm-simd128', 'js'] : ['js'];
/** Compresses on every dense engine (the same bytes, or it throws), decompresses on each, checks every pixel. */
const gmzRoundTrip = async (coding, images, options) => {
  const files = [];
  for (const engine of engines) files.push(await compress(images, coding, { ...options, engine }));
  for (const f of files.slice(1)) eq(f, files[0]);
  for (const engine of engines) eq((await decompress(files[0], coding, { engine })).images, images);
};
/** Random coder settings for `count` images (pixel kind `pixels`), within the ranges the header accepts. */
/** Random coding settings; `particles` (latent models): BB-CIS with k particles, which needs posteriorPrecision ≤ 30. */
const settingsArb = (count, pixels, particles = fc.constant(1)) => fc.tuple(fc.integer({ min: 1, max: 14 }), particles).chain(([bucketBits, k]) => fc.record({
  chunkSize: fc.integer({ min: 1, max: count }),
  lanes: fc.integer({ min: 1, max: 8 }),
  bucketBits: fc.constant(bucketBits),
  particles: fc.constant(k),
  posteriorPrecision: fc.integer({ min: bucketBits + 2, max: k > 1 ? 30 : 32 }),
  likelihoodPrecision: pixels === 'binary' ? fc.integer({ min: 1, max: 31 }) : fc.integer({ min: 10, max: 32 }),
  growth: fc.integer({ min: 1000, max: 4000 }).map((g) => g / 1000),
  seed: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fallback: fc.boolean(),
}));

const props = [
  ['mixed-precision streams, random lanes, via bytes', 50_000, fc.property(
    fc.array(tableArb(300, 1, 32), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 6 }),
    fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { maxLength: 150 }),
    (tables, lanes, raw) => {
      const ops = raw.map(([a, b, c]) => { const t = tables[a % tables.length]; return { t, lane: b % lanes, s: c % t.freqs.length }; });
      const m = popOps(unflatten(flatten(pushOps(createMessage(lanes), ops)), { onEmpty: 'throw' }), ops);
      if (m.size !== 0) throw new Error('stack not empty');
    })],
  ['messages are values: branches from one message decode independently and leave it unchanged', 10_000, fc.property(
    opsArb(100),
    ([lanes, base, left, right]) => {
      const m0 = pushOps(createMessage(lanes), base);
      const before = flatten(m0);
      // Both branches grow from m0's stack: the second must not overwrite what the first wrote past m0's top.
      const m1 = pushOps(m0, left);
      const m2 = pushOps(m0, right);
      const popped = popOps(m0, base); // a pop branch as well
      eq(flatten(m0), before);
      eq(flatten(popOps(m1, left)), before);
      eq(flatten(popOps(m2, right)), before);
      eq(flatten(popOps(unflatten(flatten(m1), { onEmpty: 'throw' }), left)), before);
      eq(flatten(popped), flatten(createMessage(lanes)));
    })],
  ['bulk pushSymbols/popSymbols == scalar', 20_000, fc.property(
    tableArb(256, 1, 24), fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(), { maxLength: 500 }),
    (t, lanes, raw) => {
      const syms = raw.map((v) => v % t.freqs.length);
      const a = pushSymbols(createMessage(lanes), syms, t);
      const b = syms.reduce((m, s, i) => push(m, i % lanes, t.starts[s], t.freqs[s], t.precision), createMessage(lanes));
      eq(flatten(a), flatten(b));
      eq(popSymbols(unflatten(flatten(a), { onEmpty: 'throw' }), syms.length, t, new Int32Array(syms.length))[1], syms);
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
    fc.integer({ min: 1, max: 4 }), fc.integer({ min: 10, max: 32 }), fc.integer({ min: -12, max: -1 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.double({ min: -4, max: 4, noNaN: true }), fc.double({ min: -12, max: 4, noNaN: true }), fc.double({ min: -8, max: 8, noNaN: true })), { minLength: 4, maxLength: 32 }),
    (C, P, minLogScale, items) => {
      const pix = Math.floor(items.length / C);
      const u = items.slice(0, pix * C);
      const c = discretizedLogisticBatch({ mean: u.map((t) => t[1]), logScale: u.map((t) => t[2]), logits: u.map((t) => t[3]), components: C, minLogScale }, 1, pix, P);
      const x = u.filter((_, i) => i % C === 0).map((t) => t[0]);
      eq(c.pop(unflatten(flatten(c.push(createMessage(1), x)), { onEmpty: 'throw' }))[1], x);
    })],
  [`.gmz, Gaussian-latent models (binary and 8-bit), BB-ANS and BB-CIS (k = 2..8), random settings, engines ${engines.join(' = ')}`, 800, fc.asyncProperty(
    fc.record({
      pixels: fc.constantFrom('binary', 'u8'),
      latentDim: fc.integer({ min: 1, max: 4 }),
      pixelsPerImage: fc.integer({ min: 1, max: 24 }),
      modelSeed: fc.nat(),
      weightScale: fc.double({ min: 0.05, max: 3, noNaN: true }),
      count: fc.integer({ min: 1, max: 12 }),
      sampleSeed: fc.nat(),
      noise: fc.boolean(), // images unlike the model's (random pixels) as well as its own samples
    }).chain((m) => fc.tuple(fc.constant(m), settingsArb(m.count, m.pixels, fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 8 }))))),
    async ([m, settings]) => {
      const make = m.pixels === 'binary' ? linearBernoulliModel : linearLogisticModel;
      const model = make({ latentDim: m.latentDim, pixelsPerImage: m.pixelsPerImage, seed: m.modelSeed, weightScale: m.weightScale });
      let images = model.sample(m.count, m.sampleSeed);
      if (m.noise) {
        let x = m.sampleSeed >>> 0;
        images = images.map(() => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return m.pixels === 'binary' ? x >>> 31 : x >>> 24; });
      }
      await gmzRoundTrip(model.coding, images, { shape: [m.pixelsPerImage], ...settings });
    })],
  [`.gmz, random MADEs (autoregressive), random settings, engines ${engines.join(' = ')}`, 400, fc.asyncProperty(
    fc.record({
      pixelsPerImage: fc.integer({ min: 1, max: 20 }),
      hidden: fc.array(fc.integer({ min: 1, max: 24 }), { minLength: 0, maxLength: 2 }),
      direct: fc.boolean(),
      modelSeed: fc.nat(),
      count: fc.integer({ min: 1, max: 10 }),
      sampleSeed: fc.nat(),
      noise: fc.boolean(),
    }).chain((m) => fc.tuple(fc.constant(m), settingsArb(m.count, 'binary'))),
    async ([m, settings]) => {
      const model = randomMadeModel({ pixelsPerImage: m.pixelsPerImage, hidden: m.hidden, direct: m.direct, seed: m.modelSeed });
      let images = model.sample(m.count, m.sampleSeed);
      if (m.noise) {
        let x = m.sampleSeed >>> 0;
        images = images.map(() => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x >>> 31; });
      }
      await gmzRoundTrip(model.coding, images, { shape: [m.pixelsPerImage], ...settings });
    })],
];

let total = 0;
const t0 = performance.now();
for (const [name, runs, prop] of props) {
  const n = Math.max(1, Math.round(runs * scale));
  const t = performance.now();
  await fc.assert(prop, { numRuns: n, seed });
  total += n;
  console.log(`ok  ${name}: ${n} cases in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
console.log(`all ${total} cases passed in ${((performance.now() - t0) / 1000).toFixed(1)} s (seed ${seed})`);
