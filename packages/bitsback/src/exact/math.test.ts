/**
 * gm's deterministic elementary functions: accuracy against the engine's built-ins (accurate in practice, only not
 * specified) and against 200-bit references, special values, monotonicity, the determinism pin, and a check that the
 * source never calls a built-in whose rounding JavaScript leaves open.
 */
import { readFileSync } from 'node:fs';
import { mulberry32 } from '@gm/core';
import { describe, expect, it } from 'vitest';
import {
  exactExp,
  exactExpm1,
  exactLog,
  exactLog1p,
  exactLogSigmoid,
  tableLogSigmoid,
  tableLogSigmoidSum,
  logisticMass,
  tableExp,
  exactMathDigest,
  exactNormalCdf,
  exactNormalPpf,
  exactSigmoid,
  exactSoftplus,
  exactSqrt,
  exactTanh,
} from './math';

/** The pinned digest of exactMathDigest(): any change to any bit of any function on its grid changes it. */
const PINNED_DIGEST = 'dca350a9a0259c0206a015d8b24d82294ee7bd38f8455c725730b73f1d5f3d2a';

const EPS = 2 ** -52;
const MIN_NORMAL = 2.2250738585072014e-308;


const BITS = new Float64Array(1);
const WORDS = new Uint32Array(BITS.buffer);
const LONG = new BigInt64Array(BITS.buffer);

/** A positive double with random mantissa and random exponent field 0 … 2046: subnormals to 1.8e308. */
function randomPositive(rnd: () => number): number {
  LONG[0] = (BigInt(Math.floor(rnd() * 2047)) << 52n) | (BigInt(Math.floor(rnd() * 2 ** 20)) << 32n) | BigInt(Math.floor(rnd() * 2 ** 32));
  return BITS[0]!;
}

/** Position of x among the doubles (monotone in x, ±0 equal), so the distance in ulps is a difference. */
function ordinal(x: number): bigint {
  BITS[0] = x;
  const v = LONG[0]!;
  return v < 0n ? -(v & 0x7fffffffffffffffn) : v;
}

function ulpDistance(a: number, b: number): number {
  if (a === b || (a !== a && b !== b)) return 0;
  if (a !== a || b !== b) return Infinity;
  const d = ordinal(a) - ordinal(b);
  return Number(d < 0n ? -d : d);
}

interface SweepResult {
  maxUlp: number;
  ulpAt: number;
  maxRel: number;
  relAt: number;
}

/** Worst ulp distance and relative difference (where the reference is a normal double) of `fn` against `ref`. */
function sweep(fn: (x: number) => number, ref: (x: number) => number, gen: () => number, n: number): SweepResult {
  const out: SweepResult = { maxUlp: 0, ulpAt: NaN, maxRel: 0, relAt: NaN };
  for (let i = 0; i < n; i++) {
    const x = gen();
    const a = fn(x);
    const b = ref(x);
    if (a === b) continue;
    const d = ulpDistance(a, b);
    if (d > out.maxUlp) {
      out.maxUlp = d;
      out.ulpAt = x;
    }
    if (Math.abs(b) >= MIN_NORMAL && Math.abs(b) < Infinity) {
      const rel = Math.abs(a - b) / Math.abs(b);
      if (rel > out.maxRel) {
        out.maxRel = rel;
        out.relAt = x;
      }
    }
  }
  return out;
}

function expectWithin(name: string, r: SweepResult, maxUlp: number, maxRel: number): void {
  expect(r.maxUlp, `${name}: ${r.maxUlp} ulp at x = ${r.ulpAt}`).toBeLessThanOrEqual(maxUlp);
  expect(r.maxRel, `${name}: relative ${r.maxRel} at x = ${r.relAt}`).toBeLessThanOrEqual(maxRel);
}

const signed = (rnd: () => number, magnitude: number): number => (rnd() < 0.5 ? -magnitude : magnitude);

describe('exp, expm1, log, log1p against the engine (2 ulp, relative 4.5e-16)', () => {
  it('exactExp', () => {
    const rnd = mulberry32(1);
    expectWithin('exp wide', sweep(exactExp, Math.exp, () => -745 + rnd() * 1454.7, 100_000), 2, 4.5e-16);
    expectWithin('exp near 0', sweep(exactExp, Math.exp, () => signed(rnd, 2 ** (-60 * rnd())), 50_000), 2, 4.5e-16);
    expectWithin('exp subnormal results', sweep(exactExp, Math.exp, () => -745.13 + rnd() * 37, 50_000), 2, 4.5e-16);
  });

  it('exactExpm1', () => {
    const rnd = mulberry32(2);
    expectWithin('expm1 wide', sweep(exactExpm1, Math.expm1, () => -40 + rnd() * 749.7, 80_000), 2, 4.5e-16);
    expectWithin('expm1 near 0', sweep(exactExpm1, Math.expm1, () => signed(rnd, 2 ** (-70 * rnd())), 60_000), 2, 4.5e-16);
    expectWithin('expm1 [-2, 2]', sweep(exactExpm1, Math.expm1, () => -2 + 4 * rnd(), 60_000), 2, 4.5e-16);
  });

  it('exactLog', () => {
    const rnd = mulberry32(3);
    expectWithin('log of any positive double', sweep(exactLog, Math.log, () => randomPositive(rnd), 120_000), 2, 4.5e-16);
    expectWithin('log near 1', sweep(exactLog, Math.log, () => 1 + (rnd() - 0.5) * 2 ** (-40 * rnd()), 80_000), 2, 4.5e-16);
  });

  it('exactLog1p', () => {
    const rnd = mulberry32(4);
    expectWithin('log1p near -1', sweep(exactLog1p, Math.log1p, () => -1 + 2 ** (-53 * rnd()), 50_000), 2, 4.5e-16);
    expectWithin('log1p near 0', sweep(exactLog1p, Math.log1p, () => signed(rnd, 0.99 * 2 ** (-60 * rnd())), 50_000), 2, 4.5e-16);
    expectWithin('log1p [-0.5, 2]', sweep(exactLog1p, Math.log1p, () => -0.5 + 2.5 * rnd(), 50_000), 2, 4.5e-16);
    expectWithin('log1p large', sweep(exactLog1p, Math.log1p, () => randomPositive(rnd), 50_000), 2, 4.5e-16);
  });
});

