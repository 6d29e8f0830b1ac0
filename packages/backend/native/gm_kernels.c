/*
 * gm's own wasm SIMD kernels for the tfjs wasm backend (built by scripts/build-native.mjs with clang --target=wasm32
 * -msimd128). The module imports the tfjs wasm heap as its memory and works on tensors in place, so it must never
 * touch memory it was not handed: no static data, no C stack (every function keeps its state in wasm locals; the
 * build refuses a data segment, and src/gm-kernels.test.ts checks that only outputs and scratch change), and scratch
 * comes from the caller.
 *
 * GEMM: XNNPACK (inside tfjs-wasm) re-packs the right-hand operand on every call with new weights (~5 ms for
 * 784×512, i.e. every training step) and only runs untransposed products fast. gm_gemm packs B into 8-column panels
 * itself (a plain copy, ~0.3 ms for 784×512, transposed or not), reads A row- or column-major directly and runs a
 * 4×8 register tile (native/gm_tile.wat.mjs): 8 accumulators + 2 B vectors + 1 broadcast A. Without FMA in SIMD128
 * the tile is bound by the two vector ports (8 mul + 8 add per k), ~8 FLOP/cycle.
 */
#include <wasm_simd128.h>
#include <stddef.h>

#define NR 8   /* panel width (columns of B per tile) */
#define MR 4   /* rows of A per tile */
#define MC 256 /* rows of A per cache block, so a block of A stays in L2 while the panels stream past */

#define EXPORT(name) __attribute__((export_name(#name)))

/* Floats of scratch gm_gemm needs: B packed into panels, then the tile's 32 accumulators. */
static int packed_floats(int K, int N) { return K * ((N + NR - 1) / NR) * NR; }
EXPORT(gm_gemm_scratch_floats) int gm_gemm_scratch_floats(int K, int N) { return packed_floats(K, N) + 32; }

/*
 * Packs rows k_offset .. k_offset+K−1 of a packed operand with k_total rows: B's element (k, n) at B[k*rs + n*cs]
 * goes to panel n / NR (k_total × NR floats each, zero-padded past column N) at row k_offset + k, multiplied by the
 * mask's element at the same place (mask[k*rs + n*cs]) when a mask is given.
 */
static void pack_b_rows_masked(const float* B, const float* mask, int K, int N, int rs, int cs, float* out, int k_total,
                               int k_offset) {
  for (int j0 = 0; j0 < N; j0 += NR) {
    int nr = N - j0 < NR ? N - j0 : NR;
    float* dst = out + (size_t)j0 * k_total + (size_t)k_offset * NR;
    if (cs == 1 && nr == NR) {
      for (int k = 0; k < K; k++) {
        const float* src = B + (size_t)k * rs + j0;
        v128_t lo = wasm_v128_load(src), hi = wasm_v128_load(src + 4);
        if (mask) {
          const float* m = mask + (size_t)k * rs + j0;
          lo = wasm_f32x4_mul(lo, wasm_v128_load(m));
          hi = wasm_f32x4_mul(hi, wasm_v128_load(m + 4));
        }
        wasm_v128_store(dst + k * NR, lo);
        wasm_v128_store(dst + k * NR + 4, hi);
      }
    } else {
      for (int k = 0; k < K; k++) {
        const size_t at = (size_t)k * rs + (size_t)j0 * cs;
        int j = 0;
        if (mask) {
          for (; j < nr; j++) dst[k * NR + j] = B[at + (size_t)j * cs] * mask[at + (size_t)j * cs];
        } else {
          for (; j < nr; j++) dst[k * NR + j] = B[at + (size_t)j * cs];
        }
        for (; j < NR; j++) dst[k * NR + j] = 0.f;
      }
    }
  }
}

static void pack_b_rows(const float* B, int K, int N, int rs, int cs, float* out, int k_total, int k_offset) {
  pack_b_rows_masked(B, 0, K, N, rs, cs, out, k_total, k_offset);
}

/* Packs B (element (k, n) at B[k*rs + n*cs]) into panels of NR columns, K rows each, zero-padded at the right edge. */
static void pack_b(const float* B, int K, int N, int rs, int cs, float* out) { pack_b_rows(B, K, N, rs, cs, out, K, 0); }

static inline void store4(float* c, v128_t v, int n) {
  if (n >= 4) {
    wasm_v128_store(c, v);
    return;
  }
  if (n > 0) c[0] = wasm_f32x4_extract_lane(v, 0);
  if (n > 1) c[1] = wasm_f32x4_extract_lane(v, 1);
  if (n > 2) c[2] = wasm_f32x4_extract_lane(v, 2);
}

/* Loads n ≤ 4 floats (zeros past n) without reading past them. */
static inline v128_t load_row4(const float* c, int n) {
  if (n >= 4) return wasm_v128_load(c);
  v128_t v = wasm_f32x4_splat(0.f);
  if (n > 0) v = wasm_f32x4_replace_lane(v, 0, c[0]);
  if (n > 1) v = wasm_f32x4_replace_lane(v, 1, c[1]);
  if (n > 2) v = wasm_f32x4_replace_lane(v, 2, c[2]);
  return v;
}

static inline void store_row(float* c, v128_t lo, v128_t hi, int nr) {
  store4(c, lo, nr);
  if (nr > 4) store4(c + 4, hi, nr - 4);
}

/*
 * The 4×8 register tile over K, imported from a second module written in wasm text (native/gm_tile.wat.mjs) in two
 * flavours, mul+add or relaxed-SIMD FMA, chosen at load time. It stores its 8 accumulators (row-major, 32 floats)
 * at `out`. rm: A row-major, rows at a0..a3. cm: A column-major from p, rows at byte offsets o1..o3, ldaBytes per k.
 */
__attribute__((import_module("tile"), import_name("rm")))
void tile_rm(int K, const float* a0, const float* a1, const float* a2, const float* a3, const float* panel, float* out);
__attribute__((import_module("tile"), import_name("cm")))
void tile_cm(int K, const float* p, int lda_bytes, int o1, int o2, int o3, const float* panel, float* out);

#define ACCUMULATE(r, row)                                                  \
  c##r##0 = wasm_f32x4_add(c##r##0, load_row4(row, nr));                  \
  c##r##1 = wasm_f32x4_add(c##r##1, nr > 4 ? load_row4(row + 4, nr - 4) : z);

#define EPILOGUE(r)                                              \
  c##r##0 = wasm_f32x4_add(c##r##0, bias0);                      \
  c##r##1 = wasm_f32x4_add(c##r##1, bias1);                      \
  if (relu) {                                                    \
    c##r##0 = wasm_f32x4_max(c##r##0, z);                        \
    c##r##1 = wasm_f32x4_max(c##r##1, z);                        \
  }

/*
 * C[M×N] (row-major, row stride N) (+)= op(A)·Bp [+ bias] [relu], Bp = B packed by pack_b.
 * A: a_trans ? stored K×M (element (i, k) at A[k*lda + i]) : stored M×K (at A[i*lda + k]).
 * accumulate: add the product to what C holds (bias and relu then do not apply).
 */
static void gemm_packed(int M, int N, int K, const float* A, int lda, int a_trans, const float* Bp, float* C,
                        const float* bias, int relu, int accumulate, float* tile) {
  const v128_t z = wasm_f32x4_splat(0.f);
  for (int ib = 0; ib < M; ib += MC) {
    int ie = M - ib < MC ? M : ib + MC;
    for (int j0 = 0; j0 < N; j0 += NR) {
      int nr = N - j0 < NR ? N - j0 : NR;
      const float* panel = Bp + (size_t)j0 * K;
      v128_t bias0 = z, bias1 = z;
      if (bias) {
        if (nr == NR) {
          bias0 = wasm_v128_load(bias + j0);
          bias1 = wasm_v128_load(bias + j0 + 4);
        } else {
          /* Built lane by lane: a vector load could read past the end of the bias. */
          for (int j = 0; j < nr; j++) {
            float bj = bias[j0 + j];
            if (j == 0) bias0 = wasm_f32x4_replace_lane(bias0, 0, bj);
            if (j == 1) bias0 = wasm_f32x4_replace_lane(bias0, 1, bj);
            if (j == 2) bias0 = wasm_f32x4_replace_lane(bias0, 2, bj);
            if (j == 3) bias0 = wasm_f32x4_replace_lane(bias0, 3, bj);
            if (j == 4) bias1 = wasm_f32x4_replace_lane(bias1, 0, bj);
            if (j == 5) bias1 = wasm_f32x4_replace_lane(bias1, 1, bj);
            if (j == 6) bias1 = wasm_f32x4_replace_lane(bias1, 2, bj);
          }
        }
      }
      for (int i0 = ib; i0 < ie; i0 += MR) {
        int mr = ie - i0 < MR ? ie - i0 : MR;
        if (!a_trans) {
          /* Rows past the edge re-read the last valid row; their results are not stored. */
          const float* a0 = A + (size_t)i0 * lda;
          const float* a1 = mr > 1 ? a0 + lda : a0;
          const float* a2 = mr > 2 ? a1 + lda : a1;
          const float* a3 = mr > 3 ? a2 + lda : a2;
          tile_rm(K, a0, a1, a2, a3, panel, tile);
        } else {
          int o1 = mr > 1 ? 4 : 0, o2 = mr > 2 ? 8 : o1, o3 = mr > 3 ? 12 : o2;
          tile_cm(K, A + i0, lda * 4, o1, o2, o3, panel, tile);
        }
        v128_t c00 = wasm_v128_load(tile), c01 = wasm_v128_load(tile + 4);
        v128_t c10 = wasm_v128_load(tile + 8), c11 = wasm_v128_load(tile + 12);
        v128_t c20 = wasm_v128_load(tile + 16), c21 = wasm_v128_load(tile + 20);
        v128_t c30 = wasm_v128_load(tile + 24), c31 = wasm_v128_load(tile + 28);
        float* c = C + (size_t)i0 * N + j0;
        if (accumulate) {
          ACCUMULATE(0, c) if (mr > 1) { ACCUMULATE(1, c + N) }
          if (mr > 2) { ACCUMULATE(2, c + 2 * N) } if (mr > 3) { ACCUMULATE(3, c + 3 * N) }
        } else if (bias || relu) {
          EPILOGUE(0) EPILOGUE(1) EPILOGUE(2) EPILOGUE(3)
        }
        store_row(c, c00, c01, nr);
        if (mr > 1) store_row(c + N, c10, c11, nr);
        if (mr > 2) store_row(c + 2 * N, c20, c21, nr);
        if (mr > 3) store_row(c + 3 * N, c30, c31, nr);
      }
    }
  }
}

/*
 * C[M×N] (row-major, row stride N) = op(A)·op(B) [+ bias] [relu].
 * A: a_trans ? stored K×M (element (i, k) at A[k*lda + i]) : stored M×K (at A[i*lda + k]).
 * B: b_trans ? stored N×K (element (k, n) at B[n*ldb + k]) : stored K×N (at B[k*ldb + n]).
 * bias: NULL (0) or N floats added to every row before the activation; relu: clamp below at 0.
 * scratch: gm_gemm_scratch_floats(K, N) floats for the packed B.
 */
EXPORT(gm_gemm)
void gm_gemm(int M, int N, int K, const float* A, int lda, int a_trans, const float* B, int ldb, int b_trans,
             float* C, const float* bias, int relu, float* scratch) {
  pack_b(B, K, N, b_trans ? 1 : ldb, b_trans ? ldb : 1, scratch);
  gemm_packed(M, N, K, A, lda, a_trans, scratch, C, bias, relu, 0, scratch + packed_floats(K, N));
}

/*
 * C[M×N] (+)= op(A)·op(B ⊙ mask): gm_gemm without its epilogue, with an optional mask (a pointer or 0) stored exactly
 * as B is (same ldb, same transposition) and multiplied in while B is packed, and with accumulate = 1 adding the
 * product to what C holds. The fused dense layer's kernels (src/wasm-dense.ts) use it for each term of
 * y = Σ x_t·(W_t ⊙ M_t) and for the input gradient dz·(W ⊙ M)ᵀ.
 */
EXPORT(gm_gemm_masked)
void gm_gemm_masked(int M, int N, int K, const float* A, int lda, int a_trans, const float* B, int ldb, int b_trans,
                    const float* mask, float* C, int accumulate, float* scratch) {
  pack_b_rows_masked(B, mask, K, N, b_trans ? 1 : ldb, b_trans ? ldb : 1, scratch, K, 0);
  gemm_packed(M, N, K, A, lda, a_trans, scratch, C, 0, 0, accumulate, scratch + packed_floats(K, N));
}

static inline float lane_sum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

/*
 * Four rows (r0..r3) against two (w0, w1) along their length, 4 elements at offset i, into the accumulators c00 … c31
 * (row, column): the step of the kernels that run along k / the channels (gemm_narrow, conv_forward_direct).
 */
