/*
 * gm's own wasm SIMD kernels for the tfjs wasm backend (built by scripts/build-native.mjs with clang --target=wasm32
 * -msimd128). The module imports the tfjs wasm heap as its memory and works on tensors in place, so it must never
 * touch memory it was not handed: no static data, no C stack (every function keeps its state in wasm locals; the
 * build checks that the output has no data segment and never reads the stack pointer), scratch comes from the caller.
 *
 * GEMM: XNNPACK (inside tfjs-wasm) re-packs the right-hand operand on every call with new weights (~5 ms for
 * 784×512, i.e. every training step) and only runs untransposed products fast. gm_gemm packs B into 8-column panels
 * itself (a plain copy, ~0.3 ms for 784×512, transposed or not), reads A row- or column-major directly and runs a
 * 4×8 register tile: 8 accumulators + 2 B vectors + 1 broadcast A. Without FMA in SIMD128 the tile is bound by the
 * two vector ports (8 mul + 8 add per k), ~8 FLOP/cycle; bigger tiles spill on V8's 16 xmm registers (measured slower).
 */
#include <wasm_simd128.h>
#include <stddef.h>

#define NR 8   /* panel width (columns of B per tile) */
#define MR 4   /* rows of A per tile */
#define MC 256 /* rows of A per cache block, so a block of A stays in L2 while the panels stream past */

#define EXPORT(name) __attribute__((export_name(#name)))

/* Packed size (floats) that gm_gemm needs as scratch for B of K×N. */
EXPORT(gm_gemm_scratch_floats) int gm_gemm_scratch_floats(int K, int N) { return K * ((N + NR - 1) / NR) * NR; }

/* Packs B (element (k, n) at B[k*rs + n*cs]) into panels of NR columns, K rows each, zero-padded at the right edge. */
static void pack_b(const float* B, int K, int N, int rs, int cs, float* out) {
  for (int j0 = 0; j0 < N; j0 += NR) {
    int nr = N - j0 < NR ? N - j0 : NR;
    float* dst = out + (size_t)j0 * K;
    if (cs == 1 && nr == NR) {
      for (int k = 0; k < K; k++) {
        const float* src = B + (size_t)k * rs + j0;
        wasm_v128_store(dst + k * NR, wasm_v128_load(src));
        wasm_v128_store(dst + k * NR + 4, wasm_v128_load(src + 4));
      }
    } else {
      for (int k = 0; k < K; k++) {
        const float* src = B + (size_t)k * rs + (size_t)j0 * cs;
        int j = 0;
        for (; j < nr; j++) dst[k * NR + j] = src[(size_t)j * cs];
        for (; j < NR; j++) dst[k * NR + j] = 0.f;
      }
    }
  }
}

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

#define FMA2(r, av)                                              \
  c##r##0 = wasm_f32x4_add(c##r##0, wasm_f32x4_mul(av, b0));     \
  c##r##1 = wasm_f32x4_add(c##r##1, wasm_f32x4_mul(av, b1));

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
                        const float* bias, int relu, int accumulate) {
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
        v128_t c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        const float* b = panel;
        if (!a_trans) {
          /* Rows past the edge re-read the last valid row; their results are not stored. */
          const float* a0 = A + (size_t)i0 * lda;
          const float* a1 = mr > 1 ? a0 + lda : a0;
          const float* a2 = mr > 2 ? a1 + lda : a1;
          const float* a3 = mr > 3 ? a2 + lda : a2;
          for (int k = 0; k < K; k++) {
            v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4), av;
            b += NR;
            av = wasm_v128_load32_splat(a0++); FMA2(0, av)
            av = wasm_v128_load32_splat(a1++); FMA2(1, av)
            av = wasm_v128_load32_splat(a2++); FMA2(2, av)
            av = wasm_v128_load32_splat(a3++); FMA2(3, av)
          }
        } else {
          const float* p = A + i0;
          int o1 = mr > 1 ? 1 : 0, o2 = mr > 2 ? 2 : o1, o3 = mr > 3 ? 3 : o2;
          for (int k = 0; k < K; k++) {
            v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4), av;
            b += NR;
            av = wasm_v128_load32_splat(p); FMA2(0, av)
            av = wasm_v128_load32_splat(p + o1); FMA2(1, av)
            av = wasm_v128_load32_splat(p + o2); FMA2(2, av)
            av = wasm_v128_load32_splat(p + o3); FMA2(3, av)
            p += lda;
          }
        }
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
  gemm_packed(M, N, K, A, lda, a_trans, scratch, C, bias, relu, 0);
}

#define CONV_ROWS 512 /* output positions per chunk of the filter gradient: keeps its gathered inputs in L2 */

/* Floats of scratch gm_conv2d_filter_grad needs for C input and CO output channels. */
EXPORT(gm_conv2d_filter_grad_scratch_floats)
int gm_conv2d_filter_grad_scratch_floats(int C, int CO) {
  return CONV_ROWS * C + gm_gemm_scratch_floats(CONV_ROWS, CO);
}

/*
 * Gradient of a 2-D convolution (NHWC, dilation 1) with respect to its filter [FH, FW, C, CO]:
 *   dW[fy, fx, c, o] = Σ_{b, oy, ox} x[b, oy·sh + fy − padT, ox·sw + fx − padL, c] · dy[b, oy, ox, o]
 * (terms outside the input are zero). Per chunk of output positions, dy is packed once and every filter tap is one
 * GEMM dW_tap (C×CO) += X_tapᵀ·dy over the gathered, shifted inputs X_tap (positions × C).
 */
EXPORT(gm_conv2d_filter_grad)
void gm_conv2d_filter_grad(int B, int H, int W, int C, const float* x, int OH, int OW, int CO, const float* dy,
                           int FH, int FW, int sh, int sw, int padT, int padL, float* dw, float* scratch) {
  float* cols = scratch;
  float* packed = scratch + CONV_ROWS * C;
  const int positions = B * OH * OW;
  for (int i = 0; i < FH * FW * C * CO; i++) dw[i] = 0.f;
  for (int p0 = 0; p0 < positions; p0 += CONV_ROWS) {
    int rows = positions - p0 < CONV_ROWS ? positions - p0 : CONV_ROWS;
    pack_b(dy + (size_t)p0 * CO, rows, CO, CO, 1, packed);
    for (int fy = 0; fy < FH; fy++) {
      for (int fx = 0; fx < FW; fx++) {
        for (int r = 0; r < rows; r++) {
          int p = p0 + r;
          int ox = p % OW, oy = (p / OW) % OH, b = p / (OW * OH);
          int iy = oy * sh + fy - padT, ix = ox * sw + fx - padL;
          float* dst = cols + (size_t)r * C;
          if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
            for (int c = 0; c < C; c++) dst[c] = 0.f;
          } else {
            const float* src = x + (((size_t)b * H + iy) * W + ix) * C;
            for (int c = 0; c < C; c++) dst[c] = src[c];
          }
        }
        gemm_packed(C, CO, rows, cols, C, 1, packed, dw + (size_t)(fy * FW + fx) * C * CO, 0, 0, 1);
      }
    }
  }
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
