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
// d·Σq rounded to f16), summed in block order, after the hsum. The loops are C with intrinsics
// (Sources/CQuantDot), compiled once with AVX2's vpmaddubsw/vpmaddwd and once with AVX-512 VNNI's
// vpdpbusd (chosen at run time): Swift's SIMD types lower to neither. Batches go through 4 × 4
// tiles that reuse each decoded weight block for four activation rows.
//
// Each output gets the same operations on the same values whatever m is, so a sequence's logits
// do not depend on the batch it runs in (llama.cpp's are batch-invariant for these types too).
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
            // round half to even by adding 1.5·2²³ (round16); the sum's bits are then
            // 0x4B40_0000 + the integer, read without Swift's slow checked float-to-int conversion
            let magic = SIMD16<Float>(repeating: roundingMagic)
            let v0 = unsafeBitCast(x0 * id + magic, to: SIMD16<Int32>.self) &- 0x4B40_0000
            let v1 = unsafeBitCast(x1 * id + magic, to: SIMD16<Int32>.self) &- 0x4B40_0000
            let b0 = SIMD16<Int8>(truncatingIfNeeded: v0), b1 = SIMD16<Int8>(truncatingIfNeeded: v1)
            let total = (v0 &+ v1).wrappedSum()
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
        let (xq, rowFloats, sumsT) = quantizeForIntegerDots(m: m, k: k, x: x, ldx: ldx, transposeSums: format == .q4_1, pool: pool)
        let rows = Self.chunkRows(m: m, n: n, pool: pool)
        if accumulate { for w in 0..<pool.threads { _ = pool.scratch(worker: w, count: m * rows) } }
        var job = IntegerJob(m: m, n: n, k: k, xq: xq, rowFloats: rowFloats, sumsT: sumsT, weights: weights,
                             rowBytes: format.rowBytes(k), kind: integerKind(format), chunkRows: rows,
                             y: y, ldy: ldy, accumulate: accumulate, pool: pool)
        withUnsafeMutablePointer(to: &job) { job in
            pool.parallelFor((n + rows - 1) / rows, context: UnsafeMutableRawPointer(job)) { context, chunk, worker in
                context.assumingMemoryBound(to: IntegerJob.self).pointee.run(chunk: chunk, worker: worker)
            }
        }
    }

    /// One of the projections `matmulShared` computes from the same activation rows.
    public struct SharedInputProjection {
        public let weights: UnsafeRawPointer
        public let format: QuantFormat
        public let n: Int
        public let y: UnsafeMutablePointer<Float>
        public let ldy: Int

        public init(weights: UnsafeRawPointer, format: QuantFormat, n: Int, y: UnsafeMutablePointer<Float>, ldy: Int) {
            self.weights = weights; self.format = format; self.n = n; self.y = y; self.ldy = ldy
        }
    }

    /// Whether `matmulShared` takes weights of `format` (the integer formats).
    public static func canShareInput(_ format: QuantFormat) -> Bool { hasIntegerDot(format) }

    /// y_p = x[m×k] · W_pᵀ for two or three projections of the same rows (q, k, v; gate, up): x is
    /// quantized once and every projection's runs of weight rows go through one parallel loop.
    /// Each output has the bits `matmul` gives it.
    public static func matmulShared(m: Int, k: Int, x: UnsafePointer<Float>, ldx: Int, _ a: SharedInputProjection,
                                    _ b: SharedInputProjection, _ c: SharedInputProjection? = nil, pool: ThreadPool) {
        let projections = c == nil ? 2 : 3
        precondition(canShareInput(a.format) && canShareInput(b.format) && (c.map { canShareInput($0.format) } ?? true),
                     "matmulShared takes Q4_0, Q4_1 and Q8_0 weights")
        precondition(m > 0 && k > 0 && k % 32 == 0, "matmulShared needs rows and k a multiple of 32")
        let anyQ4_1 = a.format == .q4_1 || b.format == .q4_1 || c?.format == .q4_1
        let (xq, rowFloats, sumsT) = quantizeForIntegerDots(m: m, k: k, x: x, ldx: ldx, transposeSums: anyQ4_1, pool: pool)
        func job(_ p: SharedInputProjection) -> IntegerJob {
            IntegerJob(m: m, n: p.n, k: k, xq: xq, rowFloats: rowFloats, sumsT: sumsT, weights: p.weights,
                       rowBytes: p.format.rowBytes(k), kind: integerKind(p.format), chunkRows: Self.chunkRows(m: m, n: p.n, pool: pool),
                       y: p.y, ldy: p.ldy, accumulate: false, pool: pool)
        }
        var group = SharedJob(jobs: (job(a), job(b), job(c ?? b)), count: projections)
        withUnsafeMutablePointer(to: &group) { group in
            pool.parallelFor(group.pointee.totalChunks, context: UnsafeMutableRawPointer(group)) { context, chunk, worker in
                context.assumingMemoryBound(to: SharedJob.self).pointee.run(chunk: chunk, worker: worker)
            }
        }
    }

    /// The chunks of two or three IntegerJobs, numbered one after the other.
    struct SharedJob {
        let jobs: (IntegerJob, IntegerJob, IntegerJob)
        let count: Int

        func chunks(_ job: IntegerJob) -> Int { (job.n + job.chunkRows - 1) / job.chunkRows }
        var totalChunks: Int { chunks(jobs.0) + chunks(jobs.1) + (count == 3 ? chunks(jobs.2) : 0) }

        func run(chunk: Int, worker: Int) {
            let first = chunks(jobs.0), second = first + chunks(jobs.1)
            if chunk < first { jobs.0.run(chunk: chunk, worker: worker) }
            else if chunk < second { jobs.1.run(chunk: chunk - first, worker: worker) }
            else { jobs.2.run(chunk: chunk - second, worker: worker) }
        }
    }

    /// Quantizes `rows` x rows per item (and transposes their block sums when sumsT is set).
    struct QuantizeJob {
        static let rows = 8
        let m: Int, k: Int
        let x: UnsafePointer<Float>, ldx: Int
        let xq: UnsafeMutablePointer<Float>, rowFloats: Int
        let sumsT: UnsafeMutablePointer<Float>?

        func run(item: Int) {
            let blocks = k / 32
            for i in item * Self.rows..<min(m, (item + 1) * Self.rows) {
                let base = xq + i * rowFloats, sums = base + k / 4 + blocks
                quantizeQ8Row(x + i * ldx, k: k, qs: UnsafeMutableRawPointer(base).assumingMemoryBound(to: Int8.self),
                              scales: base + k / 4, sums: sums)
                if let sumsT { for b in 0..<blocks { sumsT[b * m + i] = sums[b] } }
            }
        }
    }

    /// Quantizes every x row once, before the parallel loop, into pool scratch: [m][rowFloats]
    /// quantized rows, then (Q4_1 tiles, transposeSums) their block sums transposed, [k/32][m].
    static func quantizeForIntegerDots(m: Int, k: Int, x: UnsafePointer<Float>, ldx: Int, transposeSums: Bool,
                                       pool: ThreadPool) -> (UnsafeMutablePointer<Float>, Int, UnsafeMutablePointer<Float>) {
        let rowFloats = q8RowFloats(k)
        let xq = pool.sharedScratch(count: m * rowFloats + m * (k / 32))
        let sumsT = xq + m * rowFloats
        var quantize = QuantizeJob(m: m, k: k, x: x, ldx: ldx, xq: xq, rowFloats: rowFloats,
                                   sumsT: transposeSums && m >= 4 ? sumsT : nil)
        withUnsafeMutablePointer(to: &quantize) { job in
            // a batch's rows are quantized in parallel; a few rows are not worth waking a thread
            let runner = m >= 2 * QuantizeJob.rows ? pool : ThreadPool.serial
            runner.parallelFor((m + QuantizeJob.rows - 1) / QuantizeJob.rows, context: UnsafeMutableRawPointer(job)) { context, item, _ in
                context.assumingMemoryBound(to: QuantizeJob.self).pointee.run(item: item)
            }
        }
        return (xq, rowFloats, sumsT)
    }

    /// Weight rows per work item. Runs of weight rows go to the threads through one atomic
    /// counter. A few sequences read every weight once and do little with it: two long runs per
    /// thread (the hardware prefetcher follows a long run, and on this class of machine a
    /// cross-core atomic per 16-row chunk took as long as the dots). Batches do more per row: four
    /// runs per thread balance them.
    static func chunkRows(m: Int, n: Int, pool: ThreadPool) -> Int {
        let runsPerThread = m < smallM ? 2 : 4
        return max(dotChunk, ((n + runsPerThread * pool.threads - 1) / (runsPerThread * pool.threads) + 3) & ~3)
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
            // 4 × 4 tiles of weight rows × x rows. y += goes through scratch so that every output is
            // the kernel's value added to y once (the same bits whatever the batch).
            let out = accumulate ? pool.scratch(worker: worker, count: m * chunkRows) : y + j0   // [m][rowsHere] or y
            let ldo = accumulate ? rowsHere : ldy
            dojo_tile_dots(kind, Int32(k / 32), weights + j0 * rowBytes, rowBytes, Int32(rowsHere), Int32(m),
                           xq, rowFloats * 4, sumsT, Int32(m), out, ldo)
            if accumulate {
                for i in 0..<m {
                    let dst = y + i * ldy + j0, src = out + i * rowsHere
                    for j in 0..<rowsHere { dst[j] += src[j] }
                }
            }
        }
    }
}
