// The kernels of CQuantDot.c that multiply bytes, written once and compiled twice: NAME(x) names
// the copy and LANES(ax, sy) is its eight int32 sums of four adjacent unsigned·signed byte products
// (vpmaddubsw + vpmaddwd, or AVX-512 VNNI's single vpdpbusd). Both give the same integers.
// VNNI is 1 in the VNNI copy, which also takes signed weights (Q8_0, Q4_0) without the sign trick.

/// Lane sums of unsigned ax · signed sy, as floats.
static inline __m256 NAME(lanes_us)(__m256i ax, __m256i sy) { return _mm256_cvtepi32_ps(LANES(ax, sy)); }

/// Lane sums of signed x · signed y.
static inline __m256 NAME(lanes_ss)(__m256i x, __m256i y) {
    return NAME(lanes_us)(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

static float NAME(dot_q4_1)(int blocks, const uint8_t *w, const int8_t *q, const float *d, const float *s) {
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (int b = 0; b < blocks; b++) {
        const uint8_t *blk = w + 20 * b;
        mins = __builtin_fmaf(half(blk + 2), s[b], mins);
        const __m256 dd = _mm256_set1_ps(half(blk) * d[b]);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)(q + 32 * b));
        acc = _mm256_fmadd_ps(dd, NAME(lanes_us)(nibbles(blk + 4), qy), acc);
    }
    return hsum8(acc) + mins;
}

static float NAME(dot_q4_0)(int blocks, const uint8_t *w, const int8_t *q, const float *d) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *blk = w + 18 * b;
        const __m256 dd = _mm256_set1_ps(half(blk) * d[b]);
        const __m256i qx = _mm256_sub_epi8(nibbles(blk + 2), _mm256_set1_epi8(8));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)(q + 32 * b));
        acc = _mm256_fmadd_ps(dd, NAME(lanes_ss)(qx, qy), acc);
    }
    return hsum8(acc);
}

static float NAME(dot_q8_0)(int blocks, const uint8_t *w, const int8_t *q, const float *d) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *blk = w + 34 * b;
        const __m256 dd = _mm256_set1_ps(half(blk) * d[b]);
        const __m256i qx = _mm256_loadu_si256((const __m256i *)(blk + 2));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)(q + 32 * b));
        acc = _mm256_fmadd_ps(dd, NAME(lanes_ss)(qx, qy), acc);
    }
    return hsum8(acc);
}

static void NAME(row_dots)(int kind, int blocks, const uint8_t *w, int rows, const int8_t *base, long row_stride,
                           float *out) {
    for (int i = 0; i < rows; i++) {
        const int8_t *q = base + i * row_stride;
        const float *d = (const float *)(q + 32 * blocks);
        const float *s = d + blocks;
        switch (kind) {
        case DOJO_Q4_1: out[i] = NAME(dot_q4_1)(blocks, w, q, d, s); break;
        case DOJO_Q4_0: out[i] = NAME(dot_q4_0)(blocks, w, q, d); break;
        default: out[i] = NAME(dot_q8_0)(blocks, w, q, d); break;
        }
    }
}

/// Four weight rows × four activation rows, 16 accumulators, from four weight rows already
/// decoded (decode4): each activation block is loaded once per four weight rows. The four weight
/// scales are multiplied by an activation scale in one vector multiply (the same products as
/// dw·dx one at a time), then each is spread over a register.
/// out[r * out_stride + j] += hsum8(acc): out already holds Σ m·s (Q4_1) or 0.
static inline __attribute__((always_inline)) void NAME(tile4x4)(const int kind, int blocks, const uint8_t *values,
        const float *scales, const int8_t *q[4], float *out, long out_stride) {
    __m256 acc[4][4];
    for (int j = 0; j < 4; j++) for (int r = 0; r < 4; r++) acc[j][r] = _mm256_setzero_ps();
    const float *d[4];
    for (int r = 0; r < 4; r++) d[r] = (const float *)(q[r] + 32 * blocks);
    const __m256i spread[4] = { _mm256_set1_epi32(0), _mm256_set1_epi32(1), _mm256_set1_epi32(2), _mm256_set1_epi32(3) };
    for (int b = 0; b < blocks; b++) {
        __m256i ax[4];
        for (int j = 0; j < 4; j++) ax[j] = _mm256_load_si256((const __m256i *)(values + (4 * b + j) * 32));
        const __m256 dw = _mm256_castps128_ps256(_mm_load_ps(scales + 4 * b));
        for (int r = 0; r < 4; r++) {
            const __m256i qy = _mm256_loadu_si256((const __m256i *)(q[r] + 32 * b));
            const __m256 dd = _mm256_mul_ps(dw, _mm256_broadcast_ss(d[r] + b));
            for (int j = 0; j < 4; j++) {
                const __m256 l = kind == DOJO_Q4_1 ? NAME(lanes_us)(ax[j], qy) : NAME(lanes_ss)(ax[j], qy);
                acc[j][r] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(dd, spread[j]), l, acc[j][r]);
            }
        }
    }
    for (int r = 0; r < 4; r++) for (int j = 0; j < 4; j++) out[r * out_stride + j] = hsum8(acc[j][r]) + out[r * out_stride + j];
}

