// QuantMatmul: y[m×n] = x[m×k] · Wᵀ with W stored in a GGUF block format (llama.cpp's
// `ggml_compute_forward_mul_mat` with `vec_dot_type`), the one dispatch point of the quantized kernels.
//
// Q4_0, Q4_1 and Q8_0 weights take the integer path of QuantRowDot.swift for every m (ggml's
// integer block dot products in ggml's float order, so logits match llama.cpp's and do not depend
// on the batch). The other formats:
//
// 1. Each x row is quantized once into the weight format's partner (Q8 blocks of 32 for the
//    legacy quants, Q8_K for the K-quants; QuantizeRow.swift), into pool scratch, before any
//    parallel loop. The fast kernels keep the quantized values as floats q·d.
// 2. m < smallM (single sequences, memory-bound): chunks of W rows over the pool; each row
//    is decoded once into L1 floats and dotted with every x row (four SIMD16 accumulators).
// 3. m ≥ smallM (batches, prompts; compute-bound): the quantized x rows are packed into
//    [k][32] panels (32 rows of x each); tiles of (48 W rows × 4 panels) go over the pool. A
//    tile decodes 12 W rows at a time into L1-resident floats and runs Gemm's 12×32 FMA
//    micro-kernel with W as its A operand and the x panel as its B operand, so each weight
//    block is decoded once per 128 x rows; the 12×32 result is stored transposed into y.
//
// Decoding to floats and using FMA gives the same products as ggml's integer dot products
// (exact for the integer part; the scales are applied per element instead of per block), so
// the scalar twin `referenceQuantizedMatmul` (QuantDot.swift) matches to float rounding.
// Swift cannot emit AVX-512 VNNI (vpdpbusd) for a -target-cpu skylake-avx512 build; the FMA
// tile reuses Gemm's micro-kernel at near-GEMM speed instead.
import Foundation

public enum QuantMatmul {
    /// Rows of x below which the per-row dot-product path is used.
    static let smallM = 4
    /// W rows per work item of the dot-product path.
    static let dotChunk = 16
    /// W rows decoded together (Gemm's micro-tile rows).
    static let group = Gemm.mr
    /// Groups of 12 W rows per tile of the panel path.
    static let groupsPerTile = 4
    /// x panels (32 rows each) per tile of the panel path.
    static let panelsPerTile = 4
    /// k chunk of one micro-kernel call (12 × kc decoded floats stay in L1).
    static let kcMax = Gemm.kcMax

