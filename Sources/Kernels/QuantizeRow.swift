// QuantizeRow: activations → their partner format, one row at a time (ggml's
// `quantize_row_q8_0`, `quantize_row_q8_1` and `quantize_row_q8_K`).
//
// The scalar twin produces the int8 values and scales the reference integer dot products use.
// The fast form produces the same quantized values already multiplied out, xq = q·d as Float:
// every fast kernel multiplies fully dequantized weights by xq, which is the integer dot
// product of the twin with the scales applied per element instead of per block (same
// values, different float summation order). Both round half to even (ggml's AVX path and
// its `nearest_int`), so q and d are bit-identical between the two.

extension QuantMatmul {
    /// 1.5·2²³: adding then subtracting it rounds |v| < 2²² to an integer, half to even.
    static let roundingMagic: Float = 12_582_912

    // MARK: Scalar twin

    /// Quantizes one row of k activations as `kind` (k a multiple of its block size):
    /// qs[k] int8 values and scales[k / kind.blockSize] (Q8: the f16-rounded d as Float;
    /// Q8_K: d as f32). `.none` copies nothing and leaves both untouched.
    /// For Q8, `sums` (when given) receives ggml's Q8_1 block sums f16(d·Σq), d unrounded.
    public static func referenceQuantizeActivations(_ x: UnsafePointer<Float>, k: Int, kind: ActivationQuantization,
                                                    qs: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>,
                                                    sums: UnsafeMutablePointer<Float>? = nil) {
        switch kind {
        case .none:
            return
        case .q8:
            precondition(k % 32 == 0, "k \(k) is not a multiple of 32")
            for b in 0..<k / 32 {
                let xb = x + 32 * b, qb = qs + 32 * b
                var amax: Float = 0
                for j in 0..<32 { amax = max(amax, abs(xb[j])) }
                let d = amax / 127
                let id: Float = amax != 0 ? 127 / amax : 0   // ggml's multiplier, not 1/d
                for j in 0..<32 { qb[j] = Int8((xb[j] * id).rounded(.toNearestOrEven)) }
                scales[b] = roundedToHalf(d)
                sums?[b] = roundedToHalf(d * Float((0..<32).reduce(0) { $0 + Int(qb[$1]) }))
            }
        case .q8K:
            precondition(k % 256 == 0, "k \(k) is not a multiple of 256")
            for b in 0..<k / 256 {
                let xb = x + 256 * b, qb = qs + 256 * b
                var amax: Float = 0, maxValue: Float = 0
                for j in 0..<256 where abs(xb[j]) > amax { amax = abs(xb[j]); maxValue = xb[j] }
                if amax == 0 {
                    for j in 0..<256 { qb[j] = 0 }
                    scales[b] = 0
                    continue
                }
                let iscale = -127 / maxValue
                for j in 0..<256 { qb[j] = Int8(min(127, (iscale * xb[j]).rounded(.toNearestOrEven))) }
                scales[b] = 1 / iscale
            }
        }
    }

    // MARK: Fast form

    /// Quantizes one row of k activations as `kind` and writes the quantized values as floats,
    /// xq[i] = q[i]·d (bit-identical to the twin's q times its scale). `.none` copies x.
    public static func quantizeActivations(_ x: UnsafePointer<Float>, k: Int, kind: ActivationQuantization,
                                           into xq: UnsafeMutablePointer<Float>) {
        switch kind {
        case .none:
            xq.update(from: x, count: k)
        case .q8:
            precondition(k % 32 == 0, "k \(k) is not a multiple of 32")
            for b in 0..<k / 32 {
                let x0 = load16(x + 32 * b), x1 = load16(x + 32 * b + 16)
                let amax = horizontalMax(max16(abs16(x0), abs16(x1)))
                let d = amax / 127
                let id: Float = amax != 0 ? 127 / amax : 0
                let scale = SIMD16<Float>(repeating: roundedToHalf(d))
                store16(round16(x0 * id) * scale, xq + 32 * b)
                store16(round16(x1 * id) * scale, xq + 32 * b + 16)
            }
        case .q8K:
            precondition(k % 256 == 0, "k \(k) is not a multiple of 256")
            for b in 0..<k / 256 {
                let xb = x + 256 * b
                var m = abs16(load16(xb))
                for j in 1..<16 { m = max16(m, abs16(load16(xb + 16 * j))) }
                let amax = horizontalMax(m)
                if amax == 0 {
                    (xq + 256 * b).update(repeating: 0, count: 256)
                    continue
                }
                // The first value of largest magnitude decides the sign of the scale.
                var maxValue: Float = 0
                for j in 0..<256 where abs(xb[j]) == amax { maxValue = xb[j]; break }
                let iscale = -127 / maxValue
                let d = SIMD16<Float>(repeating: 1 / iscale)
                for j in 0..<16 {
                    // |iscale·x| ≤ 127 (to rounding), so ggml's min(127, ·) never bites.
                    store16(round16(load16(xb + 16 * j) * iscale) * d, xq + 256 * b + 16 * j)
                }
            }
        }
    }

    @inline(__always)
    static func abs16(_ v: SIMD16<Float>) -> SIMD16<Float> {
        unsafeBitCast(unsafeBitCast(v, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: SIMD16<Float>.self)
    }

    /// Round half to even, |v| < 2²².
    @inline(__always)
    static func round16(_ v: SIMD16<Float>) -> SIMD16<Float> {
        let magic = SIMD16<Float>(repeating: roundingMagic)
        return (v + magic) - magic
    }
}
