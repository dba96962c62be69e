// bf16 GEMM pieces with AVX-512 BF16's vdpbf16ps, which Swift's SIMD types cannot express:
// one instruction multiplies 16 pairs of bf16 and adds them to 16 float32 sums, twice the
// multiply-adds of a float32 FMA. Float32 accumulation throughout; only the operands are bf16.
#pragma once
#include <stdint.h>

/// 1 when this CPU has AVX-512 BF16 (vdpbf16ps); the other functions must not run otherwise.
int dojo_has_bf16(void);

/// Rows of float32 to bf16 pairs, rounding to nearest even: dst row i holds ceil(k/2) 32-bit
/// words, word p = (bf16(a[i][2p]), bf16(a[i][2p+1])) low half first; an odd k's last word
/// gets a zero second half.
void dojo_bf16_rows(const float *a, long lda, int rows, int k, void *dst, long ldd);

/// Packs B [n][k] (a Linear weight, row j = output column j) into panels of 32 columns:
/// panel q, word (p, j) at dst[(q * kpairs + p) * 32 + j] = (bf16(b[32q+j][2p]), bf16(b[32q+j][2p+1])).
/// Columns past n and an odd k's last half are zero. dst holds ceil(n/32)·kpairs·32 words.
void dojo_bf16_pack(const float *b, long ldb, int n, int k, void *dst);

/// c[i][j] (+)= Σ_p a_i[p]·b[p][j] (+ bias[j]) for i < rows ≤ 12, j < cols ≤ 32: a is rows of
/// bf16 pairs (row i at a + i·lda words), b a panel [kpairs][32] words, c float32 with row
/// stride ldc. accumulate adds to what c holds; bias may be NULL.
void dojo_bf16_tile(int kpairs, const void *a, long lda, int rows, const void *b,
                    float *c, long ldc, int cols, const float *bias, int accumulate);