    /// y[m×n] = x[m×k] · Wᵀ (+ y when accumulate). W is n rows of k elements in `format`, row
    /// stride `format.rowBytes(k)`; x and y are row-major with leading dimensions ldx, ldy.
    /// k must be a multiple of the block size. pool nil = single thread.
    public static func matmul(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int,
                              weights: UnsafeRawPointer, format: QuantFormat,
                              y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool = false, pool: ThreadPool?) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative matmul size")
        precondition(k % format.blockSize == 0, "k \(k) is not a multiple of \(format)'s block size \(format.blockSize)")
        precondition(ldx >= k && ldy >= n, "leading dimension shorter than a row")
        if m == 0 || n == 0 { return }
        if k == 0 {
            if !accumulate { for i in 0..<m { (y + i * ldy).update(repeating: 0, count: n) } }
            return
        }
        let runner = pool ?? ThreadPool.serial
        if hasIntegerDot(format) {
            integerMatmul(m: m, n: n, k: k, x: x, ldx: ldx, weights: weights, format: format, y: y, ldy: ldy,
                          accumulate: accumulate, pool: runner)
        } else if m < smallM {
            dotProducts(m: m, n: n, k: k, x: x, ldx: ldx, weights: weights, format: format, y: y, ldy: ldy,
                        accumulate: accumulate, pool: runner)
        } else {
            panels(m: m, n: n, k: k, x: x, ldx: ldx, weights: weights, format: format, y: y, ldy: ldy,
                   accumulate: accumulate, pool: runner)
        }
    }

    /// Scalar twin with float activations: each W row dequantized (`referenceDequantizeRow`)
    /// and dotted with x in Double. No activation quantization: the loose oracle.
    public static func referenceMatmul(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int,
                                       weights: UnsafeRawPointer, format: QuantFormat,
                                       y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool = false) {
        precondition(k % format.blockSize == 0, "k \(k) is not a multiple of \(format)'s block size")
        let w = UnsafeMutablePointer<Float>.allocate(capacity: max(k, 1))
        defer { w.deallocate() }
        let rowBytes = format.rowBytes(k)
        for j in 0..<n {
            referenceDequantizeRow(weights + j * rowBytes, format: format, k: k, into: w)
            for i in 0..<m {
                var sum = 0.0
                for p in 0..<k { sum += Double(w[p]) * Double(x[i * ldx + p]) }
                y[i * ldy + j] = accumulate ? y[i * ldy + j] + Float(sum) : Float(sum)
            }
        }
    }

    // MARK: - Small m: one decoded W row against every x row

    private static func dotProducts(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int,
                                    weights: UnsafeRawPointer, format: QuantFormat,
                                    y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool, pool: ThreadPool) {
        // Quantize every x row (and its block sums) before the parallel loop; size each
        // thread's decode buffer.
        let xq = pool.sharedScratch(count: m * k)
        for i in 0..<m {
            quantizeActivations(x + i * ldx, k: k, kind: format.activationQuantization, into: xq + i * k)
        }
        for w in 0..<pool.threads { _ = pool.scratch(worker: w, count: k) }
        var job = DotJob(m: m, n: n, k: k, xq: xq, weights: weights, rowBytes: format.rowBytes(k),
                         format: format, y: y, ldy: ldy, accumulate: accumulate, pool: pool)
        withUnsafeMutablePointer(to: &job) { job in
            pool.parallelFor((n + dotChunk - 1) / dotChunk, context: UnsafeMutableRawPointer(job)) { context, chunk, worker in
                context.assumingMemoryBound(to: DotJob.self).pointee.run(chunk: chunk, worker: worker)
            }
        }
    }

    struct DotJob {
        let m: Int, n: Int, k: Int
        let xq: UnsafeMutablePointer<Float>          // [m][k] quantized activations
        let weights: UnsafeRawPointer, rowBytes: Int
        let format: QuantFormat
        let y: UnsafeMutablePointer<Float>, ldy: Int
        let accumulate: Bool
        unowned(unsafe) let pool: ThreadPool

        func run(chunk: Int, worker: Int) {
            let j0 = chunk * dotChunk
            let w = pool.scratch(worker: worker, count: k)   // [k] one decoded W row
            for j in j0..<min(j0 + dotChunk, n) {
                dequantizeRow(weights + j * rowBytes, format: format, k: k, into: w)
                for i in 0..<m {
                    let value = Gemm.dot(xq + i * k, w, count: k)
                    let out = y + i * ldy + j
                    out.pointee = accumulate ? out.pointee + value : value
                }
            }
        }
    }

    // MARK: - Batches: decoded W tiles × packed x panels

    private static func panels(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int,
                               weights: UnsafeRawPointer, format: QuantFormat,
                               y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool, pool: ThreadPool) {
        let nr = Gemm.nr
        let panelCount = (m + nr - 1) / nr
        let packed = pool.sharedScratch(count: panelCount * k * nr)   // [panels][k][32]
        // Quantize x, 32 rows at a time into worker 0's scratch, and pack each panel.
        let rows = pool.scratch(worker: 0, count: nr * k)
        for panel in 0..<panelCount {
            let i0 = panel * nr, count = min(nr, m - i0)
            for r in 0..<count {
                quantizeActivations(x + (i0 + r) * ldx, k: k, kind: format.activationQuantization, into: rows + r * k)
            }
            Gemm.packPanel(rows, ldb: k, cols: count, k: k, into: packed + panel * k * nr)
        }
        for w in 0..<pool.threads { _ = pool.scratch(worker: w, count: group * k + group * nr) }
        let wBlocks = (n + group * groupsPerTile - 1) / (group * groupsPerTile)
        let xBlocks = (panelCount + panelsPerTile - 1) / panelsPerTile
        var job = PanelJob(m: m, n: n, k: k, packed: packed, panelCount: panelCount, xBlocks: xBlocks,
                           weights: weights, rowBytes: format.rowBytes(k), format: format,
                           y: y, ldy: ldy, accumulate: accumulate, pool: pool)
        withUnsafeMutablePointer(to: &job) { job in
            pool.parallelFor(wBlocks * xBlocks, context: UnsafeMutableRawPointer(job)) { context, tile, worker in
                context.assumingMemoryBound(to: PanelJob.self).pointee.run(tile: tile, worker: worker)
            }
        }
    }

    struct PanelJob {
        let m: Int, n: Int, k: Int
        let packed: UnsafeMutablePointer<Float>      // [panelCount][k][32] quantized x, transposed
        let panelCount: Int, xBlocks: Int
        let weights: UnsafeRawPointer, rowBytes: Int
        let format: QuantFormat
        let y: UnsafeMutablePointer<Float>, ldy: Int
        let accumulate: Bool
        unowned(unsafe) let pool: ThreadPool

        func run(tile: Int, worker: Int) {
            let nr = Gemm.nr, mr = Gemm.mr
            let scratch = pool.scratch(worker: worker, count: group * k + group * nr)
            let w = scratch                           // [12][k] decoded W rows
            let out = scratch + group * k             // [12][32] result tile
            let jEnd = min(n, (tile / xBlocks + 1) * group * groupsPerTile)
            let p0 = (tile % xBlocks) * panelsPerTile
            let p1 = min(panelCount, p0 + panelsPerTile)
            var j0 = (tile / xBlocks) * group * groupsPerTile
            while j0 < jEnd {
                let rows = min(mr, n - j0)
                for r in 0..<rows { dequantizeRow(weights + (j0 + r) * rowBytes, format: format, k: k, into: w + r * k) }
                for panel in p0..<p1 {
                    let i0 = panel * nr, cols = min(nr, m - i0)
                    let b = UnsafePointer(packed + panel * k * nr)
                    var k0 = 0
                    while k0 < k {
                        let kc = min(kcMax, k - k0)
                        if cols <= nr / 2 {
                            Gemm.microKernel12x16(kc: kc, a: w + k0, lda: k, mr: rows, b: b + k0 * nr, c: out, ldc: nr,
                                                  alpha: 1, bias: nil, beta: k0 > 0)
                        } else {
                            Gemm.microKernel12x32(kc: kc, a: w + k0, lda: k, mr: rows, b: b + k0 * nr, c: out, ldc: nr,
                                                  alpha: 1, bias: nil, beta: k0 > 0)
                        }
                        k0 += kc
                    }
                    // out[r][c] is y[i0 + c][j0 + r].
                    for c in 0..<cols {
                        let yRow = y + (i0 + c) * ldy + j0
                        if accumulate {
                            for r in 0..<rows { yRow[r] += out[r * nr + c] }
                        } else {
                            for r in 0..<rows { yRow[r] = out[r * nr + c] }
                        }
                    }
                }
                j0 += mr
            }
        }
    }
}
