// The bf16 GEMM's micro-kernel and conversions (see CGemmBF16.h). Compiled for plain x86-64;
// each function that uses AVX-512 BF16 asks for it itself, and callers check dojo_has_bf16.
#include "CGemmBF16.h"
#include <immintrin.h>
#include <string.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

int dojo_has_bf16(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512bf16") ? 1 : 0;
    }
    return known;
}

/// Round to nearest even, as vcvtne2ps2bf16 does (for the scalar tails).
static inline uint32_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;   // NaN stays NaN
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

BF16_TARGET
void dojo_bf16_rows(const float *a, long lda, int rows, int k, void *dst_bytes, long ldd) {
    uint32_t *dst = dst_bytes;
    for (int i = 0; i < rows; i++) {
        const float *src = a + (long)i * lda;
        uint32_t *out = dst + (long)i * ldd;
        int p = 0;
        for (; p + 32 <= k; p += 32) {
            // cvtne2ps2bf16(hi, lo): lo's 16 values become the low 16 bf16, so pairs stay adjacent
            const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + p + 16), _mm512_loadu_ps(src + p));
            _mm512_storeu_si512((void *)(out + p / 2), (__m512i)v);
        }
        for (; p < k; p += 2) {
            const uint32_t lo = bf16_bits(src[p]);
            const uint32_t hi = p + 1 < k ? bf16_bits(src[p + 1]) : 0;
            out[p / 2] = lo | (hi << 16);
        }
    }
}

void dojo_bf16_pack(const float *b, long ldb, int n, int k, void *dst_bytes) {
    uint32_t *dst = dst_bytes;
    const int kpairs = (k + 1) / 2;
    const int panels = (n + 31) / 32;
    for (int q = 0; q < panels; q++) {
        uint32_t *panel = dst + (long)q * kpairs * 32;
        for (int j = 0; j < 32; j++) {
            const int col = q * 32 + j;
            const float *row = b + (long)col * ldb;
            for (int p = 0; p < kpairs; p++) {
                uint32_t word = 0;
                if (col < n) {
                    word = bf16_bits(row[2 * p]);
                    if (2 * p + 1 < k) word |= bf16_bits(row[2 * p + 1]) << 16;
                }
                panel[(long)p * 32 + j] = word;
            }
        }
    }
}

// 12 rows × 32 columns: 24 accumulators of the 32 zmm registers, two panel loads and twelve
// broadcasts per pair of k. Rows past `rows` read row 0 and are not stored.
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

BF16_TARGET
void dojo_bf16_tile(int kpairs, const void *a_words, long lda, int rows, const void *b_words,
                    float *c, long ldc, int cols, const float *bias, int accumulate) {
    const uint32_t *a = a_words, *b = b_words;
#define DECLARE(r) const uint32_t *a##r = a + (r < rows ? r : 0) * lda; \
    __m512 x##r = _mm512_setzero_ps(), y##r = _mm512_setzero_ps();
    ROWS(DECLARE)
#undef DECLARE
    for (int p = 0; p < kpairs; p++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(b + (long)p * 32));
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(b + (long)p * 32 + 16));
#define STEP(r) { const __m512bh s = (__m512bh)_mm512_set1_epi32((int)a##r[p]); \
        x##r = _mm512_dpbf16_ps(x##r, s, b0); y##r = _mm512_dpbf16_ps(y##r, s, b1); }
        ROWS(STEP)
#undef STEP
    }
    const __mmask16 mx = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
    const __mmask16 my = cols >= 32 ? 0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    const __m512 bx = bias ? _mm512_maskz_loadu_ps(mx, bias) : _mm512_setzero_ps();
    const __m512 by = bias ? _mm512_maskz_loadu_ps(my, bias + 16) : _mm512_setzero_ps();
#define STORE(r) if (r < rows) { float *o = c + (long)r * ldc; \
        __m512 vx = _mm512_add_ps(x##r, bx), vy = _mm512_add_ps(y##r, by); \
        if (accumulate) { vx = _mm512_add_ps(vx, _mm512_maskz_loadu_ps(mx, o)); \
                          vy = _mm512_add_ps(vy, _mm512_maskz_loadu_ps(my, o + 16)); } \
        _mm512_mask_storeu_ps(o, mx, vx); _mm512_mask_storeu_ps(o + 16, my, vy); }
    ROWS(STORE)
#undef STORE
}