#define DOT_4X2_STEP(r0, r1, r2, r3, w0, w1, i)                                        \
  {                                                                                     \
    const v128_t v0 = wasm_v128_load((w0) + (i)), v1 = wasm_v128_load((w1) + (i));      \
    v128_t a = wasm_v128_load((r0) + (i));                                              \
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a, v0));                                   \
    c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a, v1));                                   \
    a = wasm_v128_load((r1) + (i));                                                     \
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a, v0));                                   \
    c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a, v1));                                   \
    a = wasm_v128_load((r2) + (i));                                                     \
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(a, v0));                                   \
    c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(a, v1));                                   \
    a = wasm_v128_load((r3) + (i));                                                     \
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(a, v0));                                   \
    c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(a, v1));                                   \
  }

/*
 * C[M×N] (row stride ldc) = A·B for a narrow B (N < NR), A row-major M×K (row stride lda), B given as Bt = Bᵀ,
 * row-major N×K. The 4×8 tile would compute mostly padding here (N = 1 uses 1 of its 8 columns), so this kernel
 * runs along k instead: four rows of A against two columns of B, four k per vector (8 accumulators), the lanes summed
 * at the end; a k tail of K mod 4 is added in scalar. The strided input grad with fewer than 8 input channels uses it
 * (stride 1 reads dy in place instead).
 */
static void gemm_narrow(int M, int N, int K, const float* A, int lda, const float* Bt, float* C, int ldc) {
  const int K4 = K & ~3;
  for (int i0 = 0; i0 < M; i0 += 4) {
    const int mr = M - i0 < 4 ? M - i0 : 4;
    /* Rows past the edge re-read the last valid row; their results are not stored. */
    const float* a0 = A + (size_t)i0 * lda;
    const float* a1 = mr > 1 ? a0 + lda : a0;
    const float* a2 = mr > 2 ? a1 + lda : a1;
    const float* a3 = mr > 3 ? a2 + lda : a2;
    for (int n0 = 0; n0 < N; n0 += 2) {
      const int two = N - n0 > 1;
      const float* b0 = Bt + (size_t)n0 * K;
      const float* b1 = two ? b0 + K : b0;
      v128_t c00 = wasm_f32x4_splat(0.f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      for (int k = 0; k < K4; k += 4) DOT_4X2_STEP(a0, a1, a2, a3, b0, b1, k)
      float s00 = lane_sum(c00), s01 = lane_sum(c01), s10 = lane_sum(c10), s11 = lane_sum(c11);
      float s20 = lane_sum(c20), s21 = lane_sum(c21), s30 = lane_sum(c30), s31 = lane_sum(c31);
      for (int k = K4; k < K; k++) {
        s00 += a0[k] * b0[k], s01 += a0[k] * b1[k], s10 += a1[k] * b0[k], s11 += a1[k] * b1[k];
        s20 += a2[k] * b0[k], s21 += a2[k] * b1[k], s30 += a3[k] * b0[k], s31 += a3[k] * b1[k];
      }
      float* c = C + (size_t)i0 * ldc + n0;
      c[0] = s00;
      if (two) c[1] = s01;
      if (mr > 1) { c[ldc] = s10; if (two) c[ldc + 1] = s11; }
      if (mr > 2) { c[2 * ldc] = s20; if (two) c[2 * ldc + 1] = s21; }
      if (mr > 3) { c[3 * ldc] = s30; if (two) c[3 * ldc + 1] = s31; }
    }
  }
}

/*
 * Convolutions (NHWC, dilation 1), each as GEMMs over gathered rows ("im2col" in chunks of positions):
 *   forward      y[b, oy, ox, o] = Σ_{fy, fx, c} x[b, oy·sh + fy − padT, ox·sw + fx − padL, c] · w[fy, fx, c, o]
 *   input grad   dx[b, iy, ix, c] = Σ_{fy, fx, o} dy[b, oy, ox, o] · w[fy, fx, c, o] over the (oy, ox) that read (iy, ix)
 *   filter grad  dw[fy, fx, c, o] = Σ_{b, oy, ox} x[b, oy·sh + fy − padT, ox·sw + fx − padL, c] · dy[b, oy, ox, o]
 * Terms outside the input are zero. Forward and input grad gather all FH·FW taps of a position into one row, so
 * each chunk is a single GEMM with K = FH·FW·channels (a deep product keeps the 4×8 tile busy); the filter grad
 * runs one GEMM per tap with K = positions in the chunk.
 */
#define CHUNK_FLOATS 131072 /* gathered rows per chunk: 512 KB, so a chunk stays in L2 */

static int chunk_rows(int row_floats) {
  int rows = CHUNK_FLOATS / (row_floats > 0 ? row_floats : 1);
  return rows < 4 ? 4 : rows > 1024 ? 1024 : rows;
}

static inline void copy_or_zero(float* dst, const float* src, int n) {
  if (src) {
    for (int i = 0; i < n; i++) dst[i] = src[i];
  } else {
    for (int i = 0; i < n; i++) dst[i] = 0.f;
  }
}

/* The input pixel that output position (b, oy, ox) reads through tap (fy, fx), or NULL outside the input. */
static inline const float* tap_source(const float* x, int H, int W, int C, int b, int oy, int ox, int fy, int fx,
                                      int sh, int sw, int padT, int padL) {
  int iy = oy * sh + fy - padT, ix = ox * sw + fx - padL;
  if (iy < 0 || iy >= H || ix < 0 || ix >= W) return 0;
  return x + (((size_t)b * H + iy) * W + ix) * C;
}

/* A forward convolution's fused epilogue on 4 output channels: + bias (bv), then max(·, 0) when relu. */
#define BIAS_RELU(v, bv, relu) ((relu) ? wasm_f32x4_max(wasm_f32x4_add(v, bv), wasm_f32x4_splat(0.f)) : wasm_f32x4_add(v, bv))

/*
 * Steps an output position (b, oy, ox) to the next one in NHWC order. The kernels walk positions and taps with
 * counters instead of dividing indices: an integer division costs tens of cycles, and recovering (b, oy, ox) and
 * (fy, fx) by division for every position and tap took about half of a 32 → 1 convolution's time.
 */
#define NEXT_INDEX(b, y, x, NY, NX) \
  if (++(x) == (NX)) {              \
    (x) = 0;                        \
    if (++(y) == (NY)) {            \
      (y) = 0;                      \
      (b)++;                        \
    }                               \
  }
#define NEXT_POSITION(b, oy, ox) NEXT_INDEX(b, oy, ox, OH, OW)
/* pb/py/px[0..3] = the group's four positions from (qb, qy, qx), the last valid one repeated past mr; then (qb, qy, qx)
 * moves to the next group. */
#define GROUP_POSITIONS(mr)                                              \
  {                                                                      \
    int gb = qb, gy = qy, gx = qx;                                       \
    for (int i = 0; i < 4; i++) {                                        \
      pb[i] = gb, py[i] = gy, px[i] = gx;                                \
      if (i + 1 < (mr)) NEXT_POSITION(gb, gy, gx)                        \
    }                                                                    \
    for (int i = 0; i < 4; i++) NEXT_POSITION(qb, qy, qx)                \
  }

/* Position i of a group: whether its whole window lies inside the input, and then where the window starts. */
#define DIRECT_WINDOW(i)                                                                                          \
  const int wy##i = py[i] * sh - padT, wx##i = px[i] * sw - padL;                                                 \
  const int in##i = wy##i >= 0 && wy##i + FH <= H && wx##i >= 0 && wx##i + FW <= W;                               \
  const float* base##i = in##i ? x + (((size_t)pb[i] * H + wy##i) * W + wx##i) * C : zeros;
/* s##i = the input row position i reads through tap (fy, fx) (offset `off` into an inside window), or `zeros`. */
#define DIRECT_TAP(i)                                                                                             \
  const float* s##i = in##i ? base##i + off : tap_source(x, H, W, C, pb[i], py[i], px[i], fy, fx, sh, sw, padT, padL); \
  if (!s##i) s##i = zeros;

/*
 * Few output channels (CO < NR: Real NVP's s/t outputs, a decoder's last layer) leave the 4×8 tile mostly idle, and
 * gathering FH·FW·C floats per position for a product only CO wide costs more than the product (a 32→1 convolution
 * ran at ~3 GFLOP/s). These kernels read the input rows in place instead: four positions at a time, each tap's C
 * channels as vectors against the weights stored transposed (wt: CO × FH·FW·C), two output channels at a time.
 * Taps outside the input read `zeros` (C floats).
 */
static void conv_forward_direct(int B, int H, int W, int C, const float* x, int OH, int OW, int CO, float* y, int FH,
                                int FW, int sh, int sw, int padT, int padL, const float* wt, const float* zeros) {
  const int positions = B * OH * OW, taps = FH * FW, k = taps * C, C4 = C & ~3;
  int qb = 0, qy = 0, qx = 0;
  for (int p0 = 0; p0 < positions; p0 += 4) {
    const int mr = positions - p0 < 4 ? positions - p0 : 4;
    int pb[4], py[4], px[4];
    GROUP_POSITIONS(mr) /* positions past the end repeat the last; not stored */
    DIRECT_WINDOW(0) DIRECT_WINDOW(1) DIRECT_WINDOW(2) DIRECT_WINDOW(3)
    for (int o0 = 0; o0 < CO; o0 += 2) {
      const int two = CO - o0 > 1;
      const float* w0 = wt + (size_t)o0 * k;
      const float* w1 = two ? w0 + k : w0;
      v128_t c00 = wasm_f32x4_splat(0.f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      float t00 = 0.f, t01 = 0.f, t10 = 0.f, t11 = 0.f, t20 = 0.f, t21 = 0.f, t30 = 0.f, t31 = 0.f;
      for (int t = 0, fy = 0, fx = 0; t < taps; t++, fx = fx + 1 == FW ? 0 : fx + 1, fy += fx == 0) {
        const int off = (fy * W + fx) * C;
        DIRECT_TAP(0) DIRECT_TAP(1) DIRECT_TAP(2) DIRECT_TAP(3)
        const float* u0 = w0 + t * C;
        const float* u1 = w1 + t * C;
        if (!two) {
          /* A single output channel (CO odd, last): the second accumulator of each position takes the odd group
           * of 4 channels instead of computing the same output twice. */
          int c = 0;
          for (; c + 8 <= C4; c += 8) {
            const v128_t v0 = wasm_v128_load(u0 + c), v1 = wasm_v128_load(u0 + c + 4);
            c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(wasm_v128_load(s0 + c), v0));
            c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(wasm_v128_load(s0 + c + 4), v1));
            c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(wasm_v128_load(s1 + c), v0));
            c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(wasm_v128_load(s1 + c + 4), v1));
            c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(wasm_v128_load(s2 + c), v0));
            c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(wasm_v128_load(s2 + c + 4), v1));
            c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(wasm_v128_load(s3 + c), v0));
            c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(wasm_v128_load(s3 + c + 4), v1));
          }
          if (c < C4) {
            const v128_t v0 = wasm_v128_load(u0 + c);
            c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(wasm_v128_load(s0 + c), v0));
            c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(wasm_v128_load(s1 + c), v0));
            c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(wasm_v128_load(s2 + c), v0));
            c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(wasm_v128_load(s3 + c), v0));
          }
          for (c = C4; c < C; c++) t00 += s0[c] * u0[c], t10 += s1[c] * u0[c], t20 += s2[c] * u0[c], t30 += s3[c] * u0[c];
          continue;
        }
        for (int c = 0; c < C4; c += 4) DOT_4X2_STEP(s0, s1, s2, s3, u0, u1, c)
        for (int c = C4; c < C; c++) {
          t00 += s0[c] * u0[c], t01 += s0[c] * u1[c], t10 += s1[c] * u0[c], t11 += s1[c] * u1[c];
          t20 += s2[c] * u0[c], t21 += s2[c] * u1[c], t30 += s3[c] * u0[c], t31 += s3[c] * u1[c];
        }
      }
      float* out = y + (size_t)p0 * CO + o0;
      if (!two) {
        out[0] = lane_sum(wasm_f32x4_add(c00, c01)) + t00;
        if (mr > 1) out[CO] = lane_sum(wasm_f32x4_add(c10, c11)) + t10;
        if (mr > 2) out[2 * CO] = lane_sum(wasm_f32x4_add(c20, c21)) + t20;
        if (mr > 3) out[3 * CO] = lane_sum(wasm_f32x4_add(c30, c31)) + t30;
        continue;
      }
      out[0] = lane_sum(c00) + t00;
      if (two) out[1] = lane_sum(c01) + t01;
      if (mr > 1) { out[CO] = lane_sum(c10) + t10; if (two) out[CO + 1] = lane_sum(c11) + t11; }
      if (mr > 2) { out[2 * CO] = lane_sum(c20) + t20; if (two) out[2 * CO + 1] = lane_sum(c21) + t21; }
      if (mr > 3) { out[3 * CO] = lane_sum(c30) + t30; if (two) out[3 * CO + 1] = lane_sum(c31) + t31; }
    }
  }
}

/*
 * Few input channels (C ≤ 4: an image's first layer, Real NVP's couplings on 1–4 channels and the input grads of
 * their s/t outputs) make the GEMM's depth FH·FW·C ≤ 36, too shallow for the tile, and gathering rows of a few floats
 * costs more than the product. This kernel runs along the output channels (CO a multiple of 4) instead: two
 * positions at a time, each (tap, channel) input value broadcast against 16 output channels of the filter row
 * w[tap][c][·] (8 accumulators); an output-channel tail of 4, 8 or 12 runs one vector at a time.
 */
