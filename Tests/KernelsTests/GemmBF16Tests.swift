import Kernels
import TestSupport
import XCTest

final class GemmBF16Tests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(GemmBF16.isSupported, "this CPU has no AVX-512 BF16")
    }

    /// The kernel against its twin: operands rounded to bf16 the same way, so only the order of
    /// float32 sums differs from the Double reference.
    func check(m: Int, n: Int, k: Int, pad: Int, bias: Bool, accumulate: Bool, pool: ThreadPool?,
               file: StaticString = #filePath, line: UInt = #line) {
        let lda = k + pad, ldb = k + 2 * pad, ldc = n + 3 * pad
        let seed = UInt64(m * 1_000_003 + n * 1009 + k)
        let a = randomFloats(m * lda, seed: seed)
        let b = randomFloats(n * ldb, seed: seed + 1)
        let bv = randomFloats(n, seed: seed + 2)
        let c0 = randomFloats(m * ldc, seed: seed + 3)
        var fast = c0, ref = c0
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                bv.withUnsafeBufferPointer { bv in
                    let weight = BF16Weight(b.baseAddress!, ldb: ldb, n: n, k: k)
                    fast.withUnsafeMutableBufferPointer { c in
                        GemmBF16.matmulTransposed(m: m, a: a.baseAddress!, lda: lda, weight: weight, c: c.baseAddress!,
                                                  ldc: ldc, bias: bias ? bv.baseAddress : nil, accumulate: accumulate,
                                                  pool: pool)
                    }
                    ref.withUnsafeMutableBufferPointer { c in
                        GemmBF16.referenceMatmulTransposed(m: m, n: n, k: k, a: a.baseAddress!, lda: lda,
                                                           b: b.baseAddress!, ldb: ldb, c: c.baseAddress!, ldc: ldc,
                                                           bias: bias ? bv.baseAddress : nil, accumulate: accumulate)
                    }
                }
            }
        }
        let tolerance: Float = 1e-5 + 1e-6 * Float(k) * (Float(k).squareRoot() + 2)
        var worst: Float = 0
        for i in 0..<m {
            for j in 0..<ldc {
                let idx = i * ldc + j
                if j >= n {
                    XCTAssertEqual(fast[idx], c0[idx], "padding of C written at (\(i), \(j))", file: file, line: line)
                    continue
                }
                worst = max(worst, abs(fast[idx] - ref[idx]))
            }
        }
        XCTAssertLessThanOrEqual(worst, tolerance, "m \(m) n \(n) k \(k) bias \(bias) acc \(accumulate) threads \(pool?.threads ?? 0)",
                                 file: file, line: line)
    }

    func testAwkwardShapesAgreeWithTheReference() {
        let pools: [ThreadPool?] = [nil, ThreadPool(threads: 2)]
        for m in [1, 7, 13, 385] {
            for n in [1, 17, 33, 384] {
                for k in [1, 7, 32, 385, 1536] {
                    let variant = (m + n + k) % 4
                    check(m: m, n: n, k: k, pad: variant == 0 ? 0 : 5, bias: variant % 2 == 1, accumulate: variant >= 2,
                          pool: pools[(m + k) % 2])
                }
            }
        }
    }

    /// Exact values: small integers are exact in bf16 and their sums exact in float32.
    func testSmallIntegersGiveExactProducts() {
        let m = 3, n = 2, k = 3
        let a: [Float] = [1, 2, 3,
                          -1, 0, 4,
                          5, 5, 5]
        let b: [Float] = [1, 1, 1,
                          2, -3, 7]
        var c = [Float](repeating: 9, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                let weight = BF16Weight(b.baseAddress!, ldb: k, n: n, k: k)
                c.withUnsafeMutableBufferPointer { c in
                    GemmBF16.matmulTransposed(m: m, a: a.baseAddress!, lda: k, weight: weight, c: c.baseAddress!, ldc: n)
                }
            }
        }
        XCTAssertEqual(c, [6, 17, 3, 26, 15, 30])
    }

    /// Rounding to nearest even on the bf16 grid (8 significant bits), as vcvtne2ps2bf16 rounds.
    func testRoundingIsToNearestEven() {
        XCTAssertEqual(GemmBF16.rounded(1 + 1.0 / 256), 1)            // halfway, even neighbour below
        XCTAssertEqual(GemmBF16.rounded(1 + 3.0 / 256), 1 + 4.0 / 256) // halfway, even neighbour above
        XCTAssertEqual(GemmBF16.rounded(1 + 1.5 / 256), 1 + 2.0 / 256)
        XCTAssertEqual(GemmBF16.rounded(-0.1), -0.10009765625)
        // the kernel rounds as the twin does: a 1×1×1 product shows the rounded operands
        var c: Float = 0
        var a: Float = 1 + 3.0 / 256, b: Float = 1 + 1.0 / 256
        let weight = BF16Weight(&b, ldb: 1, n: 1, k: 1)
        GemmBF16.matmulTransposed(m: 1, a: &a, lda: 1, weight: weight, c: &c, ldc: 1)
        XCTAssertEqual(c, 1 + 4.0 / 256)
    }
}
