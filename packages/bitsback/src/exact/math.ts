/**
 * gm's own elementary functions for the coding path. ECMAScript leaves the rounding of the built-in exponential,
 * logarithm, power, square root and hyperbolic functions to each engine, so two browsers may disagree in the last
 * bit, and a compressed file must decode bit for bit everywhere. Everything here uses only what JS specifies exactly:
 * IEEE-754 +, −, ×, ÷ and comparisons on doubles, floor/trunc/abs, integer bit operations, and reading or writing a
 * double's bits through typed arrays. Numeric literals have at most 17 significant digits, which every engine must
 * parse to the nearest double (longer literals may be parsed differently).
 *
 * Algorithms: exp, expm1, log, log1p and tanh follow fdlibm (Sun Microsystems, 1993) as kept in musl, re-written here
 * from the published algorithms; sqrt is Heron's iteration fixed up to the correctly rounded result by Tuckerman's
 * test with exact (Dekker) products; Φ is Cody's rational Chebyshev approximation (ACM TOMS 715, 1993), chosen over
 * Hart/West for its relative accuracy in the lower tail; Φ⁻¹ is Acklam's approximation refined by one Halley step.
 */
import { sha256Hex } from '@gm/core';

// Bit access to one double. The word order of a Float64Array seen as 32-bit words follows the machine's byte order,
// so find where the high word (sign, exponent, top of the mantissa) lives instead of assuming little-endian.
const F64 = new Float64Array(1);
const I32 = new Int32Array(F64.buffer);
F64[0] = 1;
const HI = I32[1] === 0x3ff00000 ? 1 : 0;
const LO = 1 - HI;

/** The double whose high and low 32-bit words are `hi` and `lo` (setup only: constants written as fdlibm gives them). */
function fromWords(hi: number, lo: number): number {
  I32[HI] = hi | 0;
  I32[LO] = lo | 0;
  return F64[0]!;
}

/** 2^k for k = −1074 … 1023 at index k + 1074, built by exact doublings and halvings. */
const POW2 = new Float64Array(2098);
const BIAS = 1074;
POW2[BIAS] = 1;
for (let i = BIAS + 1; i < 2098; i++) POW2[i] = POW2[i - 1]! * 2;
for (let i = BIAS - 1; i >= 0; i--) POW2[i] = POW2[i + 1]! * 0.5;

const TWO54 = 18014398509481984;
const MIN_NORMAL = 2.2250738585072014e-308;
const SHIFT = 6755399441055744; // 1.5·2^52: adding then subtracting it rounds a double to the nearest integer

/** y·2^k rounded once, for integers k from −1138 to 1024 (beyond the table, in two exact-then-rounded steps). */
function scale2(y: number, k: number): number {
  if (k > 1023) return y * 2 * POW2[k - 1 + BIAS]!;
  if (k < -1074) return y * POW2[k + 64 + BIAS]! * POW2[BIAS - 64]!;
  return y * POW2[k + BIAS]!;
}

const LN2_HI = fromWords(0x3fe62e42, 0xfee00000); // ln 2 to 32 bits, so k·LN2_HI is exact for |k| < 2^21
const LN2_LO = fromWords(0x3dea39ef, 0x35793c76); // ln 2 − LN2_HI
const INV_LN2 = fromWords(0x3ff71547, 0x652b82fe);

const EXP_OVER = fromWords(0x40862e42, 0xfefa39ef); // above this, e^x overflows
const EXP_UNDER = fromWords(0xc0874910, 0xd52d3051); // below this, e^x rounds to 0
const P1 = fromWords(0x3fc55555, 0x5555553e);
const P2 = fromWords(0xbf66c16c, 0x16bebd93);
const P3 = fromWords(0x3f11566a, 0xaf25de2c);
const P4 = fromWords(0xbebbbd41, 0xc5d26bf1);
const P5 = fromWords(0x3e663769, 0x72bea4d0);

