// GemmBF16: C = A · Bᵀ (+ bias) (+ C) with both operands rounded to bf16 and every sum kept in
// float32, on AVX-512 BF16 (CGemmBF16's 12×32 micro-kernel: vdpbf16ps does twice the
// multiply-adds of a float32 FMA per instruction). Opt-in, because rounding the operands moves
// outputs by about 1e-3 relative, more than the float32 path's agreement with the references.
// B, a Linear weight, is packed once when the model loads; A is rounded per call, in parallel.
import CGemmBF16

/// The arithmetic of the encoder's linear layers: float32 (the default, which agrees with the
/// references to 1e-4) or bf16 operands with float32 sums (opt-in, about twice the speed).
public enum MatmulPrecision: String, Sendable, CaseIterable, Codable {
    case f32, bf16
}

/// A Linear weight [n, k] rounded to bf16 and packed for GemmBF16 (panels of 32 columns of pairs).
public final class BF16Weight: @unchecked Sendable {
    public let n: Int, k: Int
    let kPairs: Int
    let panels: UnsafeMutableRawPointer   // [ceil(n/32)][kPairs][32] words, each two bf16

    /// Packs b[n][k] (row stride ldb); needs a CPU with AVX-512 BF16 only to be used, not to be built.
    public init(_ b: UnsafePointer<Float>, ldb: Int, n: Int, k: Int) {
        precondition(n > 0 && k > 0 && ldb >= k, "bad bf16 weight shape")
        self.n = n
        self.k = k
        kPairs = (k + 1) / 2
        let words = (n + GemmBF16.nr - 1) / GemmBF16.nr * kPairs * GemmBF16.nr
        panels = .allocate(byteCount: words * 4, alignment: 64)
        dojo_bf16_pack(b, ldb, Int32(n), Int32(k), panels)
    }

    deinit { panels.deallocate() }
}

public enum GemmBF16 {
    static let mr = 12, nr = 32
    /// Largest k chunk in pairs: a panel chunk of 192 × 32 words (24 KiB) stays in L1.
    static let kcPairsMax = 192
    /// Largest row block of one work tile.
    static let mcMax = 384

    /// True when this CPU has AVX-512 BF16; nothing else here may run otherwise.
    public static var isSupported: Bool { dojo_has_bf16() == 1 }

    /// f32 → bf16 → f32 with round to nearest even, as the kernel rounds (the tests' twin).
    public static func rounded(_ x: Float) -> Float {
        let u = x.bitPattern
        if x.isNaN { return x }
        return Float(bitPattern: (u &+ 0x7fff &+ ((u >> 16) & 1)) & 0xffff_0000)
    }

    /// C[m×n] = A[m×k] · Bᵀ (+ bias[n]) (+ C when accumulate), B packed in `weight`; A and B are
    /// rounded to bf16, products summed in float32. pool nil = single thread.
    public static func matmulTransposed(m: Int, a: UnsafePointer<Float>, lda: Int, weight: BF16Weight,
                                        c: UnsafeMutablePointer<Float>, ldc: Int,
                                        bias: UnsafePointer<Float>? = nil, accumulate: Bool = false,
                                        pool: ThreadPool? = nil) {
        precondition(isSupported, "GemmBF16 needs AVX-512 BF16")
        precondition(m >= 0 && lda >= weight.k && ldc >= weight.n, "leading dimension shorter than a row")
        if m == 0 { return }
        let runner = pool ?? ThreadPool.serial
        let n = weight.n, kPairs = weight.kPairs

        // A rounded to bf16 pairs, [m][kPairs] words, in scratch shared by the loop (one float per word).
        let rounded = UnsafeMutableRawPointer(runner.sharedScratch(count: m * kPairs))
        let chunk = 64
        var convert = ConvertJob(a: a, lda: lda, m: m, k: weight.k, kPairs: kPairs, out: rounded, chunk: chunk)
        withUnsafeMutablePointer(to: &convert) { job in
            runner.parallelFor((m + chunk - 1) / chunk, context: UnsafeMutableRawPointer(job)) { context, index, _ in
                context.assumingMemoryBound(to: ConvertJob.self).pointee.run(index)
            }
        }

        let panels = (n + nr - 1) / nr
        let plan = Gemm.TilePlan(m: m, panels: panels, mr: mr, mcMax: mcMax, threads: runner.threads)
        var job = TileJob(m: m, n: n, kPairs: kPairs, a: UnsafeRawPointer(rounded), b: UnsafeRawPointer(weight.panels),
                          c: c, ldc: ldc, bias: bias, accumulate: accumulate, panels: panels, plan: plan)
        withExtendedLifetime(weight) {
            withUnsafeMutablePointer(to: &job) { job in
                runner.parallelFor(plan.tiles, context: UnsafeMutableRawPointer(job)) { context, tile, _ in
                    context.assumingMemoryBound(to: TileJob.self).pointee.run(tile: tile)
                }
            }
        }
    }

    /// Scalar reference twin: A and B rounded to bf16 as the kernel rounds them, sums in Double.
    public static func referenceMatmulTransposed(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                                 b: UnsafePointer<Float>, ldb: Int,
                                                 c: UnsafeMutablePointer<Float>, ldc: Int,
                                                 bias: UnsafePointer<Float>? = nil, accumulate: Bool = false) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += Double(rounded(a[i * lda + p])) * Double(rounded(b[j * ldb + p])) }
                var value = Float(sum) + (bias?[j] ?? 0)
                if accumulate { value += c[i * ldc + j] }
                c[i * ldc + j] = value
            }
        }
    }

    struct ConvertJob {
        let a: UnsafePointer<Float>, lda: Int, m: Int, k: Int, kPairs: Int
        let out: UnsafeMutableRawPointer
        let chunk: Int

        func run(_ index: Int) {
            let r0 = index * chunk
            dojo_bf16_rows(a + r0 * lda, lda, Int32(min(chunk, m - r0)), Int32(k), out + r0 * kPairs * 4, kPairs)
        }
    }

    struct TileJob {
        let m: Int, n: Int, kPairs: Int
        let a: UnsafeRawPointer        // [m][kPairs] words
        let b: UnsafeRawPointer        // [panels][kPairs][32] words
        let c: UnsafeMutablePointer<Float>, ldc: Int
        let bias: UnsafePointer<Float>?
        let accumulate: Bool
        let panels: Int
        let plan: Gemm.TilePlan

        /// Tile = (row block, group of panels); per k chunk, each panel chunk stays in L1 while
        /// the block's rows stream past it twelve at a time.
        func run(tile: Int) {
            let row0 = (tile / plan.groups) * plan.mc
            let rows = min(plan.mc, m - row0)
            let p0 = (tile % plan.groups) * plan.panelsPerTile
            let p1 = min(p0 + plan.panelsPerTile, panels)
            var k0 = 0
            while k0 < kPairs {
                let kc = min(kcPairsMax, kPairs - k0)
                let first = k0 == 0
                for pj in p0..<p1 {
                    let col = pj * nr
                    let cols = min(nr, n - col)
                    let panel = b + ((pj * kPairs + k0) * nr) * 4
                    let tileBias = first ? bias.map { $0 + col } : nil
                    var ir = 0
                    while ir < rows {
                        dojo_bf16_tile(Int32(kc), a + ((row0 + ir) * kPairs + k0) * 4, kPairs, Int32(min(mr, rows - ir)),
                                       panel, c + (row0 + ir) * ldc + col, ldc, Int32(cols), tileBias,
                                       first && !accumulate ? 0 : 1)
                        ir += mr
                    }
                }
                k0 += kc
            }
        }
    }
}