#define FEW_ROW(j) const v128_t w##j = wasm_v128_load(wr + 4 * j);
#define FEW_FMA(j) a##j = wasm_f32x4_add(a##j, wasm_f32x4_mul(v0, w##j)); c##j = wasm_f32x4_add(c##j, wasm_f32x4_mul(v1, w##j));
/* Where output position p's window starts in the input (its tap (0, 0), possibly outside), and whether all of the
 * window lies inside, so its taps are plain offsets from that start. */
#define FEW_POSITION(j, at_b, at_y, at_x)                                                                   \
  const int ox##j = at_x, oy##j = at_y, bi##j = at_b;                                                       \
  const int iy##j = oy##j * sh - padT, ix##j = ox##j * sw - padL;                                          \
  const int in##j = iy##j >= 0 && iy##j + FH <= H && ix##j >= 0 && ix##j + FW <= W;                        \
  const float* base##j = in##j ? x + (((size_t)bi##j * H + iy##j) * W + ix##j) * C : x;
/* The input row of tap (fy, fx) of position j, or NULL outside the input. */
#define FEW_TAP(j) (in##j ? base##j + ((ptrdiff_t)fy * W + fx) * C : tap_source(x, H, W, C, bi##j, oy##j, ox##j, fy, fx, sh, sw, padT, padL))
static void conv_forward_few_inputs(int B, int H, int W, int C, const float* x, int OH, int OW, int CO, float* y,
                                    int FH, int FW, int sh, int sw, int padT, int padL, const float* w,
                                    const float* bias, int relu) {
  const int epilogue = bias != 0 || relu;
  const v128_t zero = wasm_f32x4_splat(0.f);
  const int positions = B * OH * OW;
  int qb = 0, qy = 0, qx = 0;
  for (int p0 = 0; p0 < positions; p0 += 2) {
    const int two = positions - p0 > 1, p1 = two ? p0 + 1 : p0;
    FEW_POSITION(0, qb, qy, qx)
    if (two) NEXT_POSITION(qb, qy, qx)
    FEW_POSITION(1, qb, qy, qx)
    NEXT_POSITION(qb, qy, qx)
    float* y0 = y + (size_t)p0 * CO;
    float* y1 = y + (size_t)p1 * CO;
    int o0 = 0;
    for (; o0 + 16 <= CO; o0 += 16) {
      v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
      if (in0 && in1) {
        /* Both windows inside (most positions): no bounds to check. */
        for (int fy = 0; fy < FH; fy++) {
          for (int fx = 0; fx < FW; fx++) {
            const float* s0 = base0 + ((ptrdiff_t)fy * W + fx) * C;
            const float* s1 = base1 + ((ptrdiff_t)fy * W + fx) * C;
            const float* wt = w + ((size_t)(fy * FW + fx) * C) * CO + o0;
            for (int c = 0; c < C; c++) {
              const v128_t v0 = wasm_f32x4_splat(s0[c]), v1 = wasm_f32x4_splat(s1[c]);
              const float* wr = wt + (size_t)c * CO;
              FEW_ROW(0) FEW_ROW(1) FEW_ROW(2) FEW_ROW(3)
              FEW_FMA(0) FEW_FMA(1) FEW_FMA(2) FEW_FMA(3)
            }
          }
        }
      } else {
        for (int fy = 0; fy < FH; fy++) {
          for (int fx = 0; fx < FW; fx++) {
            const float* s0 = FEW_TAP(0);
            const float* s1 = FEW_TAP(1);
            if (!s0 && !s1) continue;
            const float* wt = w + ((size_t)(fy * FW + fx) * C) * CO + o0;
            for (int c = 0; c < C; c++) {
              const v128_t v0 = wasm_f32x4_splat(s0 ? s0[c] : 0.f), v1 = wasm_f32x4_splat(s1 ? s1[c] : 0.f);
              const float* wr = wt + (size_t)c * CO;
              FEW_ROW(0) FEW_ROW(1) FEW_ROW(2) FEW_ROW(3)
              FEW_FMA(0) FEW_FMA(1) FEW_FMA(2) FEW_FMA(3)
            }
          }
        }
      }
      if (epilogue) {
        const v128_t b0 = bias ? wasm_v128_load(bias + o0) : zero, b1 = bias ? wasm_v128_load(bias + o0 + 4) : zero;
        const v128_t b2 = bias ? wasm_v128_load(bias + o0 + 8) : zero, b3 = bias ? wasm_v128_load(bias + o0 + 12) : zero;
        a0 = BIAS_RELU(a0, b0, relu), a1 = BIAS_RELU(a1, b1, relu), a2 = BIAS_RELU(a2, b2, relu), a3 = BIAS_RELU(a3, b3, relu);
        c0 = BIAS_RELU(c0, b0, relu), c1 = BIAS_RELU(c1, b1, relu), c2 = BIAS_RELU(c2, b2, relu), c3 = BIAS_RELU(c3, b3, relu);
      }
      wasm_v128_store(y0 + o0, a0), wasm_v128_store(y0 + o0 + 4, a1), wasm_v128_store(y0 + o0 + 8, a2), wasm_v128_store(y0 + o0 + 12, a3);
      if (two) wasm_v128_store(y1 + o0, c0), wasm_v128_store(y1 + o0 + 4, c1), wasm_v128_store(y1 + o0 + 8, c2), wasm_v128_store(y1 + o0 + 12, c3);
    }
    for (; o0 < CO; o0 += 4) {
      v128_t a0 = wasm_f32x4_splat(0.f), c0 = a0;
      for (int fy = 0; fy < FH; fy++) {
        for (int fx = 0; fx < FW; fx++) {
          const float* s0 = FEW_TAP(0);
          const float* s1 = FEW_TAP(1);
          const float* wt = w + ((size_t)(fy * FW + fx) * C) * CO + o0;
          for (int c = 0; c < C; c++) {
            const v128_t w0 = wasm_v128_load(wt + (size_t)c * CO);
            a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_f32x4_splat(s0 ? s0[c] : 0.f), w0));
            c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(wasm_f32x4_splat(s1 ? s1[c] : 0.f), w0));
          }
        }
      }
      if (epilogue) {
        const v128_t b0 = bias ? wasm_v128_load(bias + o0) : zero;
        a0 = BIAS_RELU(a0, b0, relu), c0 = BIAS_RELU(c0, b0, relu);
      }
      wasm_v128_store(y0 + o0, a0);
      if (two) wasm_v128_store(y1 + o0, c0);
    }
  }
}

/*
 * dWᵀ (acc: CO × FH·FW·C, zeroed by the caller) += Σ_p x[tap source of p]ᵀ · dy[p] for CO < NR, read in place: four
 * positions at a time, each tap's C channels as vectors, the accumulator row (in L1) loaded and stored once per four
 * positions.
 */
static void conv_filter_grad_direct(int B, int H, int W, int C, const float* x, int OH, int OW, int CO,
                                    const float* dy, int FH, int FW, int sh, int sw, int padT, int padL, float* acc,
                                    const float* zeros) {
  const int positions = B * OH * OW, taps = FH * FW, k = taps * C, C4 = C & ~3;
  int qb = 0, qy = 0, qx = 0;
  for (int p0 = 0; p0 < positions; p0 += 4) {
    const int mr = positions - p0 < 4 ? positions - p0 : 4;
    int pb[4], py[4], px[4];
    GROUP_POSITIONS(mr) /* positions past the end repeat the last with weight 0 */
    DIRECT_WINDOW(0) DIRECT_WINDOW(1) DIRECT_WINDOW(2) DIRECT_WINDOW(3)
    for (int t = 0, fy = 0, fx = 0; t < taps; t++, fx = fx + 1 == FW ? 0 : fx + 1, fy += fx == 0) {
      const int off = (fy * W + fx) * C;
      DIRECT_TAP(0) DIRECT_TAP(1) DIRECT_TAP(2) DIRECT_TAP(3)
      for (int o = 0; o < CO; o++) {
        const float e0 = dy[(size_t)p0 * CO + o];
        const float e1 = mr > 1 ? dy[(size_t)(p0 + 1) * CO + o] : 0.f;
        const float e2 = mr > 2 ? dy[(size_t)(p0 + 2) * CO + o] : 0.f;
        const float e3 = mr > 3 ? dy[(size_t)(p0 + 3) * CO + o] : 0.f;
        const v128_t d0 = wasm_f32x4_splat(e0), d1 = wasm_f32x4_splat(e1), d2 = wasm_f32x4_splat(e2), d3 = wasm_f32x4_splat(e3);
        float* a = acc + (size_t)o * k + t * C;
        for (int c = 0; c < C4; c += 4) {
          v128_t v = wasm_v128_load(a + c);
          v = wasm_f32x4_add(v, wasm_f32x4_mul(wasm_v128_load(s0 + c), d0));
          v = wasm_f32x4_add(v, wasm_f32x4_mul(wasm_v128_load(s1 + c), d1));
          v = wasm_f32x4_add(v, wasm_f32x4_mul(wasm_v128_load(s2 + c), d2));
          v = wasm_f32x4_add(v, wasm_f32x4_mul(wasm_v128_load(s3 + c), d3));
          wasm_v128_store(a + c, v);
        }
        for (int c = C4; c < C; c++) a[c] += s0[c] * e0 + s1[c] * e1 + s2[c] * e2 + s3[c] * e3;
      }
    }
  }
}

/*
 * Winograd F(4×4, 3×3) (Lavin & Gray, 2015) for 3×3 stride-1 convolutions with ≥ 8 channels each way (multiples of
 * 4): a 4×4 block of outputs from a 6×6 block of inputs costs 36 products per (input, output) channel pair instead of
 * 144, so the GEMMs shrink 4× (Real NVP's s/t nets are almost all such convolutions):
 *   y_tile = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,   summed over input channels,
 * computed as 36 GEMMs, one per position ξ of the 6×6 transformed tile: M_ξ (tiles × CO) = V_ξ (tiles × C) · U_ξ (C × CO),
 * with U = G g Gᵀ the transformed filter, V = Bᵀ d B the transformed input tiles (vectors of 4 channels), then the
 * output transform Aᵀ M A. Tiles are taken in chunks so V and M stay in L2. Inputs outside the image read as zero and
 * outputs past the edge are not stored. The points 0, ±1, ±2, ∞ keep float32 errors near 1e-6 of the outputs' scale
 * (the tests hold every plan to the cpu backend within 1e-4); F(2×2, 3×3), with 16 products per 2×2 block, ran the
 * Real NVP convolutions 1.3–1.6× slower.
 *   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
 *   G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1]
 *   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
 */
static int winograd_applies(int FH, int FW, int sh, int sw, int C, int CO) {
  return FH == 3 && FW == 3 && sh == 1 && sw == 1 && C >= 8 && CO >= 8 && (C & 3) == 0 && (CO & 3) == 0;
}

/* Tiles per chunk: V and M of a chunk (36·T·(C + CO) floats) in about 1 MB, and at most 256, so the filter
 * grad's GEMMs sum at most 256 transformed products before adding them to the total. */
static int winograd_tiles(int C, int CO) {
  int t = 262144 / (36 * (C + CO));
  return t < 4 ? 4 : t > 256 ? 256 : t;
}

/*
 * Floats between the 36 transformed blocks of a chunk: a block plus one cache line, because blocks a power of two
 * apart map to the same L1 sets, and the transforms touch all 36 at once (with F(2×2, 3×3)'s blocks 32 KB apart the
 * filter grad's output-side transform ran 4× slower).
 */
static int winograd_stride(int floats) { return floats + 16; }

static int winograd_scratch_floats(int C, int CO) {
  const int T = winograd_tiles(C, CO);
  return 36 * packed_floats(C, CO) + 36 * (winograd_stride(T * C) + winograd_stride(T * CO)) + 32;
}

/* Everything below is in named variables, not arrays: an array indexed in a loop may live on the C stack, at a
 * fixed address inside tfjs's heap. Names: x##i##j is row i, column j of a tile; the _COL/_ROW forms apply a 1-D
 * transform to every column, then every row. */
#define F4(x) wasm_f32x4_splat(x)
/* The six rows (columns) of Bᵀ·d for d's rows (columns) d0..d5. */
#define WINO_B(d0, d1, d2, d3, d4, d5, r0, r1, r2, r3, r4, r5)                                            \
  const v128_t r0 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(F4(4.f), d0), wasm_f32x4_mul(F4(5.f), d2)), d4); \
  const v128_t r1 = wasm_f32x4_sub(wasm_f32x4_add(d3, d4), wasm_f32x4_mul(F4(4.f), wasm_f32x4_add(d1, d2)));       \
  const v128_t r2 = wasm_f32x4_add(wasm_f32x4_sub(d4, d3), wasm_f32x4_mul(F4(4.f), wasm_f32x4_sub(d1, d2)));       \
  const v128_t r3 = wasm_f32x4_add(wasm_f32x4_sub(d4, d2), wasm_f32x4_mul(F4(2.f), wasm_f32x4_sub(d3, d1)));       \
  const v128_t r4 = wasm_f32x4_sub(wasm_f32x4_sub(d4, d2), wasm_f32x4_mul(F4(2.f), wasm_f32x4_sub(d3, d1)));       \
  const v128_t r5 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(F4(4.f), d1), wasm_f32x4_mul(F4(5.f), d3)), d5);
