// Integer block dot products of GGUF weight rows with Q8 activation rows, in ggml's x86
// arithmetic order (see Sources/Kernels/QuantRowDot.swift for why the order matters).
#pragma once
#include <stdint.h>

/// Weight formats of dojo_row_dots (values of Kernels' QuantMatmul.integerKind).
enum { DOJO_Q4_0 = 0, DOJO_Q4_1 = 1, DOJO_Q8_0 = 2 };

/// out[i] = one weight row (`blocks` blocks of 32 in `kind`) · activation row i, for i < rows.
/// Activation row i starts at rows_base + i * row_stride bytes: `blocks`·32 int8 values, then
/// `blocks` f16-rounded scales d (float), then `blocks` Q8_1 block sums s (float).
void dojo_row_dots(int kind, int blocks, const void *weights, int rows, const void *rows_base,
                   long row_stride, float *out);

/// out[i * out_stride + j] = weight row j · activation row i, for j < weight_rows and i < rows;
/// weight row j starts at weights + j * weight_stride bytes. The same bits as dojo_row_dots.
void dojo_tile_dots(int kind, int blocks, const void *weights, long weight_stride, int weight_rows, int rows,
                    const void *rows_base, long row_stride, float *out, long out_stride);