/** Exact decomposition of a finite positive double as mantissa·2^exponent. */
function decompose(x: number): [bigint, number] {
  BITS[0] = x;
  const field = (WORDS[1]! >>> 20) & 0x7ff; // little-endian machines only: fine for a test
  const frac = LONG[0]! & 0xfffffffffffffn;
  return field === 0 ? [frac, -1074] : [frac | (1n << 52n), field - 1075];
}

/** a·2^ea compared with b·2^eb, exactly: negative, zero or positive. */
function compareScaled(a: bigint, ea: number, b: bigint, eb: number): number {
  const e = Math.min(ea, eb);
  const l = a << BigInt(ea - e);
  const r = b << BigInt(eb - e);
  return l < r ? -1 : l > r ? 1 : 0;
}

function nextUp(x: number): number {
  BITS[0] = x;
  LONG[0] = LONG[0]! + 1n;
  return BITS[0]!;
}

function nextDown(x: number): number {
  BITS[0] = x;
  LONG[0] = LONG[0]! - 1n;
  return BITS[0]!;
}

/** True iff r is √x rounded to nearest: ((r⁻ + r)/2)² < x < ((r + r⁺)/2)², checked in exact integer arithmetic. */
function isNearestSqrt(x: number, r: number): boolean {
  const [mx, ex] = decompose(x);
  const [mr, er] = decompose(r);
  const [md, ed] = decompose(nextDown(r));
  const [mu, eu] = decompose(nextUp(r));
  // (a + b)/2 squared against x  ⇔  (a + b)² against 4x; a and b brought to a common exponent first.
  const mid = (ma: bigint, ea: number, mb: bigint, eb: number): [bigint, number] => {
    const e = Math.min(ea, eb);
    const s = (ma << BigInt(ea - e)) + (mb << BigInt(eb - e));
    return [s * s, 2 * e];
  };
  const [lo, elo] = mid(md, ed, mr, er);
  const [hi, ehi] = mid(mr, er, mu, eu);
  return compareScaled(lo, elo, mx, ex + 2) < 0 && compareScaled(mx, ex + 2, hi, ehi) < 0;
}

// Inputs whose square root lies within 2^−102 of a rounding midpoint (found by solving R² ± R + j ≡ 0 mod 2^52),
// where only the exact-product branch of Tuckerman's test can decide.
const SQRT_HARD = [
  1.0000000000000002, 1.0000000000000007, 1.000000000000001, 1.1460784549969931, 1.1680200140908301, 1.828242970224758,
  1.912484348791781, 2.6149282895352894, 2.715490852226126, 3.999999999999998, 3.9999999999999987, 3.9999999999999996,
];

describe('exactSqrt', () => {
  it('is the correctly rounded square root (bit-identical to the engine, and proved exactly for a sample)', () => {
    const rnd = mulberry32(5);
    let mismatches = 0;
    for (let i = 0; i < 200_000; i++) {
      const x = randomPositive(rnd);
      if (!Object.is(exactSqrt(x), Math.sqrt(x))) mismatches++;
    }
    expect(mismatches).toBe(0);
    for (let i = 0; i < 3_000; i++) {
      const x = randomPositive(rnd);
      expect(isNearestSqrt(x, exactSqrt(x)), `sqrt(${x})`).toBe(true);
    }
  });

  it('decides inputs next to a rounding midpoint exactly', () => {
    for (const m of SQRT_HARD) {
      for (const scale of [1, 4, 0.25, 2 ** 600, 2 ** -600, 2 ** -1060]) {
        const x = m * scale;
        expect(isNearestSqrt(x, exactSqrt(x)), `sqrt(${x})`).toBe(true);
        expect(exactSqrt(x)).toBe(Math.sqrt(x));
      }
    }
  });

  it('is exact on perfect squares and right on special values', () => {
    for (let n = 0; n < 5000; n++) expect(exactSqrt(n * n)).toBe(n);
    expect(exactSqrt(2 ** 52 * 2 ** 52 - 1)).toBe(2 ** 52); // just below a square: rounds up
    expect(Object.is(exactSqrt(-0), -0)).toBe(true);
    expect(Object.is(exactSqrt(0), 0)).toBe(true);
    expect(exactSqrt(Infinity)).toBe(Infinity);
    expect(exactSqrt(-1)).toBeNaN();
    expect(exactSqrt(-Infinity)).toBeNaN();
    expect(exactSqrt(NaN)).toBeNaN();
    expect(exactSqrt(5e-324)).toBe(Math.sqrt(5e-324));
    expect(exactSqrt(Number.MAX_VALUE)).toBe(Math.sqrt(Number.MAX_VALUE));
    expect(exactSqrt(MIN_NORMAL)).toBe(Math.sqrt(MIN_NORMAL));
  });
});

