// ggml's AVX2 `ggml_vec_dot_q4_1_q8_1` / `ggml_vec_dot_q4_0_q8_0` and tinyBLAS_Q0_AVX's Q8_0
// order, written from their description: per block, eight int32 lane sums of four adjacent
// products (low nibbles are values 0..15, high nibbles 16..31), acc = fma(dw·dx, lanes, acc);
// hsum as hsum_float_8; Q4_1 adds Σ m·s after. Integer sums are exact, so maddubs/madd and VNNI's
// dpbusd (llama.cpp on VNNI machines) give the same bits; QuantDotKernels.h is compiled once for
// each and the VNNI copy runs where the CPU has it.
#include "CQuantDot.h"
#include <immintrin.h>
#include <string.h>

static inline float hsum8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

static inline short bits16(const uint8_t *p) {
    short h;
    memcpy(&h, p, 2);
    return h;
}

static inline float half(const uint8_t *p) { return _cvtsh_ss(bits16(p)); }

static inline __m256i nibbles(const uint8_t *p) {
    const __m128i b = _mm_loadu_si128((const __m128i *)p);
    const __m256i both = _mm256_insertf128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(15));
}

/// Q4_1's Σ_b m_b·s_b for four weight rows (their mins as floats, mins[b * 4 + j]) and
/// activation rows r < rows, each a chain of fused multiply-adds in block order as ggml's scalar
/// loop makes it; sixteen activation rows at a time, the four weight rows' chains side by side.
/// sums_t is the activations' block sums transposed, [blocks][ld]. Writes out[r * out_stride + j].
static void mins4(int blocks, const float *mins, const float *sums_t, int rows, int ld, float *out, long out_stride) {
    for (int r0 = 0; r0 < rows; r0 += 16) {
        const __mmask16 live = rows - r0 >= 16 ? 0xFFFF : (__mmask16)((1u << (rows - r0)) - 1);
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
        for (int b = 0; b < blocks; b++) {
            const __m512 s = _mm512_maskz_loadu_ps(live, sums_t + (long)b * ld + r0);
            acc0 = _mm512_fmadd_ps(_mm512_set1_ps(mins[4 * b]), s, acc0);
            acc1 = _mm512_fmadd_ps(_mm512_set1_ps(mins[4 * b + 1]), s, acc1);
            acc2 = _mm512_fmadd_ps(_mm512_set1_ps(mins[4 * b + 2]), s, acc2);
            acc3 = _mm512_fmadd_ps(_mm512_set1_ps(mins[4 * b + 3]), s, acc3);
        }
        float lane[4][16];
        _mm512_storeu_ps(lane[0], acc0); _mm512_storeu_ps(lane[1], acc1);
        _mm512_storeu_ps(lane[2], acc2); _mm512_storeu_ps(lane[3], acc3);
        for (int r = r0; r < rows && r < r0 + 16; r++) {
            _mm_storeu_ps(out + r * out_stride, _mm_set_ps(lane[3][r - r0], lane[2][r - r0], lane[1][r - r0], lane[0][r - r0]));
        }
    }
}

/// Four weight rows' blocks as the tiles multiply them: values [blocks][4][32] (Q4_1: nibbles
/// 0..15; Q4_0: nibbles − 8; Q8_0: the bytes), the f16 scales as floats, [blocks][4], and (Q4_1)
/// the f16 mins as floats, [blocks][4].
static void decode4(int kind, int blocks, const uint8_t *w, long w_stride, uint8_t *values, float *scales, float *mins) {
    const int bytes = kind == DOJO_Q4_1 ? 20 : kind == DOJO_Q4_0 ? 18 : 34;
    for (int b = 0; b < blocks; b++) {
        const uint8_t *blk = w + bytes * b;
        for (int j = 0; j < 4; j++) {
            const uint8_t *row = blk + j * w_stride;
            __m256i v;
            if (kind == DOJO_Q4_1) v = nibbles(row + 4);
            else if (kind == DOJO_Q4_0) v = _mm256_sub_epi8(nibbles(row + 2), _mm256_set1_epi8(8));
            else v = _mm256_loadu_si256((const __m256i *)(row + 2));
            _mm256_store_si256((__m256i *)(values + (4 * b + j) * 32), v);
        }
        // the four rows' f16 scales (and mins) converted together
        _mm_store_ps(scales + 4 * b, _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, bits16(blk + 3 * w_stride), bits16(blk + 2 * w_stride),
                                                                bits16(blk + w_stride), bits16(blk))));
        if (kind == DOJO_Q4_1) {
            const uint8_t *m = blk + 2;
            _mm_storeu_ps(mins + 4 * b, _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, bits16(m + 3 * w_stride), bits16(m + 2 * w_stride),
                                                                   bits16(m + w_stride), bits16(m))));
        }
    }
}

#define NAME(x) x##_avx2
#define LANES(ax, sy) _mm256_madd_epi16(_mm256_set1_epi16(1), _mm256_maddubs_epi16(ax, sy))
#define VNNI 0
#include "QuantDotKernels.h"
#undef NAME
#undef LANES
#undef VNNI

#pragma clang attribute push(__attribute__((target("avx512vnni,avx512vl"))), apply_to = function)
#define NAME(x) x##_vnni
#define LANES(ax, sy) _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sy)
#define VNNI 1
#include "QuantDotKernels.h"
#undef NAME
#undef LANES
#undef VNNI
#pragma clang attribute pop

static int known_vnni = -1;

static int has_vnni(void) {
    if (known_vnni < 0) {
        __builtin_cpu_init();
        known_vnni = __builtin_cpu_supports("avx512vnni") ? 1 : 0;
    }
    return known_vnni;
}

void dojo_tile_dots(int kind, int blocks, const void *weights, long weight_stride, int weight_rows, int rows,
                    const void *rows_base, long row_stride, const float *sums_t, int sums_ld,
                    float *out, long out_stride) {
    if (has_vnni())
        tile_dots_vnni(kind, blocks, weights, weight_stride, weight_rows, rows, rows_base, row_stride, sums_t, sums_ld, out, out_stride);
    else
        tile_dots_avx2(kind, blocks, weights, weight_stride, weight_rows, rows, rows_base, row_stride, sums_t, sums_ld, out, out_stride);
}

int dojo_uses_vnni(void) { return has_vnni(); }

void dojo_use_vnni(int on) {
    __builtin_cpu_init();
    known_vnni = on && __builtin_cpu_supports("avx512vnni") ? 1 : 0;
}
