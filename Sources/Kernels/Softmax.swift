// Softmax: numerically stable (max subtracted) softmax in place.
import Foundation

public enum Softmax {
    /// Numerically stable softmax in place over count floats.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        if count <= 0 { return }
        // max
        var i = 0
        var vmax = SIMD16<Float>(repeating: -.infinity)
        while i + 16 <= count { vmax = max16(vmax, load16(x + i)); i += 16 }
        var m = horizontalMax(vmax)
        while i < count { m = max(m, x[i]); i += 1 }
        // exp and sum
        let vm = SIMD16<Float>(repeating: m)
        var vsum = SIMD16<Float>.zero
        i = 0
        while i + 16 <= count {
            let e = exp16(load16(x + i) - vm)
            store16(e, x + i)
            vsum += e
            i += 16
        }
        var sum = horizontalSum(vsum)
        if i < count {
            var tail = SIMD16<Float>(repeating: -.infinity)
            for j in i..<count { tail[j - i] = x[j] - m }
            let e = exp16(tail)
            for j in i..<count { x[j] = e[j - i]; sum += e[j - i] }
        }
        // scale
        let inv = 1 / sum
        let vinv = SIMD16<Float>(repeating: inv)
        i = 0
        while i + 16 <= count { store16(load16(x + i) * vinv, x + i); i += 16 }
        while i < count { x[i] *= inv; i += 1 }
    }

    /// Scalar reference twin, in Double.
    public static func referenceSoftmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        if count <= 0 { return }
        var m = -Double.infinity
        for i in 0..<count { m = max(m, Double(x[i])) }
        var sum = 0.0
        for i in 0..<count { sum += exp(Double(x[i]) - m) }
        for i in 0..<count { x[i] = Float(exp(Double(x[i]) - m) / sum) }
    }
}
