import Kernels
import TestSupport
import XCTest

final class AttentionTests: XCTestCase {
    static let tolerance: Float = 2e-5

    func check(length: Int, validLength: Int, heads: Int, headDim: Int, head: Int, file: StaticString = #filePath, line: UInt = #line) {
        let ld = heads * headDim + 3, ldOut = heads * headDim + 5
        let seed = UInt64(length * 131 + validLength * 7 + headDim)
        let q = randomFloats(length * ld, seed: seed, in: -2...2)
        let k = randomFloats(length * ld, seed: seed + 1, in: -2...2)
        let v = randomFloats(length * ld, seed: seed + 2)
        let sentinel: Float = 12345
        var fast = [Float](repeating: sentinel, count: length * ldOut), ref = fast
        var scratch = [Float](repeating: .nan, count: Attention.scratchCount(length: length, headDim: headDim))
        let off = head * headDim
        let scale = 1 / Float(headDim).squareRoot()
        q.withUnsafeBufferPointer { q in k.withUnsafeBufferPointer { k in v.withUnsafeBufferPointer { v in
            fast.withUnsafeMutableBufferPointer { fast in ref.withUnsafeMutableBufferPointer { ref in
                Attention.selfAttention(q: q.baseAddress! + off, k: k.baseAddress! + off, v: v.baseAddress! + off, ld: ld,
                                        out: fast.baseAddress! + off, ldOut: ldOut, length: length,
                                        validLength: validLength, headDim: headDim, scale: scale, scratch: &scratch)
                Attention.referenceSelfAttention(q: q.baseAddress! + off, k: k.baseAddress! + off, v: v.baseAddress! + off,
                                                 ld: ld, out: ref.baseAddress! + off, ldOut: ldOut, length: length,
                                                 validLength: validLength, headDim: headDim, scale: scale)
            } }
        } } }
        for i in 0..<length {
            for d in 0..<ldOut {
                let idx = i * ldOut + d
                if d < off || d >= off + headDim {
                    XCTAssertEqual(fast[idx], sentinel, "wrote outside the head", file: file, line: line)
                } else {
                    XCTAssertEqual(fast[idx], ref[idx], accuracy: Self.tolerance,
                                   "length \(length) valid \(validLength) headDim \(headDim) row \(i)", file: file, line: line)
                }
            }
        }
    }

    func testMatchesReference() {
        check(length: 1, validLength: 1, heads: 1, headDim: 32, head: 0)
        check(length: 7, validLength: 7, heads: 3, headDim: 32, head: 1)
        check(length: 31, validLength: 20, heads: 12, headDim: 32, head: 11)
        check(length: 128, validLength: 128, heads: 12, headDim: 32, head: 5)
        check(length: 385, validLength: 300, heads: 2, headDim: 32, head: 1)
    }

    func testOddHeadSizes() {
        check(length: 31, validLength: 17, heads: 2, headDim: 7, head: 1)
        check(length: 40, validLength: 33, heads: 2, headDim: 64, head: 1)
        check(length: 20, validLength: 19, heads: 2, headDim: 48, head: 0)
        check(length: 9, validLength: 5, heads: 1, headDim: 160, head: 0)   // dot-product path
    }

    func testNoValidKeysGivesZeros() {
        let q = [Float](repeating: 1, count: 64), out0 = [Float](repeating: 9, count: 64)
        var out = out0
        var scratch = [Float](repeating: 0, count: Attention.scratchCount(length: 2))
        Attention.selfAttention(q: q, k: q, v: q, ld: 32, out: &out, ldOut: 32, length: 2, validLength: 0,
                                headDim: 32, scale: 1, scratch: &scratch)
        XCTAssertEqual(out, [Float](repeating: 0, count: 64))
    }
}