#define WINO_B_COL(j) WINO_B(d0##j, d1##j, d2##j, d3##j, d4##j, d5##j, e0##j, e1##j, e2##j, e3##j, e4##j, e5##j)
#define WINO_B_ROW(i) WINO_B(e##i##0, e##i##1, e##i##2, e##i##3, e##i##4, e##i##5, v##i##0, v##i##1, v##i##2, v##i##3, v##i##4, v##i##5)
/* G·g over three rows (columns) → six. */
#define WINO_G(g0, g1, g2, h0, h1, h2, h3, h4, h5)                                                    \
  const float h0 = 0.25f * g0, h1 = -(g0 + g1 + g2) / 6.f, h2 = -(g0 - g1 + g2) / 6.f;                \
  const float h3 = (g0 + 2.f * g1 + 4.f * g2) / 24.f, h4 = (g0 - 2.f * g1 + 4.f * g2) / 24.f, h5 = g2;
#define WINO_G_COL(j) WINO_G(g0##j, g1##j, g2##j, h0##j, h1##j, h2##j, h3##j, h4##j, h5##j)
#define WINO_G_ROW(i) WINO_G(h##i##0, h##i##1, h##i##2, u##i##0, u##i##1, u##i##2, u##i##3, u##i##4, u##i##5)
/* Aᵀ·m over six rows (columns) → four. */
#define WINO_A(m0, m1, m2, m3, m4, m5, r0, r1, r2, r3)                                                   \
  const v128_t r0 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(m0, m1), wasm_f32x4_add(m2, m3)), m4); \
  const v128_t r1 = wasm_f32x4_add(wasm_f32x4_sub(m1, m2), wasm_f32x4_mul(F4(2.f), wasm_f32x4_sub(m3, m4))); \
  const v128_t r2 = wasm_f32x4_add(wasm_f32x4_add(m1, m2), wasm_f32x4_mul(F4(4.f), wasm_f32x4_add(m3, m4))); \
  const v128_t r3 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_sub(m1, m2), wasm_f32x4_mul(F4(8.f), wasm_f32x4_sub(m3, m4))), m5);
#define WINO_A_COL(j) WINO_A(m0##j, m1##j, m2##j, m3##j, m4##j, m5##j, r0##j, r1##j, r2##j, r3##j)
#define WINO_A_ROW(i) WINO_A(r##i##0, r##i##1, r##i##2, r##i##3, r##i##4, r##i##5, y##i##0, y##i##1, y##i##2, y##i##3)
#define SIX(M, i) M(i, 0) M(i, 1) M(i, 2) M(i, 3) M(i, 4) M(i, 5)
#define SIX_ROWS(M) SIX(M, 0) SIX(M, 1) SIX(M, 2) SIX(M, 3) SIX(M, 4) SIX(M, 5)
#define FOR_SIX(M) M(0) M(1) M(2) M(3) M(4) M(5)
#define FOR_FOUR(M) M(0) M(1) M(2) M(3)
#define FOR_THREE(M) M(0) M(1) M(2)
#define WINO_LOAD(i, j) \
  const v128_t d##i##j = iy0 + i >= 0 && iy0 + i < H && ix0 + j >= 0 && ix0 + j < W ? wasm_v128_load(x + (((size_t)b * H + iy0 + i) * W + ix0 + j) * C + c) : zero;
