/*
 * Deterministic dense layers for @gm/bitsback, built by scripts/build-native.mjs with clang --target=wasm32 -Os
 * -msimd128 -ffp-contract=off (never -mrelaxed-simd or -ffast-math; -Os keeps the module under the 4 KB browsers
 * compile synchronously, at -O3's speed). Whatever feeds the entropy coder must give the same bits on every machine
 * and engine, so every output is the sequential float32 sum
 *
 *   acc = 0; for k = 0 .. K−1: acc = f32(acc + f32(x[r,k] · W[k,n]));   y[r,n] = f32(acc + bias[n])  (or acc)
 *
 * computed with f32x4.mul then f32x4.add (SIMD128 has no fused multiply-add, and IEEE single arithmetic is exact-
 * ly specified, so lanes give the same bits as scalar f32.mul/f32.add and as Math.fround in src/exact/dense.ts).
 * Lanes are columns n: each column keeps its own k order, so tiling rows and columns changes no bit.
 *
 * The module owns its memory (exported; JS grows it and writes weights and inputs from __heap_base up) and uses
 * no static data (the build refuses a data section). Pointers are byte addresses; a bias pointer of 0 means none
 * (address 0 is below __heap_base, so it is never an allocation).
 */
#include <wasm_simd128.h>
#include <stddef.h>

#define EXPORT(name) __attribute__((export_name(#name)))

/* What a tile does with its accumulators: y = acc [+ bias], or y = f32(y + acc) [+ bias] (dense2's second pass). */
enum { STORE = 0, COMBINE = 1 };

static inline v128_t finish4(const float* y, v128_t acc, const float* bias, int mode) {
  if (mode == COMBINE) acc = wasm_f32x4_add(wasm_v128_load(y), acc);
  if (bias) acc = wasm_f32x4_add(acc, wasm_v128_load(bias));
  return acc;
}

static inline float finish1(const float* y, float acc, const float* bias, int mode) {
  if (mode == COMBINE) acc = *y + acc;
  if (bias) acc = acc + *bias;
  return acc;
}

#define MADD(c, a, b) c = wasm_f32x4_add(c, wasm_f32x4_mul(a, b))

/*
 * 4 rows × 8 columns: 8 accumulators + 2 W vectors + 1 splatted x fit V8's 16 xmm registers. W[k, n..n+7] is
 * contiguous in row-major W; x[r, k] is splatted. x rows at stride ldx, W rows at stride ldw, y rows at stride ldy.
 */
