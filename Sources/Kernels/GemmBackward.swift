// GemmBackward: the two other GEMM shapes a backward pass needs, next to Gemm.matmulTransposed.
//   matmul:            C = alpha · A · B (+ C)   — input gradients through a frozen Linear:
//                      dX[rows, in] = dY[rows, out] · W[out, in], W read as it is stored.
//   matmulTransposedA: C = alpha · Aᵀ · B (+ C)  — weight gradients, a reduction over rows:
//                      dW[out, in] = dYᵀ[out, rows] · X[rows, in] (LoRA A and B, the head).
// matmul packs B's rows into the same [k][32] panels as Gemm and reuses its 12×32 micro-kernel
// (packing is a plain copy here: B's columns are already contiguous). matmulTransposedA keeps
// 4 rows × 64 columns of C in 16 accumulators and walks the reduction in order, so its result
// does not depend on the thread count.

extension Gemm {
    /// C[m×n] = alpha · A[m×k] · B[k×n] (+ C when accumulate). Row-major with leading dimensions
    /// lda, ldb, ldc. pool nil = single thread. Deterministic for any thread count.
    public static func matmul(m: Int, n: Int, k: Int,
                              a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                              c: UnsafeMutablePointer<Float>, ldc: Int,
                              alpha: Float = 1, accumulate: Bool = false, pool: ThreadPool? = nil) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative GEMM size")
        precondition(lda >= k && ldb >= n && ldc >= n, "leading dimension shorter than a row")
        if m == 0 || n == 0 { return }
        if k == 0 {
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        let runner = pool ?? ThreadPool.serial
        let nr = Gemm.nr, mr = Gemm.mr
        let panelFloats = k * nr
        let panelsTotal = (n + nr - 1) / nr
        let panelsPerBlock = max(1, packedBudget / panelFloats)
        let kcCount = (k + kcMax - 1) / kcMax
        let kcStep = (k + kcCount - 1) / kcCount

        var firstPanel = 0
        while firstPanel < panelsTotal {
            let panels = min(panelsPerBlock, panelsTotal - firstPanel)
            let packedB = runner.sharedScratch(count: panels * panelFloats)
            let plan = TilePlan(m: m, panels: panels, mr: mr, mcMax: mcMax, threads: runner.threads)
            for w in 0..<runner.threads { _ = runner.scratch(worker: w, count: mr * nr) }
            var job = MatmulJob(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, alpha: alpha,
                                accumulate: accumulate, packedB: packedB, colBase: firstPanel * nr, panels: panels,
                                kcStep: kcStep, groups: plan.groups, panelsPerTile: plan.panelsPerTile, mc: plan.mc,
                                pool: runner)
            withUnsafeMutablePointer(to: &job) { job in
                let context = UnsafeMutableRawPointer(job)
                runner.parallelFor(panels, context: context) { context, panel, _ in
                    context.assumingMemoryBound(to: MatmulJob.self).pointee.pack(panel: panel)
                }
                runner.parallelFor(plan.tiles, context: context) { context, tile, worker in
                    context.assumingMemoryBound(to: MatmulJob.self).pointee.run(tile: tile, worker: worker)
                }
            }
            firstPanel += panels
        }
    }

