// Norm: LayerNorm over rows, with the residual add fused in.

public enum Norm {
    /// out[r] = LayerNorm(x[r] + residual[r]) · gamma + beta, rows of `cols` floats, contiguous.
    /// out may alias x or residual. Two passes over the row: mean, then variance of (s − mean).
    public static func layerNorm(_ x: UnsafePointer<Float>, residual: UnsafePointer<Float>?,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                                 rows: Int, cols: Int, out: UnsafeMutablePointer<Float>) {
        if cols <= 0 { return }
        let invCols = 1 / Float(cols)
        for r in 0..<rows {
            let xr = x + r * cols, o = out + r * cols
            let rr = residual.map { $0 + r * cols }
            // s = x + residual, written to out (same index, so aliasing is safe); sum.
            var vsum = SIMD16<Float>.zero
            var sum: Float = 0
            var i = 0
            while i + 16 <= cols {
                var s = load16(xr + i)
                if let rr { s += load16(rr + i) }
                store16(s, o + i)
                vsum += s
                i += 16
            }
            while i < cols {
                let s = xr[i] + (rr?[i] ?? 0)
                o[i] = s
                sum += s
                i += 1
            }
            let mean = (horizontalSum(vsum) + sum) * invCols
            // variance
            let vmean = SIMD16<Float>(repeating: mean)
            var vvar = SIMD16<Float>.zero
            var variance: Float = 0
            i = 0
            while i + 16 <= cols { let d = load16(o + i) - vmean; madd(&vvar, d, d); i += 16 }
            while i < cols { let d = o[i] - mean; variance += d * d; i += 1 }
            variance = (horizontalSum(vvar) + variance) * invCols
            let rstd = 1 / (variance + eps).squareRoot()
            // normalise, scale, shift
            let vrstd = SIMD16<Float>(repeating: rstd)
            i = 0
            while i + 16 <= cols {
                var y = load16(beta + i)
                madd(&y, (load16(o + i) - vmean) * vrstd, load16(gamma + i))
                store16(y, o + i)
                i += 16
            }
            while i < cols { o[i] = (o[i] - mean) * rstd * gamma[i] + beta[i]; i += 1 }
        }
    }

    /// Scalar reference twin, in Double.
    public static func referenceLayerNorm(_ x: UnsafePointer<Float>, residual: UnsafePointer<Float>?,
                                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                                          rows: Int, cols: Int, out: UnsafeMutablePointer<Float>) {
        if cols <= 0 { return }
        var s = [Double](repeating: 0, count: cols)
        for r in 0..<rows {
            for i in 0..<cols { s[i] = Double(x[r * cols + i]) + Double(residual?[r * cols + i] ?? 0) }
            let mean = s.reduce(0, +) / Double(cols)
            let variance = s.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(cols)
            let rstd = 1 / (variance + Double(eps)).squareRoot()
            for i in 0..<cols {
                out[r * cols + i] = Float((s[i] - mean) * rstd * Double(gamma[i]) + Double(beta[i]))
            }
        }
    }
}
