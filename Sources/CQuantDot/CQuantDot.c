// ggml's AVX2 `ggml_vec_dot_q4_1_q8_1` / `ggml_vec_dot_q4_0_q8_0` and tinyBLAS_Q0_AVX's Q8_0
// order, written from their description: per block, eight int32 lane sums of four adjacent
// products (low nibbles are values 0..15, high nibbles 16..31), acc = fma(dw·dx, lanes, acc);
// hsum as hsum_float_8; Q4_1 adds Σ m·s after. Integer sums are exact, so maddubs/madd (here)
// and VNNI's dpbusd (llama.cpp on VNNI machines) give the same bits.
#include "CQuantDot.h"
#include <immintrin.h>
#include <string.h>

static inline float hsum8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

static inline float half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static inline __m256i nibbles(const uint8_t *p) {
    const __m128i b = _mm_loadu_si128((const __m128i *)p);
    const __m256i both = _mm256_insertf128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(15));
}

/// Lane sums of unsigned ax · signed sy, as floats.
static inline __m256 lanes_us(__m256i ax, __m256i sy) {
    const __m256i pairs = _mm256_maddubs_epi16(ax, sy);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_set1_epi16(1), pairs));
}

/// Lane sums of signed x · signed y.
static inline __m256 lanes_ss(__m256i x, __m256i y) {
    return lanes_us(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

static float dot_q4_1(int blocks, const uint8_t *w, const int8_t *q, const float *d, const float *s) {
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (int b = 0; b < blocks; b++) {
        const uint8_t *blk = w + 20 * b;
        mins = __builtin_fmaf(half(blk + 2), s[b], mins);
        const __m256 dd = _mm256_set1_ps(half(blk) * d[b]);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)(q + 32 * b));
        acc = _mm256_fmadd_ps(dd, lanes_us(nibbles(blk + 4), qy), acc);
    }
    return hsum8(acc) + mins;
}

static float dot_q4_0(int blocks, const uint8_t *w, const int8_t *q, const float *d) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *blk = w + 18 * b;
        const __m256 dd = _mm256_set1_ps(half(blk) * d[b]);
        const __m256i qx = _mm256_sub_epi8(nibbles(blk + 2), _mm256_set1_epi8(8));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)(q + 32 * b));
        acc = _mm256_fmadd_ps(dd, lanes_ss(qx, qy), acc);
    }
    return hsum8(acc);
}

static float dot_q8_0(int blocks, const uint8_t *w, const int8_t *q, const float *d) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *blk = w + 34 * b;
        const __m256 dd = _mm256_set1_ps(half(blk) * d[b]);
        const __m256i qx = _mm256_loadu_si256((const __m256i *)(blk + 2));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)(q + 32 * b));
        acc = _mm256_fmadd_ps(dd, lanes_ss(qx, qy), acc);
    }
    return hsum8(acc);
}

/// Four activation rows at once: each weight block is decoded once for the four; every output
/// goes through exactly the operations of the one-row functions above.
static void dot4(int kind, int blocks, const uint8_t *w, const int8_t *q[4], float *out) {
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    float mins[4] = { 0, 0, 0, 0 };
    const int bytes = kind == DOJO_Q4_1 ? 20 : kind == DOJO_Q4_0 ? 18 : 34;
    for (int b = 0; b < blocks; b++) {
        const uint8_t *blk = w + bytes * b;
        const float dw = half(blk);
        __m256i qx;
        if (kind == DOJO_Q4_1) {
            qx = nibbles(blk + 4);
            const float m = half(blk + 2);
            for (int r = 0; r < 4; r++) {
                const float *s = (const float *)(q[r] + 32 * blocks) + blocks;
                mins[r] = __builtin_fmaf(m, s[b], mins[r]);
            }
        } else if (kind == DOJO_Q4_0) {
            qx = _mm256_sub_epi8(nibbles(blk + 2), _mm256_set1_epi8(8));
        } else {
            qx = _mm256_loadu_si256((const __m256i *)(blk + 2));
        }
        const __m256i ax = kind == DOJO_Q4_1 ? qx : _mm256_sign_epi8(qx, qx);
        for (int r = 0; r < 4; r++) {
            const float *d = (const float *)(q[r] + 32 * blocks);
            const __m256i qy = _mm256_loadu_si256((const __m256i *)(q[r] + 32 * b));
            const __m256i sy = kind == DOJO_Q4_1 ? qy : _mm256_sign_epi8(qy, qx);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dw * d[b]), lanes_us(ax, sy), acc[r]);
        }
    }
    for (int r = 0; r < 4; r++) out[r] = hsum8(acc[r]) + mins[r];
}

