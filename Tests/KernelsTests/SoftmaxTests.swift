import Kernels
import TestSupport
import XCTest

final class SoftmaxTests: XCTestCase {
    static let relativeTolerance: Float = 2e-6

    func testMatchesReference() {
        for count in [1, 7, 31, 385] {
            for spread: Float in [1, 30] {
                var fast = randomFloats(count, seed: UInt64(count) + UInt64(spread), in: -spread...spread)
                var ref = fast
                Softmax.softmax(&fast, count: count)
                Softmax.referenceSoftmax(&ref, count: count)
                var sum: Float = 0
                for i in 0..<count {
                    XCTAssertEqual(fast[i], ref[i], accuracy: Self.relativeTolerance * max(ref[i], 1e-30) + 1e-12)
                    sum += fast[i]
                }
                XCTAssertEqual(sum, 1, accuracy: 1e-5)
            }
        }
    }

    func testLargeInputsDoNotOverflow() {
        var x: [Float] = [1000, 1000, -1000, 999]
        Softmax.softmax(&x, count: 4)
        var ref: [Float] = [1000, 1000, -1000, 999]
        Softmax.referenceSoftmax(&ref, count: 4)
        for i in 0..<4 { XCTAssertEqual(x[i], ref[i], accuracy: 1e-6) }
        XCTAssertLessThan(x[2], 1e-30)   // e^-2000 underflows (exp clamps at e^-87.3)
    }
}