/**
 * e^x within 1 ulp (fdlibm __ieee754_exp): x = k·ln2 + r with |r| ≤ ln2/2 (ln 2 split hi/lo, Cody–Waite), e^r from a
 * Remez rational in r², then scaled by 2^k. k is rounded with the 1.5·2^52 shift rather than a sign-dependent ±1/2,
 * which keeps the hot path free of unpredictable branches; for |x| < ln2/2 it is 0 and the formula is fdlibm's k = 0 case.
 */
export function exactExp(x: number): number {
  if (!(x <= EXP_OVER && x >= EXP_UNDER)) return x > 0 ? Infinity : x < 0 ? 0 : x;
  let kd = INV_LN2 * x + SHIFT;
  kd -= SHIFT;
  const hi = x - kd * LN2_HI;
  const lo = kd * LN2_LO;
  const r = hi - lo;
  const t = r * r;
  const c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  const y = 1 - (lo - (r * c) / (2 - c) - hi);
  return scale2(y, kd | 0);
}

const EXPM1_HUGE = fromWords(0x4043687a, 0); // 56·ln 2: beyond it e^x − 1 is −1 (x < 0) or e^x (x > 0)
const EXPM1_TINY = fromWords(0x3c900000, 0); // 2^−54: below it e^x − 1 rounds to x
const Q1 = fromWords(0xbfa11111, 0x111110f4);
const Q2 = fromWords(0x3f5a01a0, 0x19fe5585);
const Q3 = fromWords(0xbf14ce19, 0x9eaadbb7);
const Q4 = fromWords(0x3ed0cfca, 0x86e65239);
const Q5 = fromWords(0xbe8afdb7, 0x6e09c32d);

/** e^x − 1 within 1 ulp, accurate near 0 where e^x − 1 cancels (fdlibm expm1: the same reduction, a rational for r). */
export function exactExpm1(x: number): number {
  if (!(x < EXPM1_HUGE && x > -EXPM1_HUGE)) {
    if (x !== x) return x;
    if (x < 0) return -1;
    if (x > EXP_OVER) return Infinity;
  }
  if (Math.abs(x) < EXPM1_TINY) return x;
  let kd = INV_LN2 * x + SHIFT;
  kd -= SHIFT;
  const hi = x - kd * LN2_HI;
  const lo = kd * LN2_LO;
  const r = hi - lo;
  const c = hi - r - lo; // rounding error of r
  const k = kd | 0;
  const hfx = 0.5 * r;
  const hxs = r * hfx;
  const r1 = 1 + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
  const t = 3 - r1 * hfx;
  let e = hxs * ((r1 - t) / (6 - r * t));
  if (k === 0) return r - (r * e - hxs);
  e = r * (e - c) - c;
  e -= hxs;
  if (k === -1) return 0.5 * (r - e) - 0.5;
  if (k === 1) return r < -0.25 ? -2 * (e - (r + 0.5)) : 1 + 2 * (r - e);
  if (k < 0 || k > 56) return scale2(r - e + 1, k) - 1;
  const twomk = POW2[BIAS - k]!;
  const y = k < 20 ? r - e + (1 - twomk) : r - (e + twomk) + 1;
  return y * POW2[BIAS + k]!;
}

/**
 * The k with x·2^−k in [√2/2, √2) for a positive normal x, read from the exponent bits with fdlibm's trick: adding
 * 0x3ff00000 − (high word of √2/2) to the high word carries into the exponent exactly when the mantissa is ≥ √2.
 * Scaling by 2^−k then reduces x exactly (a product by a power of two), avoiding a write back into the bits.
 */
function exponentFrom(x: number): number {
  F64[0] = x;
  return (((I32[HI]! + (0x3ff00000 - 0x3fe6a09e)) | 0) >>> 20) - 0x3ff;
}

const LG1 = fromWords(0x3fe55555, 0x55555593);
const LG2 = fromWords(0x3fd99999, 0x9997fa04);
const LG3 = fromWords(0x3fd24924, 0x94229359);
const LG4 = fromWords(0x3fcc71c5, 0x1d8e78af);
const LG5 = fromWords(0x3fc74664, 0x96cb03de);
const LG6 = fromWords(0x3fc39a09, 0xd078c69f);
const LG7 = fromWords(0x3fc2f112, 0xdf3e5244);

