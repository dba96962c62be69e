// Attention: bidirectional scaled dot-product attention for one head of one sequence,
// with a padding mask on keys. Keys are transposed once into scratch ([headDim][keys]) so
// scores are vectorised over keys without horizontal sums; then softmax; then the
// probability-weighted sum of v rows, vectorised over headDim; four query rows at a time.
import Foundation

public enum Attention {
    /// Largest headDim that uses the transposed-keys path (larger ones use dot products).
    static let maxTransposedHeadDim = 128
    /// Query rows per block.
    static let rowBlock = 4

    /// Floats of scratch `selfAttention` needs for this length and head size.
    public static func scratchCount(length: Int, headDim: Int) -> Int {
        let lp = (length + 15) / 16 * 16
        return headDim <= maxTransposedHeadDim ? headDim * lp + rowBlock * lp : rowBlock * lp
    }

    /// Floats of scratch enough for any headDim at this length.
    public static func scratchCount(length: Int) -> Int {
        scratchCount(length: length, headDim: maxTransposedHeadDim)
    }

    /// Bidirectional scaled dot-product attention for ONE head of ONE sequence. q, k, v are rows
    /// [length, ld] starting at this head's dims; out rows [length, ldOut]. Keys at positions
    /// >= validLength are masked; all `length` query rows are computed (all zero when
    /// validLength is 0). scratch needs `scratchCount(length:headDim:)` floats.
    public static func selfAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int,
                                     out: UnsafeMutablePointer<Float>, ldOut: Int, length: Int, validLength: Int,
                                     headDim: Int, scale: Float, scratch: UnsafeMutablePointer<Float>) {
        let keys = min(max(validLength, 0), length)
        if keys == 0 {
            for i in 0..<length { (out + i * ldOut).update(repeating: 0, count: headDim) }
            return
        }
        let kp = (keys + 15) / 16 * 16
        let transposed = headDim <= maxTransposedHeadDim
        let kt = scratch                                   // [headDim, kp]
        let scores = transposed ? scratch + headDim * kp : scratch   // [rowBlock, kp]
        if transposed {
            for d in 0..<headDim {
                let row = kt + d * kp
                for j in 0..<keys { row[j] = k[j * ld + d] }
                for j in keys..<kp { row[j] = 0 }
            }
        }
        // Four query rows at a time: independent accumulator chains, and each key (or v) row
        // loaded once for four queries. Rows past the end repeat the last row and are not stored.
        let vscale = SIMD16<Float>(repeating: scale)
        var i0 = 0
        while i0 < length {
            let rows = min(rowBlock, length - i0)
            let q0 = q + i0 * ld
            let q1 = q + min(i0 + 1, length - 1) * ld
            let q2 = q + min(i0 + 2, length - 1) * ld
            let q3 = q + min(i0 + 3, length - 1) * ld
            let p0 = scores, p1 = scores + kp, p2 = scores + 2 * kp, p3 = scores + 3 * kp
            // scores = scale · q · Kᵀ
            if transposed {
                var j = 0
                while j < kp {
                    var s0 = SIMD16<Float>.zero, s1 = SIMD16<Float>.zero, s2 = SIMD16<Float>.zero, s3 = SIMD16<Float>.zero
                    for d in 0..<headDim {
                        let kd = load16(kt + d * kp + j)
                        madd(&s0, SIMD16(repeating: q0[d]), kd)
                        madd(&s1, SIMD16(repeating: q1[d]), kd)
                        madd(&s2, SIMD16(repeating: q2[d]), kd)
                        madd(&s3, SIMD16(repeating: q3[d]), kd)
                    }
                    store16(s0 * vscale, p0 + j)
                    store16(s1 * vscale, p1 + j)
                    store16(s2 * vscale, p2 + j)
                    store16(s3 * vscale, p3 + j)
                    j += 16
                }
            } else {
                for j in 0..<keys {
                    let kj = k + j * ld
                    p0[j] = scale * Gemm.dot(q0, kj, count: headDim)
                    p1[j] = scale * Gemm.dot(q1, kj, count: headDim)
                    p2[j] = scale * Gemm.dot(q2, kj, count: headDim)
                    p3[j] = scale * Gemm.dot(q3, kj, count: headDim)
                }
            }
            Softmax.softmax(p0, count: keys)
            Softmax.softmax(p1, count: keys)
            Softmax.softmax(p2, count: keys)
            Softmax.softmax(p3, count: keys)
            // out = P · V
            let o0 = out + i0 * ldOut, o1 = o0 + ldOut, o2 = o1 + ldOut, o3 = o2 + ldOut
            var d0 = 0
            while d0 + 16 <= headDim {
                var a0 = SIMD16<Float>.zero, a1 = SIMD16<Float>.zero, a2 = SIMD16<Float>.zero, a3 = SIMD16<Float>.zero
                for j in 0..<keys {
                    let vj = load16(v + j * ld + d0)
                    madd(&a0, SIMD16(repeating: p0[j]), vj)
                    madd(&a1, SIMD16(repeating: p1[j]), vj)
                    madd(&a2, SIMD16(repeating: p2[j]), vj)
                    madd(&a3, SIMD16(repeating: p3[j]), vj)
                }
                store16(a0, o0 + d0)
                if rows > 1 { store16(a1, o1 + d0) }
                if rows > 2 { store16(a2, o2 + d0) }
                if rows > 3 { store16(a3, o3 + d0) }
                d0 += 16
            }
            while d0 < headDim {
                for r in 0..<rows {
                    let pr = scores + r * kp
                    var a: Float = 0
                    for j in 0..<keys { a += pr[j] * v[j * ld + d0] }
                    (out + (i0 + r) * ldOut)[d0] = a
                }
                d0 += 1
            }
            i0 += rowBlock
        }
    }

    /// Scalar reference twin, in Double.
    public static func referenceSelfAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                              ld: Int, out: UnsafeMutablePointer<Float>, ldOut: Int, length: Int,
                                              validLength: Int, headDim: Int, scale: Float) {
        let keys = min(max(validLength, 0), length)
        var p = [Double](repeating: 0, count: max(keys, 1))
        for i in 0..<length {
            var m = -Double.infinity
            for j in 0..<keys {
                var s = 0.0
                for d in 0..<headDim { s += Double(q[i * ld + d]) * Double(k[j * ld + d]) }
                p[j] = s * Double(scale)
                m = max(m, p[j])
            }
            var sum = 0.0
            for j in 0..<keys { p[j] = exp(p[j] - m); sum += p[j] }
            for d in 0..<headDim {
                var o = 0.0
                for j in 0..<keys { o += p[j] / sum * Double(v[j * ld + d]) }
                out[i * ldOut + d] = Float(o)
            }
        }
    }
}