/** Stable references built from the engine's functions (accurate to about 1 ulp where these are well-conditioned). */
const sigmoidRef = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const softplusRef = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

describe('sigmoid, softplus, log-sigmoid, tanh against the engine (4 ulp, relative 1e-15)', () => {
  it('exactTanh', () => {
    const rnd = mulberry32(6);
    expectWithin('tanh [-25, 25]', sweep(exactTanh, Math.tanh, () => -25 + 50 * rnd(), 100_000), 4, 1e-15);
    expectWithin('tanh near 0', sweep(exactTanh, Math.tanh, () => signed(rnd, 2 ** (-60 * rnd())), 100_000), 4, 1e-15);
  });

  it('exactSigmoid', () => {
    const rnd = mulberry32(7);
    expectWithin('sigmoid [-800, 800]', sweep(exactSigmoid, sigmoidRef, () => -800 + 1600 * rnd(), 100_000), 4, 1e-15);
    expectWithin('sigmoid [-40, 40]', sweep(exactSigmoid, sigmoidRef, () => -40 + 80 * rnd(), 100_000), 4, 1e-15);
  });

  it('exactSoftplus and exactLogSigmoid', () => {
    const rnd = mulberry32(8);
    expectWithin('softplus [-800, 800]', sweep(exactSoftplus, softplusRef, () => -800 + 1600 * rnd(), 70_000), 4, 1e-15);
    expectWithin('softplus [-40, 40]', sweep(exactSoftplus, softplusRef, () => -40 + 80 * rnd(), 70_000), 4, 1e-15);
    const logSigmoidRef = (x: number): number => -softplusRef(-x);
    expectWithin('logSigmoid [-40, 40]', sweep(exactLogSigmoid, logSigmoidRef, () => -40 + 80 * rnd(), 70_000), 4, 1e-15);
  });

  it('logisticMass σ(b) − σ(a) is within 5e-4 relative of the exact mass, in both tails and at open ends; tableExp within 4e-5', () => {
    const rnd = mulberry32(10);
    const exact = (a: number, b: number): number => {
      if (a > 0) return exact(-b, -a);
      if (b === Infinity) return exactSigmoid(-a);
      if (a === -Infinity) return exactSigmoid(b);
      return (exactExp(a) * exactExpm1(b - a)) / ((1 + exactExp(a)) * (1 + exactExp(b)));
    };
    let worst = 0;
    for (let n = 0; n < 40_000; n++) {
      const a = n % 10 === 0 ? -Infinity : -30 + 60 * rnd();
      const b = n % 10 === 1 ? Infinity : (a === -Infinity ? -30 + 60 * rnd() : a + 3 * rnd() ** 3 + 1e-6);
      const ref = exact(a, b);
      if (ref > 1e-12) worst = Math.max(worst, Math.abs(logisticMass(a, b) / ref - 1));
    }
    expect(worst).toBeLessThan(5e-4);
    let expWorst = 0;
    for (let n = 0; n < 20_000; n++) {
      const x = -31 + 62 * rnd();
      expWorst = Math.max(expWorst, Math.abs(tableExp(x) / exactExp(x) - 1));
    }
    expect(expWorst).toBeLessThan(4e-5);
  });

  it('tableLogSigmoid is within 1e-5 of log σ everywhere (table, both asymptotes); tableLogSigmoidSum sums it in order', () => {
    const rnd = mulberry32(9);
    let worst = 0;
    for (let n = 0; n < 50_000; n++) {
      const x = -60 + 120 * rnd();
      worst = Math.max(worst, Math.abs(tableLogSigmoid(x) - exactLogSigmoid(x)));
    }
    for (const x of [-16, 16, -16.0001, 15.9999, 0, -1e-300]) worst = Math.max(worst, Math.abs(tableLogSigmoid(x) - exactLogSigmoid(x)));
    expect(worst).toBeLessThan(1e-5);
    expect(worst).toBeGreaterThan(0); // an interpolation, not the exact function
    const logits = Float32Array.from({ length: 50 }, () => -20 + 40 * rnd());
    const bits = Uint8Array.from({ length: 60 }, () => (rnd() < 0.5 ? 1 : 0));
    let sum = 0;
    for (let d = 0; d < 40; d++) sum += tableLogSigmoid(bits[10 + d] === 1 ? logits[5 + d]! : -logits[5 + d]!);
    expect(tableLogSigmoidSum(logits, 5, bits, 10, 40)).toBe(sum);
  });
});