/**
 * Natural log within 1 ulp (fdlibm __ieee754_log): x = 2^k·(1 + f) with 1 + f in [√2/2, √2), then
 * log(1 + f) = 2s + s·R(s²) with s = f/(2 + f) and R a Remez polynomial.
 */
export function exactLog(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  if (x === Infinity) return x;
  let k = 0;
  if (x < MIN_NORMAL) {
    k = -54;
    x *= TWO54;
  }
  const j = exponentFrom(x);
  k += j;
  const f = x * POW2[BIAS - j]! - 1;
  const hfsq = 0.5 * f * f;
  const s = f / (2 + f);
  const z = s * s;
  const w = z * z;
  const r = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7))) + w * (LG2 + w * (LG4 + w * LG6));
  return s * (hfsq + r) + k * LN2_LO - hfsq + f + k * LN2_HI;
}

const LOG1P_TINY = fromWords(0x3ca00000, 0); // 2^−53: below it log(1 + x) rounds to x
const LOG1P_UP = fromWords(0x3fda827a, 0); // 1 + x < √2 (about): no reduction needed …
const LOG1P_DOWN = -fromWords(0x3fd2bec5, 0); // … nor for 1 + x > √2/2 (about)

/** log(1 + x) within 1 ulp, accurate near 0 (fdlibm log1p: as log, plus a correction for the rounding of 1 + x). */
export function exactLog1p(x: number): number {
  if (!(x > -1)) return x === -1 ? -Infinity : NaN;
  if (x === Infinity) return x;
  if (Math.abs(x) < LOG1P_TINY) return x;
  let k = 0;
  let c = 0;
  let f = x;
  if (x >= LOG1P_UP || x <= LOG1P_DOWN) {
    const u = 1 + x;
    k = exponentFrom(u);
    // c ≈ log(1 + x) − log(u): the rounding error of u, relative to u.
    if (k < 54) c = (k >= 2 ? 1 - (u - x) : x - (u - 1)) / u;
    f = u * POW2[BIAS - k]! - 1;
  }
  const hfsq = 0.5 * f * f;
  const s = f / (2 + f);
  const z = s * s;
  const w = z * z;
  const r = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7))) + w * (LG2 + w * (LG4 + w * LG6));
  return s * (hfsq + r) + (k * LN2_LO + c) - hfsq + f + k * LN2_HI;
}

// Near-minimax quintic for √m on [1, 4), relative error 6.4e-5; two Heron steps take it below 1e-17.
const SQ0 = 0.34354012613552704;
const SQ1 = 0.8706119379458139;
const SQ2 = -0.28001528321765096;
const SQ3 = 0.07726003786032738;
const SQ4 = -0.012129266616940772;
const SQ5 = 0.0007957354062700309;
const SPLIT = 134217729; // 2^27 + 1, Veltkamp's splitter
const ULP1 = fromWords(0x3cb00000, 0); // 2^−52, the spacing of doubles in [1, 2)
const TWO108 = TWO54 * TWO54;
const BAND_OUT = 1 + fromWords(0x3cd00000, 0); // 1 ± 2^−50: margins around Tuckerman's bounds, wider than one
const BAND_IN = 1 - fromWords(0x3cd00000, 0); // rounding of the residual (2^−53), so decisions outside them are sure

/** True iff m > a·b exactly, for a, b in [1, 2] and a·b within a factor 2 of m (Dekker's exact product). */
function exceedsProduct(m: number, a: number, b: number): boolean {
  const p = a * b;
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const err = ah * bh - p + ah * bl + al * bh + al * bl; // a·b − p, exactly
  return m - p > err; // m − p is exact (Sterbenz)
}

/**
 * Correctly rounded √x. x = m·4^e with m in [1, 4); √m from a polynomial and two Heron steps is within about one
 * ulp u = 2^−52, and Tuckerman's test picks the nearest double: r is √m rounded to nearest iff
 * r·(r − u) < m ≤ r·(r + u), i.e. −r·u < m − r² ≤ r·u. The residual m − r² comes from Dekker's exact square with
 * one rounding, which settles the test unless it lies within 2^−50 of a bound; only then are the exact products used.
 */
