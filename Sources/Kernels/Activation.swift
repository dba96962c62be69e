// Activation: exact (erf) GELU, as BERT's "gelu".
import Foundation

public enum Activation {
    /// Exact GELU, 0.5·x·(1 + erf(x/√2)), in place.
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let half = SIMD16<Float>(repeating: 0.5), one = SIMD16<Float>(repeating: 1)
        let invSqrt2 = SIMD16<Float>(repeating: 0.70710678118654752)
        var i = 0
        while i + 16 <= count {
            let v = load16(x + i)
            store16(half * v * (one + erf16(v * invSqrt2)), x + i)
            i += 16
        }
        if i < count {
            // Scalar tail through the same vector code, so every element gets the same formula.
            var tail = SIMD16<Float>.zero
            for j in i..<count { tail[j - i] = x[j] }
            let out = half * tail * (one + erf16(tail * invSqrt2))
            for j in i..<count { x[j] = out[j - i] }
        }
    }

    /// Scalar reference twin: Foundation's erf, in Double.
    public static func referenceGelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = Double(x[i])
            x[i] = Float(0.5 * v * (1 + erf(v / 2.0.squareRoot())))
        }
    }
}
