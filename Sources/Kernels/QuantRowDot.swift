// QuantRowDot: the integer block dot products of the 32-value formats (Q4_0, Q4_1, Q8_0) with
// Q8_0/Q8_1 activations, in llama.cpp's own float order, for every batch size.
//
// Why the exact order: SmolLM2-class models carry a few huge activations, so the Q8 rounding of
// the next layer's input decides the logits to ~0.1; a value that lands on the other side of a
// rounding step in one layer moves logits by up to 0.3 at the end. Matching llama.cpp's step-0
// logits to 0.1 therefore needs its float arithmetic, not just its quantization. ggml's x86
// kernels (`ggml_vec_dot_q4_1_q8_1`, `ggml_vec_dot_q4_0_q8_0`, tinyBLAS_Q0_AVX for Q8_0) compute,
// per block, eight int32 lane sums of four adjacent products (lane j: values 4j..4j+3 of the
// block, low nibbles first), convert them to float and accumulate acc[j] = fma(dw·dx, lane[j],
// acc[j]) across blocks; then hsum_float_8: (j + j+4), then (0+2, 1+3), then (0+1). Q4_1 adds
// Σ m·s (s = the Q8_1 block sum d·Σq rounded to f16), summed in block order, after the hsum.
//
// Each output is computed by the same instructions whatever m is, so a sequence's logits do not
// depend on the batch it runs in (llama.cpp's are batch-invariant for these types too).

extension QuantMatmul {
    /// Formats with integer block dot products against Q8 activations.
    @inline(__always)
    static func hasIntegerDot(_ format: QuantFormat) -> Bool {
        format == .q4_0 || format == .q4_1 || format == .q8_0
    }

    /// Floats of scratch one quantized activation row of k takes: k int8 values, then k/32
    /// scales d and k/32 block sums s (both f16-rounded, as Float).
    @inline(__always)
    static func q8RowFloats(_ k: Int) -> Int { k / 4 + 2 * (k / 32) }

    /// Quantizes one row to ggml's Q8_1 (`quantize_row_q8_1`, AVX2 path): per block of 32,
    /// amax, d = amax/127 (stored as f16), q = round-half-even(x·(127/amax)), s = f16(d·Σq) with
    /// the unrounded d. Q8_0 is the same without s.
    public static func quantizeQ8Row(_ x: UnsafePointer<Float>, k: Int, qs: UnsafeMutablePointer<Int8>,
                                     scales: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>) {
        precondition(k % 32 == 0, "k \(k) is not a multiple of 32")
        for b in 0..<k / 32 {
            let x0 = load16(x + 32 * b), x1 = load16(x + 32 * b + 16)
            let amax = horizontalMax(max16(abs16(x0), abs16(x1)))
            let d = amax / 127
            // ggml multiplies by 127/amax, not by 1/d: the two differ in the last bit, which
            // moves values that sit at a rounding tie.
            let id: Float = amax != 0 ? 127 / amax : 0
            let q0 = round16(x0 * id), q1 = round16(x1 * id)
            var i0 = SIMD16<Int32>(), i1 = SIMD16<Int32>()
            for i in 0..<16 { i0[i] = Int32(q0[i]); i1[i] = Int32(q1[i]) }
            var b0 = SIMD16<Int8>(), b1 = SIMD16<Int8>()
            for i in 0..<16 { b0[i] = Int8(truncatingIfNeeded: i0[i]); b1[i] = Int8(truncatingIfNeeded: i1[i]) }
            UnsafeMutableRawPointer(qs + 32 * b).storeBytes(of: b0, as: SIMD16<Int8>.self)
            UnsafeMutableRawPointer(qs + 32 * b + 16).storeBytes(of: b1, as: SIMD16<Int8>.self)
            scales[b] = roundedToHalf(d)
            sums[b] = roundedToHalf(d * Float((i0 &+ i1).wrappedSum()))
        }
    }

    /// A quantized activation row inside scratch (layout of `q8RowFloats`).
    struct Q8Row {
        let qs: UnsafePointer<Int8>
        let scales: UnsafePointer<Float>
        let sums: UnsafePointer<Float>