export function exactSqrt(x: number): number {
  if (!(x > 0)) return x === 0 ? x : NaN;
  if (x === Infinity) return x;
  let half = 0;
  if (x < MIN_NORMAL) {
    x *= TWO108;
    half = -54;
  }
  F64[0] = x;
  const ex = (I32[HI]! >>> 20) - 0x3ff;
  const even = ex - (ex & 1);
  half += even >> 1;
  const m = x * POW2[BIAS - even]!;
  let r = SQ0 + m * (SQ1 + m * (SQ2 + m * (SQ3 + m * (SQ4 + m * SQ5))));
  r = 0.5 * (r + m / r);
  r = 0.5 * (r + m / r);
  if (r < 1) r = 1; // √m ≥ 1; keeps the spacing below r at u (r ≤ 2 needs no guard: at 2 the step down is u too)
  // The final Heron step leaves |r − √m| ≤ u + 5e-18 (one rounding of m/r and of the sum, halved), so the nearest
  // double is r or a neighbour: one correction step, as Tuckerman's bounds decide.
  const p = r * r;
  const t = SPLIT * r;
  const rh = t - (t - r);
  const rl = r - rh;
  const d = m - p - (rh * rh - p + 2 * rh * rl + rl * rl); // m − r², rounded once
  const ru = r * ULP1;
  if (d > ru * BAND_OUT) r += ULP1;
  else if (d < -ru * BAND_OUT) r -= ULP1;
  else if (!(d < ru * BAND_IN && d > -ru * BAND_IN)) {
    if (exceedsProduct(m, r, r + ULP1)) r += ULP1;
    else if (!exceedsProduct(m, r, r - ULP1)) r -= ULP1;
  }
  return r * POW2[half + BIAS]!;
}

/** Logistic σ(x) = 1/(1 + e^−x), with e^−|x| so the exponential cannot overflow: σ(x) = (x ≥ 0 ? 1 : e)/(1 + e). */
export function exactSigmoid(x: number): number {
  const e = exactExp(-Math.abs(x));
  return (x >= 0 ? 1 : e) / (1 + e);
}

/** softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^−|x|): stable, large x never overflows. */
export function exactSoftplus(x: number): number {
  return Math.max(x, 0) + exactLog1p(exactExp(-Math.abs(x)));
}

/** log σ(x) = −softplus(−x), accurate in both tails. */
export function exactLogSigmoid(x: number): number {
  return -exactSoftplus(-x);
}

/** Grid of {@link tableLogSigmoid}: log σ at t = −16 + i/64 from exactLogSigmoid, built on first use. */
const LOGSIG_LIMIT = 16;
const LOGSIG_STEPS = 64;
let logSigTable: Float64Array | undefined;

function buildLogSigTable(): Float64Array {
  const n = 2 * LOGSIG_LIMIT * LOGSIG_STEPS + 1;
  const t = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) t[i] = exactLogSigmoid(-LOGSIG_LIMIT + i / LOGSIG_STEPS);
  t[n] = t[n - 1]!;
  logSigTable = t;
  return t;
}

/** A table of exp on [−32, 32] at steps of 1/64 (exactExp, built on first use) for {@link tableExp}. */
const FAST_LIMIT = 32;
const FAST_STEPS = 64;
let expTable: Float64Array | undefined;

function buildTable(f: (x: number) => number): Float64Array {
  const n = 2 * FAST_LIMIT * FAST_STEPS + 1;
  const t = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) t[i] = f(-FAST_LIMIT + i / FAST_STEPS);
  t[n] = t[n - 1]!;
  return t;
}

function interpolate(t: Float64Array, x: number): number {
  const u = (x + FAST_LIMIT) * FAST_STEPS;
  const i = Math.floor(u);
  return t[i]! + (u - i) * (t[i + 1]! - t[i]!);
}

/** e^x by linear interpolation (relative error below 4e-5; 0 below −32, e^32 above 32): deterministic, for
 * importance weights. */
export function tableExp(x: number): number {
  if (!(x > -FAST_LIMIT)) return 0;
  const t = (expTable ??= buildTable(exactExp));
  if (x >= FAST_LIMIT) return t[2 * FAST_LIMIT * FAST_STEPS]!;
  return interpolate(t, x);
}