    /// Scalar reference twin of `matmul`, accumulating in Double.
    public static func referenceMatmul(m: Int, n: Int, k: Int,
                                       a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                       c: UnsafeMutablePointer<Float>, ldc: Int,
                                       alpha: Float = 1, accumulate: Bool = false) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += Double(a[i * lda + p]) * Double(b[p * ldb + j]) }
                var value = Float(Double(alpha) * sum)
                if accumulate { value += c[i * ldc + j] }
                c[i * ldc + j] = value
            }
        }
    }

    /// One block of packed-B work for `matmul`.
    struct MatmulJob {
        let m: Int, n: Int, k: Int
        let a: UnsafePointer<Float>, lda: Int
        let b: UnsafePointer<Float>, ldb: Int
        let c: UnsafeMutablePointer<Float>, ldc: Int
        let alpha: Float
        let accumulate: Bool
        let packedB: UnsafeMutablePointer<Float>   // [panels][k][32]
        let colBase: Int
        let panels: Int
        let kcStep: Int
        let groups: Int
        let panelsPerTile: Int
        let mc: Int
        unowned(unsafe) let pool: ThreadPool

        /// Panel pi = columns colBase + pi·32 ..< +32 of B, as [k][32], zero past n.
        func pack(panel pi: Int) {
            let nr = Gemm.nr
            let col = colBase + pi * nr
            let cols = min(nr, n - col)
            let dst = packedB + pi * k * nr
            if cols == nr {
                for p in 0..<k {
                    let src = b + p * ldb + col, d = dst + p * nr
                    store16(load16(src), d)
                    store16(load16(src + 16), d + 16)
                }
            } else {
                for p in 0..<k {
                    let src = b + p * ldb + col, d = dst + p * nr
                    for j in 0..<cols { d[j] = src[j] }
                    for j in cols..<nr { d[j] = 0 }
                }
            }
        }

        func run(tile: Int, worker: Int) {
            let nr = Gemm.nr, mr = Gemm.mr, half = nr / 2
            let row0 = (tile / groups) * mc
            let rows = min(mc, m - row0)
            let p0 = (tile % groups) * panelsPerTile
            let p1 = min(p0 + panelsPerTile, panels)
            var k0 = 0
            while k0 < k {
                let kc = min(kcStep, k - k0)
                let beta = k0 == 0 ? accumulate : true
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
                                             alpha: alpha, bias: nil, beta: beta)
                        } else if rowsHere == mr && cols == half {
                            microKernel12x16(kc: kc, a: aRow, lda: lda, mr: mr, b: bp, c: cRow + col, ldc: ldc,
                                             alpha: alpha, bias: nil, beta: beta)
                        } else {
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
                                for j in 0..<cols { out[j] = beta ? out[j] + scratch[i * nr + j] : scratch[i * nr + j] }
                            }
                        }
                    }
                    ir += mr
                }
                k0 += kc
            }
        }
    }

    // MARK: - Aᵀ·B

    /// C[m×n] = alpha · A[k×m]ᵀ · B[k×n] (+ C when accumulate): a reduction over the k rows of A
    /// and B, in row order for every element of C, so the result is the same for any thread count.
    public static func matmulTransposedA(m: Int, n: Int, k: Int,
                                         a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                         c: UnsafeMutablePointer<Float>, ldc: Int,
                                         alpha: Float = 1, accumulate: Bool = false, pool: ThreadPool? = nil) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative GEMM size")
        precondition(lda >= m && ldb >= n && ldc >= n, "leading dimension shorter than a row")
        if m == 0 || n == 0 { return }
        let runner = pool ?? ThreadPool.serial
        let rowBlocks = (m + TransposedAJob.rows - 1) / TransposedAJob.rows
        let colBlocks = (n + TransposedAJob.cols - 1) / TransposedAJob.cols
        var job = TransposedAJob(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                                 alpha: alpha, accumulate: accumulate, colBlocks: colBlocks)
        withUnsafeMutablePointer(to: &job) { job in
            runner.parallelFor(rowBlocks * colBlocks, context: UnsafeMutableRawPointer(job)) { context, tile, _ in
                context.assumingMemoryBound(to: TransposedAJob.self).pointee.run(tile: tile)
            }
        }
    }

    /// Scalar reference twin of `matmulTransposedA`, accumulating in Double.
    public static func referenceMatmulTransposedA(m: Int, n: Int, k: Int,
                                                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                                  c: UnsafeMutablePointer<Float>, ldc: Int,
                                                  alpha: Float = 1, accumulate: Bool = false) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += Double(a[p * lda + i]) * Double(b[p * ldb + j]) }
                var value = Float(Double(alpha) * sum)
                if accumulate { value += c[i * ldc + j] }
                c[i * ldc + j] = value
            }
        }
    }

    /// A 4 × 64 tile of C for `matmulTransposedA`.
    struct TransposedAJob {
        static let rows = 4
        static let cols = 64
        let m: Int, n: Int, k: Int
        let a: UnsafePointer<Float>, lda: Int
        let b: UnsafePointer<Float>, ldb: Int
        let c: UnsafeMutablePointer<Float>, ldc: Int
        let alpha: Float
        let accumulate: Bool
        let colBlocks: Int

        func run(tile: Int) {
            let i0 = (tile / colBlocks) * Self.rows, j0 = (tile % colBlocks) * Self.cols
            let rowsHere = min(Self.rows, m - i0), colsHere = min(Self.cols, n - j0)
            if rowsHere == Self.rows && colsHere == Self.cols {
                // 16 accumulators: 4 rows × 4 SIMD16.
                var r00 = SIMD16<Float>.zero, r01 = SIMD16<Float>.zero, r02 = SIMD16<Float>.zero, r03 = SIMD16<Float>.zero
                var r10 = SIMD16<Float>.zero, r11 = SIMD16<Float>.zero, r12 = SIMD16<Float>.zero, r13 = SIMD16<Float>.zero
                var r20 = SIMD16<Float>.zero, r21 = SIMD16<Float>.zero, r22 = SIMD16<Float>.zero, r23 = SIMD16<Float>.zero
                var r30 = SIMD16<Float>.zero, r31 = SIMD16<Float>.zero, r32 = SIMD16<Float>.zero, r33 = SIMD16<Float>.zero
                for p in 0..<k {
                    let bp = b + p * ldb + j0, ap = a + p * lda + i0
                    let b0 = load16(bp), b1 = load16(bp + 16), b2 = load16(bp + 32), b3 = load16(bp + 48)
                    let s0 = SIMD16<Float>(repeating: ap[0]), s1 = SIMD16<Float>(repeating: ap[1])
                    let s2 = SIMD16<Float>(repeating: ap[2]), s3 = SIMD16<Float>(repeating: ap[3])
                    madd(&r00, s0, b0); madd(&r01, s0, b1); madd(&r02, s0, b2); madd(&r03, s0, b3)
                    madd(&r10, s1, b0); madd(&r11, s1, b1); madd(&r12, s1, b2); madd(&r13, s1, b3)
                    madd(&r20, s2, b0); madd(&r21, s2, b1); madd(&r22, s2, b2); madd(&r23, s2, b3)
                    madd(&r30, s3, b0); madd(&r31, s3, b1); madd(&r32, s3, b2); madd(&r33, s3, b3)
                }
                let va = SIMD16<Float>(repeating: alpha)
                @inline(__always) func store(_ row: Int, _ x0: SIMD16<Float>, _ x1: SIMD16<Float>, _ x2: SIMD16<Float>, _ x3: SIMD16<Float>) {
                    let o = c + (i0 + row) * ldc + j0
                    var v0 = va * x0, v1 = va * x1, v2 = va * x2, v3 = va * x3
                    if accumulate { v0 += load16(o); v1 += load16(o + 16); v2 += load16(o + 32); v3 += load16(o + 48) }
                    store16(v0, o); store16(v1, o + 16); store16(v2, o + 32); store16(v3, o + 48)
                }
                store(0, r00, r01, r02, r03)
                store(1, r10, r11, r12, r13)
                store(2, r20, r21, r22, r23)
                store(3, r30, r31, r32, r33)
                return
            }
            // Edge tile: one row at a time, vectorised over columns where 16 fit.
            for i in 0..<rowsHere {
                let o = c + (i0 + i) * ldc + j0
                var j = 0
                while j + 16 <= colsHere {
                    var s = SIMD16<Float>.zero
                    for p in 0..<k { madd(&s, SIMD16(repeating: a[p * lda + i0 + i]), load16(b + p * ldb + j0 + j)) }
                    s *= SIMD16(repeating: alpha)
                    if accumulate { s += load16(o + j) }
                    store16(s, o + j)
                    j += 16
                }
                while j < colsHere {
                    var s: Float = 0
                    for p in 0..<k { s += a[p * lda + i0 + i] * b[p * ldb + j0 + j] }
                    o[j] = alpha * s + (accumulate ? o[j] : 0)
                    j += 1
                }
            }
        }
    }
}
