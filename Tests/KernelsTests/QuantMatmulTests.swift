import Kernels
import TestSupport
import XCTest

final class QuantMatmulTests: XCTestCase {
    /// Fast vs the integer twin: the same quantized products in another float summation order.
    static let twinRelativeTolerance: Float = 1e-5

    static let pools: [ThreadPool?] = [nil, ThreadPool(threads: 1), ThreadPool(threads: 2)]

    /// k values to test for a format: whole blocks, some past Gemm's k chunk (384).
    static func ks(_ format: QuantFormat) -> [Int] {
        switch format.blockSize {
        case 1: return [7, 32, 96, 576]
        case 32: return [32, 96, 256, 576]
        default: return [256, 512]
        }
    }

    /// Checks matmul against both twins for one shape; returns the worst error vs the twin.
    func check(format: QuantFormat, m: Int, n: Int, k: Int, pad: Int, accumulate: Bool, pool: ThreadPool?,
               file: StaticString = #filePath, line: UInt = #line) {
        let ldx = k + pad, ldy = n + 2 * pad
        let seed = UInt64(m * 1_000_003 + n * 1009 + k * 7 + format.rawValue)
        let w = QuantMatmul.randomWeights(format: format, rows: n, k: k, seed: seed)
        let x = randomFloats(m * ldx, seed: seed + 1, in: -2...2)
        let y0 = randomFloats(m * ldy, seed: seed + 2)
        var fast = y0, twin = y0, float = y0
        w.withUnsafeBytes { w in
            let wp = w.baseAddress!
            QuantMatmul.matmul(m: m, n: n, k: k, x: x, ldx: ldx, weights: wp, format: format, y: &fast, ldy: ldy,
                               accumulate: accumulate, pool: pool)
            QuantMatmul.referenceQuantizedMatmul(m: m, n: n, k: k, x: x, ldx: ldx, weights: wp, format: format,
                                                 y: &twin, ldy: ldy, accumulate: accumulate)
            QuantMatmul.referenceMatmul(m: m, n: n, k: k, x: x, ldx: ldx, weights: wp, format: format,
                                        y: &float, ldy: ldy, accumulate: accumulate)
        }
        // Per-output scales: S = Σ|w||xq| (float rounding), E = Σ|w||xq - x| (quantization error).
        var wd = [Float](repeating: 0, count: n * k), xq = [Float](repeating: 0, count: m * k)
        w.withUnsafeBytes { w in
            for j in 0..<n {
                wd.withUnsafeMutableBufferPointer {
                    QuantMatmul.referenceDequantizeRow(w.baseAddress! + j * format.rowBytes(k), format: format, k: k,
                                                       into: $0.baseAddress! + j * k)
                }
            }
        }
        for i in 0..<m {
            x.withUnsafeBufferPointer { x in
                xq.withUnsafeMutableBufferPointer {
                    QuantMatmul.quantizeActivations(x.baseAddress! + i * ldx, k: k, kind: format.activationQuantization,
                                                    into: $0.baseAddress! + i * k)
                }
            }
        }
        let context = "\(format) m \(m) n \(n) k \(k) pad \(pad) acc \(accumulate) threads \(pool?.threads ?? 0)"
        for i in 0..<m {
            for j in 0..<ldy {
                let idx = i * ldy + j
                if j >= n {
                    XCTAssertEqual(fast[idx], y0[idx], "padding of y written at (\(i), \(j)): \(context)", file: file, line: line)
                    continue
                }
                var s: Float = abs(accumulate ? y0[idx] : 0), e: Float = 0
                for p in 0..<k {
                    s += abs(wd[j * k + p] * xq[i * k + p])
                    e += abs(wd[j * k + p] * (xq[i * k + p] - x[i * ldx + p]))
                }
                let twinTolerance = Self.twinRelativeTolerance * s + 1e-6
                if abs(fast[idx] - twin[idx]) > twinTolerance {
                    XCTFail("fast \(fast[idx]) vs twin \(twin[idx]) at (\(i), \(j)), tolerance \(twinTolerance): \(context)",
                            file: file, line: line)
                    return
                }
                let floatTolerance = e * 1.001 + Self.twinRelativeTolerance * s + 1e-6
                if abs(fast[idx] - float[idx]) > floatTolerance {
                    XCTFail("fast \(fast[idx]) vs float \(float[idx]) at (\(i), \(j)), tolerance \(floatTolerance): \(context)",
                            file: file, line: line)
                    return
                }
            }
        }
    }

    func testEveryFormatAwkwardShapes() {
        var variant = 0
        for format in QuantFormat.allCases {
            for k in Self.ks(format) {
                for m in [1, 3, 17, 33] {
                    for n in [1, 3, 17, 33] {
                        variant += 1
                        check(format: format, m: m, n: n, k: k, pad: variant % 3 == 0 ? 3 : 0,
                              accumulate: variant % 2 == 1, pool: Self.pools[variant % 3])
                    }
                }
            }
        }
    }

    /// Several x panels and weight tiles, both threads: the prompt-sized path.
    func testLargerShapesAllPools() {
        for format in [QuantFormat.q4_1, .q8_0, .q4_K, .q6_K] {
            for pool in Self.pools {
                check(format: format, m: 150, n: 61, k: 512, pad: 1, accumulate: false, pool: pool)
                check(format: format, m: 2, n: 130, k: 512, pad: 0, accumulate: true, pool: pool)
            }
        }
    }

