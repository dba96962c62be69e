// Gemm: C = alpha · A · Bᵀ (+ bias) (+ C), with B a Linear weight [out, in] used as it is.
// BLAS-style: B is packed on the fly, 32 columns at a time, into [k][32] panels in pool-owned
// scratch (never written, never pre-packed); A rows are read in place and broadcast. The
// 12×32 micro-kernel (GemmMicroKernel.swift) keeps 24 SIMD16 accumulators in registers.
// Work is split over the pool in tiles of (rows × panels), both directions, so small m
// still uses every thread.

public enum Gemm {
    /// Rows of A below which the dot-product path (no packing) is used.
    static let smallM = 4
    /// Largest k chunk per pass over C (an A micro-panel of 12 × kc floats, 18 KiB, stays in L1).
    static let kcMax = 384
    /// Largest row block of one work tile.
    static let mcMax = 384
    /// Largest packed-B block shared by one parallel loop, in floats (12 MiB).
    static let packedBudget = 3 << 20

    /// C[m×n] = alpha · A[m×k] · B[n×k]ᵀ (+ bias[n]) (+ C when accumulate). Row-major, leading
    /// dimensions lda, ldb, ldc. B is only read. pool nil = single thread.
    public static func matmulTransposed(m: Int, n: Int, k: Int,
                                        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                        c: UnsafeMutablePointer<Float>, ldc: Int,
                                        bias: UnsafePointer<Float>? = nil, alpha: Float = 1,
                                        accumulate: Bool = false, pool: ThreadPool? = nil) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative GEMM size")
        precondition(lda >= k && ldb >= k && ldc >= n, "leading dimension shorter than a row")
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m {
                let row = c + i * ldc
                for j in 0..<n { row[j] = (accumulate ? row[j] : 0) + (bias?[j] ?? 0) }
            }
            return
        }
        let runner = pool ?? ThreadPool.serial
        if m < smallM {
            dotProducts(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                        bias: bias, alpha: alpha, accumulate: accumulate, pool: runner)
        } else {
            packed(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                   bias: bias, alpha: alpha, accumulate: accumulate, pool: runner)
        }
    }

    /// Scalar reference twin (same semantics), the test oracle. Accumulates in Double.
    public static func referenceMatmulTransposed(m: Int, n: Int, k: Int,
                                                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                                 c: UnsafeMutablePointer<Float>, ldc: Int,
                                                 bias: UnsafePointer<Float>? = nil, alpha: Float = 1,
                                                 accumulate: Bool = false) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += Double(a[i * lda + p]) * Double(b[j * ldb + p]) }
                var value = Float(Double(alpha) * sum) + (bias?[j] ?? 0)
                if accumulate { value += c[i * ldc + j] }
                c[i * ldc + j] = value
            }
        }
    }

    // MARK: - Packed path

    private static func packed(m: Int, n: Int, k: Int,
                               a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                               c: UnsafeMutablePointer<Float>, ldc: Int,
                               bias: UnsafePointer<Float>?, alpha: Float, accumulate: Bool, pool: ThreadPool) {
        let nr = Gemm.nr, mr = Gemm.mr
        let panelFloats = k * nr
        let panelsTotal = (n + nr - 1) / nr
        let panelsPerBlock = max(1, packedBudget / panelFloats)
        let kcCount = (k + kcMax - 1) / kcMax
        let kcStep = (k + kcCount - 1) / kcCount

        var firstPanel = 0
        while firstPanel < panelsTotal {
            let panels = min(panelsPerBlock, panelsTotal - firstPanel)
            let packedB = pool.sharedScratch(count: panels * panelFloats)
            let colBase = firstPanel * nr

            let plan = TilePlan(m: m, panels: panels, mr: mr, mcMax: mcMax, threads: pool.threads)

            // Pack this block of B: panel pi holds columns colBase + pi·32 ..< +32, as [k][32].
            // With one row block each tile owns its panels and packs them itself (one loop, not two).
            for w in 0..<pool.threads { _ = pool.scratch(worker: w, count: mr * nr) }   // edge tiles
            var job = PackedJob(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, bias: bias,
                                alpha: alpha, accumulate: accumulate, packedB: packedB, colBase: colBase,
                                panels: panels, kcStep: kcStep, groups: plan.groups, panelsPerTile: plan.panelsPerTile,
                                mc: plan.mc, packInTile: plan.mBlocks == 1, pool: pool)
            withUnsafeMutablePointer(to: &job) { job in
                let context = UnsafeMutableRawPointer(job)
                if !job.pointee.packInTile {
                    pool.parallelFor(panels, context: context) { context, panel, _ in
                        context.assumingMemoryBound(to: PackedJob.self).pointee.pack(panel: panel)
                    }
                }
                pool.parallelFor(plan.tiles, context: context) { context, tile, worker in
                    context.assumingMemoryBound(to: PackedJob.self).pointee.run(tile: tile, worker: worker)
                }
            }
            firstPanel += panels
        }
    }

    /// How a GEMM splits into tiles of (row block × group of 32-column panels): up to four panels
    /// per tile and row blocks of at most mcMax rows (multiples of mr), split further until there
    /// are about four tiles per thread, so small m still uses every thread.
    struct TilePlan {
        let panelsPerTile: Int, groups: Int, mc: Int, mBlocks: Int
        var tiles: Int { mBlocks * groups }

        init(m: Int, panels: Int, mr: Int, mcMax: Int, threads: Int) {
            let target = threads > 1 ? 4 * threads : 1
            let mBlocksMin = (m + mcMax - 1) / mcMax
            var perTile = 4
            while perTile > 1 && mBlocksMin * ((panels + perTile - 1) / perTile) < target { perTile /= 2 }
            panelsPerTile = perTile
            groups = (panels + perTile - 1) / perTile
            let wantedMBlocks = max(mBlocksMin, (target + groups - 1) / groups)
            mc = ((m + wantedMBlocks - 1) / wantedMBlocks + mr - 1) / mr * mr
            mBlocks = (m + mc - 1) / mc
        }
    }

    /// One block of packed-B work: everything the parallel loops need, behind one pointer.
    struct PackedJob {
        let m: Int, n: Int, k: Int
        let a: UnsafePointer<Float>, lda: Int
        let b: UnsafePointer<Float>, ldb: Int
        let c: UnsafeMutablePointer<Float>, ldc: Int
        let bias: UnsafePointer<Float>?
        let alpha: Float
        let accumulate: Bool
        let packedB: UnsafeMutablePointer<Float>   // [panels][k][32]
        let colBase: Int
        let panels: Int
        let kcStep: Int
        let groups: Int
        let panelsPerTile: Int
        let mc: Int
        let packInTile: Bool
        unowned(unsafe) let pool: ThreadPool

        @inline(__always)
        func pack(panel pi: Int) {
            let col = colBase + pi * nr
            packPanel(b + col * ldb, ldb: ldb, cols: min(nr, n - col), k: k, into: packedB + pi * k * nr)
        }

        /// Tile = (row block, group of panels): C rows row0 ..< row0 + mc, for those panels' columns.
        func run(tile: Int, worker: Int) {
            let row0 = (tile / groups) * mc
            let rows = min(mc, m - row0)
            let p0 = (tile % groups) * panelsPerTile
            let p1 = min(p0 + panelsPerTile, panels)
            if packInTile {
                for pi in p0..<p1 { pack(panel: pi) }
            }
            let half = nr / 2
            var k0 = 0
            while k0 < k {
                let kc = min(kcStep, k - k0)
                let first = k0 == 0
                let beta = first ? accumulate : true
                let tileBias = first ? bias : nil
                var ir = 0
                while ir < rows {
                    let rowsHere = min(mr, rows - ir)
                    let aRow = a + (row0 + ir) * lda + k0
                    let cRow = c + (row0 + ir) * ldc
                    for pj in p0..<p1 {
                        let col = colBase + pj * nr
                        let cols = min(nr, n - col)
                        let bp = UnsafePointer(packedB + pj * k * nr + k0 * nr)
                        if rowsHere == mr && cols == nr {
                            microKernel12x32(kc: kc, a: aRow, lda: lda, mr: mr, b: bp, c: cRow + col, ldc: ldc,
                                             alpha: alpha, bias: tileBias.map { $0 + col }, beta: beta)
                        } else if rowsHere == mr && cols == half {
                            microKernel12x16(kc: kc, a: aRow, lda: lda, mr: mr, b: bp, c: cRow + col, ldc: ldc,
                                             alpha: alpha, bias: tileBias.map { $0 + col }, beta: beta)
                        } else {
                            // Edge tile: compute into scratch, then add bias and C for the valid part.
                            let scratch = pool.scratch(worker: worker, count: mr * nr)
                            if cols <= half {
                                microKernel12x16(kc: kc, a: aRow, lda: lda, mr: rowsHere, b: bp, c: scratch, ldc: nr,
                                                 alpha: alpha, bias: nil, beta: false)
                            } else {
                                microKernel12x32(kc: kc, a: aRow, lda: lda, mr: rowsHere, b: bp, c: scratch, ldc: nr,
                                                 alpha: alpha, bias: nil, beta: false)
                            }
                            for i in 0..<rowsHere {
                                let out = cRow + i * ldc + col
                                for j in 0..<cols {
                                    var value = scratch[i * nr + j] + (tileBias?[col + j] ?? 0)
                                    if beta { value += out[j] }
                                    out[j] = value
                                }
                            }
                        }
                    }
                    ir += mr
                }
                k0 += kc
            }
        }
    }

    /// dst[p][j] = src[j][p] for j < cols, 0 for cols ≤ j < 32.
    @inline(__always)
    static func packPanel(_ src: UnsafePointer<Float>, ldb: Int, cols: Int, k: Int, into dst: UnsafeMutablePointer<Float>) {
        let nr = Gemm.nr
        if cols == nr {
            // Full panel: 16×16 blocks through vector shuffles, then the k tail by scalars.
            var p = 0
            while p + 16 <= k {
                transpose16(src + p, ld: ldb, dst + p * nr, ldd: nr)
                transpose16(src + 16 * ldb + p, ld: ldb, dst + p * nr + 16, ldd: nr)
                p += 16
            }
            if p < k {
                for j in 0..<nr {
                    let r = src + j * ldb
                    for q in p..<k { dst[q * nr + j] = r[q] }
                }
            }
            return
        }
        dst.update(repeating: 0, count: k * nr)
        // Eight source rows at a time, so each destination line is written in few passes.
        var j = 0
        while j + 8 <= cols {
            let r0 = src + j * ldb, r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb
            let r4 = r3 + ldb, r5 = r4 + ldb, r6 = r5 + ldb, r7 = r6 + ldb
            var d = dst + j
            for p in 0..<k {
                d[0] = r0[p]; d[1] = r1[p]; d[2] = r2[p]; d[3] = r3[p]
                d[4] = r4[p]; d[5] = r5[p]; d[6] = r6[p]; d[7] = r7[p]
                d += nr
            }
            j += 8
        }
        while j < cols {
            let r = src + j * ldb
            for p in 0..<k { dst[p * nr + j] = r[p] }
            j += 1
        }
    }

    // MARK: - Small m: dot products, no packing

    private static func dotProducts(m: Int, n: Int, k: Int,
                                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                    c: UnsafeMutablePointer<Float>, ldc: Int,
                                    bias: UnsafePointer<Float>?, alpha: Float, accumulate: Bool, pool: ThreadPool) {
        var job = DotJob(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, bias: bias,
                         alpha: alpha, accumulate: accumulate)
        withUnsafeMutablePointer(to: &job) { job in
            pool.parallelFor((n + DotJob.chunk - 1) / DotJob.chunk, context: UnsafeMutableRawPointer(job)) { context, chunk, _ in
                context.assumingMemoryBound(to: DotJob.self).pointee.run(chunk: chunk)
            }
        }
    }

    /// Small-m work: each B row read once for all m rows of A.
    struct DotJob {
        static let chunk = 64
        let m: Int, n: Int, k: Int
        let a: UnsafePointer<Float>, lda: Int
        let b: UnsafePointer<Float>, ldb: Int
        let c: UnsafeMutablePointer<Float>, ldc: Int
        let bias: UnsafePointer<Float>?
        let alpha: Float
        let accumulate: Bool

        func run(chunk: Int) {
            let j0 = chunk * DotJob.chunk
            for j in j0..<min(j0 + DotJob.chunk, n) {
                let bRow = b + j * ldb
                for i in 0..<m {
                    let out = c + i * ldc + j
                    var value = alpha * dot(a + i * lda, bRow, count: k) + (bias?[j] ?? 0)
                    if accumulate { value += out.pointee }
                    out.pointee = value
                }
            }
        }
    }

    /// Σ x[i]·y[i] with four SIMD16 accumulators and a scalar tail.
    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var s0 = SIMD16<Float>.zero, s1 = SIMD16<Float>.zero, s2 = SIMD16<Float>.zero, s3 = SIMD16<Float>.zero
        var i = 0
        while i + 64 <= count {
            madd(&s0, load16(x + i), load16(y + i))
            madd(&s1, load16(x + i + 16), load16(y + i + 16))
            madd(&s2, load16(x + i + 32), load16(y + i + 32))
            madd(&s3, load16(x + i + 48), load16(y + i + 48))
            i += 64
        }
        while i + 16 <= count {
            madd(&s0, load16(x + i), load16(y + i))
            i += 16
        }
        var sum = horizontalSum((s0 + s1) + (s2 + s3))
        while i < count {
            sum += x[i] * y[i]
            i += 1
        }
        return sum
    }
}

// MARK: - SIMD helpers shared by the kernels

@inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func load16(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

@inline(__always)
func horizontalSum(_ v: SIMD16<Float>) -> Float {
    let h8 = v.lowHalf + v.highHalf
    let h4 = h8.lowHalf + h8.highHalf
    let h2 = h4.lowHalf + h4.highHalf
    return h2[0] + h2[1]
}

@inline(__always)
func horizontalMax(_ v: SIMD16<Float>) -> Float {
    let h = max16(v, SIMD16(lowHalf: v.highHalf, highHalf: v.lowHalf)).lowHalf
    return max(max(max(h[0], h[1]), max(h[2], h[3])), max(max(h[4], h[5]), max(h[6], h[7])))
}
