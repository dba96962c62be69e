import Kernels
import TestSupport
import XCTest

final class GemmTests: XCTestCase {
    /// Relative error allowed per unit of k (float rounding grows with the sum's length).
    static let relativeTolerancePerK: Float = 1e-6
    static let absoluteFloor: Float = 1e-5

    func check(m: Int, n: Int, k: Int, pad: Int, bias: Bool, alpha: Float, accumulate: Bool,
               pool: ThreadPool?, file: StaticString = #filePath, line: UInt = #line) {
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
                    let biasPointer = bias ? bv.baseAddress : nil
                    fast.withUnsafeMutableBufferPointer { c in
                        Gemm.matmulTransposed(m: m, n: n, k: k, a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                                              c: c.baseAddress!, ldc: ldc, bias: biasPointer, alpha: alpha,
                                              accumulate: accumulate, pool: pool)
                    }
                    ref.withUnsafeMutableBufferPointer { c in
                        Gemm.referenceMatmulTransposed(m: m, n: n, k: k, a: a.baseAddress!, lda: lda, b: b.baseAddress!,
                                                       ldb: ldb, c: c.baseAddress!, ldc: ldc, bias: biasPointer,
                                                       alpha: alpha, accumulate: accumulate)
                    }
                }
            }
        }
        // Values are O(√k); allow relative error growing with k.
        let tolerance = Self.absoluteFloor + Self.relativeTolerancePerK * Float(max(k, 1)) * (Float(k).squareRoot() + 2)
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
        XCTAssertLessThanOrEqual(worst, tolerance,
                                 "m \(m) n \(n) k \(k) bias \(bias) alpha \(alpha) acc \(accumulate) threads \(pool?.threads ?? 0)",
                                 file: file, line: line)
    }

    func testAwkwardShapes() {
        let pools: [ThreadPool?] = [nil, ThreadPool(threads: 1), ThreadPool(threads: 2)]
        for m in [1, 7, 31, 385] {
            for n in [1, 8, 33, 384] {
                for k in [1, 7, 385] {
                    let variant = (m + n + k) % 4
                    check(m: m, n: n, k: k, pad: variant == 0 ? 0 : 5, bias: variant % 2 == 1,
                          alpha: variant >= 2 ? 0.75 : 1, accumulate: variant == 3, pool: pools[(m + n + k) % 3])
                }
            }
        }
    }

    func testOptionsOnOneShape() {
        let pool = ThreadPool(threads: 2)
        for bias in [false, true] {
            for accumulate in [false, true] {
                for alpha: Float in [1, -0.5] {
                    check(m: 50, n: 70, k: 300, pad: 3, bias: bias, alpha: alpha, accumulate: accumulate, pool: pool)
                    check(m: 2, n: 70, k: 300, pad: 3, bias: bias, alpha: alpha, accumulate: accumulate, pool: pool)
                }
            }
        }
    }

    func testEncoderAndLoRAShapes() {
        let pool = ThreadPool(threads: 2)
        check(m: 300, n: 384, k: 384, pad: 0, bias: true, alpha: 1, accumulate: false, pool: pool)
        check(m: 130, n: 1536, k: 384, pad: 0, bias: true, alpha: 1, accumulate: false, pool: pool)
        check(m: 130, n: 384, k: 1536, pad: 0, bias: false, alpha: 1, accumulate: true, pool: pool)
        check(m: 130, n: 8, k: 384, pad: 0, bias: false, alpha: 1, accumulate: false, pool: pool)
        check(m: 130, n: 384, k: 8, pad: 0, bias: false, alpha: 2, accumulate: true, pool: nil)
        // 16-column kernel: whole tiles (n = 16, 48 with m a multiple of 12) and edge tiles.
        check(m: 36, n: 48, k: 100, pad: 2, bias: true, alpha: 0.5, accumulate: true, pool: pool)
        check(m: 130, n: 16, k: 64, pad: 0, bias: true, alpha: 1, accumulate: false, pool: nil)
        check(m: 24, n: 45, k: 33, pad: 1, bias: false, alpha: 1, accumulate: true, pool: pool)
    }

    func testZeroSizes() {
        var c: [Float] = [1, 2, 3, 4]
        let bias: [Float] = [10, 20]
        let dummy: [Float] = [0]
        Gemm.matmulTransposed(m: 2, n: 2, k: 0, a: dummy, lda: 0, b: dummy, ldb: 0, c: &c, ldc: 2, bias: bias,
                              accumulate: true)
        XCTAssertEqual(c, [11, 22, 13, 24])
        Gemm.matmulTransposed(m: 0, n: 2, k: 3, a: dummy, lda: 3, b: dummy, ldb: 3, c: &c, ldc: 2)
        XCTAssertEqual(c, [11, 22, 13, 24])
    }
}