#if VNNI
/// tile4x4 for signed weights (Q8_0, Q4_0) with vpdpbusd's accumulator doing the sign trick's
/// work: x·y = (x + 128)·y − 128·y, so each lane sum starts from −128·Σy of its four activation
/// bytes (`bias`, [rows][blocks][8] int32, made once per activation row) and adds (x ^ 0x80)·y.
/// The same integers as lanes_ss, one instruction fewer per output and block.
static inline __attribute__((always_inline)) void tile4x4_signed(int blocks, const uint8_t *values, const float *scales,
        const int8_t *q[4], const int32_t *bias[4], float *out, long out_stride) {
    __m256 acc[4][4];
    for (int j = 0; j < 4; j++) for (int r = 0; r < 4; r++) acc[j][r] = _mm256_setzero_ps();
    const float *d[4];
    for (int r = 0; r < 4; r++) d[r] = (const float *)(q[r] + 32 * blocks);
    const __m256i spread[4] = { _mm256_set1_epi32(0), _mm256_set1_epi32(1), _mm256_set1_epi32(2), _mm256_set1_epi32(3) };
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int b = 0; b < blocks; b++) {
        __m256i ax[4];
        for (int j = 0; j < 4; j++) ax[j] = _mm256_xor_si256(_mm256_load_si256((const __m256i *)(values + (4 * b + j) * 32)), flip);
        const __m256 dw = _mm256_castps128_ps256(_mm_load_ps(scales + 4 * b));
        for (int r = 0; r < 4; r++) {
            const __m256i qy = _mm256_loadu_si256((const __m256i *)(q[r] + 32 * b));
            const __m256i start = _mm256_load_si256((const __m256i *)(bias[r] + 8 * b));
            const __m256 dd = _mm256_mul_ps(dw, _mm256_broadcast_ss(d[r] + b));
            for (int j = 0; j < 4; j++) {
                const __m256 l = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(start, ax[j], qy));
                acc[j][r] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(dd, spread[j]), l, acc[j][r]);
            }
        }
    }
    for (int r = 0; r < 4; r++) for (int j = 0; j < 4; j++) out[r * out_stride + j] = hsum8(acc[j][r]) + out[r * out_stride + j];
}
#endif

static void NAME(tile_dots)(int kind, int blocks, const void *weights, long w_stride, int weight_rows, int rows,
                            const void *rows_base, long row_stride, const float *sums_t, int sums_ld,
                            float *out, long out_stride) {
    const uint8_t *w = (const uint8_t *)weights;
    const int8_t *base = (const int8_t *)rows_base;
    const int full_j = weight_rows & ~3, full_i = rows & ~3;
    // Four weight rows at a time: fetched from memory once (the next four are prefetched while
    // these are multiplied), decoded once (values [blocks][4][32], scales [blocks][4]) and their
    // Σ m·s taken while they are in L1, then used for every four activation rows.
    uint8_t values[full_i > 0 ? blocks * 4 * 32 : 1] __attribute__((aligned(32)));
    float scales[full_i > 0 ? blocks * 4 : 1] __attribute__((aligned(16)));
    float mins[full_i > 0 ? blocks * 4 : 1];
#if VNNI
    // −128·Σ of each four activation bytes, per row and block, when it fits in 64 KB of stack
    const int biased = kind != DOJO_Q4_1 && full_j > 0 && (long)full_i * blocks * 32 <= 65536;
    int32_t sign_bias[biased ? full_i * blocks * 8 : 1] __attribute__((aligned(32)));
    for (int r = 0; biased && r < full_i; r++) {
        for (int b = 0; b < blocks; b++) {
            const __m256i qy = _mm256_loadu_si256((const __m256i *)(base + r * row_stride + 32 * b));
            const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), qy);
            _mm256_store_si256((__m256i *)(sign_bias + ((long)r * blocks + b) * 8),
                               _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 7)));
        }
    }
#endif
    for (int j = 0; j < full_j && full_i > 0; j += 4) {
        if (j + 4 < full_j) {
            const char *next = (const char *)(w + (j + 4) * w_stride);
            for (long o = 0; o < 4 * w_stride; o += 64) _mm_prefetch(next + o, _MM_HINT_T0);
        }
        decode4(kind, blocks, w + j * w_stride, w_stride, values, scales, mins);
        if (kind == DOJO_Q4_1) mins4(blocks, mins, sums_t, full_i, sums_ld, out + j, out_stride);
        else for (int i = 0; i < full_i; i++) memset(out + i * out_stride + j, 0, sizeof(float) * 4);
        for (int i = 0; i < full_i; i += 4) {
            const int8_t *q[4];
            for (int r = 0; r < 4; r++) q[r] = base + (i + r) * row_stride;
            // one copy per format, so the format tests leave the inner loops
            if (kind == DOJO_Q4_1) NAME(tile4x4)(DOJO_Q4_1, blocks, values, scales, q, out + i * out_stride + j, out_stride);
#if VNNI
            else if (biased) {
                const int32_t *bias[4];
                for (int r = 0; r < 4; r++) bias[r] = sign_bias + (long)(i + r) * blocks * 8;
                tile4x4_signed(blocks, values, scales, q, bias, out + i * out_stride + j, out_stride);
            }
#endif
            else NAME(tile4x4)(DOJO_Q8_0, blocks, values, scales, q, out + i * out_stride + j, out_stride);
        }
    }
    // the edges: rows past the last full four, one output at a time
    float tmp[1];
    for (int j = 0; j < weight_rows; j++) {
        const int i0 = j < full_j ? full_i : 0;
        for (int r = i0; r < rows; r++) {
            NAME(row_dots)(kind, blocks, w + j * w_stride, 1, base + r * row_stride, row_stride, tmp);
            out[r * out_stride + j] = tmp[0];
        }
    }
}