describe('special values', () => {
  const same = (a: number, b: number): boolean => Object.is(a, b);

  it('exp and expm1', () => {
    expect(exactExp(-Infinity)).toBe(0);
    expect(exactExp(Infinity)).toBe(Infinity);
    expect(exactExp(NaN)).toBeNaN();
    expect(exactExp(0)).toBe(1);
    expect(exactExp(-0)).toBe(1);
    expect(ulpDistance(exactExp(709.78), Math.exp(709.78))).toBeLessThanOrEqual(1);
    expect(exactExp(709.782712893384)).toBeLessThan(Infinity);
    expect(exactExp(709.8)).toBe(Infinity);
    expect(exactExp(-746)).toBe(0);
    expect(exactExp(-745.1)).toBe(5e-324);
    expect(ulpDistance(exactExp(-740), Math.exp(-740))).toBeLessThanOrEqual(1); // subnormal, correctly scaled
    expect(ulpDistance(exactExp(-1022 * Math.LN2), Math.exp(-1022 * Math.LN2))).toBeLessThanOrEqual(1);
    expect(exactExp(1e-300)).toBe(1);
    expect(exactExpm1(NaN)).toBeNaN();
    expect(exactExpm1(-Infinity)).toBe(-1);
    expect(exactExpm1(Infinity)).toBe(Infinity);
    expect(exactExpm1(710)).toBe(Infinity);
    expect(exactExpm1(-50)).toBe(-1);
    expect(same(exactExpm1(-0), -0)).toBe(true);
    expect(exactExpm1(1e-300)).toBe(1e-300);
    expect(exactExpm1(-3e-20)).toBe(-3e-20);
    expect(exactExpm1(5e-324)).toBe(5e-324);
  });

  it('log and log1p', () => {
    expect(exactLog(0)).toBe(-Infinity);
    expect(exactLog(-0)).toBe(-Infinity);
    expect(exactLog(-1)).toBeNaN();
    expect(exactLog(-Infinity)).toBeNaN();
    expect(exactLog(NaN)).toBeNaN();
    expect(exactLog(Infinity)).toBe(Infinity);
    expect(same(exactLog(1), 0)).toBe(true);
    expect(ulpDistance(exactLog(5e-324), Math.log(5e-324))).toBeLessThanOrEqual(1);
    expect(ulpDistance(exactLog(1.5e-315), Math.log(1.5e-315))).toBeLessThanOrEqual(1);
    expect(ulpDistance(exactLog(Number.MAX_VALUE), Math.log(Number.MAX_VALUE))).toBeLessThanOrEqual(1);
    expect(exactLog(2)).toBe(Math.LN2);
    expect(exactLog1p(-1)).toBe(-Infinity);
    expect(exactLog1p(-1.5)).toBeNaN();
    expect(exactLog1p(NaN)).toBeNaN();
    expect(exactLog1p(Infinity)).toBe(Infinity);
    expect(same(exactLog1p(-0), -0)).toBe(true);
    expect(exactLog1p(1e-300)).toBe(1e-300);
    expect(exactLog1p(Number.MAX_VALUE)).toBe(exactLog(Number.MAX_VALUE));
  });

  it('sigmoid, softplus, log-sigmoid, tanh', () => {
    expect(exactSigmoid(1000)).toBe(1);
    expect(exactSigmoid(-1000)).toBe(0);
    expect(exactSigmoid(Infinity)).toBe(1);
    expect(exactSigmoid(-Infinity)).toBe(0);
    expect(exactSigmoid(0)).toBe(0.5);
    expect(exactSigmoid(-740)).toBe(exactExp(-740));
    expect(exactSigmoid(NaN)).toBeNaN();
    expect(exactSoftplus(1000)).toBe(1000);
    expect(exactSoftplus(Infinity)).toBe(Infinity);
    expect(exactSoftplus(-700)).toBeGreaterThan(0);
    expect(exactSoftplus(-700)).toBe(exactExp(-700));
    expect(exactSoftplus(-745)).toBe(5e-324);
    // e^−1000 ≈ 5e-435 lies below half the smallest subnormal: its nearest double is +0, never negative or NaN.
    expect(same(exactSoftplus(-1000), 0)).toBe(true);
    expect(exactSoftplus(-Infinity)).toBe(0);
    expect(exactSoftplus(0)).toBe(Math.LN2);
    expect(exactSoftplus(NaN)).toBeNaN();
    expect(exactLogSigmoid(-1000)).toBe(-1000);
    expect(exactLogSigmoid(0)).toBe(-Math.LN2);
    expect(ulpDistance(exactLogSigmoid(30), -Math.log1p(Math.exp(-30)))).toBeLessThanOrEqual(1);
    expect(same(exactLogSigmoid(1000), -0)).toBe(true); // −e^−1000 rounds to −0
    expect(exactLogSigmoid(NaN)).toBeNaN();
    expect(exactTanh(Infinity)).toBe(1);
    expect(exactTanh(-Infinity)).toBe(-1);
    expect(exactTanh(30)).toBe(1);
    expect(exactTanh(-30)).toBe(-1);
    expect(same(exactTanh(-0), -0)).toBe(true);
    expect(exactTanh(1e-300)).toBe(1e-300);
    expect(exactTanh(-5e-324)).toBe(-5e-324);
    expect(exactTanh(NaN)).toBeNaN();
  });

  it('normal CDF and quantile', () => {
    expect(exactNormalCdf(0)).toBe(0.5);
    expect(exactNormalCdf(-Infinity)).toBe(0);
    expect(exactNormalCdf(Infinity)).toBe(1);
    expect(exactNormalCdf(-40)).toBe(0);
    expect(exactNormalCdf(40)).toBe(1);
    expect(exactNormalCdf(NaN)).toBeNaN();
    expect(exactNormalCdf(-38.4)).toBeGreaterThan(0); // subnormal, not flushed
    expect(exactNormalPpf(0)).toBe(-Infinity);
    expect(exactNormalPpf(1)).toBe(Infinity);
    expect(exactNormalPpf(0.5)).toBe(0);
    expect(Number.isFinite(exactNormalPpf(5e-324))).toBe(true);
    expect(() => exactNormalPpf(1.5)).toThrow(RangeError);
    expect(() => exactNormalPpf(1.5)).toThrow(/1\.5/);
    expect(() => exactNormalPpf(-0.25)).toThrow(/-0\.25/);
    expect(() => exactNormalPpf(NaN)).toThrow(/NaN/);
  });
});