/**
 * σ(b) − σ(a) for a < b (the mass of a logistic between two standardised edges; a = −∞ or b = +∞ for open ends),
 * to ~3e-4 relative even in the tails: from e^x of the edges on the tail side, (e^b − e^a)/((1 + e^a)(1 + e^b)) with
 * e^b − e^a = e^a·expm1(b − a) (a series below 1/2), never the difference of two values near 1. Deterministic, for
 * importance weights.
 */
export function logisticMass(a: number, b: number): number {
  if (a > 0) return logisticMass(-b, -a); // the lower tail side: both edges ≤ 0, or straddling 0
  if (b === Infinity) return 1 / (1 + tableExp(a)); // σ(∞) − σ(a) = σ(−a)
  const ea = tableExp(a);
  const eb = tableExp(b);
  if (b > 0) return 1 / (1 + 1 / eb) - ea / (1 + ea); // straddling: neither term is near the other
  if (ea === 0) return eb / (1 + eb); // a = −∞ (or below e^−32): σ(b)
  const d = b - a;
  const expm1 = d < 0.5 ? d * (1 + (d / 2) * (1 + (d / 3) * (1 + (d / 4) * (1 + (d / 5) * (1 + (d / 6) * (1 + (d / 7) * (1 + d / 8))))))) : tableExp(d) - 1;
  return (ea * expm1) / ((1 + ea) * (1 + eb));
}

/**
 * Σ_d log σ(s_d · l_d) over `count` logits from `offset`, s_d = +1 where `bits[bitOffset + d]` is 1 and −1 where it
 * is 0: {@link tableLogSigmoid} summed in order, in one loop (the hot loop of importance weights).
 */
export function tableLogSigmoidSum(logits: ArrayLike<number>, offset: number, bits: ArrayLike<number>, bitOffset: number, count: number): number {
  const t = logSigTable ?? buildLogSigTable();
  const last = 2 * LOGSIG_LIMIT * LOGSIG_STEPS;
  let sum = 0;
  for (let d = 0; d < count; d++) {
    const l = logits[offset + d]!;
    const x = bits[bitOffset + d] === 1 ? l : -l;
    if (x <= -LOGSIG_LIMIT) sum += x + t[0]! + LOGSIG_LIMIT;
    else if (x >= LOGSIG_LIMIT) sum += t[last]!;
    else {
      const u = (x + LOGSIG_LIMIT) * LOGSIG_STEPS;
      const i = Math.floor(u);
      sum += t[i]! + (u - i) * (t[i + 1]! - t[i]!);
    }
  }
  return sum;
}

/**
 * log σ(x) by linear interpolation in a table of exactLogSigmoid on [−16, 16] at steps of 1/64 (error below 1e-5;
 * beyond: x + e^x below, −e^−x above, from the table's end values' asymptotes), for scores that must be the same
 * on every machine but need not be exact: a table lookup and float64 multiply-adds, ~10× cheaper than the exact
 * function. (Importance weights of BB-CIS: ../bbis.ts.)
 */
export function tableLogSigmoid(x: number): number {
  const t = logSigTable ?? buildLogSigTable();
  if (x <= -LOGSIG_LIMIT) return x + t[0]! + LOGSIG_LIMIT; // log σ(x) ≈ x + log σ(−16) + 16 (≈ x − 1e-7)
  if (x >= LOGSIG_LIMIT) return t[2 * LOGSIG_LIMIT * LOGSIG_STEPS]!; // ≈ −1.1e-7: within 1e-7 of log σ(x)
  const u = (x + LOGSIG_LIMIT) * LOGSIG_STEPS;
  const i = Math.floor(u);
  const f = u - i;
  return t[i]! + f * (t[i + 1]! - t[i]!);
}

const TANH_LOG3_HALF = fromWords(0x3fe193eb, 0); // ln(3)/2
const TANH_ONE = fromWords(0x40340001, 0); // 20: beyond it tanh rounds to ±1
const TANH_LOG53_HALF = fromWords(0x3fd058af, 0); // ln(5/3)/2