#define WINO_STORE_V(i, j) wasm_v128_store(V + (size_t)(i * 6 + j) * VS + (size_t)t * C + c, v##i##j);
#define WINO_LOAD_M(i, j) const v128_t m##i##j = wasm_v128_load(M + (size_t)(i * 6 + j) * MS + (size_t)t * CO + o);
#define WINO_STORE_U(i, j) U[(size_t)(i * 6 + j) * panel_floats + (size_t)(o / NR) * C * NR + c * NR + o % NR] = u##i##j;
#define WINO_TAP(fy, fx) const float g##fy##fx = g[(size_t)(fy * 3 + fx) * C * CO];
#define WINO_TAP_ROW(fy) WINO_TAP(fy, 0) WINO_TAP(fy, 1) WINO_TAP(fy, 2)
#define WINO_STORE_Y(i, j) \
  if (oy + i < OH && ox + j < OW) wasm_v128_store(y + (((size_t)b * OH + oy + i) * OW + ox + j) * CO + o, epilogue ? BIAS_RELU(y##i##j, bv, relu) : y##i##j);
#define WINO_STORE_Y_ROW(i) WINO_STORE_Y(i, 0) WINO_STORE_Y(i, 1) WINO_STORE_Y(i, 2) WINO_STORE_Y(i, 3)

/* V (36 blocks of n × C, VS apart): tiles t0 … t0 + n − 1's 6×6 inputs, 4 channels at a time, transformed. */
static void winograd_inputs(int B, int H, int W, int C, const float* x, int tiles_y, int tiles_x, int padT, int padL,
                            int t0, int n, int VS, float* V) {
  const v128_t zero = wasm_f32x4_splat(0.f);
  for (int t = 0; t < n; t++) {
    const int q = t0 + t, tx = q % tiles_x, ty = (q / tiles_x) % tiles_y, b = q / (tiles_x * tiles_y);
    const int iy0 = 4 * ty - padT, ix0 = 4 * tx - padL;
    for (int c = 0; c < C; c += 4) {
      SIX_ROWS(WINO_LOAD)
      FOR_SIX(WINO_B_COL)
      FOR_SIX(WINO_B_ROW)
      SIX_ROWS(WINO_STORE_V)
    }
  }
}

/* y = conv2d(x, w) for winograd_applies(); w is [3, 3, C, CO]. */
static void conv_forward_winograd(int B, int H, int W, int C, const float* x, int OH, int OW, int CO, float* y,
                                  int padT, int padL, const float* w, float* scratch, const float* bias, int relu) {
  const int epilogue = bias != 0 || relu;
  const v128_t zero = wasm_f32x4_splat(0.f);
  const int T = winograd_tiles(C, CO), panel_floats = packed_floats(C, CO);
  const int VS = winograd_stride(T * C), MS = winograd_stride(T * CO);
  float* U = scratch;                       /* 36 packed C × CO operands */
  float* V = U + (size_t)36 * panel_floats; /* 36 blocks of T × C, VS apart */
  float* M = V + (size_t)36 * VS;           /* 36 blocks of T × CO, MS apart */
  float* tile = M + (size_t)36 * MS;
  /* U_ξ = (G g Gᵀ)_ξ for every (c, o), written straight into panel layout (column o of panel o / NR). */
  for (int i = 0; i < 36 * panel_floats; i++) U[i] = 0.f;
  for (int c = 0; c < C; c++) {
    for (int o = 0; o < CO; o++) {
      const float* g = w + (size_t)c * CO + o; /* tap (fy, fx) at g[(fy·3 + fx)·C·CO] */
      FOR_THREE(WINO_TAP_ROW)
      FOR_THREE(WINO_G_COL)
      FOR_SIX(WINO_G_ROW)
      SIX_ROWS(WINO_STORE_U)
    }
  }
  const int tiles_y = (OH + 3) / 4, tiles_x = (OW + 3) / 4, tiles = B * tiles_y * tiles_x;
  for (int t0 = 0; t0 < tiles; t0 += T) {
    const int n = tiles - t0 < T ? tiles - t0 : T;
    winograd_inputs(B, H, W, C, x, tiles_y, tiles_x, padT, padL, t0, n, VS, V);
    for (int k = 0; k < 36; k++)
      gemm_packed(n, CO, C, V + (size_t)k * VS, C, 0, U + (size_t)k * panel_floats, M + (size_t)k * MS, 0, 0, 0, tile);
    /* y_tile = Aᵀ M A, 4 output channels at a time. */
    for (int t = 0; t < n; t++) {
      const int q = t0 + t, tx = q % tiles_x, ty = (q / tiles_x) % tiles_y, b = q / (tiles_x * tiles_y);
      const int oy = 4 * ty, ox = 4 * tx;
      for (int o = 0; o < CO; o += 4) {
        const v128_t bv = bias ? wasm_v128_load(bias + o) : zero;
        SIX_ROWS(WINO_LOAD_M)
        FOR_SIX(WINO_A_COL)
        FOR_FOUR(WINO_A_ROW)
        FOR_FOUR(WINO_STORE_Y_ROW)
      }
    }
  }
}

/*
 * The filter gradient of the same product: y_tile = Aᵀ (U ⊙ V) A is linear in U, so ∂L/∂U_ξ (C × CO) = Σ_tiles
 * V_ξᵀ · D_ξ with D = A dy_tile Aᵀ (the output transform's adjoint, 4×4 → 6×6), and ∂L/∂g = Gᵀ (∂L/∂U) G. The 36
 * GEMMs run over the tiles (K = tiles in a chunk); D is written straight into panel layout.
 */
static int winograd_filter_grad_scratch_floats(int C, int CO) {
  const int T = winograd_tiles(C, CO);
  return 36 * C * CO + 36 * (winograd_stride(T * C) + winograd_stride(packed_floats(T, CO))) + 32;
}

/* Rows (columns) of A·y for y's four rows (columns) y0..y3. */
#define WINO_AT(y0, y1, y2, y3, z0, z1, z2, z3, z4, z5)                                                   \
  const v128_t z0 = y0, z5 = y3;                                                                        \
  const v128_t z1 = wasm_f32x4_add(wasm_f32x4_add(y0, y2), wasm_f32x4_add(y1, y3));                     \
  const v128_t z2 = wasm_f32x4_sub(wasm_f32x4_add(y0, y2), wasm_f32x4_add(y1, y3));                     \
  const v128_t z3 = wasm_f32x4_add(wasm_f32x4_add(y0, wasm_f32x4_mul(F4(4.f), y2)),                     \
                                   wasm_f32x4_add(wasm_f32x4_mul(F4(2.f), y1), wasm_f32x4_mul(F4(8.f), y3))); \
  const v128_t z4 = wasm_f32x4_sub(wasm_f32x4_add(y0, wasm_f32x4_mul(F4(4.f), y2)),                     \
                                   wasm_f32x4_add(wasm_f32x4_mul(F4(2.f), y1), wasm_f32x4_mul(F4(8.f), y3)));
#define WINO_AT_COL(j) WINO_AT(y0##j, y1##j, y2##j, y3##j, z0##j, z1##j, z2##j, z3##j, z4##j, z5##j)
#define WINO_AT_ROW(i) WINO_AT(z##i##0, z##i##1, z##i##2, z##i##3, d##i##0, d##i##1, d##i##2, d##i##3, d##i##4, d##i##5)
/* Gᵀ·u over six rows (columns) → three. */
#define WINO_GT(u0, u1, u2, u3, u4, u5, w0, w1, w2)                          \
  const float w0 = 0.25f * u0 - (u1 + u2) / 6.f + (u3 + u4) / 24.f;          \
  const float w1 = (u2 - u1) / 6.f + (u3 - u4) / 12.f;                       \
  const float w2 = (u3 + u4 - u1 - u2) / 6.f + u5;
#define WINO_GT_COL(j) WINO_GT(u0##j, u1##j, u2##j, u3##j, u4##j, u5##j, h0##j, h1##j, h2##j)
#define WINO_GT_ROW(i) WINO_GT(h##i##0, h##i##1, h##i##2, h##i##3, h##i##4, h##i##5, w##i##0, w##i##1, w##i##2)
#define WINO_DY(i, j) \
  const v128_t y##i##j = oy + i < OH && ox + j < OW ? wasm_v128_load(dy + (((size_t)b * OH + oy + i) * OW + ox + j) * CO + o) : zero;
#define WINO_DY_ROW(i) WINO_DY(i, 0) WINO_DY(i, 1) WINO_DY(i, 2) WINO_DY(i, 3)
#define WINO_STORE_D(i, j) wasm_v128_store(D + (size_t)(i * 6 + j) * DS + (size_t)(o / NR) * n * NR + t * NR + o % NR, d##i##j);
#define WINO_DU(i, j) const float u##i##j = dU[(size_t)(i * 6 + j) * C * CO + (size_t)c * CO + o];
#define WINO_STORE_DW(fy, fx) dw[((size_t)(fy * 3 + fx) * C + c) * CO + o] = w##fy##fx;
#define WINO_STORE_DW_ROW(fy) WINO_STORE_DW(fy, 0) WINO_STORE_DW(fy, 1) WINO_STORE_DW(fy, 2)

/* dw (3, 3, C, CO) from x and dy for winograd_applies(). */
static void conv_filter_grad_winograd(int B, int H, int W, int C, const float* x, int OH, int OW, int CO,
                                      const float* dy, int padT, int padL, float* dw, float* scratch) {
  const int T = winograd_tiles(C, CO), VS = winograd_stride(T * C), DS = winograd_stride(packed_floats(T, CO));
  float* dU = scratch;                 /* 36 × C × CO */
  float* V = dU + (size_t)36 * C * CO; /* 36 blocks of T × C, VS apart */
  float* D = V + (size_t)36 * VS;      /* 36 blocks of T × CO in panel layout, DS apart */
  float* tile = D + (size_t)36 * DS;
  for (int i = 0; i < 36 * C * CO; i++) dU[i] = 0.f;
  const int tiles_y = (OH + 3) / 4, tiles_x = (OW + 3) / 4, tiles = B * tiles_y * tiles_x;
  const v128_t zero = wasm_f32x4_splat(0.f);
  for (int t0 = 0; t0 < tiles; t0 += T) {
    const int n = tiles - t0 < T ? tiles - t0 : T;
    winograd_inputs(B, H, W, C, x, tiles_y, tiles_x, padT, padL, t0, n, VS, V);
    if (CO % NR != 0) for (int i = 0; i < 36 * DS; i++) D[i] = 0.f; /* the last panel's padding columns */
    for (int t = 0; t < n; t++) {
      const int q = t0 + t, tx = q % tiles_x, ty = (q / tiles_x) % tiles_y, b = q / (tiles_x * tiles_y);
      const int oy = 4 * ty, ox = 4 * tx;
      for (int o = 0; o < CO; o += 4) {
        FOR_FOUR(WINO_DY_ROW)
        FOR_FOUR(WINO_AT_COL)
        FOR_SIX(WINO_AT_ROW)
        SIX_ROWS(WINO_STORE_D)
      }
    }
    for (int k = 0; k < 36; k++)
      gemm_packed(C, CO, n, V + (size_t)k * VS, C, 1, D + (size_t)k * DS, dU + (size_t)k * C * CO, 0, 0, 1, tile);
  }
  for (int c = 0; c < C; c++) {
    for (int o = 0; o < CO; o++) {
      SIX_ROWS(WINO_DU)
      FOR_SIX(WINO_GT_COL)
      FOR_THREE(WINO_GT_ROW)
      FOR_THREE(WINO_STORE_DW_ROW)
    }
  }
}

EXPORT(gm_conv2d_forward_scratch_floats)
int gm_conv2d_forward_scratch_floats(int FH, int FW, int C, int CO) {
  int k = FH * FW * C, floats = packed_floats(k, CO) + chunk_rows(k) * k + 32;
  if (winograd_applies(FH, FW, 1, 1, C, CO) && winograd_scratch_floats(C, CO) > floats) floats = winograd_scratch_floats(C, CO);
  return floats;
}

/*
 * y = conv2d(x, w) [+ bias (CO floats, or 0)] [relu]: FusedConv2D's bias and ReLU applied as each output is stored
 * (Winograd, few input channels, GEMM) or in one pass over the few output channels (direct), instead of tfjs's
 * separate Add and Relu passes over the whole output.
 */
EXPORT(gm_conv2d_forward_fused)
void gm_conv2d_forward_fused(int B, int H, int W, int C, const float* x, int OH, int OW, int CO, float* y, int FH,
                             int FW, int sh, int sw, int padT, int padL, const float* w, float* scratch,
                             const float* bias, int relu) {
  if (winograd_applies(FH, FW, sh, sw, C, CO)) {
    conv_forward_winograd(B, H, W, C, x, OH, OW, CO, y, padT, padL, w, scratch, bias, relu);
    return;
  }
  const int k = FH * FW * C, rows_max = chunk_rows(k);
  float* packed = scratch;
  float* cols = packed + packed_floats(k, CO);
  float* tile = cols + (size_t)rows_max * k;
  if (CO < NR) {
    /* wt = wᵀ (CO × k) and C zeros, both in the panels' room (k·NR floats ≥ k·CO + C). */
    float* zeros = packed + (size_t)CO * k;
    for (int o = 0; o < CO; o++)
      for (int i = 0; i < k; i++) packed[(size_t)o * k + i] = w[(size_t)i * CO + o];
    for (int c = 0; c < C; c++) zeros[c] = 0.f;
    conv_forward_direct(B, H, W, C, x, OH, OW, CO, y, FH, FW, sh, sw, padT, padL, packed, zeros);
    if (bias != 0 || relu) {
      const int outputs = B * OH * OW;
      for (int p = 0; p < outputs; p++) {
        float* row = y + (size_t)p * CO;
        for (int o = 0; o < CO; o++) {
          const float v = bias ? row[o] + bias[o] : row[o];
          row[o] = relu && v < 0.f ? 0.f : v;
        }
      }
    }
    return;
  }
  if (C <= 4 && CO % 4 == 0) {
    conv_forward_few_inputs(B, H, W, C, x, OH, OW, CO, y, FH, FW, sh, sw, padT, padL, w, bias, relu);
    return;
  }
  pack_b(w, k, CO, CO, 1, packed); /* w is [FH·FW·C, CO] row-major */
  const int positions = B * OH * OW;
  int qb = 0, qy = 0, qx = 0;
  for (int p0 = 0; p0 < positions; p0 += rows_max) {
    int rows = positions - p0 < rows_max ? positions - p0 : rows_max;
    for (int r = 0; r < rows; r++) {
      for (int fy = 0; fy < FH; fy++)
        for (int fx = 0; fx < FW; fx++)
          copy_or_zero(cols + (size_t)r * k + (fy * FW + fx) * C, tap_source(x, H, W, C, qb, qy, qx, fy, fx, sh, sw, padT, padL), C);
      NEXT_POSITION(qb, qy, qx)
    }
    gemm_packed(rows, CO, k, cols, k, 0, packed, y + (size_t)p0 * CO, bias, relu, 0, tile);
  }
}

EXPORT(gm_conv2d_forward)
void gm_conv2d_forward(int B, int H, int W, int C, const float* x, int OH, int OW, int CO, float* y, int FH, int FW,
                       int sh, int sw, int padT, int padL, const float* w, float* scratch) {
  gm_conv2d_forward_fused(B, H, W, C, x, OH, OW, CO, y, FH, FW, sh, sw, padT, padL, w, scratch, 0, 0);
}

EXPORT(gm_conv2d_input_grad_scratch_floats)
int gm_conv2d_input_grad_scratch_floats(int FH, int FW, int C, int CO) {
  int k = FH * FW * CO, rows = chunk_rows(k), floats = packed_floats(k, C) + rows * k + rows * C + 32;
  /* Winograd: the mirrored filter (9·C·CO floats), then the forward's scratch with the channel roles swapped. */
  if (winograd_applies(FH, FW, 1, 1, CO, C) && 9 * C * CO + winograd_scratch_floats(CO, C) > floats) floats = 9 * C * CO + winograd_scratch_floats(CO, C);
  return floats;
}

/*
 * With strides, input pixel (iy, ix) is read only by the taps fy ≡ iy + padT (mod sh), fx ≡ ix + padL (mod sw): a
 * quarter of them at stride 2. Pixels are therefore coded by class (ry, rx) = ((iy + padT) mod sh, (ix + padL) mod sw),
 * each class a GEMM over its own taps only (K = taps of the class · CO), its rows gathered and its results scattered
 * back; stride 1 is the single class of all taps with rows in place. Dropping taps that are always zero removes only
 * exact zero products from each sum.
 */
EXPORT(gm_conv2d_input_grad)
void gm_conv2d_input_grad(int B, int H, int W, int C, float* dx, int OH, int OW, int CO, const float* dy, int FH,
                          int FW, int sh, int sw, int padT, int padL, const float* w, float* scratch) {
  const int k_all = FH * FW * CO, rows_max = chunk_rows(k_all);
  float* packed = scratch;
  float* cols = packed + packed_floats(k_all, C);
  float* out = cols + (size_t)rows_max * k_all;
  float* tile = out + (size_t)rows_max * C;
  if (winograd_applies(FH, FW, sh, sw, CO, C)) {
    /* Stride 1: dx is the forward convolution of dy with the filter mirrored in space and its channel axes swapped,
     * padded 2 − padT above and 2 − padL left. */
    float* mirrored = scratch;
    for (int t = 0; t < 9; t++)
      for (int c = 0; c < C; c++)
        for (int o = 0; o < CO; o++) mirrored[((size_t)(8 - t) * CO + o) * C + c] = w[((size_t)t * C + c) * CO + o];
    conv_forward_winograd(B, OH, OW, CO, dy, H, W, C, dx, 2 - padT, 2 - padL, mirrored, scratch + (size_t)9 * C * CO, 0, 0);
    return;
  }
  if (sh == 1 && sw == 1 && C < NR) {
    /* Stride 1: dx is the forward convolution of dy (CO channels) with the filter mirrored in space and its channel
     * axes swapped, padded FH − 1 − padT above and FW − 1 − padL left; wt (C × FH·FW·CO) and CO zeros. */
    float* zeros = packed + (size_t)C * k_all;
    for (int t = 0; t < FH * FW; t++) {
      const int mirrored = (FH - 1 - t / FW) * FW + (FW - 1 - t % FW);
      for (int c = 0; c < C; c++)
        for (int o = 0; o < CO; o++) packed[(size_t)c * k_all + mirrored * CO + o] = w[((size_t)t * C + c) * CO + o];
    }
    for (int o = 0; o < CO; o++) zeros[o] = 0.f;
    conv_forward_direct(B, OH, OW, CO, dy, H, W, C, dx, FH, FW, 1, 1, FH - 1 - padT, FW - 1 - padL, packed, zeros);
    return;
  }
  if (sh == 1 && sw == 1 && CO <= 4 && C % 4 == 0) {
    /* Stride 1 with few output channels: the forward convolution of dy (CO ≤ 4 channels) with the filter mirrored
     * in space and its channel axes swapped ([FH, FW, CO, C], in the panels' room: FH·FW·CO·NR ≥ its size). */
    for (int t = 0; t < FH * FW; t++) {
      const int mirrored = (FH - 1 - t / FW) * FW + (FW - 1 - t % FW);
      for (int c = 0; c < C; c++)
        for (int o = 0; o < CO; o++) packed[((size_t)mirrored * CO + o) * C + c] = w[((size_t)t * C + c) * CO + o];
    }
    conv_forward_few_inputs(B, OH, OW, CO, dy, H, W, C, dx, FH, FW, 1, 1, FH - 1 - padT, FW - 1 - padL, packed, 0, 0);
    return;
  }
  const int in_place = sh == 1 && sw == 1, narrow = C < NR;
  for (int ry = 0; ry < sh; ry++) {
    for (int rx = 0; rx < sw; rx++) {
      /* The class's pixels: iy = iy0, iy0 + sh, … and ix = ix0, ix0 + sw, … */
      const int iy0 = ((ry - padT) % sh + sh) % sh, ix0 = ((rx - padL) % sw + sw) % sw;
      const int ny_count = iy0 < H ? (H - iy0 + sh - 1) / sh : 0, nx_count = ix0 < W ? (W - ix0 + sw - 1) / sw : 0;
      const int pixels = B * ny_count * nx_count;
      if (pixels == 0) continue;
      const int taps = (ry < FH ? (FH - ry + sh - 1) / sh : 0) * (rx < FW ? (FW - rx + sw - 1) / sw : 0);
      const int k = taps * CO;
      if (taps == 0) { /* no tap ever reads these pixels (stride > filter) */
        for (int q = 0; q < pixels; q++) {
          int jx = q % nx_count, jy = (q / nx_count) % ny_count, b = q / (nx_count * ny_count);
          float* d = dx + (((size_t)b * H + iy0 + jy * sh) * W + ix0 + jx * sw) * C;
          for (int c = 0; c < C; c++) d[c] = 0.f;
        }
        continue;
      }
      /* Row (j, o) of the K×C operand holds w[t_j][c][o] over c, t_j the class's j-th tap: packed into panels, or
       * transposed (C×K, element (c, j·CO + o)) for the narrow kernel when C < NR. */
      int j = 0;
      for (int fy = ry; fy < FH; fy += sh) {
        for (int fx = rx; fx < FW; fx += sw) {
          const float* wt = w + (size_t)(fy * FW + fx) * C * CO;
          if (narrow) {
            for (int c = 0; c < C; c++)
              for (int o = 0; o < CO; o++) packed[(size_t)c * k + j * CO + o] = wt[c * CO + o];
          } else {
            pack_b_rows(wt, CO, C, 1, CO, packed, k, j * CO);
          }
          j++;
        }
      }
      /* The output (oy, ox) whose tap (fy, fx) reads pixel (iy, ix) has oy·sh = iy + padT − fy: for the class's
       * pixel (jy, jx) and its taps fy = ry, ry + sh, … that is oy = oy_base + jy, oy_base + jy − 1, … (exact). */
      const int oy_base = (iy0 + padT - ry) / sh, ox_base = (ix0 + padL - rx) / sw;
      int qb = 0, qy = 0, qx = 0; /* (b, jy, jx) of the next pixel of the class */
      for (int q0 = 0; q0 < pixels; q0 += rows_max) {
        int rows = pixels - q0 < rows_max ? pixels - q0 : rows_max;
        const int cb = qb, cy = qy, cx = qx;
        for (int r = 0; r < rows; r++) {
          int j = 0;
          for (int fy = ry, oy = oy_base + qy; fy < FH; fy += sh, oy--) {
            for (int fx = rx, ox = ox_base + qx; fx < FW; fx += sw, ox--) {
              const float* src = oy >= 0 && oy < OH && ox >= 0 && ox < OW ? dy + (((size_t)qb * OH + oy) * OW + ox) * CO : 0;
              copy_or_zero(cols + (size_t)r * k + j * CO, src, CO);
              j++;
            }
          }
          NEXT_INDEX(qb, qy, qx, ny_count, nx_count)
        }
        float* dst = in_place ? dx + (size_t)q0 * C : out;
        if (narrow) gemm_narrow(rows, C, k, cols, k, packed, dst, C);
        else gemm_packed(rows, C, k, cols, k, 0, packed, dst, 0, 0, 0, tile);
        if (!in_place) {
          int pb = cb, py = cy, px = cx;
          for (int r = 0; r < rows; r++) {
            float* d = dx + (((size_t)pb * H + iy0 + py * sh) * W + ix0 + px * sw) * C;
            const float* o = out + (size_t)r * C;
            for (int c = 0; c < C; c++) d[c] = o[c];
            NEXT_INDEX(pb, py, px, ny_count, nx_count)
          }
        }
      }
    }
  }
}

/* ⌈a/b⌉ and ⌊a/b⌋ for b > 0 and a of either sign (C's division truncates toward zero). */
static inline int ceil_div(int a, int b) { return a >= 0 ? (a + b - 1) / b : -(-a / b); }
static inline int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
/* The outputs o in [first, end) whose tap t reads input o·s + t − pad inside [0, in), clipped to [0, out). */
static inline int first_inside(int pad, int t, int s) { const int o = ceil_div(pad - t, s); return o > 0 ? o : 0; }
static inline int end_inside(int in, int pad, int t, int s, int out) { const int o = floor_div(in - 1 + pad - t, s) + 1; return o < out ? o : out; }

/*
 * dW (FH × FW × C × CO, zeroed by the caller) += Σ_p x[tap source of p] · dy[p] for few input channels (C < 4) and CO a
 * multiple of 4: an image's first layer, Real NVP's couplings on 1–2 channels. Gathering rows of FH·FW·C floats per
 * position for a GEMM that shallow cost more than the product (1 → 32 at 28×28: ~11 GFLOP/s). Here, image by image
 * (its dy stays in L2), each (tap, channel, 32 output channels) sums x · dy over the positions whose tap lies inside
 * the input in 8 vector accumulators: one broadcast input value against 8 vectors of dy's row per position.
 */
#define FEW_GRAD_FMA(j) a##j = wasm_f32x4_add(a##j, wasm_f32x4_mul(v, wasm_v128_load(d + 4 * j)));
#define FEW_GRAD_STORE(j) wasm_v128_store(o + 4 * j, wasm_f32x4_add(wasm_v128_load(o + 4 * j), a##j));
/* Runs `body` with v = the input value tap (fy, fx) of channel c reads and d = dy's row at output channel o0, for
 * every output position of image b whose tap lies inside the input. */
#define FEW_GRAD_POSITIONS(body)                                                             \
  for (int oy = oy_lo; oy < oy_hi; oy++) {                                                   \
    const float* xr = xb + ((ptrdiff_t)(oy * sh + fy - padT) * W + (fx - padL)) * C + c;     \
    const float* dr = dyb + (size_t)oy * OW * CO + o0;                                       \
    for (int ox = ox_lo; ox < ox_hi; ox++) {                                                 \
      const v128_t v = wasm_f32x4_splat(xr[(ptrdiff_t)ox * sw * C]);                         \
      const float* d = dr + (size_t)ox * CO;                                                 \
      body                                                                                   \
    }                                                                                        \
  }
static void conv_filter_grad_few_inputs(int B, int H, int W, int C, const float* x, int OH, int OW, int CO,
                                        const float* dy, int FH, int FW, int sh, int sw, int padT, int padL, float* dw) {
  for (int b = 0; b < B; b++) {
    const float* xb = x + (size_t)b * H * W * C;
    const float* dyb = dy + (size_t)b * OH * OW * CO;
    for (int fy = 0; fy < FH; fy++) {
      const int oy_lo = first_inside(padT, fy, sh), oy_hi = end_inside(H, padT, fy, sh, OH);
      for (int fx = 0; fx < FW; fx++) {
        const int ox_lo = first_inside(padL, fx, sw), ox_hi = end_inside(W, padL, fx, sw, OW);
        if (oy_lo >= oy_hi || ox_lo >= ox_hi) continue;
        for (int c = 0; c < C; c++) {
          float* dwr = dw + ((size_t)(fy * FW + fx) * C + c) * CO;
          int o0 = 0;
          for (; o0 + 32 <= CO; o0 += 32) {
            v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            FEW_GRAD_POSITIONS(FEW_GRAD_FMA(0) FEW_GRAD_FMA(1) FEW_GRAD_FMA(2) FEW_GRAD_FMA(3)
                               FEW_GRAD_FMA(4) FEW_GRAD_FMA(5) FEW_GRAD_FMA(6) FEW_GRAD_FMA(7))
            float* o = dwr + o0;
            FEW_GRAD_STORE(0) FEW_GRAD_STORE(1) FEW_GRAD_STORE(2) FEW_GRAD_STORE(3)
            FEW_GRAD_STORE(4) FEW_GRAD_STORE(5) FEW_GRAD_STORE(6) FEW_GRAD_STORE(7)
          }
          for (; o0 < CO; o0 += 4) {
            v128_t a0 = wasm_f32x4_splat(0.f);
            FEW_GRAD_POSITIONS(FEW_GRAD_FMA(0))
            float* o = dwr + o0;
            FEW_GRAD_STORE(0)
          }
        }
      }
    }
  }
}

/*
 * The filter grad runs one GEMM per tap, dW_tap (C×CO) += X_tapᵀ·dy, which wastes the 4×8 tile when CO < NR (its
 * columns) or C < 4 (its rows): a 32→2 convolution's filter grad ran at ~4 GFLOP/s. CO < NR reads the input in place
 * (conv_filter_grad_direct, into dWᵀ in scratch); C < 4 reads the input in place too (conv_filter_grad_few_inputs)
 * when CO is a multiple of 4, else takes all taps at once over gathered rows of k = FH·FW·C, dW (k×CO) += colsᵀ·dy.
 */
EXPORT(gm_conv2d_filter_grad_scratch_floats)
int gm_conv2d_filter_grad_scratch_floats(int FH, int FW, int C, int CO) {
  const int k = FH * FW * C;
  if (winograd_applies(FH, FW, 1, 1, C, CO)) {
    /* Enough for Winograd at stride 1 and for the per-tap GEMMs at other strides. */
    const int rows = chunk_rows(C > CO ? C : CO), per_tap = rows * C + packed_floats(rows, CO) + 32;
    return winograd_filter_grad_scratch_floats(C, CO) > per_tap ? winograd_filter_grad_scratch_floats(C, CO) : per_tap;
  }
  if (CO < NR) return CO * k + C;
  if (C < 4) return chunk_rows(k) * k + packed_floats(chunk_rows(k), CO) + 32;
  const int rows = chunk_rows(C > CO ? C : CO);
  return rows * C + packed_floats(rows, CO) + 32;
}

EXPORT(gm_conv2d_filter_grad)
void gm_conv2d_filter_grad(int B, int H, int W, int C, const float* x, int OH, int OW, int CO, const float* dy,
                           int FH, int FW, int sh, int sw, int padT, int padL, float* dw, float* scratch) {
  const int positions = B * OH * OW, taps = FH * FW, k = taps * C;
  if (winograd_applies(FH, FW, sh, sw, C, CO)) {
    conv_filter_grad_winograd(B, H, W, C, x, OH, OW, CO, dy, padT, padL, dw, scratch);
    return;
  }
  if (CO < NR) {
    float* acc = scratch; /* dWᵀ, CO × k */
    float* zeros = acc + (size_t)CO * k;
    for (int i = 0; i < CO * k + C; i++) scratch[i] = 0.f;
    conv_filter_grad_direct(B, H, W, C, x, OH, OW, CO, dy, FH, FW, sh, sw, padT, padL, acc, zeros);
    for (int o = 0; o < CO; o++)
      for (int i = 0; i < k; i++) dw[(size_t)i * CO + o] = acc[(size_t)o * k + i];
    return;
  }
  if (C < 4 && (CO & 3) == 0) {
    for (int i = 0; i < k * CO; i++) dw[i] = 0.f;
    conv_filter_grad_few_inputs(B, H, W, C, x, OH, OW, CO, dy, FH, FW, sh, sw, padT, padL, dw);
    return;
  }
  if (C < 4) {
    const int rows_max = chunk_rows(k);
    float* cols = scratch;
    float* packed = cols + (size_t)rows_max * k;
    float* tile = packed + packed_floats(rows_max, CO);
    for (int i = 0; i < k * CO; i++) dw[i] = 0.f;
    int qb = 0, qy = 0, qx = 0;
    for (int p0 = 0; p0 < positions; p0 += rows_max) {
      const int rows = positions - p0 < rows_max ? positions - p0 : rows_max;
      for (int r = 0; r < rows; r++) {
        for (int fy = 0; fy < FH; fy++)
          for (int fx = 0; fx < FW; fx++)
            copy_or_zero(cols + (size_t)r * k + (fy * FW + fx) * C, tap_source(x, H, W, C, qb, qy, qx, fy, fx, sh, sw, padT, padL), C);
        NEXT_POSITION(qb, qy, qx)
      }
      pack_b(dy + (size_t)p0 * CO, rows, CO, CO, 1, packed);
      gemm_packed(k, CO, rows, cols, k, 1, packed, dw, 0, 0, 1, tile);
    }
    return;
  }
  const int rows_max = chunk_rows(C > CO ? C : CO);
  float* cols = scratch;
  float* packed = cols + (size_t)rows_max * C;
  float* tile = packed + packed_floats(rows_max, CO);
  for (int i = 0; i < taps * C * CO; i++) dw[i] = 0.f;
  int qb = 0, qy = 0, qx = 0; /* after the last tap: the next chunk's first position */
  for (int p0 = 0; p0 < positions; p0 += rows_max) {
    int rows = positions - p0 < rows_max ? positions - p0 : rows_max;
    pack_b(dy + (size_t)p0 * CO, rows, CO, CO, 1, packed);
    const int cb = qb, cy = qy, cx = qx; /* the chunk's first position */
    for (int t = 0, fy = 0, fx = 0; t < taps; t++, fx = fx + 1 == FW ? 0 : fx + 1, fy += fx == 0) {
      qb = cb, qy = cy, qx = cx;
      for (int r = 0; r < rows; r++) {
        copy_or_zero(cols + (size_t)r * C, tap_source(x, H, W, C, qb, qy, qx, fy, fx, sh, sw, padT, padL), C);
        NEXT_POSITION(qb, qy, qx)
      }
      /* dW_tap (C×CO) += X_tapᵀ·dy: the gathered rows read column-major. */
      gemm_packed(C, CO, rows, cols, C, 1, packed, dw + (size_t)t * C * CO, 0, 0, 1, tile);
    }
  }
}

/*
 * rows × run 4-byte elements: dst[r·dst_stride + i] = src[r·src_stride + i] — Concat's parts, and Slice / SplitV
 * along one axis. tfjs copies each row with a subarray + set (~100 ns whatever its length), and even a plain
 * JavaScript loop spends ~6–20 ns a row: a Real NVP coupling splits and joins 50,000–100,000 rows of 1–2 channels.
 * Float loads and stores move every bit unchanged, so int32 tensors copy through here too.
 */
EXPORT(gm_copy_rows)
void gm_copy_rows(int rows, int run, const float* src, int src_stride, float* dst, int dst_stride) {
  if (run == 1) {
    for (int r = 0; r < rows; r++) dst[(size_t)r * dst_stride] = src[(size_t)r * src_stride];
    return;
  }
  if (run == 2) {
    for (int r = 0; r < rows; r++) {
      const float* s = src + (size_t)r * src_stride;
      float* d = dst + (size_t)r * dst_stride;
      d[0] = s[0], d[1] = s[1];
    }
    return;
  }
  const int run4 = run & ~3;
  for (int r = 0; r < rows; r++) {
    const float* s = src + (size_t)r * src_stride;
    float* d = dst + (size_t)r * dst_stride;
    int i = 0;
    for (; i < run4; i += 4) wasm_v128_store(d + i, wasm_v128_load(s + i));
    for (; i < run; i++) d[i] = s[i];
  }
}

/*
 * out[j] = Σ_i x[i·cols + j] over i = 0 .. rows−1, in ascending i (the order tfjs's own Sum adds in after moving the
 * reduced axes last): a reduction over leading axes, e.g. a bias gradient, without tfjs's transpose.
 */
EXPORT(gm_sum_leading)
void gm_sum_leading(int rows, int cols, const float* x, float* out) {
  int j = 0;
  for (; j + 16 <= cols; j += 16) {
    v128_t s0 = wasm_f32x4_splat(0.f), s1 = s0, s2 = s0, s3 = s0;
    const float* p = x + j;
    for (int i = 0; i < rows; i++, p += cols) {
      s0 = wasm_f32x4_add(s0, wasm_v128_load(p));
      s1 = wasm_f32x4_add(s1, wasm_v128_load(p + 4));
      s2 = wasm_f32x4_add(s2, wasm_v128_load(p + 8));
      s3 = wasm_f32x4_add(s3, wasm_v128_load(p + 12));
    }
    wasm_v128_store(out + j, s0);
    wasm_v128_store(out + j + 4, s1);
    wasm_v128_store(out + j + 8, s2);
    wasm_v128_store(out + j + 12, s3);
  }
  for (; j + 4 <= cols; j += 4) {
    v128_t s = wasm_f32x4_splat(0.f);
    for (int i = 0; i < rows; i++) s = wasm_f32x4_add(s, wasm_v128_load(x + (size_t)i * cols + j));
    wasm_v128_store(out + j, s);
  }
  for (; j < cols; j++) {
    float s = 0.f;
    for (int i = 0; i < rows; i++) s += x[(size_t)i * cols + j];
    out[j] = s;
  }
}

/*
 * e^x for any x, lane-wise (Cephes expf: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a degree-6 polynomial; ~1 ulp), over x
 * clamped to [−104, 88.75] (below, e^x rounds to 0; above, to ∞). 2^n is applied as 2^⌊n/2⌋ · 2^(n − ⌊n/2⌋) so that
 * n = 128 (the top of float's range) and subnormal results (n down to −150) need no special case. NaN stays NaN.
 */
static inline v128_t exp_any(v128_t x) {
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, wasm_f32x4_splat(-104.f)), wasm_f32x4_splat(88.75f));
  const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, r), r), r), wasm_f32x4_splat(1.f));
  const v128_t n1 = wasm_f32x4_floor(wasm_f32x4_mul(n, wasm_f32x4_splat(0.5f))), n2 = wasm_f32x4_sub(n, n1);
  /* 2^k from k's bits after adding 1.5·2^23 (k + 127 lands in the low mantissa bits; k in [−75, 64]). */
  const v128_t magic = wasm_f32x4_splat(12582912.f + 127.f), base = wasm_f32x4_splat(12582912.f);
  const v128_t s1 = wasm_i32x4_shl(wasm_i32x4_sub(wasm_f32x4_add(n1, magic), base), 23);
  const v128_t s2 = wasm_i32x4_shl(wasm_i32x4_sub(wasm_f32x4_add(n2, magic), base), 23);
  return wasm_f32x4_mul(wasm_f32x4_mul(p, s1), s2);
}