// Φ(x) and Φ⁻¹(p) from mpmath at 200 bits, each rounded to the nearest double (x on a grid of quarters, at random
// points and at the approximation's breakpoints; p down to the smallest subnormal and up to 1 − 1e-16).
const CDF_TABLE: ReadonlyArray<readonly [number, number]> = [
  [-39, 0], [-38.75, 0], [-38.5, 0], [-38.45, 1e-323], [-38.3, 3.063e-321], [-38.25, 2.0795e-320],
  [-38, 2.88542835e-316], [-37.75, 3.760960994665e-312], [-37.688965, 3.7656251606724e-311],
  [-37.6, 1.074811249587044e-309], [-37.52, 2.173821956758206e-308], [-37.5, 4.605353009581955e-308],
  [-37.25, 5.297888779927269e-304], [-37, 5.725571222524577e-300], [-36.99, 8.29093073247201e-300],
  [-36.974085, 1.4941777640366488e-299], [-36.75, 5.813144815533061e-296], [-36.5, 5.544725713074845e-292],
  [-36.414872, 1.238074162217382e-290], [-36.25, 4.968506596540402e-288], [-36, 4.182624065797283e-284],
  [-35.75, 3.3078761147810754e-280], [-35.577278, 1.573467228656996e-277], [-35.5, 2.457691540661937e-276],
  [-35.25, 1.715471648043787e-272], [-35, 1.1249107064724062e-268], [-34.75, 6.929967553740422e-265],
  [-34.5, 4.010728966577262e-261], [-34.25, 2.1806939268660966e-257], [-34.102217, 3.419305952608973e-255],
  [-34, 1.1138987855743794e-253], [-33.938548, 8.999347111750509e-253], [-33.75, 5.345356828623958e-250],
  [-33.5, 2.4098386951203854e-246], [-33.25, 1.0206571898843918e-242], [-33, 4.061185620915855e-239],
  [-32.75, 1.5181237159499807e-235], [-32.5, 5.331424359678804e-232], [-32.25, 1.7589823748827652e-228],
  [-32, 5.452080603512396e-225], [-31.75, 1.5876179359245268e-221], [-31.5, 4.343232601031772e-218],
  [-31.25, 1.1162564144635826e-214], [-31, 2.6952500812005002e-211], [-30.93478, 2.0354171690256936e-210],
  [-30.75, 6.113907079823262e-208], [-30.5, 1.3029379131780763e-204], [-30.25, 2.6086402857412604e-201],
  [-30, 4.906713927148187e-198], [-29.75, 8.670693523462394e-195], [-29.6471, 1.8482077658321965e-193],
  [-29.5, 1.4394745522291793e-191], [-29.384128, 4.380358059288227e-190], [-29.25, 2.2451311768291082e-188],
  [-29, 3.28978526670438e-185], [-28.75, 4.5287883538797326e-182], [-28.5, 5.8571412538063374e-179],
  [-28.25, 7.116707883996568e-176], [-28, 8.123869469659427e-173], [-27.75, 8.712397652497471e-170],
  [-27.5, 8.778170556878084e-167], [-27.25, 8.309263799347425e-164], [-27, 7.389481006885018e-161],
  [-26.931901, 4.647572992199151e-160], [-26.75, 6.173889533725388e-158], [-26.5, 4.8461626603033206e-155],
  [-26.25, 3.5738147891654705e-152], [-26, 2.4760633155033892e-149], [-25.75, 1.6117135146044352e-146],
  [-25.5, 9.856236518963929e-144], [-25.25, 5.662814628323675e-141], [-25, 3.056696706382561e-138],
  [-24.75, 1.5501437289488298e-135], [-24.5, 7.385706861489408e-133], [-24.25, 3.3060813584979603e-130],
  [-24.01878, 8.850686728144004e-128], [-24, 1.390392118549703e-127], [-23.75, 5.493691846710365e-125],
  [-23.5, 2.0393675632499762e-122], [-23.25, 7.112658242358331e-120], [-23, 2.3306370062206488e-117],
  [-22.75, 7.17504567166903e-115], [-22.5, 2.0753107990663545e-112], [-22.25, 5.639637784324806e-110],
  [-22, 1.439892435145079e-107], [-21.75, 3.4539884803573675e-105], [-21.5, 7.784397077182633e-103],
  [-21.25, 1.6483280423162502e-100], [-21, 3.279278018979036e-98], [-20.75, 6.129572066947736e-96],
  [-20.5, 1.0764673258790961e-93], [-20.25, 1.77619986494957e-91], [-20, 2.7536241186062337e-89],
  [-19.75, 4.010891763113703e-87], [-19.5, 5.48911547566041e-85], [-19.25, 7.058146578583479e-83],
  [-19, 8.527223952630977e-81], [-18.75, 9.679551479134204e-79], [-18.5, 1.0323698689563289e-76],
  [-18.25, 1.03454636775701e-74], [-18, 9.740948918937151e-73], [-17.75, 8.617701309194813e-71],
  [-17.518825, 5.146464673879496e-69], [-17.5, 7.163458766235035e-69], [-17.25, 5.594968394904885e-67],
  [-17, 4.1059962020989065e-65], [-16.957209, 8.51205130503832e-65], [-16.75, 2.831314281544051e-63],
  [-16.5, 1.834463003164731e-61], [-16.409507, 8.176395712905454e-61], [-16.328187, 3.110279366931009e-60],
  [-16.25, 1.1168221242476203e-59], [-16, 6.388754400538087e-58], [-15.75, 3.4340657492721406e-56],
  [-15.5, 1.7344607917938702e-54], [-15.25, 8.231656290531415e-53], [-15, 3.670966199312751e-51],
  [-14.75, 1.538323546506845e-49], [-14.5, 6.057494764415221e-48], [-14.328324, 7.279595313654988e-47],
  [-14.25, 2.24140623269364e-46], [-14.135531, 1.1469855261213844e-45], [-14, 7.7935368191928e-45],
  [-13.75, 2.546476315973957e-43], [-13.5, 7.818807305657891e-42], [-13.354728, 5.558172328365918e-41],
  [-13.25, 2.256016339685789e-40], [-13, 6.11716439954988e-39], [-12.75, 1.5587262888811991e-37],
  [-12.5, 3.732564298877713e-36], [-12.25, 8.399796063633417e-35], [-12, 1.776482112077679e-33],
  [-11.866789, 8.804878346304584e-33], [-11.75, 3.530942395885993e-32], [-11.5, 6.595771446113675e-31],
  [-11.25, 1.1579603185686417e-29], [-11, 1.9106595744986757e-28], [-10.75, 2.9630808780943587e-27],
  [-10.557959, 2.3334937679416795e-26], [-10.5, 4.3190063178092304e-26], [-10.25, 5.917176907365617e-25],
  [-10, 7.619853024160525e-24], [-9.75, 9.223413524939418e-23], [-9.5, 1.0494515075362608e-21],
  [-9.25, 1.1224633591327982e-20], [-9.222328, 1.453593014484921e-20], [-9, 1.1285884059538405e-19],
  [-8.75, 1.0667637375474858e-18], [-8.543559, 6.507500970961696e-18], [-8.5, 9.479534822203318e-18],
  [-8.25, 7.919726314642477e-17], [-8, 6.220960574271784e-16], [-7.75, 4.5946274357785954e-15],
  [-7.5, 3.1908916729108963e-14], [-7.404072, 6.6035378614434e-14], [-7.25, 2.0838581586720695e-13],
  [-7, 1.279812543885835e-12], [-6.75, 7.392257778017822e-12], [-6.5, 4.016000583859118e-11],
  [-6.25, 2.0522634252189388e-10], [-6, 9.86587645037698e-10], [-5.75, 4.462172453901612e-09],
  [-5.656854249492381, 7.708628950139992e-09], [-5.6568542494923, 7.708628950143621e-09],
  [-5.531016, 1.5919063997967395e-08], [-5.5, 1.8989562465887718e-08], [-5.25, 7.604960516488715e-08],
  [-5, 2.866515718791939e-07], [-4.75, 1.0170832425687032e-06], [-4.5, 3.3976731247300603e-06],
  [-4.25, 1.068852577493442e-05], [-4, 3.1671241833119924e-05], [-3.75, 8.841728520080387e-05],
  [-3.5, 0.00023262907903552504], [-3.25, 0.000577025042390767], [-3, 0.0013498980316300946],
  [-2.75, 0.002979763235054557], [-2.5, 0.006209665325776135], [-2.25, 0.012224472655044703],
  [-2, 0.02275013194817921], [-1.75, 0.04005915686381709], [-1.5, 0.06680720126885807],
  [-1.25, 0.10564977366685525], [-1, 0.15865525393145705], [-0.812896, 0.20813884403893568],
  [-0.75, 0.2266273523768682], [-0.67448975, 0.25000000006231016], [-0.6744897, 0.2500000159511391],
  [-0.5, 0.3085375387259869], [-0.25, 0.4012936743170763], [-0.022849, 0.4908853609322754],
  [-1e-10, 0.49999999996010575], [0, 0.5], [1e-300, 0.5], [1e-10, 0.5000000000398942], [0.25, 0.5987063256829237],
  [0.5, 0.6914624612740131], [0.6744897, 0.7499999840488609], [0.67448975, 0.7499999999376898],
  [0.75, 0.7733726476231318], [1, 0.8413447460685429], [1.25, 0.8943502263331448], [1.5, 0.9331927987311419],
  [1.531046, 0.9371209878562226], [1.75, 0.9599408431361829], [2, 0.9772498680518208], [2.25, 0.9877755273449553],
  [2.5, 0.9937903346742238], [2.75, 0.9970202367649454], [3, 0.9986501019683699], [3.25, 0.9994229749576092],
  [3.5, 0.9997673709209645], [3.75, 0.9999115827147992], [4, 0.9999683287581669], [4.25, 0.9999893114742251],
  [4.5, 0.9999966023268753], [4.75, 0.9999989829167575], [5, 0.9999997133484281], [5.25, 0.9999999239503948],
  [5.407582, 0.9999999680593508], [5.5, 0.9999999810104375], [5.75, 0.9999999955378276], [6, 0.9999999990134123],
  [6.25, 0.9999999997947736], [6.5, 0.99999999995984], [6.75, 0.9999999999926077], [7, 0.9999999999987201],
  [7.25, 0.9999999999997916], [7.329519, 0.9999999999998845], [7.5, 0.9999999999999681], [7.75, 0.9999999999999954],
  [8, 0.9999999999999993], [8.155968, 0.9999999999999998], [8.25, 0.9999999999999999], [8.5, 1], [8.75, 1],
  [9, 1],
];
const PPF_TABLE: ReadonlyArray<readonly [number, number]> = [
  [5e-324, -38.467405617144344], [2.5e-323, -38.42557211478172], [1e-320, -38.26912534303265],
  [1e-310, -37.663060331949524], [1e-308, -37.54067492154594], [1e-307, -37.479332564321574],
  [1e-300, -37.0470962993612], [1e-295, -36.73524703977962], [1e-290, -36.420731673207996],
  [1e-285, -36.10348066239541], [1e-280, -35.78342139466302], [1e-275, -35.460477988087135],
  [1e-270, -35.13457108169202], [1e-265, -34.80561760801037], [1e-260, -34.473530546165776],
  [1e-255, -34.13821865339931], [1e-250, -33.79958617269484], [1e-245, -33.45753251385021],
  [1e-240, -33.11195190498638], [1e-235, -32.76273301107514], [1e-230, -32.409758515589346],
  [1e-225, -32.05290466082274], [1e-220, -31.69204074177796], [1e-215, -31.327028547759127],
  [1e-210, -30.95772174491063], [1e-205, -30.58396519188611], [1e-200, -30.20559417957964],
  [1e-195, -29.82243358436075], [1e-190, -29.43429692247552], [1e-185, -29.040985291140885],
  [1e-180, -28.64228617928618], [1e-175, -28.237972127780754], [1e-170, -27.827799215194567],
  [1e-165, -27.411505340500312], [1e-160, -26.988808268418403], [1e-155, -26.55940339604333],
  [1e-150, -26.122961190593983], [1e-145, -25.67912423710351], [1e-140, -25.22750382094229],
  [1e-135, -24.76767595235804], [1e-130, -24.299176717508363], [1e-125, -23.821496811091055],
  [1e-120, -23.334075067341868], [1e-115, -22.836290755634845], [1e-110, -22.327454339592123],
  [1e-105, -21.806796307870414], [1e-100, -21.273453560965326], [1e-95, -20.726452667090253],
  [1e-90, -20.164689059718683], [1e-85, -19.58690090625222], [1e-80, -18.991635878820208],
  [1e-75, -18.377208319607927], [1e-70, -17.741643174195335], [1e-65, -17.08260132882838],
  [1e-60, -16.39727821271871], [1e-55, -15.682262951627694], [1e-50, -14.933337534788489],
  [1e-45, -14.145181492523475], [1e-40, -13.31092137142517], [1e-35, -12.421412039437843],
  [1e-30, -11.464024688443615], [1e-25, -10.420452200803098], [1e-20, -9.262340089798407],
  [1e-19, -9.013271153126674], [1e-18, -8.757290348782314], [1e-17, -8.493793224109599], [1e-16, -8.222082216130435],
  [1e-15, -7.941345326170997], [1e-14, -7.650628092935269], [1e-13, -7.348796102800677], [1e-12, -7.034483825301132],
  [1e-11, -6.706023155495136], [1e-10, -6.361340902404057], [1e-09, -5.9978070150076865],
  [1e-08, -5.612001244174789], [1e-07, -5.1993375821928165], [1e-06, -4.753424308822899],
  [1e-05, -4.264890793922825], [0.0001, -3.7190164854556804], [0.001, -3.0902323061678136],
  [0.01, -2.326347874040841], [0.02425, -1.972961051311885], [0.05, -1.6448536269514726], [0.1, -1.2815515655446004],
  [0.15, -1.0364333894937896], [0.2, -0.8416212335729142], [0.25, -0.6744897501960817], [0.3, -0.5244005127080408],
  [0.35, -0.3853204664075677], [0.4, -0.2533471031357997], [0.45, -0.12566134685507402],
  [0.499999999999, -2.5065728237018603e-12], [0.5, 0], [0.500000000001, 2.5065728237018603e-12],
  [0.55, 0.12566134685507416], [0.6, 0.2533471031357997], [0.65, 0.3853204664075677], [0.7, 0.5244005127080407],
  [0.75, 0.6744897501960817], [0.8, 0.8416212335729144], [0.85, 1.0364333894937894], [0.9, 1.2815515655446006],
  [0.95, 1.6448536269514722], [0.97575, 1.972961051311885], [0.99, 2.3263478740408408], [0.999, 3.090232306167813],
  [0.9999, 3.7190164854557084], [0.99999, 4.264890793923841], [0.999999, 4.753424308817087],
  [0.9999999, 5.199337582290661], [0.99999999, 5.612001243305505], [0.999999999, 5.9978070196016375],
  [0.9999999999, 6.361340889697422], [0.99999999999, 6.706023143414748], [0.999999999999, 7.0344869100478356],
  [0.9999999999999, 7.3487545403000425], [0.99999999999999, 7.650730905155643],
  [0.999999999999999, 7.941444487415978], [0.9999999999999999, 8.209536151601387],
];

