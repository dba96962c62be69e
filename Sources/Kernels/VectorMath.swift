// VectorMath: exp and erf on SIMD16<Float>, for softmax and GELU.
// exp: Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, then the degree-7
// Taylor polynomial of e^r (truncation < 2e-9 relative) and 2^n from the exponent bits.
// erf: Abramowitz & Stegun 7.1.26 is too coarse (1.5e-7 plus exp error), so erf uses an
// odd rational approximation x·P(x²)/Q(x²) on |x| ≤ 4 (erf(±4) = ±1 to float precision),
// the minimax form also used by Eigen and XLA; max error ~1e-7 absolute, checked in tests.

@inline(__always)
func exp16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let x = x.clamped(lowerBound: SIMD16(repeating: -87.3), upperBound: SIMD16(repeating: 88.7))
    // n = round(x / ln2) with the 1.5·2^23 trick; its low mantissa bits hold n.
    let magic = SIMD16<Float>(repeating: 12582912.0)
    var shifted = x * SIMD16(repeating: 1.44269504088896341)
    shifted += magic
    let n = shifted - magic
    var r = x - n * SIMD16(repeating: 0.693359375)        // ln2 high part (exact in float)
    r -= n * SIMD16(repeating: -2.12194440e-4)              // ln2 low part
    var p = SIMD16<Float>(repeating: 1.0 / 5040)
    p = p * r + SIMD16(repeating: 1.0 / 720)
    p = p * r + SIMD16(repeating: 1.0 / 120)
    p = p * r + SIMD16(repeating: 1.0 / 24)
    p = p * r + SIMD16(repeating: 1.0 / 6)
    p = p * r + SIMD16(repeating: 0.5)
    p = p * r + SIMD16(repeating: 1)
    p = p * r + SIMD16(repeating: 1)
    // 2^n: (n + 127) << 23, with n read from the shifted value's bits.
    let bits = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
    let scale = unsafeBitCast((bits &+ 127) &<< 23, to: SIMD16<Float>.self)
    return p * scale
}

@inline(__always)
func erf16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let x = x.clamped(lowerBound: SIMD16(repeating: -4), upperBound: SIMD16(repeating: 4))
    let x2 = x * x
    var p = SIMD16<Float>(repeating: -2.72614225801306e-10)
    p = p * x2 + SIMD16(repeating: 2.77068142495902e-08)
    p = p * x2 + SIMD16(repeating: -2.10102402082508e-06)
    p = p * x2 + SIMD16(repeating: -5.69250639462346e-05)
    p = p * x2 + SIMD16(repeating: -7.34990630326855e-04)
    p = p * x2 + SIMD16(repeating: -2.95459980854025e-03)
    p = p * x2 + SIMD16(repeating: -1.60960333262415e-02)
    var q = SIMD16<Float>(repeating: -1.45660718464996e-05)
    q = q * x2 + SIMD16(repeating: -2.13374055278905e-04)
    q = q * x2 + SIMD16(repeating: -1.68282697438203e-03)
    q = q * x2 + SIMD16(repeating: -7.37332916720468e-03)
    q = q * x2 + SIMD16(repeating: -1.42647390514189e-02)
    return x * p / q
}
