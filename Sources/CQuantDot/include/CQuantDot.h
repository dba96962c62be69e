// Integer block dot products of GGUF weight rows with Q8 activation rows, in ggml's x86
// arithmetic order (see Sources/Kernels/QuantRowDot.swift for why the order matters).
#pragma once
#include <stdint.h>

/// Weight formats of dojo_tile_dots (values of Kernels' QuantMatmul.integerKind).
enum { DOJO_Q4_0 = 0, DOJO_Q4_1 = 1, DOJO_Q8_0 = 2 };

/// out[i * out_stride + j] = weight row j · activation row i, for j < weight_rows and i < rows;
/// weight row j starts at weights + j * weight_stride bytes, `blocks` blocks of 32 in `kind`.
/// Activation row i starts at rows_base + i * row_stride bytes: `blocks`·32 int8 values, then
/// `blocks` f16-rounded scales d (float), then `blocks` Q8_1 block sums s (float). For Q4_1,
/// sums_t holds the same sums transposed: s of row i, block b at sums_t[b * sums_ld + i]; other
/// formats ignore it. Every output has the same bits whatever weight_rows and rows are.
void dojo_tile_dots(int kind, int blocks, const void *weights, long weight_stride, int weight_rows, int rows,
                    const void *rows_base, long row_stride, const float *sums_t, int sums_ld,
                    float *out, long out_stride);

/// 1 when the kernels use AVX-512 VNNI on this CPU.
int dojo_uses_vnni(void);

/// Turns the VNNI copy off (0) or back on where the CPU has it (1), so tests can compare the two.
void dojo_use_vnni(int on);
