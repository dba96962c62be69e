import Kernels
import TestSupport
import XCTest

final class NormTests: XCTestCase {
    static let tolerance: Float = 2e-5

    func testLayerNormMatchesReference() {
        for cols in [1, 7, 31, 385] {
            for withResidual in [false, true] {
                let rows = 3
                let seed = UInt64(cols * 2 + (withResidual ? 1 : 0))
                let x = randomFloats(rows * cols, seed: seed, in: -3...5)
                let residual = randomFloats(rows * cols, seed: seed + 1)
                let gamma = randomFloats(cols, seed: seed + 2, in: 0.5...1.5)
                let beta = randomFloats(cols, seed: seed + 3)
                var fast = [Float](repeating: 0, count: rows * cols), ref = fast
                residual.withUnsafeBufferPointer { r in
                    let rp = withResidual ? r.baseAddress : nil
                    Norm.layerNorm(x, residual: rp, gamma: gamma, beta: beta, eps: 1e-12, rows: rows, cols: cols, out: &fast)
                    Norm.referenceLayerNorm(x, residual: rp, gamma: gamma, beta: beta, eps: 1e-12, rows: rows, cols: cols, out: &ref)
                }
                for i in 0..<(rows * cols) { XCTAssertEqual(fast[i], ref[i], accuracy: Self.tolerance, "cols \(cols) i \(i)") }
            }
        }
    }

    func testOutMayAliasInputOrResidual() {
        let rows = 2, cols = 385
        let x = randomFloats(rows * cols, seed: 7)
        let residual = randomFloats(rows * cols, seed: 8)
        let gamma = randomFloats(cols, seed: 9), beta = randomFloats(cols, seed: 10)
        var expected = [Float](repeating: 0, count: rows * cols)
        Norm.referenceLayerNorm(x, residual: residual, gamma: gamma, beta: beta, eps: 1e-5, rows: rows, cols: cols, out: &expected)
        var inX = x
        inX.withUnsafeMutableBufferPointer { p in
            Norm.layerNorm(p.baseAddress!, residual: residual, gamma: gamma, beta: beta, eps: 1e-5, rows: rows, cols: cols, out: p.baseAddress!)
        }
        var inResidual = residual
        inResidual.withUnsafeMutableBufferPointer { p in
            Norm.layerNorm(x, residual: p.baseAddress!, gamma: gamma, beta: beta, eps: 1e-5, rows: rows, cols: cols, out: p.baseAddress!)
        }
        for i in 0..<(rows * cols) {
            XCTAssertEqual(inX[i], expected[i], accuracy: Self.tolerance)
            XCTAssertEqual(inResidual[i], expected[i], accuracy: Self.tolerance)
        }
    }
}