        @inline(__always)
        init(_ base: UnsafeMutablePointer<Float>, k: Int) {
            qs = UnsafeRawPointer(base).assumingMemoryBound(to: Int8.self)
            scales = UnsafePointer(base + k / 4)
            sums = UnsafePointer(base + k / 4 + k / 32)
        }
    }

    /// Block b of a weight row as its 32 integer values (0..15 for Q4_1, -8..7 for Q4_0,
    /// -128..127 for Q8_0), values 0..15 in `lo` and 16..31 in `hi`.
    @inline(__always)
    static func blockValues(_ w: UnsafeRawPointer, format: QuantFormat, block b: Int)
        -> (lo: SIMD16<Int16>, hi: SIMD16<Int16>) {
        var lo = SIMD16<Int16>(), hi = SIMD16<Int16>()
        switch format {
        case .q4_1:
            let raw = (w + 20 * b + 4).loadUnaligned(as: SIMD16<UInt8>.self)
            for i in 0..<16 { lo[i] = Int16(raw[i] & 15); hi[i] = Int16(raw[i] >> 4) }
        case .q4_0:
            let raw = (w + 18 * b + 2).loadUnaligned(as: SIMD16<UInt8>.self)
            for i in 0..<16 { lo[i] = Int16(raw[i] & 15) - 8; hi[i] = Int16(raw[i] >> 4) - 8 }
        default:   // q8_0
            let r0 = (w + 34 * b + 2).loadUnaligned(as: SIMD16<Int8>.self)
            let r1 = (w + 34 * b + 18).loadUnaligned(as: SIMD16<Int8>.self)
            for i in 0..<16 { lo[i] = Int16(r0[i]); hi[i] = Int16(r1[i]) }
        }
        return (lo, hi)
    }

    /// The eight lane sums of one block: lane j = Σ values 4j..4j+3 · q, as floats (exact).
    @inline(__always)
    static func laneSums(_ lo: SIMD16<Int16>, _ hi: SIMD16<Int16>, _ q: UnsafePointer<Int8>) -> SIMD8<Float> {
        let y0 = UnsafeRawPointer(q).loadUnaligned(as: SIMD16<Int8>.self)
        let y1 = UnsafeRawPointer(q + 16).loadUnaligned(as: SIMD16<Int8>.self)
        var a = SIMD16<Int32>(), c = SIMD16<Int32>()
        for i in 0..<16 { a[i] = Int32(lo[i]) &* Int32(y0[i]); c[i] = Int32(hi[i]) &* Int32(y1[i]) }
        let a2 = a.evenHalf &+ a.oddHalf, c2 = c.evenHalf &+ c.oddHalf
        let a4 = a2.evenHalf &+ a2.oddHalf, c4 = c2.evenHalf &+ c2.oddHalf
        var r = SIMD8<Float>()
        for i in 0..<4 { r[i] = Float(a4[i]); r[i + 4] = Float(c4[i]) }
        return r
    }

    /// Weight block scale (and Q4_1 min) as Float.
    @inline(__always)
    static func blockScale(_ w: UnsafeRawPointer, format: QuantFormat, block b: Int) -> Float {
        quantHalf(w + format.bytesPerBlock * b, 0)
    }

    /// ggml's hsum_float_8.
    @inline(__always)
    static func hsum8(_ v: SIMD8<Float>) -> Float {
        let h4 = v.lowHalf + v.highHalf
        let h2 = h4.lowHalf + h4.highHalf
        return h2[0] + h2[1]
    }

    /// One weight row · one quantized activation row, in ggml's order (see the file comment).
    @inline(__always)
    static func integerRowDot(_ w: UnsafeRawPointer, format: QuantFormat, blocks: Int, x: Q8Row) -> Float {
        var acc = SIMD8<Float>.zero
        var mins: Float = 0
        for b in 0..<blocks {
            let (lo, hi) = blockValues(w, format: format, block: b)
            let dd = blockScale(w, format: format, block: b) * x.scales[b]
            if format == .q4_1 { mins.addProduct(quantHalf(w + 20 * b, 2), x.sums[b]) }
            acc = acc.addingProduct(SIMD8(repeating: dd), laneSums(lo, hi, x.qs + 32 * b))
        }
        return hsum8(acc) + mins
    }