/** The spacing of doubles at |v| (2^−1074 for subnormals and zero). */
function ulpOf(v: number): number {
  return Math.abs(nextUp(Math.abs(v)) - Math.abs(v));
}

describe('exactNormalCdf', () => {
  it('matches 200-bit references: absolute error < 2e-15, relative < 1.5e-15 in the lower tail', () => {
    let worstAbs = 0;
    for (const [x, ref] of CDF_TABLE) {
      const v = exactNormalCdf(x);
      const err = Math.abs(v - ref);
      worstAbs = Math.max(worstAbs, err);
      if (x <= 0 && ref >= MIN_NORMAL) expect(err / ref, `Φ(${x})`).toBeLessThan(1.5e-15);
      if (ref < MIN_NORMAL) expect(err, `Φ(${x}) (subnormal)`).toBeLessThanOrEqual(2 * 5e-324);
    }
    expect(worstAbs).toBeLessThan(2e-15);
  });

  it('is symmetric: Φ(x) + Φ(−x) = 1 to within an ulp of 1', () => {
    for (let x = 0; x <= 10; x += 1 / 64) expect(Math.abs(exactNormalCdf(x) + exactNormalCdf(-x) - 1), `x = ${x}`).toBeLessThanOrEqual(EPS);
  });

  it('is non-decreasing on a fine grid and across its breakpoints', () => {
    const drops: number[] = [];
    let prev = exactNormalCdf(-40);
    for (let i = 1; i <= 50 * 1024; i++) {
      const v = exactNormalCdf(-40 + i / 1024);
      if (!(v >= prev)) drops.push(-40 + i / 1024);
      prev = v;
    }
    for (const b of [-40, -37, -5.656854249492381, -0.67448975, 0, 0.67448975, 5.656854249492381]) {
      prev = exactNormalCdf(b - 500 * 2 ** -30);
      for (let i = -499; i <= 500; i++) {
        const v = exactNormalCdf(b + i * 2 ** -30);
        if (!(v >= prev)) drops.push(b + i * 2 ** -30);
        prev = v;
      }
    }
    expect(drops).toEqual([]);
  });
});