    /// Q4_0, Q4_1, Q8_0: each output row is bit-identical whether its x row is multiplied alone or
    /// as one of 17 rows (4-row and 1-row kernel paths), on one thread or two.
    func testIntegerFormatsAreBatchInvariant() {
        for format in [QuantFormat.q4_0, .q4_1, .q8_0] {
            let m = 17, n = 37, k = 576
            let w = QuantMatmul.randomWeights(format: format, rows: n, k: k, seed: 7)
            let x = randomFloats(m * k, seed: 8, in: -3...3)
            var batched = [Float](repeating: 0, count: m * n)
            w.withUnsafeBytes { w in
                QuantMatmul.matmul(m: m, n: n, k: k, x: x, ldx: k, weights: w.baseAddress!, format: format,
                                   y: &batched, ldy: n, pool: ThreadPool(threads: 2))
                for i in 0..<m {
                    var alone = [Float](repeating: 0, count: n)
                    x.withUnsafeBufferPointer { x in
                        QuantMatmul.matmul(m: 1, n: n, k: k, x: x.baseAddress! + i * k, ldx: k, weights: w.baseAddress!,
                                           format: format, y: &alone, ldy: n, pool: nil)
                    }
                    XCTAssertEqual(alone, Array(batched[i * n..<(i + 1) * n]), "\(format) row \(i)")
                }
            }
        }
    }

    /// The VNNI copy of the integer kernels and the vpmaddubsw copy give the same bits, single rows
    /// and tiles alike (on a CPU without VNNI both runs take the second copy).
    func testVNNIAndMaddubsKernelsAgreeBitForBit() {
        let hadVNNI = QuantMatmul.usesVNNI
        defer { QuantMatmul.usesVNNI = hadVNNI }
        for format in [QuantFormat.q4_0, .q4_1, .q8_0] {
            for m in [1, 17] {
                let n = 37, k = 576
                let w = QuantMatmul.randomWeights(format: format, rows: n, k: k, seed: 11)
                let x = randomFloats(m * k, seed: 12, in: -3...3)
                var results: [[Float]] = []
                for vnni in [true, false] {
                    QuantMatmul.usesVNNI = vnni
                    var y = [Float](repeating: 0, count: m * n)
                    w.withUnsafeBytes { w in
                        QuantMatmul.matmul(m: m, n: n, k: k, x: x, ldx: k, weights: w.baseAddress!, format: format,
                                           y: &y, ldy: n, pool: ThreadPool(threads: 2))
                    }
                    results.append(y)
                }
                XCTAssertEqual(results[0], results[1], "\(format) m \(m)")
                XCTAssertFalse(results[0].allSatisfy { $0 == 0 }, "\(format) m \(m) computed nothing")
            }
        }
    }

    /// Projections of the same rows computed together (one quantization, one parallel loop) give
    /// each output the bits a matmul of its own gives it.
    func testSharedInputProjectionsEqualSeparateMatmuls() {
        let k = 576, shapes: [(QuantFormat, Int)] = [(.q4_1, 40), (.q8_0, 24), (.q4_0, 33)]
        for m in [1, 3, 17] {
            let x = randomFloats(m * k, seed: 30, in: -3...3)
            let weights = shapes.enumerated().map { QuantMatmul.randomWeights(format: $1.0, rows: $1.1, k: k, seed: UInt64(31 + $0)) }
            var separate = shapes.map { [Float](repeating: 0, count: m * $0.1) }
            let pool = ThreadPool(threads: 2)
            for p in 0..<3 {
                weights[p].withUnsafeBytes { w in
                    QuantMatmul.matmul(m: m, n: shapes[p].1, k: k, x: x, ldx: k, weights: w.baseAddress!, format: shapes[p].0,
                                       y: &separate[p], ldy: shapes[p].1, pool: pool)
                }
            }
            // weights and outputs in buffers of their own, alive across the one call
            let w = weights.map { bytes -> UnsafeMutableRawPointer in
                let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
                p.copyMemory(from: bytes, byteCount: bytes.count)
                return p
            }
            let y = shapes.map { UnsafeMutablePointer<Float>.allocate(capacity: m * $0.1) }
            defer { w.forEach { $0.deallocate() }; y.forEach { $0.deallocate() } }
            let p = (0..<3).map { QuantMatmul.SharedInputProjection(weights: UnsafeRawPointer(w[$0]), format: shapes[$0].0,
                                                                     n: shapes[$0].1, y: y[$0], ldy: shapes[$0].1) }
            QuantMatmul.matmulShared(m: m, k: k, x: x, ldx: k, p[0], p[1], p[2], pool: pool)
            let together = (0..<3).map { Array(UnsafeBufferPointer(start: y[$0], count: m * shapes[$0].1)) }
            for p in 0..<3 { XCTAssertEqual(together[p], separate[p], "projection \(p), m \(m)") }
        }
    }

    /// k = 0 clears (or keeps, accumulating) y; m = 0 or n = 0 writes nothing.
    func testEmptyShapes() {
        var y: [Float] = [1, 2, 3, 4]
        let x: [Float] = [0]
        let w: [UInt8] = [0]
        QuantMatmul.matmul(m: 2, n: 2, k: 0, x: x, ldx: 0, weights: w, format: .q8_0, y: &y, ldy: 2, accumulate: true, pool: nil)
        XCTAssertEqual(y, [1, 2, 3, 4])
        QuantMatmul.matmul(m: 0, n: 2, k: 32, x: x, ldx: 32, weights: w, format: .q8_0, y: &y, ldy: 2, pool: nil)
        XCTAssertEqual(y, [1, 2, 3, 4])
        QuantMatmul.matmul(m: 2, n: 2, k: 0, x: x, ldx: 0, weights: w, format: .q8_0, y: &y, ldy: 2, pool: nil)
        XCTAssertEqual(y, [0, 0, 0, 0])
    }
}
