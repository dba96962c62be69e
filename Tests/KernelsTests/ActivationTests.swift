import Foundation
import Kernels
import TestSupport
import XCTest

final class ActivationTests: XCTestCase {
    /// Absolute error allowed against Foundation's erf-based GELU, per unit of max(1, |x|).
    static let geluTolerance: Float = 1e-6

    func testGeluMatchesErfFormula() {
        for count in [1, 7, 31, 385, 4096] {
            var fast = randomFloats(count, seed: UInt64(count), in: -8...8)
            var ref = fast
            let input = fast
            Activation.gelu(&fast, count: count)
            Activation.referenceGelu(&ref, count: count)
            for i in 0..<count {
                XCTAssertEqual(fast[i], ref[i], accuracy: Self.geluTolerance * max(1, abs(input[i])), "x = \(input[i])")
            }
        }
    }

    func testGeluOnADenseGrid() {
        let count = 20_001
        var x = (0..<count).map { Float($0 - 10_000) / 1000 }   // -10 … 10 step 0.001
        let input = x
        Activation.gelu(&x, count: count)
        var worst: Float = 0
        for i in 0..<count {
            let v = Double(input[i])
            let expected = Float(0.5 * v * (1 + erf(v / 2.0.squareRoot())))
            worst = max(worst, abs(x[i] - expected) / max(1, abs(input[i])))
        }
        XCTAssertLessThanOrEqual(worst, Self.geluTolerance)
    }
}