describe('exactNormalPpf', () => {
  it('matches 200-bit references within 4 ulp, from the smallest subnormal to 1 − 1e-16', () => {
    for (const [p, ref] of PPF_TABLE) {
      const v = exactNormalPpf(p);
      expect(Math.abs(v - ref) / ulpOf(ref), `Φ⁻¹(${p}) = ${v}, want ${ref}`).toBeLessThanOrEqual(4);
    }
  });

  it('round-trips through exactNormalCdf to the accuracy the conditioning allows', () => {
    // If x is Φ⁻¹(p) to about an ulp, Φ(x) can differ from p by |x|·φ(x)·ε on top of Φ's own ε·p: in the far tail
    // (|x| ≈ 37, where φ/Φ ≈ |x|) that is up to x²·ε ≈ 1.5e-13 relative, so the bound follows the conditioning.
    const rnd = mulberry32(9);
    const bad: number[] = [];
    let worst = 0;
    for (let i = 0; i < 60_000; i++) {
      const r = rnd();
      const p = r < 0.4 ? 10 ** (-300 * rnd()) : r < 0.7 ? rnd() : 1 - 10 ** (-16 * rnd());
      if (p <= 0 || p >= 1) continue;
      const x = exactNormalPpf(p);
      const phi = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
      const ratio = Math.abs(exactNormalCdf(x) - p) / (EPS * (p + Math.abs(x) * phi));
      worst = Math.max(worst, ratio);
      if (!(ratio <= 4)) bad.push(p);
      if (p > 0.5) {
        const q = 1 - p; // exact
        if (!(Math.abs(exactNormalCdf(-x) - q) <= 4 * EPS * (q + Math.abs(x) * phi))) bad.push(p);
      } else if (p < 1e-3) {
        // In the lower tail, plainly relative: Φ's own error plus the conditioning x²·ε.
        if (!(Math.abs(exactNormalCdf(x) - p) <= EPS * p * (4 + 2 * x * x))) bad.push(p);
      }
    }
    expect(bad).toEqual([]);
    expect(worst).toBeGreaterThan(0);
  });

  it('is non-decreasing on a fine grid of probabilities', () => {
    const drops: number[] = [];
    let prev = -Infinity;
    for (let i = 0; i <= 100_000; i++) {
      const v = exactNormalPpf(i / 100_000);
      if (!(v >= prev)) drops.push(i / 100_000);
      prev = v;
    }
    prev = -Infinity;
    for (let e = -1074; e <= -1; e++) {
      const v = exactNormalPpf(2 ** e);
      if (!(v > prev)) drops.push(2 ** e);
      prev = v;
    }
    expect(drops).toEqual([]);
  });
});