static inline void tile4x8(const float* x, size_t ldx, int K, const float* w, size_t ldw, float* y, size_t ldy,
                           const float* bias, int mode) {
  v128_t c00 = wasm_f32x4_splat(0.f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const float* x0 = x;
  const float* x1 = x + ldx;
  const float* x2 = x1 + ldx;
  const float* x3 = x2 + ldx;
  for (int k = 0; k < K; k++) {
    v128_t b0 = wasm_v128_load(w);
    v128_t b1 = wasm_v128_load(w + 4);
    w += ldw;
    v128_t a = wasm_v128_load32_splat(x0 + k);
    MADD(c00, a, b0);
    MADD(c01, a, b1);
    a = wasm_v128_load32_splat(x1 + k);
    MADD(c10, a, b0);
    MADD(c11, a, b1);
    a = wasm_v128_load32_splat(x2 + k);
    MADD(c20, a, b0);
    MADD(c21, a, b1);
    a = wasm_v128_load32_splat(x3 + k);
    MADD(c30, a, b0);
    MADD(c31, a, b1);
  }
  const float* b1p = bias ? bias + 4 : 0;
  wasm_v128_store(y, finish4(y, c00, bias, mode));
  wasm_v128_store(y + 4, finish4(y + 4, c01, b1p, mode));
  y += ldy;
  wasm_v128_store(y, finish4(y, c10, bias, mode));
  wasm_v128_store(y + 4, finish4(y + 4, c11, b1p, mode));
  y += ldy;
  wasm_v128_store(y, finish4(y, c20, bias, mode));
  wasm_v128_store(y + 4, finish4(y + 4, c21, b1p, mode));
  y += ldy;
  wasm_v128_store(y, finish4(y, c30, bias, mode));
  wasm_v128_store(y + 4, finish4(y + 4, c31, b1p, mode));
}

/* 1 row × 8 columns (the rows left over after the 4-row tiles). */
static inline void tile1x8(const float* x, int K, const float* w, size_t ldw, float* y, const float* bias, int mode) {
  v128_t c0 = wasm_f32x4_splat(0.f), c1 = c0;
  for (int k = 0; k < K; k++) {
    v128_t a = wasm_v128_load32_splat(x + k);
    MADD(c0, a, wasm_v128_load(w));
    MADD(c1, a, wasm_v128_load(w + 4));
    w += ldw;
  }
  wasm_v128_store(y, finish4(y, c0, bias, mode));
  wasm_v128_store(y + 4, finish4(y + 4, c1, bias ? bias + 4 : 0, mode));
}

/* 4 rows × 4 columns (a 4..7-column right edge). */
static inline void tile4x4(const float* x, size_t ldx, int K, const float* w, size_t ldw, float* y, size_t ldy,
                           const float* bias, int mode) {
  v128_t c0 = wasm_f32x4_splat(0.f), c1 = c0, c2 = c0, c3 = c0;
  const float* x1 = x + ldx;
  const float* x2 = x1 + ldx;
  const float* x3 = x2 + ldx;
  for (int k = 0; k < K; k++) {
    v128_t b = wasm_v128_load(w);
    w += ldw;
    MADD(c0, wasm_v128_load32_splat(x + k), b);
    MADD(c1, wasm_v128_load32_splat(x1 + k), b);
    MADD(c2, wasm_v128_load32_splat(x2 + k), b);
    MADD(c3, wasm_v128_load32_splat(x3 + k), b);
  }
  wasm_v128_store(y, finish4(y, c0, bias, mode));
  wasm_v128_store(y + ldy, finish4(y + ldy, c1, bias, mode));
  wasm_v128_store(y + 2 * ldy, finish4(y + 2 * ldy, c2, bias, mode));
  wasm_v128_store(y + 3 * ldy, finish4(y + 3 * ldy, c3, bias, mode));
}

/* 1 row × 4 columns. */
static inline void tile1x4(const float* x, int K, const float* w, size_t ldw, float* y, const float* bias, int mode) {
  v128_t c = wasm_f32x4_splat(0.f);
  for (int k = 0; k < K; k++) {
    MADD(c, wasm_v128_load32_splat(x + k), wasm_v128_load(w));
    w += ldw;
  }
  wasm_v128_store(y, finish4(y, c, bias, mode));
}

/* 4 rows × 1 column, scalar f32 (the last 1..3 columns): the same IEEE single mul and add as a lane. */
static inline void tile4x1(const float* x, size_t ldx, int K, const float* w, size_t ldw, float* y, size_t ldy,
                           const float* bias, int mode) {
  float c0 = 0.f, c1 = 0.f, c2 = 0.f, c3 = 0.f;
  const float* x1 = x + ldx;
  const float* x2 = x1 + ldx;
  const float* x3 = x2 + ldx;
  for (int k = 0; k < K; k++) {
    float b = *w;
    w += ldw;
    c0 = c0 + x[k] * b;
    c1 = c1 + x1[k] * b;
    c2 = c2 + x2[k] * b;
    c3 = c3 + x3[k] * b;
  }
  y[0] = finish1(y, c0, bias, mode);
  y[ldy] = finish1(y + ldy, c1, bias, mode);
  y[2 * ldy] = finish1(y + 2 * ldy, c2, bias, mode);
  y[3 * ldy] = finish1(y + 3 * ldy, c3, bias, mode);
}

/* 1 row × 1 column, scalar f32. */
static inline void tile1x1(const float* x, int K, const float* w, size_t ldw, float* y, const float* bias, int mode) {
  float c = 0.f;
  for (int k = 0; k < K; k++) {
    c = c + x[k] * *w;
    w += ldw;
  }
  *y = finish1(y, c, bias, mode);
}

/*
 * y (rows × N) from x (rows × K) · w (K × N), all row-major. Columns outermost, so an 8-column strip of W stays in
 * cache while every row tile passes over it.
 */
static void pass(const float* x, int rows, int K, const float* w, int N, const float* bias, float* y, int mode) {
  size_t ldx = (size_t)K, ldw = (size_t)N, ldy = (size_t)N;
  int n = 0;
  for (; n + 8 <= N; n += 8) {
    const float* b = bias ? bias + n : 0;
    int r = 0;
    for (; r + 4 <= rows; r += 4) tile4x8(x + r * ldx, ldx, K, w + n, ldw, y + r * ldy + n, ldy, b, mode);
    for (; r < rows; r++) tile1x8(x + r * ldx, K, w + n, ldw, y + r * ldy + n, b, mode);
  }
  if (n + 4 <= N) {
    const float* b = bias ? bias + n : 0;
    int r = 0;
    for (; r + 4 <= rows; r += 4) tile4x4(x + r * ldx, ldx, K, w + n, ldw, y + r * ldy + n, ldy, b, mode);
    for (; r < rows; r++) tile1x4(x + r * ldx, K, w + n, ldw, y + r * ldy + n, b, mode);
    n += 4;
  }
  for (; n < N; n++) {
    const float* b = bias ? bias + n : 0;
    int r = 0;
    for (; r + 4 <= rows; r += 4) tile4x1(x + r * ldx, ldx, K, w + n, ldw, y + r * ldy + n, ldy, b, mode);
    for (; r < rows; r++) tile1x1(x + r * ldx, K, w + n, ldw, y + r * ldy + n, b, mode);
  }
}

/* y = x·w [+ bias]: x rows × K, w K × N, bias N floats or 0, y rows × N (all float32, row-major). */
EXPORT(dense)
void dense(const float* x, int rows, int K, const float* w, int N, const float* bias, float* y) {
  pass(x, rows, K, w, N, bias, y, STORE);
}

/*
 * y = f32(f32(x·w + u·v) [+ bias]) with each product its own sequential sum: x rows × K, w K × N, u rows × K2,
 * v K2 × N. The first pass leaves x·w in y (float32, so nothing is lost), the second adds u·v and then the bias.
 */
EXPORT(dense2)
void dense2(const float* x, int rows, int K, const float* w, const float* u, int K2, const float* v, int N,
            const float* bias, float* y) {
  pass(x, rows, K, w, N, 0, y, STORE);
  pass(u, rows, K2, v, N, bias, y, COMBINE);
}