    /// One weight row · four quantized activation rows; each result is bit-identical to
    /// `integerRowDot` of that row (the weight block is decoded once for the four).
    @inline(__always)
    static func integerRowDot4(_ w: UnsafeRawPointer, format: QuantFormat, blocks: Int,
                               _ x0: Q8Row, _ x1: Q8Row, _ x2: Q8Row, _ x3: Q8Row) -> SIMD4<Float> {
        var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
        var m0: Float = 0, m1: Float = 0, m2: Float = 0, m3: Float = 0
        for b in 0..<blocks {
            let (lo, hi) = blockValues(w, format: format, block: b)
            let dw = blockScale(w, format: format, block: b)
            if format == .q4_1 {
                let m = quantHalf(w + 20 * b, 2)
                m0.addProduct(m, x0.sums[b]); m1.addProduct(m, x1.sums[b])
                m2.addProduct(m, x2.sums[b]); m3.addProduct(m, x3.sums[b])
            }
            a0 = a0.addingProduct(SIMD8(repeating: dw * x0.scales[b]), laneSums(lo, hi, x0.qs + 32 * b))
            a1 = a1.addingProduct(SIMD8(repeating: dw * x1.scales[b]), laneSums(lo, hi, x1.qs + 32 * b))
            a2 = a2.addingProduct(SIMD8(repeating: dw * x2.scales[b]), laneSums(lo, hi, x2.qs + 32 * b))
            a3 = a3.addingProduct(SIMD8(repeating: dw * x3.scales[b]), laneSums(lo, hi, x3.qs + 32 * b))
        }
        return SIMD4(hsum8(a0) + m0, hsum8(a1) + m1, hsum8(a2) + m2, hsum8(a3) + m3)
    }

    // MARK: - The matmul over the pool

    static func integerMatmul(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int,
                              weights: UnsafeRawPointer, format: QuantFormat,
                              y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool, pool: ThreadPool) {
        // Quantize every x row once, before the parallel loop.
        let rowFloats = q8RowFloats(k)
        let xq = pool.sharedScratch(count: m * rowFloats)
        for i in 0..<m {
            let base = xq + i * rowFloats
            quantizeQ8Row(x + i * ldx, k: k, qs: UnsafeMutableRawPointer(base).assumingMemoryBound(to: Int8.self),
                          scales: base + k / 4, sums: base + k / 4 + k / 32)
        }
        var job = IntegerJob(m: m, n: n, k: k, xq: xq, rowFloats: rowFloats, weights: weights,
                             rowBytes: format.rowBytes(k), format: format, y: y, ldy: ldy, accumulate: accumulate)
        withUnsafeMutablePointer(to: &job) { job in
            pool.parallelFor((n + dotChunk - 1) / dotChunk, context: UnsafeMutableRawPointer(job)) { context, chunk, _ in
                context.assumingMemoryBound(to: IntegerJob.self).pointee.run(chunk: chunk)
            }
        }
    }

    struct IntegerJob {
        let m: Int, n: Int, k: Int
        let xq: UnsafeMutablePointer<Float>, rowFloats: Int
        let weights: UnsafeRawPointer, rowBytes: Int
        let format: QuantFormat
        let y: UnsafeMutablePointer<Float>, ldy: Int
        let accumulate: Bool

        @inline(__always)
        func store(_ value: Float, _ i: Int, _ j: Int) {
            let out = y + i * ldy + j
            out.pointee = accumulate ? out.pointee + value : value
        }

        func run(chunk: Int) {
            let blocks = k / 32
            let j0 = chunk * dotChunk
            for j in j0..<min(j0 + dotChunk, n) {
                let w = weights + j * rowBytes
                var i = 0
                while i + 4 <= m {
                    let r = integerRowDot4(w, format: format, blocks: blocks,
                                           Q8Row(xq + i * rowFloats, k: k), Q8Row(xq + (i + 1) * rowFloats, k: k),
                                           Q8Row(xq + (i + 2) * rowFloats, k: k), Q8Row(xq + (i + 3) * rowFloats, k: k))
                    for c in 0..<4 { store(r[c], i + c, j) }
                    i += 4
                }
                while i < m {
                    store(integerRowDot(w, format: format, blocks: blocks, x: Q8Row(xq + i * rowFloats, k: k)), i, j)
                    i += 1
                }
            }
        }
    }
}