/* log(u) for u in [1, 2], lane-wise (Cephes logf: u = m·2^k with m in [√½, √2), log m by a degree-9 polynomial). */
static inline v128_t log_1_to_2(v128_t u) {
  const v128_t big = wasm_f32x4_gt(u, wasm_f32x4_splat(1.41421356237f));
  v128_t m = wasm_v128_bitselect(wasm_f32x4_mul(u, wasm_f32x4_splat(0.5f)), u, big);
  v128_t k = wasm_v128_and(big, wasm_f32x4_splat(1.f));
  v128_t f = wasm_f32x4_sub(m, wasm_f32x4_splat(1.f));
  v128_t z = wasm_f32x4_mul(f, f);
  v128_t p = wasm_f32x4_splat(7.0376836292e-2f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(-1.1514610310e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(1.1676998740e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(-1.2420140846e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(1.4249322787e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(-1.6668057665e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(2.0000714765e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(-2.4999993993e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(3.3333331174e-1f));
  v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(p, f), z);
  y = wasm_f32x4_add(y, wasm_f32x4_mul(k, wasm_f32x4_splat(-2.12194440e-4f)));
  y = wasm_f32x4_sub(y, wasm_f32x4_mul(z, wasm_f32x4_splat(0.5f)));
  return wasm_f32x4_add(wasm_f32x4_add(f, y), wasm_f32x4_mul(k, wasm_f32x4_splat(0.693359375f)));
}

/* softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^−|x|), with log1p(t) = log(1 + t)·t / ((1 + t) − 1), which stays
 * accurate when 1 + t rounds (Goldberg's trick). */
static inline v128_t softplus4(v128_t x) {
  const v128_t one = wasm_f32x4_splat(1.f);
  v128_t t = exp_any(wasm_f32x4_neg(wasm_f32x4_abs(x)));
  v128_t u = wasm_f32x4_add(one, t);
  v128_t d = wasm_f32x4_sub(u, one);
  v128_t ratio = wasm_f32x4_div(t, wasm_v128_bitselect(one, d, wasm_f32x4_eq(d, wasm_f32x4_splat(0.f))));
  v128_t l = wasm_v128_bitselect(t, wasm_f32x4_mul(log_1_to_2(u), ratio), wasm_f32x4_eq(d, wasm_f32x4_splat(0.f)));
  return wasm_f32x4_add(wasm_f32x4_pmax(x, wasm_f32x4_splat(0.f)), l);
}

/*
 * tanh(x), lane-wise (Cephes tanhf): x + x³·P(x²) for |x| < 0.625, else 1 − 2 / (e^(2|x|) + 1) (1 once e^(2|x|) is
 * ∞); the sign of x put back (tanh(−0) = −0). NaN stays NaN.
 */
static inline v128_t tanh4(v128_t x) {
  const v128_t a = wasm_f32x4_abs(x), sign = wasm_v128_and(x, wasm_f32x4_splat(-0.f));
  const v128_t z = wasm_f32x4_mul(a, a);
  v128_t p = wasm_f32x4_splat(-5.70498872745e-3f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, z), wasm_f32x4_splat(2.06390887954e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, z), wasm_f32x4_splat(-5.37397155531e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, z), wasm_f32x4_splat(1.33314422036e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, z), wasm_f32x4_splat(-3.33332819422e-1f));
  const v128_t small = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, z), a), a);
  const v128_t one = wasm_f32x4_splat(1.f);
  const v128_t large = wasm_f32x4_sub(one, wasm_f32x4_div(wasm_f32x4_splat(2.f), wasm_f32x4_add(exp_any(wasm_f32x4_add(a, a)), one)));
  return wasm_v128_or(wasm_v128_bitselect(small, large, wasm_f32x4_lt(a, wasm_f32x4_splat(0.625f))), sign);
}

/* y = f(x) for n floats, four independent vectors per iteration (each f is one long dependency chain). */
#define UNARY_KERNEL(name, f)                                                                               \
  EXPORT(name)                                                                                              \
  void name(int n, const float* x, float* y) {                                                              \
    int i = 0;                                                                                              \
    for (; i + 16 <= n; i += 16) {                                                                          \
      const v128_t a = f(wasm_v128_load(x + i)), b = f(wasm_v128_load(x + i + 4));                          \
      const v128_t c = f(wasm_v128_load(x + i + 8)), d = f(wasm_v128_load(x + i + 12));                     \
      wasm_v128_store(y + i, a), wasm_v128_store(y + i + 4, b), wasm_v128_store(y + i + 8, c), wasm_v128_store(y + i + 12, d); \
    }                                                                                                       \
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, f(wasm_v128_load(x + i)));                           \
    if (i < n) store4(y + i, f(load_row4(x + i, n - i)), n - i);                                             \
  }
UNARY_KERNEL(gm_exp, exp_any)
UNARY_KERNEL(gm_tanh, tanh4)
UNARY_KERNEL(gm_softplus, softplus4)

/*
 * ReLU's gradient in one pass: dx = dy where x > 0, 0 where x ≤ 0, NaN where x is NaN (PyTorch's threshold_backward;
 * tfjs's dy · step(x) is two kernels and a cast, and gives NaN for an infinite dy where x ≤ 0).
 */
EXPORT(gm_relu_grad)
void gm_relu_grad(int n, const float* dy, const float* x, float* dx) {
  const v128_t zero = wasm_f32x4_splat(0.f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t xv = wasm_v128_load(x + i);
    const v128_t keep = wasm_f32x4_gt(xv, zero), nan = wasm_f32x4_ne(xv, xv);
    wasm_v128_store(dx + i, wasm_v128_or(wasm_v128_and(wasm_v128_load(dy + i), keep), wasm_v128_and(xv, nan)));
  }
  for (; i < n; i++) dx[i] = x[i] > 0.f ? dy[i] : x[i] != x[i] ? x[i] : 0.f;
}

/*
 * One Adam step for n parameters, with the same float32 operations in the same order as tf.train.adam (tfjs-core
 * 4.22 AdamOptimizer.applyGradients), so the result is bit-identical to it:
 *   m' = m·β1 + g·(1−β1);  v' = v·β2 + g²·(1−β2)
 *   p' = (m'/(1−β1ᵗ)) / (sqrt(v'/(1−β2ᵗ)) + ε) · (−lr) + p
 * Outputs may alias inputs.
 */
EXPORT(gm_adam)
void gm_adam(int n, const float* p, const float* m, const float* v, const float* g, float* p_out, float* m_out,
             float* v_out, float beta1, float one_minus_beta1, float beta2, float one_minus_beta2,
             float one_minus_acc_beta1, float one_minus_acc_beta2, float neg_lr, float epsilon) {
  const v128_t b1 = wasm_f32x4_splat(beta1), omb1 = wasm_f32x4_splat(one_minus_beta1);
  const v128_t b2 = wasm_f32x4_splat(beta2), omb2 = wasm_f32x4_splat(one_minus_beta2);
  const v128_t oma1 = wasm_f32x4_splat(one_minus_acc_beta1), oma2 = wasm_f32x4_splat(one_minus_acc_beta2);
  const v128_t nlr = wasm_f32x4_splat(neg_lr), eps = wasm_f32x4_splat(epsilon);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t gv = wasm_v128_load(g + i);
    v128_t mv = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), b1), wasm_f32x4_mul(gv, omb1));
    v128_t vv = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), b2), wasm_f32x4_mul(wasm_f32x4_mul(gv, gv), omb2));
    v128_t step = wasm_f32x4_div(wasm_f32x4_div(mv, oma1), wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_div(vv, oma2)), eps));
    v128_t pv = wasm_f32x4_add(wasm_f32x4_mul(step, nlr), wasm_v128_load(p + i));
    wasm_v128_store(m_out + i, mv);
    wasm_v128_store(v_out + i, vv);
    wasm_v128_store(p_out + i, pv);
  }
  for (; i < n; i++) {
    float gi = g[i];
    float mi = m[i] * beta1 + gi * one_minus_beta1;
    float vi = v[i] * beta2 + (gi * gi) * one_minus_beta2;
    float step = (mi / one_minus_acc_beta1) / (__builtin_sqrtf(vi / one_minus_acc_beta2) + epsilon);
    m_out[i] = mi;
    v_out[i] = vi;
    p_out[i] = step * neg_lr + p[i];
  }
}