/** tanh within 2 ulp (musl's tanh): from expm1(2|x|) in forms that neither cancel nor overflow, sign restored last. */
export function exactTanh(x: number): number {
  if (x !== x) return x;
  const a = Math.abs(x);
  let t: number;
  if (a >= TANH_LOG3_HALF) {
    if (a >= TANH_ONE) {
      t = 1;
    } else {
      t = exactExpm1(2 * a);
      t = 1 - 2 / (t + 2);
    }
  } else if (a >= TANH_LOG53_HALF) {
    t = exactExpm1(2 * a);
    t = t / (t + 2);
  } else if (a >= MIN_NORMAL) {
    t = exactExpm1(-2 * a);
    t = -t / (t + 2);
  } else {
    return x; // subnormal or ±0: tanh x rounds to x
  }
  return x < 0 ? -t : t;
}

// W. J. Cody, "Rational Chebyshev approximations for the error function" (1969), as packaged for Φ in
// ANORM of ACM TOMS 715 (SPECFUN, 1993). Coefficients rounded to the nearest double.
const A0 = 2.2352520354606837;
const A1 = 161.02823106855587;
const A2 = 1067.6894854603709;
const A3 = 18154.98125334356;
const A4 = 0.06568233791820745;
const B0 = 47.202581904688245;
const B1 = 976.0985517377767;
const B2 = 10260.932208618979;
const B3 = 45507.78933502673;
const C0 = 0.39894151208813466;
const C1 = 8.883149794388377;
const C2 = 93.50665613217785;
const C3 = 597.2702763948002;
const C4 = 2494.5375852903726;
const C5 = 6848.190450536283;
const C6 = 11602.65143764735;
const C7 = 9842.714838383978;
const C8 = 1.0765576773720192e-8;
const D0 = 22.266688044328117;
const D1 = 235.387901782625;
const D2 = 1519.3775994075547;
const D3 = 6485.558298266761;
const D4 = 18615.571640885097;
const D5 = 34900.95272114598;
const D6 = 38912.00328609327;
const D7 = 19685.429676859992;
const PP0 = 0.215898534057957;
const PP1 = 0.12740116116024736;
const PP2 = 0.022235277870649807;
const PP3 = 0.0014216191932278934;
const PP4 = 0.000029112874951168793;
const PP5 = 0.023073441764940174;
const QQ0 = 1.284260096144911;
const QQ1 = 0.4682382124808651;
const QQ2 = 0.06598813786892856;
const QQ3 = 0.0037823963320275824;
const QQ4 = 0.00007297515550839662;
const INV_SQRT_2PI = 0.3989422804014327;
const SQRT_32 = 5.656854249492381;
const HALF_EPS = fromWords(0x3ca00000, 0);

/** Φ(x) − 1/2 for |x| ≤ 0.67448975 (Cody's first range), with full relative accuracy near 0. */
function centralOffset(x: number): number {
  let num = 0;
  let den = 0;
  if (Math.abs(x) > HALF_EPS) {
    const z = x * x;
    num = (((A4 * z + A0) * z + A1) * z + A2) * z;
    den = (((z + B0) * z + B1) * z + B2) * z;
  }
  return (x * (num + A3)) / (den + B3);
}

/** Cody's r(y) for y > 0.67448975: Φ(−y) = e^(−y²/2)·r(y) (a rational in y up to √32, in 1/y² beyond). */
function tailRatio(y: number): number {
  if (y <= SQRT_32) {
    const num = (((((((C8 * y + C0) * y + C1) * y + C2) * y + C3) * y + C4) * y + C5) * y + C6) * y + C7;
    const den = (((((((y + D0) * y + D1) * y + D2) * y + D3) * y + D4) * y + D5) * y + D6) * y + D7;
    return num / den;
  }
  const z = 1 / (y * y);
  const num = ((((PP5 * z + PP0) * z + PP1) * z + PP2) * z + PP3) * z + PP4;
  const den = ((((z + QQ0) * z + QQ1) * z + QQ2) * z + QQ3) * z + QQ4;
  return (INV_SQRT_2PI - (z * num) / den) / y;
}

