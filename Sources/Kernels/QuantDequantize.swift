// QuantDequantize: one row of quantized weights → Float, fast (SIMD16) and as a scalar
// twin that follows ggml's `dequantize_row_*` operation for operation. The fast form does the
// same float operations per element (no fused multiply-add), so the two agree bit for bit.
// The fast decoders also feed the matmul: weight tiles are decoded once into L1-resident
// floats and multiplied against many activation rows.

extension QuantMatmul {
    /// Dequantizes one row of k elements (a multiple of the block size) to floats.
    public static func dequantizeRow(_ src: UnsafeRawPointer, format: QuantFormat, k: Int,
                                     into dst: UnsafeMutablePointer<Float>) {
        precondition(k % format.blockSize == 0, "k \(k) is not a multiple of \(format)'s block size")
        switch format {
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: k)
        case .f16: decodeF16(src, k: k, into: dst)
        case .bf16: decodeBF16(src, k: k, into: dst)
        case .q4_0: decodeQ4_0(src, k: k, into: dst)
        case .q4_1: decodeQ4_1(src, k: k, into: dst)
        case .q5_0: decodeQ5_0(src, k: k, into: dst)
        case .q5_1: decodeQ5_1(src, k: k, into: dst)
        case .q8_0: decodeQ8_0(src, k: k, into: dst)
        case .q4_K: decodeQ4_K(src, k: k, into: dst)
        case .q5_K: decodeQ5_K(src, k: k, into: dst)
        case .q6_K: decodeQ6_K(src, k: k, into: dst)
        }
    }

    // MARK: Lane conversions (written as lane loops: LLVM turns them into vpmovzxbd,
    // vpmovsxbd, vcvtdq2ps; the standard library's generic SIMD initialisers are out-of-line
    // calls that go lane by lane).

    @inline(__always)
    static func widen(_ v: SIMD16<UInt8>) -> SIMD16<Int32> {
        var r = SIMD16<Int32>()
        for i in 0..<16 { r[i] = Int32(v[i]) }
        return r
    }

    @inline(__always)
    static func widen(_ v: SIMD16<Int8>) -> SIMD16<Int32> {
        var r = SIMD16<Int32>()
        for i in 0..<16 { r[i] = Int32(v[i]) }
        return r
    }

    @inline(__always)
    static func float(_ v: SIMD16<Int32>) -> SIMD16<Float> {
        var r = SIMD16<Float>()
        for i in 0..<16 { r[i] = Float(v[i]) }
        return r
    }

    @inline(__always)
    static func bytes16(_ p: UnsafeRawPointer) -> SIMD16<Int32> { widen(p.loadUnaligned(as: SIMD16<UInt8>.self)) }

    @inline(__always)
    static func signedBytes16(_ p: UnsafeRawPointer) -> SIMD16<Int32> { widen(p.loadUnaligned(as: SIMD16<Int8>.self)) }

    /// Lanes 0..<16.
    static let laneIndex = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

    /// Bit (lane + shift) of `bits` in each lane, times 16 (the fifth bit of a Q5 value).
    @inline(__always)
    static func fifthBits(_ bits: UInt32, shift: Int32) -> SIMD16<Int32> {
        let v = SIMD16<Int32>(repeating: Int32(bitPattern: bits))
        return ((v &>> (laneIndex &+ shift)) & 1) &<< 4
    }

    // MARK: Fast decoders

    static func decodeF16(_ src: UnsafeRawPointer, k: Int, into dst: UnsafeMutablePointer<Float>) {
        for i in 0..<k { dst[i] = quantHalf(src, 2 * i) }
    }

    static func decodeBF16(_ src: UnsafeRawPointer, k: Int, into dst: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 16 <= k {
            var v = SIMD16<UInt32>()
            let h = src.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self)
            for l in 0..<16 { v[l] = UInt32(h[l]) &<< 16 }
            store16(unsafeBitCast(v, to: SIMD16<Float>.self), dst + i)
            i += 16
        }
        while i < k {
            dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            i += 1
        }
    }

    static func decodeQ4_0(_ src: UnsafeRawPointer, k: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<k / 32 {
            let blk = src + 18 * b, y = dst + 32 * b
            let d = SIMD16<Float>(repeating: quantHalf(blk, 0))
            let q = bytes16(blk + 2)
            store16(float((q & 15) &- 8) * d, y)
            store16(float((q &>> 4) &- 8) * d, y + 16)
        }
    }

    static func decodeQ4_1(_ src: UnsafeRawPointer, k: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<k / 32 {
            let blk = src + 20 * b, y = dst + 32 * b
            let d = SIMD16<Float>(repeating: quantHalf(blk, 0)), m = SIMD16<Float>(repeating: quantHalf(blk, 2))
            let q = bytes16(blk + 4)
            store16(float(q & 15) * d + m, y)
            store16(float(q &>> 4) * d + m, y + 16)
        }
    }

    static func decodeQ5_0(_ src: UnsafeRawPointer, k: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<k / 32 {
            let blk = src + 22 * b, y = dst + 32 * b
            let d = SIMD16<Float>(repeating: quantHalf(blk, 0))
            let qh = UInt32(littleEndian: blk.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            let q = bytes16(blk + 6)
            store16(float(((q & 15) | fifthBits(qh, shift: 0)) &- 16) * d, y)
            store16(float(((q &>> 4) | fifthBits(qh, shift: 16)) &- 16) * d, y + 16)
        }
    }

    static func decodeQ5_1(_ src: UnsafeRawPointer, k: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<k / 32 {
            let blk = src + 24 * b, y = dst + 32 * b
            let d = SIMD16<Float>(repeating: quantHalf(blk, 0)), m = SIMD16<Float>(repeating: quantHalf(blk, 2))
            let qh = UInt32(littleEndian: blk.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let q = bytes16(blk + 8)
            store16(float((q & 15) | fifthBits(qh, shift: 0)) * d + m, y)
            store16(float((q &>> 4) | fifthBits(qh, shift: 16)) * d + m, y + 16)
        }
    }

    static func decodeQ8_0(_ src: UnsafeRawPointer, k: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<k / 32 {
            let blk = src + 34 * b, y = dst + 32 * b
            let d = SIMD16<Float>(repeating: quantHalf(blk, 0))
            store16(float(signedBytes16(blk + 2)) * d, y)
            store16(float(signedBytes16(blk + 18)) * d, y + 16)
        }
    }

    static func decodeQ4_K(_ src: UnsafeRawPointer, k: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<k / 256 {
            let blk = src + 144 * b
            let d = quantHalf(blk, 0), dmin = quantHalf(blk, 2)
            let scales = blk + 4
            for step in 0..<4 {   // 64 values: 32 low nibbles (sub-block 2·step), 32 high
                let q = blk + 16 + 32 * step, y = dst + 256 * b + 64 * step
                let (sc1, m1) = scaleMinK4(2 * step, scales)
                let (sc2, m2) = scaleMinK4(2 * step + 1, scales)
                let d1 = SIMD16<Float>(repeating: d * Float(sc1)), mn1 = SIMD16<Float>(repeating: dmin * Float(m1))
                let d2 = SIMD16<Float>(repeating: d * Float(sc2)), mn2 = SIMD16<Float>(repeating: dmin * Float(m2))
                let qa = bytes16(q), qb = bytes16(q + 16)
                store16(d1 * float(qa & 15) - mn1, y)
                store16(d1 * float(qb & 15) - mn1, y + 16)
                store16(d2 * float(qa &>> 4) - mn2, y + 32)
                store16(d2 * float(qb &>> 4) - mn2, y + 48)
            }
        }
    }

    static func decodeQ5_K(_ src: UnsafeRawPointer, k: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<k / 256 {
            let blk = src + 176 * b
            let d = quantHalf(blk, 0), dmin = quantHalf(blk, 2)
            let scales = blk + 4
            let ha = bytes16(blk + 16), hb = bytes16(blk + 32)
            for step in 0..<4 {
                let ql = blk + 48 + 32 * step, y = dst + 256 * b + 64 * step
                let (sc1, m1) = scaleMinK4(2 * step, scales)
                let (sc2, m2) = scaleMinK4(2 * step + 1, scales)
                let d1 = SIMD16<Float>(repeating: d * Float(sc1)), mn1 = SIMD16<Float>(repeating: dmin * Float(m1))
                let d2 = SIMD16<Float>(repeating: d * Float(sc2)), mn2 = SIMD16<Float>(repeating: dmin * Float(m2))
                let s1 = Int32(2 * step), s2 = Int32(2 * step + 1)
                let qa = bytes16(ql), qb = bytes16(ql + 16)
                store16(d1 * float((qa & 15) &+ (((ha &>> s1) & 1) &<< 4)) - mn1, y)
                store16(d1 * float((qb & 15) &+ (((hb &>> s1) & 1) &<< 4)) - mn1, y + 16)
                store16(d2 * float((qa &>> 4) &+ (((ha &>> s2) & 1) &<< 4)) - mn2, y + 32)
                store16(d2 * float((qb &>> 4) &+ (((hb &>> s2) & 1) &<< 4)) - mn2, y + 48)
            }
        }
    }

    static func decodeQ6_K(_ src: UnsafeRawPointer, k: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<k / 256 {
            let blk = src + 210 * b
            let d = quantHalf(blk, 208)
            for half in 0..<2 {   // 128 values: ql[64], qh[32], scales[8]
                let ql = blk + 64 * half, qh = blk + 128 + 32 * half, sc = blk + 192 + 8 * half
                let y = dst + 256 * b + 128 * half
                for l0 in stride(from: 0, to: 32, by: 16) {
                    let s = l0 / 16
                    let la = bytes16(ql + l0), lb = bytes16(ql + l0 + 32), h = bytes16(qh + l0)
                    @inline(__always) func scale(_ i: Int) -> SIMD16<Float> {
                        SIMD16(repeating: d * Float(sc.load(fromByteOffset: i, as: Int8.self)))
                    }
                    store16(scale(s) * float(((la & 15) | ((h & 3) &<< 4)) &- 32), y + l0)
                    store16(scale(s + 2) * float(((lb & 15) | (((h &>> 2) & 3) &<< 4)) &- 32), y + l0 + 32)
                    store16(scale(s + 4) * float(((la &>> 4) | (((h &>> 4) & 3) &<< 4)) &- 32), y + l0 + 64)
                    store16(scale(s + 6) * float(((lb &>> 4) | (((h &>> 6) & 3) &<< 4)) &- 32), y + l0 + 96)
                }
            }
        }
    }

    /// Scale and min of K-quant sub-block j (0..<8) from the 12 packed bytes (ggml's `get_scale_min_k4`).
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ s: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
        @inline(__always) func byte(_ i: Int) -> UInt8 { s.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (byte(j) & 63, byte(j + 4) & 63) }
        return ((byte(j + 4) & 0x0F) | ((byte(j - 4) >> 6) << 4), (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4))
    }
}

