// GemmMicroKernel: the 12×32 register tile of Gemm (24 SIMD16 accumulators of the
// 32 zmm registers). Written out by hand-unrolling (generated once by a script) so the
// accumulators stay in registers: no arrays, no loops over rows in the hot loop.

extension Gemm {
    /// Rows of C per micro-tile.
    static let mr = 12
    /// Columns of C per micro-tile (two SIMD16).
    static let nr = 32

    /// tile[12×32] (row stride ldc) = alpha · Σ_p a_i[p] · b[p][0..<32] (+ bias) (+ tile when beta).
    /// `rows` A row pointers (start at this k chunk): rows 0..<12 are a + r_i·lda with r_i = i < mr ? i : 0,
    /// b is a packed panel [kc][32].
    @inline(never)
    static func microKernel12x32(kc: Int, a: UnsafePointer<Float>, lda: Int, mr: Int,
                                 b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
                                 alpha: Float, bias: UnsafePointer<Float>?, beta: Bool) {
        let a0 = a
        let a1 = a + (1 < mr ? 1 * lda : 0)
        let a2 = a + (2 < mr ? 2 * lda : 0)
        let a3 = a + (3 < mr ? 3 * lda : 0)
        let a4 = a + (4 < mr ? 4 * lda : 0)
        let a5 = a + (5 < mr ? 5 * lda : 0)
        let a6 = a + (6 < mr ? 6 * lda : 0)
        let a7 = a + (7 < mr ? 7 * lda : 0)
        let a8 = a + (8 < mr ? 8 * lda : 0)
        let a9 = a + (9 < mr ? 9 * lda : 0)
        let a10 = a + (10 < mr ? 10 * lda : 0)
        let a11 = a + (11 < mr ? 11 * lda : 0)
        var c0x = SIMD16<Float>.zero, c0y = SIMD16<Float>.zero
        var c1x = SIMD16<Float>.zero, c1y = SIMD16<Float>.zero
        var c2x = SIMD16<Float>.zero, c2y = SIMD16<Float>.zero
        var c3x = SIMD16<Float>.zero, c3y = SIMD16<Float>.zero
        var c4x = SIMD16<Float>.zero, c4y = SIMD16<Float>.zero
        var c5x = SIMD16<Float>.zero, c5y = SIMD16<Float>.zero
        var c6x = SIMD16<Float>.zero, c6y = SIMD16<Float>.zero
        var c7x = SIMD16<Float>.zero, c7y = SIMD16<Float>.zero
        var c8x = SIMD16<Float>.zero, c8y = SIMD16<Float>.zero
        var c9x = SIMD16<Float>.zero, c9y = SIMD16<Float>.zero
        var c10x = SIMD16<Float>.zero, c10y = SIMD16<Float>.zero
        var c11x = SIMD16<Float>.zero, c11y = SIMD16<Float>.zero
        var bp = b
        for p in 0..<kc {
            let b0 = UnsafeRawPointer(bp).loadUnaligned(as: SIMD16<Float>.self)
            let b1 = UnsafeRawPointer(bp + 16).loadUnaligned(as: SIMD16<Float>.self)
            let s0 = SIMD16<Float>(repeating: a0[p])
            madd(&c0x, s0, b0); madd(&c0y, s0, b1)
            let s1 = SIMD16<Float>(repeating: a1[p])
            madd(&c1x, s1, b0); madd(&c1y, s1, b1)
            let s2 = SIMD16<Float>(repeating: a2[p])
            madd(&c2x, s2, b0); madd(&c2y, s2, b1)
            let s3 = SIMD16<Float>(repeating: a3[p])
            madd(&c3x, s3, b0); madd(&c3y, s3, b1)
            let s4 = SIMD16<Float>(repeating: a4[p])
            madd(&c4x, s4, b0); madd(&c4y, s4, b1)
            let s5 = SIMD16<Float>(repeating: a5[p])
            madd(&c5x, s5, b0); madd(&c5y, s5, b1)
            let s6 = SIMD16<Float>(repeating: a6[p])
            madd(&c6x, s6, b0); madd(&c6y, s6, b1)
            let s7 = SIMD16<Float>(repeating: a7[p])
            madd(&c7x, s7, b0); madd(&c7y, s7, b1)
            let s8 = SIMD16<Float>(repeating: a8[p])
            madd(&c8x, s8, b0); madd(&c8y, s8, b1)
            let s9 = SIMD16<Float>(repeating: a9[p])
            madd(&c9x, s9, b0); madd(&c9y, s9, b1)
            let s10 = SIMD16<Float>(repeating: a10[p])
            madd(&c10x, s10, b0); madd(&c10y, s10, b1)
            let s11 = SIMD16<Float>(repeating: a11[p])
            madd(&c11x, s11, b0); madd(&c11y, s11, b1)
            bp += 32
        }
        let va = SIMD16<Float>(repeating: alpha)
        var bx = SIMD16<Float>.zero, by = SIMD16<Float>.zero
        if let bias {
            bx = UnsafeRawPointer(bias).loadUnaligned(as: SIMD16<Float>.self)
            by = UnsafeRawPointer(bias + 16).loadUnaligned(as: SIMD16<Float>.self)
        }
        @inline(__always) func store(_ row: UnsafeMutablePointer<Float>, _ x: SIMD16<Float>, _ y: SIMD16<Float>) {
            var ox = bx, oy = by
            madd(&ox, va, x); madd(&oy, va, y)
            if beta {
                ox += UnsafeRawPointer(row).loadUnaligned(as: SIMD16<Float>.self)
                oy += UnsafeRawPointer(row + 16).loadUnaligned(as: SIMD16<Float>.self)
            }
            UnsafeMutableRawPointer(row).storeBytes(of: ox, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(row + 16).storeBytes(of: oy, as: SIMD16<Float>.self)
        }
        store(c + 0 * ldc, c0x, c0y)
        store(c + 1 * ldc, c1x, c1y)
        store(c + 2 * ldc, c2x, c2y)
        store(c + 3 * ldc, c3x, c3y)
        store(c + 4 * ldc, c4x, c4y)
        store(c + 5 * ldc, c5x, c5y)
        store(c + 6 * ldc, c6x, c6y)
        store(c + 7 * ldc, c7x, c7y)
        store(c + 8 * ldc, c8x, c8y)
        store(c + 9 * ldc, c9x, c9y)
        store(c + 10 * ldc, c10x, c10y)
        store(c + 11 * ldc, c11x, c11y)
    }
}

extension Gemm {
    /// As microKernel12x32, for the last 16 or fewer columns of C (n tails, LoRA rank 8):
    /// reads the first 16 columns of the packed [kc][32] panel, 12 accumulators.
    @inline(never)
    static func microKernel12x16(kc: Int, a: UnsafePointer<Float>, lda: Int, mr: Int,
                                 b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
                                 alpha: Float, bias: UnsafePointer<Float>?, beta: Bool) {
        let a0 = a
        let a1 = a + (1 < mr ? 1 * lda : 0)
        let a2 = a + (2 < mr ? 2 * lda : 0)
        let a3 = a + (3 < mr ? 3 * lda : 0)
        let a4 = a + (4 < mr ? 4 * lda : 0)
        let a5 = a + (5 < mr ? 5 * lda : 0)
        let a6 = a + (6 < mr ? 6 * lda : 0)
        let a7 = a + (7 < mr ? 7 * lda : 0)
        let a8 = a + (8 < mr ? 8 * lda : 0)
        let a9 = a + (9 < mr ? 9 * lda : 0)
        let a10 = a + (10 < mr ? 10 * lda : 0)
        let a11 = a + (11 < mr ? 11 * lda : 0)
        var c0 = SIMD16<Float>.zero, c1 = SIMD16<Float>.zero
        var c2 = SIMD16<Float>.zero, c3 = SIMD16<Float>.zero
        var c4 = SIMD16<Float>.zero, c5 = SIMD16<Float>.zero
        var c6 = SIMD16<Float>.zero, c7 = SIMD16<Float>.zero
        var c8 = SIMD16<Float>.zero, c9 = SIMD16<Float>.zero
        var c10 = SIMD16<Float>.zero, c11 = SIMD16<Float>.zero
        var bp = b
        for p in 0..<kc {
            let b0 = UnsafeRawPointer(bp).loadUnaligned(as: SIMD16<Float>.self)
            madd(&c0, SIMD16<Float>(repeating: a0[p]), b0)
            madd(&c1, SIMD16<Float>(repeating: a1[p]), b0)
            madd(&c2, SIMD16<Float>(repeating: a2[p]), b0)
            madd(&c3, SIMD16<Float>(repeating: a3[p]), b0)
            madd(&c4, SIMD16<Float>(repeating: a4[p]), b0)
            madd(&c5, SIMD16<Float>(repeating: a5[p]), b0)
            madd(&c6, SIMD16<Float>(repeating: a6[p]), b0)
            madd(&c7, SIMD16<Float>(repeating: a7[p]), b0)
            madd(&c8, SIMD16<Float>(repeating: a8[p]), b0)
            madd(&c9, SIMD16<Float>(repeating: a9[p]), b0)
            madd(&c10, SIMD16<Float>(repeating: a10[p]), b0)
            madd(&c11, SIMD16<Float>(repeating: a11[p]), b0)
            bp += 32
        }
        let va = SIMD16<Float>(repeating: alpha)
        var bx = SIMD16<Float>.zero
        if let bias { bx = UnsafeRawPointer(bias).loadUnaligned(as: SIMD16<Float>.self) }
        @inline(__always) func store(_ row: UnsafeMutablePointer<Float>, _ x: SIMD16<Float>) {
            var ox = bx
            madd(&ox, va, x)
            if beta { ox += UnsafeRawPointer(row).loadUnaligned(as: SIMD16<Float>.self) }
            UnsafeMutableRawPointer(row).storeBytes(of: ox, as: SIMD16<Float>.self)
        }
        store(c + 0 * ldc, c0)
        store(c + 1 * ldc, c1)
        store(c + 2 * ldc, c2)
        store(c + 3 * ldc, c3)
        store(c + 4 * ldc, c4)
        store(c + 5 * ldc, c5)
        store(c + 6 * ldc, c6)
        store(c + 7 * ldc, c7)
        store(c + 8 * ldc, c8)
        store(c + 9 * ldc, c9)
        store(c + 10 * ldc, c10)
        store(c + 11 * ldc, c11)
    }
}

extension Gemm {
    /// dst[c·ldd + r] = src[r·ld + c] for a 16×16 block: four rounds of even/odd interleaves
    /// (each a vector shuffle). Rows go in bit-reversed order, so after the rounds vector j
    /// holds source column bitrev(j).
    @inline(__always)
    static func transpose16(_ src: UnsafePointer<Float>, ld: Int, _ dst: UnsafeMutablePointer<Float>, ldd: Int) {
        let v0_0 = load16(src + 0 * ld)
        let v1_0 = load16(src + 8 * ld)
        let v2_0 = load16(src + 4 * ld)
        let v3_0 = load16(src + 12 * ld)
        let v4_0 = load16(src + 2 * ld)
        let v5_0 = load16(src + 10 * ld)
        let v6_0 = load16(src + 6 * ld)
        let v7_0 = load16(src + 14 * ld)
        let v8_0 = load16(src + 1 * ld)
        let v9_0 = load16(src + 9 * ld)
        let v10_0 = load16(src + 5 * ld)
        let v11_0 = load16(src + 13 * ld)
        let v12_0 = load16(src + 3 * ld)
        let v13_0 = load16(src + 11 * ld)
        let v14_0 = load16(src + 7 * ld)
        let v15_0 = load16(src + 15 * ld)
        let v0_1 = SIMD16<Float>(lowHalf: v0_0.evenHalf, highHalf: v8_0.evenHalf)
        let v1_1 = SIMD16<Float>(lowHalf: v0_0.oddHalf, highHalf: v8_0.oddHalf)
        let v2_1 = SIMD16<Float>(lowHalf: v1_0.evenHalf, highHalf: v9_0.evenHalf)
        let v3_1 = SIMD16<Float>(lowHalf: v1_0.oddHalf, highHalf: v9_0.oddHalf)
        let v4_1 = SIMD16<Float>(lowHalf: v2_0.evenHalf, highHalf: v10_0.evenHalf)
        let v5_1 = SIMD16<Float>(lowHalf: v2_0.oddHalf, highHalf: v10_0.oddHalf)
        let v6_1 = SIMD16<Float>(lowHalf: v3_0.evenHalf, highHalf: v11_0.evenHalf)
        let v7_1 = SIMD16<Float>(lowHalf: v3_0.oddHalf, highHalf: v11_0.oddHalf)
        let v8_1 = SIMD16<Float>(lowHalf: v4_0.evenHalf, highHalf: v12_0.evenHalf)
        let v9_1 = SIMD16<Float>(lowHalf: v4_0.oddHalf, highHalf: v12_0.oddHalf)
        let v10_1 = SIMD16<Float>(lowHalf: v5_0.evenHalf, highHalf: v13_0.evenHalf)
        let v11_1 = SIMD16<Float>(lowHalf: v5_0.oddHalf, highHalf: v13_0.oddHalf)
        let v12_1 = SIMD16<Float>(lowHalf: v6_0.evenHalf, highHalf: v14_0.evenHalf)
        let v13_1 = SIMD16<Float>(lowHalf: v6_0.oddHalf, highHalf: v14_0.oddHalf)
        let v14_1 = SIMD16<Float>(lowHalf: v7_0.evenHalf, highHalf: v15_0.evenHalf)
        let v15_1 = SIMD16<Float>(lowHalf: v7_0.oddHalf, highHalf: v15_0.oddHalf)
        let v0_2 = SIMD16<Float>(lowHalf: v0_1.evenHalf, highHalf: v8_1.evenHalf)
        let v1_2 = SIMD16<Float>(lowHalf: v0_1.oddHalf, highHalf: v8_1.oddHalf)
        let v2_2 = SIMD16<Float>(lowHalf: v1_1.evenHalf, highHalf: v9_1.evenHalf)
        let v3_2 = SIMD16<Float>(lowHalf: v1_1.oddHalf, highHalf: v9_1.oddHalf)
        let v4_2 = SIMD16<Float>(lowHalf: v2_1.evenHalf, highHalf: v10_1.evenHalf)
        let v5_2 = SIMD16<Float>(lowHalf: v2_1.oddHalf, highHalf: v10_1.oddHalf)
        let v6_2 = SIMD16<Float>(lowHalf: v3_1.evenHalf, highHalf: v11_1.evenHalf)
        let v7_2 = SIMD16<Float>(lowHalf: v3_1.oddHalf, highHalf: v11_1.oddHalf)
        let v8_2 = SIMD16<Float>(lowHalf: v4_1.evenHalf, highHalf: v12_1.evenHalf)
        let v9_2 = SIMD16<Float>(lowHalf: v4_1.oddHalf, highHalf: v12_1.oddHalf)
        let v10_2 = SIMD16<Float>(lowHalf: v5_1.evenHalf, highHalf: v13_1.evenHalf)
        let v11_2 = SIMD16<Float>(lowHalf: v5_1.oddHalf, highHalf: v13_1.oddHalf)
        let v12_2 = SIMD16<Float>(lowHalf: v6_1.evenHalf, highHalf: v14_1.evenHalf)
        let v13_2 = SIMD16<Float>(lowHalf: v6_1.oddHalf, highHalf: v14_1.oddHalf)
        let v14_2 = SIMD16<Float>(lowHalf: v7_1.evenHalf, highHalf: v15_1.evenHalf)
        let v15_2 = SIMD16<Float>(lowHalf: v7_1.oddHalf, highHalf: v15_1.oddHalf)
        let v0_3 = SIMD16<Float>(lowHalf: v0_2.evenHalf, highHalf: v8_2.evenHalf)
        let v1_3 = SIMD16<Float>(lowHalf: v0_2.oddHalf, highHalf: v8_2.oddHalf)
        let v2_3 = SIMD16<Float>(lowHalf: v1_2.evenHalf, highHalf: v9_2.evenHalf)
        let v3_3 = SIMD16<Float>(lowHalf: v1_2.oddHalf, highHalf: v9_2.oddHalf)
        let v4_3 = SIMD16<Float>(lowHalf: v2_2.evenHalf, highHalf: v10_2.evenHalf)
        let v5_3 = SIMD16<Float>(lowHalf: v2_2.oddHalf, highHalf: v10_2.oddHalf)
        let v6_3 = SIMD16<Float>(lowHalf: v3_2.evenHalf, highHalf: v11_2.evenHalf)
        let v7_3 = SIMD16<Float>(lowHalf: v3_2.oddHalf, highHalf: v11_2.oddHalf)
        let v8_3 = SIMD16<Float>(lowHalf: v4_2.evenHalf, highHalf: v12_2.evenHalf)
        let v9_3 = SIMD16<Float>(lowHalf: v4_2.oddHalf, highHalf: v12_2.oddHalf)
        let v10_3 = SIMD16<Float>(lowHalf: v5_2.evenHalf, highHalf: v13_2.evenHalf)
        let v11_3 = SIMD16<Float>(lowHalf: v5_2.oddHalf, highHalf: v13_2.oddHalf)
        let v12_3 = SIMD16<Float>(lowHalf: v6_2.evenHalf, highHalf: v14_2.evenHalf)
        let v13_3 = SIMD16<Float>(lowHalf: v6_2.oddHalf, highHalf: v14_2.oddHalf)
        let v14_3 = SIMD16<Float>(lowHalf: v7_2.evenHalf, highHalf: v15_2.evenHalf)
        let v15_3 = SIMD16<Float>(lowHalf: v7_2.oddHalf, highHalf: v15_2.oddHalf)
        let v0_4 = SIMD16<Float>(lowHalf: v0_3.evenHalf, highHalf: v8_3.evenHalf)
        let v1_4 = SIMD16<Float>(lowHalf: v0_3.oddHalf, highHalf: v8_3.oddHalf)
        let v2_4 = SIMD16<Float>(lowHalf: v1_3.evenHalf, highHalf: v9_3.evenHalf)
        let v3_4 = SIMD16<Float>(lowHalf: v1_3.oddHalf, highHalf: v9_3.oddHalf)
        let v4_4 = SIMD16<Float>(lowHalf: v2_3.evenHalf, highHalf: v10_3.evenHalf)
        let v5_4 = SIMD16<Float>(lowHalf: v2_3.oddHalf, highHalf: v10_3.oddHalf)
        let v6_4 = SIMD16<Float>(lowHalf: v3_3.evenHalf, highHalf: v11_3.evenHalf)
        let v7_4 = SIMD16<Float>(lowHalf: v3_3.oddHalf, highHalf: v11_3.oddHalf)
        let v8_4 = SIMD16<Float>(lowHalf: v4_3.evenHalf, highHalf: v12_3.evenHalf)
        let v9_4 = SIMD16<Float>(lowHalf: v4_3.oddHalf, highHalf: v12_3.oddHalf)
        let v10_4 = SIMD16<Float>(lowHalf: v5_3.evenHalf, highHalf: v13_3.evenHalf)
        let v11_4 = SIMD16<Float>(lowHalf: v5_3.oddHalf, highHalf: v13_3.oddHalf)
        let v12_4 = SIMD16<Float>(lowHalf: v6_3.evenHalf, highHalf: v14_3.evenHalf)
        let v13_4 = SIMD16<Float>(lowHalf: v6_3.oddHalf, highHalf: v14_3.oddHalf)
        let v14_4 = SIMD16<Float>(lowHalf: v7_3.evenHalf, highHalf: v15_3.evenHalf)
        let v15_4 = SIMD16<Float>(lowHalf: v7_3.oddHalf, highHalf: v15_3.oddHalf)
        store16(v0_4, dst + 0 * ldd)
        store16(v1_4, dst + 8 * ldd)
        store16(v2_4, dst + 4 * ldd)
        store16(v3_4, dst + 12 * ldd)
        store16(v4_4, dst + 2 * ldd)
        store16(v5_4, dst + 10 * ldd)
        store16(v6_4, dst + 6 * ldd)
        store16(v7_4, dst + 14 * ldd)
        store16(v8_4, dst + 1 * ldd)
        store16(v9_4, dst + 9 * ldd)
        store16(v10_4, dst + 5 * ldd)
        store16(v11_4, dst + 13 * ldd)
        store16(v12_4, dst + 3 * ldd)
        store16(v13_4, dst + 11 * ldd)
        store16(v14_4, dst + 7 * ldd)
        store16(v15_4, dst + 15 * ldd)
    }
}
