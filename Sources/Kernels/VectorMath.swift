// VectorMath: exp and erf on SIMD16<Float>, for softmax and GELU.
// exp: Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, then the degree-7
// Taylor polynomial of e^r (truncation < 2e-9 relative) and 2^n from the exponent bits.
// erf: Abramowitz & Stegun 7.1.26 is too coarse (1.5e-7 plus exp error), so erf uses an
// odd rational approximation x·P(x²)/Q(x²) on |x| ≤ 4 (erf(±4) = ±1 to float precision),
// the minimax form also used by Eigen and XLA; max error ~1e-7 absolute, checked in tests.

@inline(__always)
func exp16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let x = clamp16(x, -87.3, 88.7)
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
    let x = clamp16(x, -4, 4)
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

// Swift's SIMD comparisons (.<, pointwiseMin/Max, clamped) build their masks lane by lane,
// so selections here use the sign bit of a difference instead: vector subtract, arithmetic
// shift, and/or — exact, since only whole lanes are chosen.

/// Lanes of `a` where `mask` is all ones, else lanes of `b`.
@inline(__always)
func select16(_ mask: SIMD16<Int32>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    let ai = unsafeBitCast(a, to: SIMD16<Int32>.self), bi = unsafeBitCast(b, to: SIMD16<Int32>.self)
    return unsafeBitCast((ai & mask) | (bi & ~mask), to: SIMD16<Float>.self)
}

/// All ones in the lanes where v is negative (sign bit set).
@inline(__always)
func negativeMask16(_ v: SIMD16<Float>) -> SIMD16<Int32> {
    unsafeBitCast(v, to: SIMD16<Int32>.self) &>> 31
}

/// min(max(x, lo), hi) per lane.
@inline(__always)
func clamp16(_ x: SIMD16<Float>, _ lo: Float, _ hi: Float) -> SIMD16<Float> {
    let vlo = SIMD16<Float>(repeating: lo), vhi = SIMD16<Float>(repeating: hi)
    let y = select16(negativeMask16(x - vlo), vlo, x)
    return select16(negativeMask16(vhi - y), vhi, y)
}

/// Lane-wise maximum.
@inline(__always)
func max16(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    select16(negativeMask16(a - b), b, a)
}