describe('determinism pin', () => {
  it('exactMathDigest() reproduces the pinned bits of every function on its fixed grid', () => {
    expect(exactMathDigest()).toBe(PINNED_DIGEST);
  });
});

describe('source', () => {
  const source = readFileSync(new URL('./math.ts', import.meta.url), 'utf8');
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');

  it('calls no built-in whose rounding JavaScript leaves to the engine', () => {
    const forbidden = ['Math.exp', 'Math.log', 'Math.sqrt', 'Math.pow', 'Math.tanh', 'Math.expm1', 'Math.log1p', 'Math.sin', 'Math.cos'];
    for (const name of forbidden) expect(source, name).not.toContain(name);
    const allowed = new Set(['Math.floor', 'Math.trunc', 'Math.abs', 'Math.round', 'Math.min', 'Math.max', 'Math.fround']);
    for (const used of source.match(/Math\.\w+/g) ?? []) expect(allowed, used).toContain(used);
    expect(code).not.toContain('**');
    expect(code).not.toMatch(/BigInt|\b\d+n\b/);
  });

  it('writes every decimal literal with at most 17 significant digits (longer ones may parse differently)', () => {
    const literals = code.match(/(?<![\w.])(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?(?![\w.])/gi) ?? [];
    expect(literals.length).toBeGreaterThan(50);
    for (const lit of literals) {
      const digits = lit.split(/e/i)[0]!.replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
      expect(digits.length, lit).toBeLessThanOrEqual(17);
    }
  });
});
