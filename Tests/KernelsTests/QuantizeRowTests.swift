import Kernels
import TestSupport
import XCTest

final class QuantizeRowTests: XCTestCase {
    /// The fast quantizer's q·d equals the scalar twin's q times its scale, bit for bit; the
    /// round trip stays within half a step of the input; the scales follow ggml's rules.
    func testActivationRoundTrip() {
        for kind in [ActivationQuantization.q8, .q8K] {
            for k in [256, 512, 1536] {
                var x = randomFloats(k, seed: UInt64(k), in: -3...3)
                x[5] = 0; x[40] = -7.5                        // a zero, and a negative largest value
                for j in 64..<96 { x[j] = 0 }                 // an all-zero Q8 block
                let blocks = k / kind.blockSize
                var qs = [Int8](repeating: 0, count: k), scales = [Float](repeating: .nan, count: blocks)
                var xq = [Float](repeating: .nan, count: k)
                QuantMatmul.referenceQuantizeActivations(x, k: k, kind: kind, qs: &qs, scales: &scales)
                QuantMatmul.quantizeActivations(x, k: k, kind: kind, into: &xq)
                for b in 0..<blocks {
                    let range = b * kind.blockSize..<(b + 1) * kind.blockSize
                    let amax = range.map { abs(x[$0]) }.max()!
                    let d = scales[b]
                    if kind == .q8 {
                        XCTAssertEqual(d, Float(Float16(amax / 127)), "Q8 scale is amax/127 rounded to f16")
                    } else {
                        XCTAssertEqual(abs(d), amax / 127, accuracy: amax * 1e-6, "Q8_K scale is max/127")
                        XCTAssertEqual(qs[range].map { abs(Int($0)) }.max(), amax == 0 ? 0 : 127)
                    }
                    for j in range {
                        XCTAssertEqual(xq[j], Float(qs[j]) * d, "\(kind) k \(k) element \(j): fast q·d")
                        // Half a step, plus the f16 rounding of the Q8 scale (rel 2⁻¹¹ of 127 steps).
                        XCTAssertLessThanOrEqual(abs(xq[j] - x[j]), amax / 127 * 0.5 + amax * 1e-3 + 1e-7,
                                                 "\(kind) element \(j)")
                    }
                }
                XCTAssertEqual(Array(qs[64..<96]), [Int8](repeating: 0, count: 32))
            }
        }
    }
}
