// QuantRowDot: the integer block dot products of the 32-value formats (Q4_0, Q4_1, Q8_0) with
// Q8_0/Q8_1 activations, in llama.cpp's own float order, for every batch size.
//
// Why the exact order: SmolLM2-class models carry a few huge activations, so the Q8 rounding of
// the next layer's input decides the logits to ~0.1; a value that lands on the other side of a
// rounding step in one layer moves logits by up to 0.9 at the end (measured: computing the Q8
// multiplier as 1/d instead of 127/amax, or RoPE without fused multiply-add, moves SmolLM2's
// step-0 logits by 0.3-0.9). Matching llama.cpp's step-0 logits to 0.1 therefore needs its float
// arithmetic, not just its quantization. ggml's x86 kernels (`ggml_vec_dot_q4_1_q8_1`,
// `ggml_vec_dot_q4_0_q8_0`, tinyBLAS_Q0_AVX for Q8_0) compute, per block, eight int32 lane sums
// of four adjacent products (lane j: values 4j..4j+3 of the block, low nibbles first), convert
// them to float and accumulate acc[j] = fma(dw·dx, lane[j], acc[j]) across blocks; then
// hsum_float_8: (j + j+4), then (0+2, 1+3), then (0+1). Q4_1 adds Σ m·s (s = the Q8_1 block sum
// d·Σq rounded to f16), summed in block order, after the hsum. The loop itself is C with AVX2
// intrinsics (Sources/CQuantDot): Swift's SIMD types do not lower to vpmaddubsw/vpmaddwd or vpdpbusd.
//
// Each output is computed by the same instructions whatever m is, so a sequence's logits do not
// depend on the batch it runs in (llama.cpp's are batch-invariant for these types too).
import CQuantDot

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
            var b0 = SIMD16<Int8>(), b1 = SIMD16<Int8>()
            var total: Int32 = 0
            for i in 0..<16 {
                let v0 = Int32(q0[i]), v1 = Int32(q1[i])
                b0[i] = Int8(truncatingIfNeeded: v0); b1[i] = Int8(truncatingIfNeeded: v1)
                total &+= v0 &+ v1
            }
            UnsafeMutableRawPointer(qs + 32 * b).storeBytes(of: b0, as: SIMD16<Int8>.self)
            UnsafeMutableRawPointer(qs + 32 * b + 16).storeBytes(of: b1, as: SIMD16<Int8>.self)
            scales[b] = roundedToHalf(d)
            sums[b] = roundedToHalf(d * Float(total))
        }
    }

    /// Whether the integer kernels use AVX-512 VNNI (they do where the CPU has it); setting false
    /// selects the vpmaddubsw copy, which gives the same bits.
    public static var usesVNNI: Bool {
        get { dojo_uses_vnni() != 0 }
        set { dojo_use_vnni(newValue ? 1 : 0) }
    }

    /// The C kernel's format id.
    @inline(__always)
    static func integerKind(_ format: QuantFormat) -> Int32 {
        switch format {
        case .q4_0: return Int32(DOJO_Q4_0)
        case .q4_1: return Int32(DOJO_Q4_1)
        default: return Int32(DOJO_Q8_0)
        }
    }

    // MARK: - The matmul over the pool

    static func integerMatmul(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int,
                              weights: UnsafeRawPointer, format: QuantFormat,
                              y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool, pool: ThreadPool) {
        // Quantize every x row once, before the parallel loop.
        let rowFloats = q8RowFloats(k)
        // [m][rowFloats] quantized rows, then (Q4_1) their block sums transposed, [k/32][m]
        let xq = pool.sharedScratch(count: m * rowFloats + m * (k / 32))
        for i in 0..<m {
            let base = xq + i * rowFloats
            quantizeQ8Row(x + i * ldx, k: k, qs: UnsafeMutableRawPointer(base).assumingMemoryBound(to: Int8.self),
                          scales: base + k / 4, sums: base + k / 4 + k / 32)
        }
        let sumsT = xq + m * rowFloats
        if format == .q4_1 && m >= 4 { dojo_transpose_sums(Int32(k / 32), Int32(m), xq, rowFloats * 4, sumsT) }
        // A few sequences read every weight once and do little with it: each thread takes two long
        // runs of rows (the hardware prefetcher follows a long run; handing out 16-row chunks costs a
        // cross-core atomic per chunk, which on this class of machine took as long as the dots).
        // Batches do enough work per row for 16-row chunks to balance the threads.
        let chunkRows = m < smallM ? max(dotChunk, ((n + 2 * pool.threads - 1) / (2 * pool.threads) + 3) & ~3) : dotChunk
        for w in 0..<pool.threads { _ = pool.scratch(worker: w, count: m * chunkRows) }
        var job = IntegerJob(m: m, n: n, k: k, xq: xq, rowFloats: rowFloats, sumsT: sumsT, weights: weights,
                             rowBytes: format.rowBytes(k), kind: integerKind(format), chunkRows: chunkRows,
                             y: y, ldy: ldy, accumulate: accumulate, pool: pool)
        withUnsafeMutablePointer(to: &job) { job in
            pool.parallelFor((n + chunkRows - 1) / chunkRows, context: UnsafeMutableRawPointer(job)) { context, chunk, worker in
                context.assumingMemoryBound(to: IntegerJob.self).pointee.run(chunk: chunk, worker: worker)
            }
        }
    }

    struct IntegerJob {
        let m: Int, n: Int, k: Int
        let xq: UnsafeMutablePointer<Float>, rowFloats: Int
        let sumsT: UnsafeMutablePointer<Float>
        let weights: UnsafeRawPointer, rowBytes: Int
        let kind: Int32
        let chunkRows: Int
        let y: UnsafeMutablePointer<Float>, ldy: Int
        let accumulate: Bool
        unowned(unsafe) let pool: ThreadPool

        func run(chunk: Int, worker: Int) {
            let j0 = chunk * chunkRows, rowsHere = min(chunkRows, n - j0)
            let out = pool.scratch(worker: worker, count: m * chunkRows)   // [m][rowsHere]
            // 4 × 4 tiles of weight rows × x rows (the chunk's weight rows stay in L1)
            dojo_tile_dots(kind, Int32(k / 32), weights + j0 * rowBytes, rowBytes, Int32(rowsHere), Int32(m),
                           xq, rowFloats * 4, sumsT, Int32(m), out, rowsHere)
            for i in 0..<m {
                let dst = y + i * ldy + j0, src = out + i * rowsHere
                if accumulate {
                    for j in 0..<rowsHere { dst[j] += src[j] }
                } else {
                    dst.update(from: src, count: rowsHere)
                }
            }
        }
    }
}