// MARK: - Scalar twin

extension QuantMatmul {
    /// Scalar twin of `dequantizeRow`: ggml's `dequantize_row_*`, element by element.
    public static func referenceDequantizeRow(_ src: UnsafeRawPointer, format: QuantFormat, k: Int,
                                              into y: UnsafeMutablePointer<Float>) {
        precondition(k % format.blockSize == 0, "k \(k) is not a multiple of \(format)'s block size")
        @inline(__always) func byte(_ p: UnsafeRawPointer, _ i: Int) -> UInt8 { p.load(fromByteOffset: i, as: UInt8.self) }
        @inline(__always) func u32(_ p: UnsafeRawPointer, _ i: Int) -> UInt32 {
            UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self))
        }
        switch format {
        case .f32:
            for i in 0..<k { y[i] = Float(bitPattern: u32(src, 4 * i)) }
        case .f16:
            for i in 0..<k { y[i] = quantHalf(src, 2 * i) }
        case .bf16:
            for i in 0..<k { y[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0:
            let size = format.bytesPerBlock
            for b in 0..<k / 32 {
                let blk = src + size * b, yb = y + 32 * b
                let d = quantHalf(blk, 0)
                switch format {
                case .q4_0:
                    for j in 0..<16 {
                        let q = byte(blk, 2 + j)
                        yb[j] = Float(Int(q & 0x0F) - 8) * d
                        yb[j + 16] = Float(Int(q >> 4) - 8) * d
                    }
                case .q4_1:
                    let m = quantHalf(blk, 2)
                    for j in 0..<16 {
                        let q = byte(blk, 4 + j)
                        yb[j] = Float(q & 0x0F) * d + m
                        yb[j + 16] = Float(q >> 4) * d + m
                    }
                case .q5_0, .q5_1:
                    let hasMin = format == .q5_1
                    let m: Float = hasMin ? quantHalf(blk, 2) : 0
                    let qh = u32(blk, hasMin ? 4 : 2)
                    let qs = blk + (hasMin ? 8 : 6)
                    for j in 0..<16 {
                        let q = byte(qs, j)
                        let h0 = ((qh >> UInt32(j)) << 4) & 0x10
                        let h1 = (qh >> UInt32(j + 12)) & 0x10
                        if hasMin {
                            yb[j] = Float(UInt32(q & 0x0F) | h0) * d + m
                            yb[j + 16] = Float(UInt32(q >> 4) | h1) * d + m
                        } else {
                            yb[j] = Float(Int32(UInt32(q & 0x0F) | h0) - 16) * d
                            yb[j + 16] = Float(Int32(UInt32(q >> 4) | h1) - 16) * d
                        }
                    }
                default:   // q8_0
                    for j in 0..<32 { yb[j] = Float(Int8(bitPattern: byte(blk, 2 + j))) * d }
                }
            }
        case .q4_K, .q5_K:
            let isQ5 = format == .q5_K
            for b in 0..<k / 256 {
                let blk = src + format.bytesPerBlock * b
                var yb = y + 256 * b
                let d = quantHalf(blk, 0), dmin = quantHalf(blk, 2)
                let scales = blk + 4
                let qh = blk + 16
                var q = blk + (isQ5 ? 48 : 16)
                var u1: UInt8 = 1, u2: UInt8 = 2
                for step in 0..<4 {
                    let (sc1, m1) = scaleMinK4(2 * step, scales)
                    let (sc2, m2) = scaleMinK4(2 * step + 1, scales)
                    let d1 = d * Float(sc1), mn1 = dmin * Float(m1)
                    let d2 = d * Float(sc2), mn2 = dmin * Float(m2)
                    for l in 0..<32 {
                        let h: UInt8 = isQ5 && byte(qh, l) & u1 != 0 ? 16 : 0
                        yb[l] = d1 * Float((byte(q, l) & 0x0F) + h) - mn1
                    }
                    for l in 0..<32 {
                        let h: UInt8 = isQ5 && byte(qh, l) & u2 != 0 ? 16 : 0
                        yb[32 + l] = d2 * Float((byte(q, l) >> 4) + h) - mn2
                    }
                    q += 32
                    yb += 64
                    u1 <<= 2
                    u2 <<= 2
                }
            }
        case .q6_K:
            for b in 0..<k / 256 {
                let blk = src + 210 * b
                var yb = y + 256 * b
                let d = quantHalf(blk, 208)
                var ql = blk, qh = blk + 128, sc = blk + 192
                for _ in 0..<2 {
                    for l in 0..<32 {
                        let s = l / 16
                        let h = byte(qh, l)
                        let q1 = Int(byte(ql, l) & 0x0F | ((h >> 0) & 3) << 4) - 32
                        let q2 = Int(byte(ql, l + 32) & 0x0F | ((h >> 2) & 3) << 4) - 32
                        let q3 = Int(byte(ql, l) >> 4 | ((h >> 4) & 3) << 4) - 32
                        let q4 = Int(byte(ql, l + 32) >> 4 | ((h >> 6) & 3) << 4) - 32
                        yb[l] = d * Float(Int8(bitPattern: byte(sc, s))) * Float(q1)
                        yb[l + 32] = d * Float(Int8(bitPattern: byte(sc, s + 2))) * Float(q2)
                        yb[l + 64] = d * Float(Int8(bitPattern: byte(sc, s + 4))) * Float(q3)
                        yb[l + 96] = d * Float(Int8(bitPattern: byte(sc, s + 6))) * Float(q4)
                    }
                    yb += 128
                    ql += 64
                    qh += 32
                    sc += 8
                }
            }
        }
    }
}