/// Four weight rows × four activation rows: each weight block decoded once per four activation
/// rows and each activation block loaded once per four weight rows (16 accumulators); every
/// output still goes through exactly the operations of the one-row functions.
static void tile4x4(int kind, int blocks, const uint8_t *w, long w_stride, const int8_t *q[4], float *out, long out_stride) {
    __m256 acc[4][4];
    float mins[4][4];
    for (int j = 0; j < 4; j++) for (int r = 0; r < 4; r++) { acc[j][r] = _mm256_setzero_ps(); mins[j][r] = 0; }
    const int bytes = kind == DOJO_Q4_1 ? 20 : kind == DOJO_Q4_0 ? 18 : 34;
    const float *d[4], *s[4];
    for (int r = 0; r < 4; r++) { d[r] = (const float *)(q[r] + 32 * blocks); s[r] = d[r] + blocks; }
    for (int b = 0; b < blocks; b++) {
        __m256i ax[4];
        float dw[4];
        for (int j = 0; j < 4; j++) {
            const uint8_t *blk = w + j * w_stride + bytes * b;
            dw[j] = half(blk);
            if (kind == DOJO_Q4_1) {
                ax[j] = nibbles(blk + 4);
                const float m = half(blk + 2);
                for (int r = 0; r < 4; r++) mins[j][r] = __builtin_fmaf(m, s[r][b], mins[j][r]);
            } else if (kind == DOJO_Q4_0) {
                ax[j] = _mm256_sub_epi8(nibbles(blk + 2), _mm256_set1_epi8(8));
            } else {
                ax[j] = _mm256_loadu_si256((const __m256i *)(blk + 2));
            }
        }
        for (int r = 0; r < 4; r++) {
            const __m256i qy = _mm256_loadu_si256((const __m256i *)(q[r] + 32 * b));
            const float dx = d[r][b];
            for (int j = 0; j < 4; j++) {
                const __m256 dd = _mm256_set1_ps(dw[j] * dx);
                const __m256 l = kind == DOJO_Q4_1 ? lanes_us(ax[j], qy) : lanes_ss(ax[j], qy);
                acc[j][r] = _mm256_fmadd_ps(dd, l, acc[j][r]);
            }
        }
    }
    for (int r = 0; r < 4; r++) for (int j = 0; j < 4; j++) out[r * out_stride + j] = hsum8(acc[j][r]) + mins[j][r];
}

void dojo_tile_dots(int kind, int blocks, const void *weights, long weight_stride, int weight_rows, int rows,
                    const void *rows_base, long row_stride, float *out, long out_stride) {
    const uint8_t *w = (const uint8_t *)weights;
    int j = 0;
    for (; j + 4 <= weight_rows; j += 4) {
        int i = 0;
        for (; i + 4 <= rows; i += 4) {
            const int8_t *q[4];
            for (int r = 0; r < 4; r++) q[r] = (const int8_t *)rows_base + (i + r) * row_stride;
            tile4x4(kind, blocks, w + j * weight_stride, weight_stride, q, out + i * out_stride + j, out_stride);
        }
        if (i < rows) {
            float tmp[4];
            for (int jj = 0; jj < 4; jj++) {
                for (int r = i; r < rows; r++) {
                    dojo_row_dots(kind, blocks, w + (j + jj) * weight_stride, 1,
                                  (const int8_t *)rows_base + r * row_stride, row_stride, tmp);
                    out[r * out_stride + j + jj] = tmp[0];
                }
            }
        }
    }
    for (; j < weight_rows; j++) {
        for (int r = 0; r < rows; r++) {
            float tmp[1];
            dojo_row_dots(kind, blocks, w + j * weight_stride, 1, (const int8_t *)rows_base + r * row_stride, row_stride, tmp);
            out[r * out_stride + j] = tmp[0];
        }
    }
}

void dojo_row_dots(int kind, int blocks, const void *weights, int rows, const void *rows_base,
                   long row_stride, float *out) {
    const uint8_t *w = (const uint8_t *)weights;
    int i = 0;
    for (; i + 4 <= rows; i += 4) {
        const int8_t *q[4];
        for (int r = 0; r < 4; r++) q[r] = (const int8_t *)rows_base + (i + r) * row_stride;
        dot4(kind, blocks, w, q, out + i);
    }
    for (; i < rows; i++) {
        const int8_t *q = (const int8_t *)rows_base + i * row_stride;
        const float *d = (const float *)(q + 32 * blocks);
        const float *s = d + blocks;
        switch (kind) {
        case DOJO_Q4_1: out[i] = dot_q4_1(blocks, w, q, d, s); break;
        case DOJO_Q4_0: out[i] = dot_q4_0(blocks, w, q, d); break;
        default: out[i] = dot_q8_0(blocks, w, q, d); break;
        }
    }
}
