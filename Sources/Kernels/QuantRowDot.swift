// QuantRowDot: one quantized weight row · one quantized activation row (as floats q·d) with
// the weight block decoded in registers, for single-sequence generation (m = 1), where the
// matmul streams the weights once and the decode must keep up with memory.
//
// Per block: acc += d_w · (q_lo·xq_lo + q_hi·xq_hi), plus m_w · Σxq for the formats with a
// min (Σxq per block precomputed once per row, ggml's Q8_1 `s`). Two blocks per step into
// independent accumulators; one reduction at the end.

extension QuantMatmul {
    /// Formats with a fused row dot product.
    @inline(__always)
    static func hasRowDot(_ format: QuantFormat) -> Bool {
        format == .q4_0 || format == .q4_1 || format == .q8_0
    }

    /// Σ_p w[p]·xq[p] for one row of `blocks` blocks of 32; `sums` = Σxq per block (Q4_1 only).
    @inline(__always)
    static func rowDot(_ w: UnsafeRawPointer, format: QuantFormat, blocks: Int,
                       xq: UnsafePointer<Float>, sums: UnsafePointer<Float>) -> Float {
        switch format {
        case .q4_0: return rowDotQ4_0(w, blocks: blocks, xq: xq)
        case .q4_1: return rowDotQ4_1(w, blocks: blocks, xq: xq, sums: sums)
        default: return rowDotQ8_0(w, blocks: blocks, xq: xq)
        }
    }

    @inline(__always)
    static func splat(_ w: UnsafeRawPointer, _ offset: Int) -> SIMD16<Float> {
        SIMD16<Float>(repeating: quantHalf(w, offset))
    }

    static func rowDotQ4_1(_ w: UnsafeRawPointer, blocks: Int, xq: UnsafePointer<Float>, sums: UnsafePointer<Float>) -> Float {
        var a0 = SIMD16<Float>.zero, a1 = SIMD16<Float>.zero
        var mins: Float = 0, mins1: Float = 0
        var b = 0
        while b + 2 <= blocks {
            let blk0 = w + 20 * b, blk1 = blk0 + 20, x = xq + 32 * b
            let q0 = bytes16(blk0 + 4), q1 = bytes16(blk1 + 4)
            var t0 = float(q0 & 15) * load16(x)
            var t1 = float(q1 & 15) * load16(x + 32)
            madd(&t0, float(q0 &>> 4), load16(x + 16))
            madd(&t1, float(q1 &>> 4), load16(x + 48))
            madd(&a0, t0, splat(blk0, 0))
            madd(&a1, t1, splat(blk1, 0))
            mins += quantHalf(blk0, 2) * sums[b]
            mins1 += quantHalf(blk1, 2) * sums[b + 1]
            b += 2
        }
        if b < blocks {
            let blk = w + 20 * b, x = xq + 32 * b
            let q = bytes16(blk + 4)
            var t = float(q & 15) * load16(x)
            madd(&t, float(q &>> 4), load16(x + 16))
            madd(&a0, t, splat(blk, 0))
            mins += quantHalf(blk, 2) * sums[b]
        }
        return horizontalSum(a0 + a1) + (mins + mins1)
    }

    static func rowDotQ4_0(_ w: UnsafeRawPointer, blocks: Int, xq: UnsafePointer<Float>) -> Float {
        var a0 = SIMD16<Float>.zero, a1 = SIMD16<Float>.zero
        var b = 0
        while b + 2 <= blocks {
            let blk0 = w + 18 * b, blk1 = blk0 + 18, x = xq + 32 * b
            let q0 = bytes16(blk0 + 2), q1 = bytes16(blk1 + 2)
            var t0 = float((q0 & 15) &- 8) * load16(x)
            var t1 = float((q1 & 15) &- 8) * load16(x + 32)
            madd(&t0, float((q0 &>> 4) &- 8), load16(x + 16))
            madd(&t1, float((q1 &>> 4) &- 8), load16(x + 48))
            madd(&a0, t0, splat(blk0, 0))
            madd(&a1, t1, splat(blk1, 0))
            b += 2
        }
        if b < blocks {
            let blk = w + 18 * b, x = xq + 32 * b
            let q = bytes16(blk + 2)
            var t = float((q & 15) &- 8) * load16(x)
            madd(&t, float((q &>> 4) &- 8), load16(x + 16))
            madd(&a0, t, splat(blk, 0))
        }
        return horizontalSum(a0 + a1)
    }

    static func rowDotQ8_0(_ w: UnsafeRawPointer, blocks: Int, xq: UnsafePointer<Float>) -> Float {
        var a0 = SIMD16<Float>.zero, a1 = SIMD16<Float>.zero
        var b = 0
        while b + 2 <= blocks {
            let blk0 = w + 34 * b, blk1 = blk0 + 34, x = xq + 32 * b
            var t0 = float(signedBytes16(blk0 + 2)) * load16(x)
            var t1 = float(signedBytes16(blk1 + 2)) * load16(x + 32)
            madd(&t0, float(signedBytes16(blk0 + 18)), load16(x + 16))
            madd(&t1, float(signedBytes16(blk1 + 18)), load16(x + 48))
            madd(&a0, t0, splat(blk0, 0))
            madd(&a1, t1, splat(blk1, 0))
            b += 2
        }
        if b < blocks {
            let blk = w + 34 * b, x = xq + 32 * b
            var t = float(signedBytes16(blk + 2)) * load16(x)
            madd(&t, float(signedBytes16(blk + 18)), load16(x + 16))
            madd(&a0, t, splat(blk, 0))
        }
        return horizontalSum(a0 + a1)
    }
}
