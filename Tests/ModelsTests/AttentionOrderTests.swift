import Models
import XCTest

/// The one-token attention path against a scalar twin of ggml_vec_dot_f16 (what llama.cpp runs
/// for a one-token batch), including lengths past 64 where its four 16-lane accumulators start.
final class AttentionOrderTests: XCTestCase {
    /// ggml_vec_dot_f16 of V's column d with the f16 probabilities, written from its definition.
    static func twin(values: [Float16], stride: Int, d: Int, p: [Float], keyCount: Int) -> Float {
        let np = keyCount & ~63
        var sums = [[Float]](repeating: [Float](repeating: 0, count: 16), count: 4)
        var i = 0
        while i < np {
            for j in 0..<4 {
                for l in 0..<16 {
                    let pos = i + 16 * j + l
                    let v: Float = pos < p.count ? Float(values[pos * stride + d]) : 0
                    let w: Float = pos < p.count ? p[pos] : 0
                    sums[j][l] = sums[j][l].addingProduct(v, w)
                }
            }
            i += 64
        }
        var x = (0..<16).map { l in (sums[0][l] + sums[2][l]) + (sums[1][l] + sums[3][l]) }
        for width in [8, 4, 2, 1] { for l in 0..<width { x[l] += x[l + width] } }
        var total = Double(x[0])
        var pos = np
        while pos < p.count { total += Double(Float(values[pos * stride + d]) * p[pos]); pos += 1 }
        return Float(total)
    }

    func testOneTokenPathEqualsVecDotTwinBitForBit() {
        let headDim = 64, stride = 3 * headDim
        var generator = SystemRandomNumberGenerator()
        for length in [1, 19, 63, 64, 65, 130, 200] {
            // Zero keys: every score is 0, so each probability is Float(1/length) before f16 rounding.
            let keyStride = (length + 15) & ~15
            let keys = [Float16](repeating: 0, count: headDim * keyStride)   // transposed
            let values = (0..<length * stride).map { _ in Float16(Float.random(in: -3...3, using: &generator)) }
            let q = (0..<headDim).map { _ in Float.random(in: -1...1, using: &generator) }
            let keyCount = (length + 31) & ~31
            var out = [Float](repeating: .nan, count: headDim)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: attentionScratch(headDim: headDim, length: length))
            defer { scratch.deallocate() }
            attendHead(q: q, keys: keys, keyStride: keyStride, values: values, stride: stride, length: length, headDim: headDim, scale: 0.125,
                       kernel: .vecDot(keyCount: keyCount), scratch: scratch, out: &out)
            let p = [Float](repeating: Float(Float16(Float(1 / Double(length)))), count: length)
            for d in 0..<headDim {
                XCTAssertEqual(out[d], Self.twin(values: values, stride: stride, d: d, p: p, keyCount: keyCount),
                               "length \(length) dimension \(d)")
            }
        }
    }
}
