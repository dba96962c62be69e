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

    /// Floats of scratch one quantized activation row of k takes: the k int8 values as floats in
    /// lane order (block b, value 4i+j at 32b + 8j + i, so lane sums need no shuffles), then k/32
    /// scales d and k/32 block sums s (both f16-rounded).
    @inline(__always)
    static func q8RowFloats(_ k: Int) -> Int { k + 2 * (k / 32) }

    /// Quantizes one row to ggml's Q8_1 (`quantize_row_q8_1`, AVX2 path): per block of 32,
    /// amax, d = amax/127 (stored as f16), q = round-half-even(x·(127/amax)), s = f16(d·Σq) with
    /// the unrounded d. Q8_0 is the same without s.
    /// `qs` receives the values as floats in lane order (see `q8RowFloats`).
    public static func quantizeQ8Row(_ x: UnsafePointer<Float>, k: Int, qs: UnsafeMutablePointer<Float>,
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
            let out = qs + 32 * b
            for v in 0..<16 {
                out[8 * (v & 3) + v >> 2] = q0[v]              // value v = 4i+j → 8j+i
                out[8 * (v & 3) + 4 + v >> 2] = q1[v]          // value 16+v
            }
            scales[b] = roundedToHalf(d)
            let i01 = i0 &+ i1
            var total: Int32 = 0
            for i in 0..<16 { total &+= i01[i] }
            sums[b] = roundedToHalf(d * Float(total))
        }
    }

    /// A quantized activation row inside scratch (layout of `q8RowFloats`).
    struct Q8Row {
        let qs: UnsafePointer<Float>      // lane order, see q8RowFloats
        let scales: UnsafePointer<Float>
        let sums: UnsafePointer<Float>

        @inline(__always)
        init(_ base: UnsafeMutablePointer<Float>, k: Int) {
            qs = UnsafePointer(base)
            scales = UnsafePointer(base + k)
            sums = UnsafePointer(base + k + k / 32)
        }
    }

    @inline(__always)
    static func floats(_ v: SIMD8<UInt32>) -> SIMD8<Float> {
        var r = SIMD8<Float>()
        for i in 0..<8 { r[i] = Float(Int32(bitPattern: v[i])) }
        return r
    }

    /// The eight lane sums of block b (lane i = Σ_j w[4i+j]·q[4i+j], exact in Float: every
    /// product and partial sum is an integer below 2²⁴). `x` is the block's activations in lane
    /// order. The weight values are taken from 32-bit words with shifts: byte j of word i is
    /// value 4i+j (Q8_0), its low nibble value 4i+j and its high nibble value 16+4i+j (Q4).
    @inline(__always)
    static func laneSums(_ w: UnsafeRawPointer, kind: Int, block b: Int, _ x: UnsafePointer<Float>) -> SIMD8<Float> {
        let x0 = UnsafeRawPointer(x).loadUnaligned(as: SIMD8<Float>.self)
        let x1 = UnsafeRawPointer(x + 8).loadUnaligned(as: SIMD8<Float>.self)
        let x2 = UnsafeRawPointer(x + 16).loadUnaligned(as: SIMD8<Float>.self)
        let x3 = UnsafeRawPointer(x + 24).loadUnaligned(as: SIMD8<Float>.self)
        let p0: SIMD8<Float>, p1: SIMD8<Float>, p2: SIMD8<Float>, p3: SIMD8<Float>
        if kind == q8_0Kind {
            let words = (w + 34 * b + 2).loadUnaligned(as: SIMD8<UInt32>.self)
            @inline(__always) func byte(_ j: UInt32) -> SIMD8<Float> {
                var r = SIMD8<Float>()
                let shifted = words &<< (24 - 8 * j)
                for i in 0..<8 { r[i] = Float(Int32(bitPattern: shifted[i]) >> 24) }
                return r
            }
            p0 = byte(0); p1 = byte(1); p2 = byte(2); p3 = byte(3)
        } else {
            let words = (w + (kind == q4_1Kind ? 20 * b + 4 : 18 * b + 2)).loadUnaligned(as: SIMD4<UInt32>.self)
            let v = SIMD8<UInt32>(lowHalf: words, highHalf: words &>> 4)
            let bias = SIMD8<Float>(repeating: kind == q4_0Kind ? 8 : 0)
            p0 = floats(v & 15) - bias
            p1 = floats((v &>> 8) & 15) - bias
            p2 = floats((v &>> 16) & 15) - bias
            p3 = floats((v &>> 24) & 15) - bias
        }
        return (p0 * x0 + p1 * x1) + (p2 * x2 + p3 * x3)
    }

    /// The formats of the integer kernels as plain integers: comparing QuantFormat values in
    /// the inner loop goes through the generic RawRepresentable ==.
    static let q4_0Kind = 0, q4_1Kind = 1, q8_0Kind = 2

    @inline(__always)
    static func integerKind(_ format: QuantFormat) -> Int {
        switch format {
        case .q4_0: return q4_0Kind
        case .q4_1: return q4_1Kind
        default: return q8_0Kind
        }
    }

    /// Weight block scale as Float.
    @inline(__always)
    static func blockScale(_ w: UnsafeRawPointer, kind: Int, block b: Int) -> Float {
        quantHalf(w + (kind == q4_1Kind ? 20 : kind == q4_0Kind ? 18 : 34) * b, 0)
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
    static func integerRowDot(_ w: UnsafeRawPointer, kind: Int, blocks: Int, x: Q8Row) -> Float {
        var acc = SIMD8<Float>.zero
        var mins: Float = 0
        for b in 0..<blocks {
            let dd = blockScale(w, kind: kind, block: b) * x.scales[b]
            if kind == q4_1Kind { mins.addProduct(quantHalf(w + 20 * b, 2), x.sums[b]) }
            acc = acc.addingProduct(SIMD8(repeating: dd), laneSums(w, kind: kind, block: b, x.qs + 32 * b))
        }
        return hsum8(acc) + mins
    }

    /// One weight row · four quantized activation rows; each result is bit-identical to
    /// `integerRowDot` of that row (the weight block is decoded once for the four).
    @inline(__always)
    static func integerRowDot4(_ w: UnsafeRawPointer, kind: Int, blocks: Int,
                               _ x0: Q8Row, _ x1: Q8Row, _ x2: Q8Row, _ x3: Q8Row) -> SIMD4<Float> {
        var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
        var m0: Float = 0, m1: Float = 0, m2: Float = 0, m3: Float = 0
        for b in 0..<blocks {
            let dw = blockScale(w, kind: kind, block: b)
            if kind == q4_1Kind {
                let m = quantHalf(w + 20 * b, 2)
                m0.addProduct(m, x0.sums[b]); m1.addProduct(m, x1.sums[b])
                m2.addProduct(m, x2.sums[b]); m3.addProduct(m, x3.sums[b])
            }
            a0 = a0.addingProduct(SIMD8(repeating: dw * x0.scales[b]), laneSums(w, kind: kind, block: b, x0.qs + 32 * b))
            a1 = a1.addingProduct(SIMD8(repeating: dw * x1.scales[b]), laneSums(w, kind: kind, block: b, x1.qs + 32 * b))
            a2 = a2.addingProduct(SIMD8(repeating: dw * x2.scales[b]), laneSums(w, kind: kind, block: b, x2.qs + 32 * b))
            a3 = a3.addingProduct(SIMD8(repeating: dw * x3.scales[b]), laneSums(w, kind: kind, block: b, x3.qs + 32 * b))
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
            quantizeQ8Row(x + i * ldx, k: k, qs: base, scales: base + k, sums: base + k + k / 32)
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
            // one copy of the loop per format, so `kind` is a constant inside
            switch integerKind(format) {
            case q4_0Kind: run(chunk: chunk, kind: q4_0Kind)
            case q4_1Kind: run(chunk: chunk, kind: q4_1Kind)
            default: run(chunk: chunk, kind: q8_0Kind)
            }
        }

        @inline(__always)
        func run(chunk: Int, kind: Int) {
            let blocks = k / 32
            let j0 = chunk * dotChunk
            for j in j0..<min(j0 + dotChunk, n) {
                let w = weights + j * rowBytes
                var i = 0
                while i + 4 <= m {
                    let r = integerRowDot4(w, kind: kind, blocks: blocks,
                                           Q8Row(xq + i * rowFloats, k: k), Q8Row(xq + (i + 1) * rowFloats, k: k),
                                           Q8Row(xq + (i + 2) * rowFloats, k: k), Q8Row(xq + (i + 3) * rowFloats, k: k))
                    for c in 0..<4 { store(r[c], i + c, j) }
                    i += 4
                }
                while i < m {
                    store(integerRowDot(w, kind: kind, blocks: blocks, x: Q8Row(xq + i * rowFloats, k: k)), i, j)
                    i += 1
                }
            }
        }
    }
}