/*
 * The fused dense layer's activations, by code (src/wasm-dense.ts holds the same table): 0 linear, 1 relu, 2 elu,
 * 3 tanh, 4 sigmoid, 5 softplus.
 */
static inline v128_t activate4(v128_t x, int act) {
  const v128_t zero = wasm_f32x4_splat(0.f), one = wasm_f32x4_splat(1.f);
  switch (act) {
    case 1: /* max(x, 0), NaN kept */
      return wasm_v128_bitselect(zero, x, wasm_f32x4_lt(x, zero));
    case 2: /* x > 0 ? x : e^x − 1 */
      return wasm_v128_bitselect(x, wasm_f32x4_sub(exp_any(wasm_f32x4_pmin(x, zero)), one), wasm_f32x4_gt(x, zero));
    case 3:
      return tanh4(x);
    case 4: /* 1 / (1 + e^−x) */
      return wasm_f32x4_div(one, wasm_f32x4_add(one, exp_any(wasm_f32x4_neg(x))));
    case 5:
      return softplus4(x);
    default:
      return x;
  }
}

/* y[rows×cols] = act(x + bias) (bias: cols floats or 0; y may be x). */
EXPORT(gm_bias_activation)
void gm_bias_activation(int rows, int cols, const float* x, const float* bias, int act, float* y) {
  for (int i = 0; i < rows; i++) {
    const float* xr = x + (size_t)i * cols;
    float* yr = y + (size_t)i * cols;
    int j = 0;
    for (; j + 4 <= cols; j += 4) {
      v128_t v = wasm_v128_load(xr + j);
      if (bias) v = wasm_f32x4_add(v, wasm_v128_load(bias + j));
      wasm_v128_store(yr + j, activate4(v, act));
    }
    if (j < cols) {
      v128_t v = load_row4(xr + j, cols - j);
      if (bias) v = wasm_f32x4_add(v, load_row4(bias + j, cols - j));
      store4(yr + j, activate4(v, act), cols - j);
    }
  }
}

/*
 * dx = dy · act′ expressed through the activation's output y (n floats; dx may be dy): relu y > 0; elu 1 where y > 0,
 * else y + 1; tanh 1 − y²; sigmoid y·(1 − y); softplus σ(x) = 1 − e^−y, as −expm1(−y) ≈ y·(1 − y/2) below 2⁻¹² so that
 * it keeps its digits when y is tiny.
 */