/**
 * e^(−y²/2)·r without the rounding of y²: y = s + d with s = trunc(16y)/16 (few bits, so s² is exact) and
 * y² = s² + (y − s)(y + s). Past y = 37 the factor e^(−s²/2) could be subnormal, so it is applied as two halves
 * and the result is rounded once.
 */
function gaussTail(y: number, r: number): number {
  const s = Math.trunc(y * 16) / 16;
  const d = (y - s) * (y + s);
  if (y < 37) return exactExp(-s * s * 0.5) * exactExp(-d * 0.5) * r;
  const h = exactExp(-s * s * 0.25);
  return h * exactExp(-d * 0.5) * r * h;
}

/** q·e^(y²/2) with the same exact split of y², the square half applied twice so neither factor overflows. */
function timesGaussInverse(q: number, y: number): number {
  const s = Math.trunc(y * 16) / 16;
  const d = (y - s) * (y + s);
  const h = exactExp(s * s * 0.25);
  return q * h * exactExp(d * 0.5) * h;
}

/**
 * Standard normal CDF Φ(x): relative error below 1e-15 in the lower tail (down to the subnormals) and absolute error
 * below 1e-15 everywhere. Cody's three rational approximations on |x|, reflected as 1 − Φ(−|x|) for x > 0.
 */
export function exactNormalCdf(x: number): number {
  if (x !== x) return x;
  const y = Math.abs(x);
  if (y <= 0.67448975) return 0.5 + centralOffset(x);
  const c = y < 40 ? gaussTail(y, tailRatio(y)) : 0;
  return x > 0 ? 1 - c : c;
}

// P. J. Acklam's rational approximation to Φ⁻¹ (relative error 1.15e-9), central part and tails.
const AK0 = -39.69683028665376;
const AK1 = 220.9460984245205;
const AK2 = -275.9285104469687;
const AK3 = 138.357751867269;
const AK4 = -30.66479806614716;
const AK5 = 2.506628277459239;
const BK0 = -54.47609879822406;
const BK1 = 161.5858368580409;
const BK2 = -155.6989798598866;
const BK3 = 66.80131188771972;
const BK4 = -13.28068155288572;
const CK0 = -0.007784894002430293;
const CK1 = -0.3223964580411365;
const CK2 = -2.400758277161838;
const CK3 = -2.549732539343734;
const CK4 = 4.374664141464968;
const CK5 = 2.938163982698783;
const DK0 = 0.007784695709041462;
const DK1 = 0.3224671290700398;
const DK2 = 2.445134137142996;
const DK3 = 3.754408661907416;
const P_LOW = 0.02425;
const SQRT_2PI = 2.5066282746310007;

/** Acklam's tail formula in q = √(−2 log p), giving Φ⁻¹(p) for small p. */
function acklamTail(p: number): number {
  const q = exactSqrt(-2 * exactLog(p));
  return (((((CK0 * q + CK1) * q + CK2) * q + CK3) * q + CK4) * q + CK5) / ((((DK0 * q + DK1) * q + DK2) * q + DK3) * q + 1);
}

/**
 * Inverse standard normal CDF Φ⁻¹(p): −∞ at 0, +∞ at 1, a RangeError outside [0, 1] or for NaN. Acklam's approximation,
 * then one Halley step on Φ(x) − p with the Cody approximation {@link exactNormalCdf} uses, so the two agree closely.
 */
