// Dropout for training, reproducible: keep decisions come from a SplitMix64 stream keyed by
// (seed, row), 16 bits per decision, so the forward pass and the backward pass regenerate the
// same mask without storing it, whatever the thread count. Also attention with dropout on the
// probabilities (BertSelfAttention in training mode), the forward twin of Backward.selfAttention.
import Foundation

/// The keep/drop decisions of one row of a dropout mask.
public struct DropoutStream {
    private var state: UInt64
    private var bits: UInt64 = 0
    private var left = 0
    private let threshold: UInt64

    /// Decisions for dropout probability `p` of row `row` under `seed`.
    public init(seed: UInt64, row: Int, p: Float) {
        var z = seed ^ (UInt64(truncatingIfNeeded: row) &* 0xD1B5_4A32_D192_ED03)
        z = (z ^ (z >> 31)) &* 0x94D0_49BB_1331_11EB
        state = z ^ (z >> 29)
        threshold = UInt64((p * 65536).rounded())
    }

    @inline(__always)
    public mutating func keep() -> Bool {
        if left == 0 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            bits = z ^ (z >> 31)
            left = 4
        }
        let k = (bits & 0xFFFF) >= threshold
        bits >>= 16
        left -= 1
        return k
    }
}

extension Backward {
    /// destination[r] (= or +=) source[r] ∘ mask_r / (1 − p) for `rows` rows of `cols`, row r's mask
    /// from DropoutStream(seed, firstRow + r). destination may alias source.
    public static func dropout(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>,
                               rows: Int, cols: Int, firstRow: Int, p: Float, seed: UInt64, accumulate: Bool = false) {
        let scale = 1 / (1 - p)
        for r in 0..<rows {
            var stream = DropoutStream(seed: seed, row: firstRow + r, p: p)
            let s = source + r * cols, d = destination + r * cols
            for j in 0..<cols {
                let value = stream.keep() ? s[j] * scale : 0
                d[j] = accumulate ? d[j] + value : value
            }
        }
    }

    /// out = dropout(softmax(scale·Q·Kᵀ))·V for ONE head of ONE sequence, the dropout mask of query
    /// row i from DropoutStream(seed, i). Same layout as Attention.selfAttention (no padding mask);
    /// scratch needs `attentionScratchCount(length:headDim:)` floats.
    public static func selfAttentionForward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int,
                                            out: UnsafeMutablePointer<Float>, ldOut: Int, length: Int, headDim: Int,
                                            scale: Float, dropout p: Float, seed: UInt64, scratch: UnsafeMutablePointer<Float>) {
        if length == 0 { return }
        let lp = (length + 15) / 16 * 16
        let kt = scratch, probs = kt + 2 * headDim * lp
        for d in 0..<headDim {
            let kr = kt + d * lp
            for j in 0..<length { kr[j] = k[j * ld + d] }
            for j in length..<lp { kr[j] = 0 }
        }
        let vscale = SIMD16<Float>(repeating: scale), keepScale = 1 / (1 - p)
        for i in 0..<length {
            let qi = q + i * ld
            var j = 0
            while j < lp {
                var s = SIMD16<Float>.zero
                for d in 0..<headDim { madd(&s, SIMD16(repeating: qi[d]), load16(kt + d * lp + j)) }
                store16(s * vscale, probs + j)
                j += 16
            }
            Softmax.softmax(probs, count: length)
            var stream = DropoutStream(seed: seed, row: i, p: p)
            for j in 0..<length { probs[j] = stream.keep() ? probs[j] * keepScale : 0 }
            let oi = out + i * ldOut
            var d0 = 0
            while d0 + 16 <= headDim {
                var acc = SIMD16<Float>.zero
                for j in 0..<length { madd(&acc, SIMD16(repeating: probs[j]), load16(v + j * ld + d0)) }
                store16(acc, oi + d0)
                d0 += 16
            }
            while d0 < headDim {
                var acc: Float = 0
                for j in 0..<length { acc += probs[j] * v[j * ld + d0] }
                oi[d0] = acc
                d0 += 1
            }
        }
    }

    /// Scalar reference twin of `selfAttentionForward`, in Double.
    public static func referenceSelfAttentionForward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                                     ld: Int, out: UnsafeMutablePointer<Float>, ldOut: Int, length: Int,
                                                     headDim: Int, scale: Float, dropout p: Float, seed: UInt64) {
        for i in 0..<length {
            var s = [Double](repeating: 0, count: length)
            var m = -Double.infinity
            for j in 0..<length {
                for d in 0..<headDim { s[j] += Double(q[i * ld + d]) * Double(k[j * ld + d]) }
                s[j] *= Double(scale)
                m = max(m, s[j])
            }
            var sum = 0.0
            for j in 0..<length { s[j] = exp(s[j] - m); sum += s[j] }
            var stream = DropoutStream(seed: seed, row: i, p: p)
            for j in 0..<length { s[j] = stream.keep() ? s[j] / sum / Double(1 - p) : 0 }
            for d in 0..<headDim {
                var o = 0.0
                for j in 0..<length { o += s[j] * Double(v[j * ld + d]) }
                out[i * ldOut + d] = Float(o)
            }
        }
    }
}
