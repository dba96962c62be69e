// Attention: bidirectional scaled dot-product attention for one head of one sequence,
// with a padding mask on keys. Keys are transposed once into scratch ([headDim][keys]) so
// scores are vectorised over keys without horizontal sums; then softmax; then the
// probability-weighted sum of v rows, vectorised over headDim.
import Foundation

public enum Attention {
    /// Largest headDim that uses the transposed-keys path (larger ones use dot products).
    static let maxTransposedHeadDim = 128

    /// Floats of scratch `selfAttention` needs for this length and head size.
    public static func scratchCount(length: Int, headDim: Int) -> Int {
        let lp = (length + 15) / 16 * 16
        return headDim <= maxTransposedHeadDim ? headDim * lp + lp : lp
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
        let scores = transposed ? scratch + headDim * kp : scratch   // [kp]
        if transposed {
            for d in 0..<headDim {
                let row = kt + d * kp
                for j in 0..<keys { row[j] = k[j * ld + d] }
                for j in keys..<kp { row[j] = 0 }
            }
        }
        let vscale = SIMD16<Float>(repeating: scale)
        for i in 0..<length {
            let qi = q + i * ld
            // scores = scale · q_i · Kᵀ
            if transposed {
                var j = 0
                while j + 32 <= kp {
                    var s0 = SIMD16<Float>.zero, s1 = SIMD16<Float>.zero
                    for d in 0..<headDim {
                        let qd = SIMD16<Float>(repeating: qi[d])
                        madd(&s0, qd, load16(kt + d * kp + j))
                        madd(&s1, qd, load16(kt + d * kp + j + 16))
                    }
                    store16(s0 * vscale, scores + j)
                    store16(s1 * vscale, scores + j + 16)
                    j += 32
                }
                if j < kp {
                    var s0 = SIMD16<Float>.zero
                    for d in 0..<headDim { madd(&s0, SIMD16(repeating: qi[d]), load16(kt + d * kp + j)) }
                    store16(s0 * vscale, scores + j)
                }
            } else {
                for j in 0..<keys { scores[j] = scale * Gemm.dot(qi, k + j * ld, count: headDim) }
            }
            Softmax.softmax(scores, count: keys)
            // out_i = Σ_j p_j · v_j
            let oi = out + i * ldOut
            var d0 = 0
            while d0 + 32 <= headDim {
                var a0 = SIMD16<Float>.zero, a1 = SIMD16<Float>.zero
                for j in 0..<keys {
                    let p = SIMD16<Float>(repeating: scores[j])
                    let vj = v + j * ld + d0
                    madd(&a0, p, load16(vj))
                    madd(&a1, p, load16(vj + 16))
                }
                store16(a0, oi + d0)
                store16(a1, oi + d0 + 16)
                d0 += 32
            }
            while d0 + 16 <= headDim {
                var a0 = SIMD16<Float>.zero
                for j in 0..<keys { madd(&a0, SIMD16(repeating: scores[j]), load16(v + j * ld + d0)) }
                store16(a0, oi + d0)
                d0 += 16
            }
            while d0 < headDim {
                var a: Float = 0
                for j in 0..<keys { a += scores[j] * v[j * ld + d0] }
                oi[d0] = a
                d0 += 1
            }
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