export function exactNormalPpf(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`exactNormalPpf needs a probability in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  let x: number;
  if (p < P_LOW) {
    x = acklamTail(p);
  } else if (p <= 1 - P_LOW) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((AK0 * r + AK1) * r + AK2) * r + AK3) * r + AK4) * r + AK5) * q) / (((((BK0 * r + BK1) * r + BK2) * r + BK3) * r + BK4) * r + 1);
  } else {
    x = -acklamTail(1 - p);
  }
  // Halley's step needs u = (Φ(x) − p)/φ(x). Centrally, Φ(x) − 1/2 and p − 1/2 are both exact enough to subtract;
  // in the tails, with y = |x| and q the tail probability (p or 1 − p, both exact), Φ(−y) = e^(−y²/2)·r(y) gives
  // u = ±√(2π)·(r(y) − q·e^(y²/2)), which never underflows, so even subnormal p get a full-precision step.
  let u: number;
  if (p >= 0.25 && p <= 0.75) {
    u = (centralOffset(x) - (p - 0.5)) * SQRT_2PI * exactExp(0.5 * x * x);
  } else if (x < 0) {
    u = SQRT_2PI * (tailRatio(-x) - timesGaussInverse(p, -x));
  } else {
    u = SQRT_2PI * (timesGaussInverse(1 - p, x) - tailRatio(x));
  }
  return x - u / (1 + 0.5 * x * u);
}

/** Inputs of the determinism pin: special values, a linear sweep, magnitudes from 2^−1074 to 2^1023, exp's range. */
function digestInputs(): number[] {
  const xs = [0, -0, Infinity, -Infinity, NaN, 5e-324, -5e-324, MIN_NORMAL, -MIN_NORMAL, Number.MAX_VALUE, -Number.MAX_VALUE];
  xs.push(1, -1, 0.5, -0.5, 2, -2, EXP_OVER, -EXP_UNDER, EXP_UNDER, EXP_UNDER * 0.999, -708.4, -745.1, 709.7, 709.79);
  xs.push(1e-300, -1e-300, 1e-20, -1e-20, 0.67448975, -0.67448975, SQRT_32, -SQRT_32, 37, -37, 37.5, -37.5, 38.5, -38.5, 40, -40);
  for (let j = 1; j <= 60; j++) xs.push(POW2[BIAS - j]!, -POW2[BIAS - j]!, 1 + POW2[BIAS - j]!, 1 - POW2[BIAS - j]!);
  for (let i = 0; i <= 1600; i++) xs.push((i - 800) / 20);
  for (let j = 0; j < 1200; j++) {
    const g = j * 0.6180339887498949;
    const e = -1074 + Math.floor((j * 2097) / 1199);
    const v = scale2(1 + (g - Math.floor(g)), e);
    xs.push(j & 1 ? -v : v);
  }
  for (let i = 0; i <= 800; i++) xs.push(-746 + i * 1.82);
  return xs;
}

/** Probabilities of the determinism pin: both ends, a linear sweep, 2^−j·(1 + frac) down to the subnormals, 1 − 2^−j. */
function digestProbabilities(): number[] {
  const ps = [0, 1, 0.5, 5e-324, MIN_NORMAL, 1e-300, 1e-100, P_LOW, 1 - P_LOW, 1 - ULP1, 1 - ULP1 / 2];
  for (let i = 0; i <= 1000; i++) ps.push(i / 1000);
  for (let j = 1; j <= 1074; j += 2) {
    const g = j * 0.6180339887498949;
    ps.push(scale2(1 + (g - Math.floor(g)), -j - 1));
  }
  for (let j = 1; j <= 53; j++) ps.push(1 - POW2[BIAS - j]!);
  return ps;
}

const DIGEST_FUNCTIONS: ReadonlyArray<(x: number) => number> = [
  exactExp,
  exactExpm1,
  exactLog,
  exactLog1p,
  exactSqrt,
  exactSigmoid,
  exactLogSigmoid,
  exactSoftplus,
  exactTanh,
  exactNormalCdf,
];

/**
 * SHA-256 (hex) of every function's results on a fixed grid of about 4,000 inputs (and the quantile on about 1,600
 * probabilities), each result as 8 little-endian bytes with NaN written as one canonical pattern. Equal digests on
 * two engines mean they compute the same bits; the tests pin the value.
 */
export function exactMathDigest(): string {
  const xs = digestInputs();
  const ps = digestProbabilities();
  const values: number[] = [];
  for (const fn of DIGEST_FUNCTIONS) for (const x of xs) values.push(fn(x));
  for (const p of ps) values.push(exactNormalPpf(p));
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => {
    if (v !== v) {
      view.setUint32(i * 8, 0, true);
      view.setUint32(i * 8 + 4, 0x7ff80000, true);
    } else {
      view.setFloat64(i * 8, v, true);
    }
  });
  return sha256Hex('gm exact math v1\n', bytes);
}