EXPORT(gm_activation_grad)
void gm_activation_grad(int n, const float* dy, const float* y, int act, float* dx) {
  const v128_t zero = wasm_f32x4_splat(0.f), one = wasm_f32x4_splat(1.f), half = wasm_f32x4_splat(0.5f);
  for (int i = 0; i < n; i += 4) {
    const int m = n - i < 4 ? n - i : 4;
    const v128_t d = load_row4(dy + i, m), v = load_row4(y + i, m);
    v128_t g;
    switch (act) {
      case 1:
        g = wasm_v128_and(d, wasm_f32x4_gt(v, zero));
        break;
      case 2:
        g = wasm_v128_bitselect(d, wasm_f32x4_mul(d, wasm_f32x4_add(v, one)), wasm_f32x4_gt(v, zero));
        break;
      case 3:
        g = wasm_f32x4_mul(d, wasm_f32x4_sub(one, wasm_f32x4_mul(v, v)));
        break;
      case 4:
        g = wasm_f32x4_mul(d, wasm_f32x4_mul(v, wasm_f32x4_sub(one, v)));
        break;
      case 5: {
        const v128_t big = wasm_f32x4_sub(one, exp_any(wasm_f32x4_neg(v)));
        const v128_t small = wasm_f32x4_mul(v, wasm_f32x4_sub(one, wasm_f32x4_mul(v, half)));
        g = wasm_f32x4_mul(d, wasm_v128_bitselect(small, big, wasm_f32x4_lt(v, wasm_f32x4_splat(2.44140625e-4f))));
        break;
      }
      default:
        g = d;
    }
    store4(dx + i, g, m);
  }
}

/* out = a + b (n floats; out may be a or b): summing data-parallel replicas' gradients. */
EXPORT(gm_add)
void gm_add(int n, const float* a, const float* b, float* out) {
  for (int i = 0; i < n; i += 4) {
    const int m = n - i < 4 ? n - i : 4;
    store4(out + i, wasm_f32x4_add(load_row4(a + i, m), load_row4(b + i, m)), m);
  }
}

/* out = a ⊙ b (n floats; out may be a or b). */
EXPORT(gm_mul)
void gm_mul(int n, const float* a, const float* b, float* out) {
  for (int i = 0; i < n; i += 4) {
    const int m = n - i < 4 ? n - i : 4;
    store4(out + i, wasm_f32x4_mul(load_row4(a + i, m), load_row4(b + i, m)), m);
  }
}

/*
 * An IAF step's gated update (@gm/core gatedUpdate), rows × L: from z0 and ms = [m ‖ s] (row stride 2L),
 * z = m + σ(s)·(z0 − m) and log_gate[row] = Σ_j log σ(s_j) = −Σ_j softplus(−s_j).
 */
EXPORT(gm_gated_update)
void gm_gated_update(int rows, int L, const float* z0, const float* ms, float* z, float* log_gate) {
  const v128_t one = wasm_f32x4_splat(1.f);
  for (int r = 0; r < rows; r++) {
    const float* zr = z0 + (size_t)r * L;
    const float* mr = ms + (size_t)r * 2 * L;
    const float* sr = mr + L;
    float* out = z + (size_t)r * L;
    v128_t acc = wasm_f32x4_splat(0.f);
    for (int j = 0; j < L; j += 4) {
      const int n = L - j < 4 ? L - j : 4;
      const v128_t m = load_row4(mr + j, n), s = load_row4(sr + j, n), zv = load_row4(zr + j, n);
      const v128_t sigma = wasm_f32x4_div(one, wasm_f32x4_add(one, exp_any(wasm_f32x4_neg(s))));
      store4(out + j, wasm_f32x4_add(m, wasm_f32x4_mul(sigma, wasm_f32x4_sub(zv, m))), n);
      /* lanes past n hold s = 0, whose softplus(−0) = log 2 must not be added */
      v128_t sp = softplus4(wasm_f32x4_neg(s));
      if (n < 4) sp = wasm_v128_and(sp, wasm_i32x4_lt(wasm_i32x4_make(0, 1, 2, 3), wasm_i32x4_splat(n)));
      acc = wasm_f32x4_sub(acc, sp);
    }
    log_gate[r] = lane_sum(acc);
  }
}

/*
 * The gated update's gradient: from dz [rows × L], d_log_gate [rows], z0 and ms, with σ = σ(s) and 1 − σ = σ(−s),
 * dz0 = dz·σ; dm = dz·(1 − σ); ds = (dz·(z0 − m)·σ + d_log_gate)·(1 − σ). dms has ms's layout [dm ‖ ds].
 */
EXPORT(gm_gated_update_grad)
void gm_gated_update_grad(int rows, int L, const float* dz, const float* d_log_gate, const float* z0, const float* ms,
                          float* dz0, float* dms) {
  const v128_t one = wasm_f32x4_splat(1.f);
  for (int r = 0; r < rows; r++) {
    const size_t at = (size_t)r * L, at2 = (size_t)r * 2 * L;
    const v128_t dl = wasm_f32x4_splat(d_log_gate[r]);
    for (int j = 0; j < L; j += 4) {
      const int n = L - j < 4 ? L - j : 4;
      const v128_t m = load_row4(ms + at2 + j, n), s = load_row4(ms + at2 + L + j, n);
      const v128_t d = load_row4(dz + at + j, n), zv = load_row4(z0 + at + j, n);
      const v128_t sigma = wasm_f32x4_div(one, wasm_f32x4_add(one, exp_any(wasm_f32x4_neg(s))));
      const v128_t rest = wasm_f32x4_div(one, wasm_f32x4_add(one, exp_any(s)));
      store4(dz0 + at + j, wasm_f32x4_mul(d, sigma), n);
      store4(dms + at2 + j, wasm_f32x4_mul(d, rest), n);
      const v128_t inner = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(d, wasm_f32x4_sub(zv, m)), sigma), dl);
      store4(dms + at2 + L + j, wasm_f32x4_mul(inner, rest), n);
    }
  }
}

/*
 * Bernoulli log-likelihood by logits (@gm/core/ops bernoulliLogProb), rows × n (n = the event's size):
 * out[row] = Σ_j x_j·ℓ_j − softplus(ℓ_j).
 */
EXPORT(gm_bernoulli_log_prob)
void gm_bernoulli_log_prob(int rows, int n, const float* logits, const float* x, float* out) {
  for (int r = 0; r < rows; r++) {
    const float* l = logits + (size_t)r * n;
    const float* xr = x + (size_t)r * n;
    v128_t acc0 = wasm_f32x4_splat(0.f), acc1 = acc0;
    int j = 0;
    for (; j + 8 <= n; j += 8) {
      const v128_t l0 = wasm_v128_load(l + j), l1 = wasm_v128_load(l + j + 4);
      acc0 = wasm_f32x4_add(acc0, wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(xr + j), l0), softplus4(l0)));
      acc1 = wasm_f32x4_add(acc1, wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(xr + j + 4), l1), softplus4(l1)));
    }
    float s = lane_sum(wasm_f32x4_add(acc0, acc1));
    for (; j < n; j += 4) {
      const int m = n - j < 4 ? n - j : 4;
      const v128_t lv = load_row4(l + j, m);
      v128_t t = wasm_f32x4_sub(wasm_f32x4_mul(load_row4(xr + j, m), lv), softplus4(lv));
      /* lanes past m hold ℓ = 0, whose softplus = log 2 must not be added */
      t = wasm_v128_and(t, wasm_i32x4_lt(wasm_i32x4_make(0, 1, 2, 3), wasm_i32x4_splat(m)));
      s += lane_sum(t);
    }
    out[r] = s;
  }
}

/* Its gradient: d_logits = dy[row]·(x − σ(ℓ)), dx = dy[row]·ℓ. */
EXPORT(gm_bernoulli_log_prob_grad)
void gm_bernoulli_log_prob_grad(int rows, int n, const float* dy, const float* logits, const float* x, float* d_logits,
                                float* dx) {
  const v128_t one = wasm_f32x4_splat(1.f);
  for (int r = 0; r < rows; r++) {
    const size_t at = (size_t)r * n;
    const v128_t d = wasm_f32x4_splat(dy[r]);
    for (int j = 0; j < n; j += 4) {
      const int m = n - j < 4 ? n - j : 4;
      const v128_t lv = load_row4(logits + at + j, m), xv = load_row4(x + at + j, m);
      const v128_t sigma = wasm_f32x4_div(one, wasm_f32x4_add(one, exp_any(wasm_f32x4_neg(lv))));
      store4(d_logits + at + j, wasm_f32x4_mul(d, wasm_f32x4_sub(xv, sigma)), m);
      store4(dx + at + j, wasm_f32x4_mul(d, lv), m);
    }
  }
}

/*
 * The reparameterised diagonal Normal (@gm/core/ops normalSample): mean and log σ over rows × E (E = the event's
 * size), n draws of noise eps [n, rows, E]: sample = μ + e^{log σ}·ε, log_prob[s, row] = Σ_j (−½ε² − log σ) + c with
 * c = −½ log 2π · E (the caller's constant, so it is computed once in double).
 */
EXPORT(gm_normal_sample)
void gm_normal_sample(int n, int rows, int E, const float* mean, const float* log_std, const float* eps, float c,
                      float* sample, float* log_prob) {
  const v128_t half = wasm_f32x4_splat(-0.5f);
  for (int s = 0; s < n; s++) {
    for (int r = 0; r < rows; r++) {
      const size_t at = (size_t)r * E, draw = ((size_t)s * rows + r) * E;
      v128_t acc = wasm_f32x4_splat(0.f);
      for (int j = 0; j < E; j += 4) {
        const int m = E - j < 4 ? E - j : 4;
        /* lanes past m hold ε = log σ = 0: they add nothing to the sum */
        const v128_t ls = load_row4(log_std + at + j, m), e = load_row4(eps + draw + j, m);
        store4(sample + draw + j, wasm_f32x4_add(load_row4(mean + at + j, m), wasm_f32x4_mul(exp_any(ls), e)), m);
        acc = wasm_f32x4_add(acc, wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_mul(e, e), half), ls));
      }
      log_prob[(size_t)s * rows + r] = lane_sum(acc) + c;
    }
  }
}

/*
 * Its gradient, from d_sample [n, rows, E] and d_log_prob [n, rows]: d_mean = Σ_s d_sample,
 * d_log_std = Σ_s (d_sample·σ·ε − d_log_prob), d_eps = d_sample·σ − d_log_prob·ε.
 */
EXPORT(gm_normal_sample_grad)
void gm_normal_sample_grad(int n, int rows, int E, const float* d_sample, const float* d_log_prob, const float* log_std,
                           const float* eps, float* d_mean, float* d_log_std, float* d_eps) {
  for (int r = 0; r < rows; r++) {
    const size_t at = (size_t)r * E;
    for (int j = 0; j < E; j += 4) {
      const int m = E - j < 4 ? E - j : 4;
      const v128_t sigma = exp_any(load_row4(log_std + at + j, m));
      v128_t dm = wasm_f32x4_splat(0.f), dls = dm;
      for (int s = 0; s < n; s++) {
        const size_t draw = ((size_t)s * rows + r) * E + j;
        const v128_t ds = load_row4(d_sample + draw, m), e = load_row4(eps + draw, m);
        const v128_t dlp = wasm_f32x4_splat(d_log_prob[(size_t)s * rows + r]);
        dm = wasm_f32x4_add(dm, ds);
        dls = wasm_f32x4_add(dls, wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_mul(ds, sigma), e), dlp));
        store4(d_eps + draw, wasm_f32x4_sub(wasm_f32x4_mul(ds, sigma), wasm_f32x4_mul(dlp, e)), m);
      }
      store4(d_mean + at + j, dm, m);
      store4(d_log_std + at + j, dls, m);
    }
  }
}

/* log N(z; 0, I) per row of E values (@gm/core/ops standardNormalLogProb): Σ_j −½z² + c, c = −½ log 2π · E. */
EXPORT(gm_standard_normal_log_prob)
void gm_standard_normal_log_prob(int rows, int E, const float* z, float c, float* out) {
  const v128_t half = wasm_f32x4_splat(-0.5f);
  for (int r = 0; r < rows; r++) {
    const float* zr = z + (size_t)r * E;
    v128_t acc = wasm_f32x4_splat(0.f);
    for (int j = 0; j < E; j += 4) {
      const v128_t v = load_row4(zr + j, E - j < 4 ? E - j : 4); /* zeros past the row add nothing */
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_mul(v, v), half));
    }
    out[r] = lane_sum(acc) + c;
  }
}

/* Its gradient: dz = −dy[row]·z. */
EXPORT(gm_standard_normal_log_prob_grad)
void gm_standard_normal_log_prob_grad(int rows, int E, const float* dy, const float* z, float* dz) {
  for (int r = 0; r < rows; r++) {
    const size_t at = (size_t)r * E;
    const v128_t d = wasm_f32x4_splat(-dy[r]);
    for (int j = 0; j < E; j += 4) {
      const int m = E - j < 4 ? E - j : 4;
      store4(dz + at + j, wasm_f32x4_mul(d, load_row4(z + at + j, m)), m);
    }
  }
}
