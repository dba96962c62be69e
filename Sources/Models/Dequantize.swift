// Reference (scalar) dequantisers from GGUF's block formats to Float, following
// ggml's `dequantize_row_*` in ggml-quants.c operation for operation (same
// float operations in the same order, so results are bit-identical). They are
// the oracle for the SIMD kernels and the loader's fallback for small tensors.
//
// Block layouts, byte for byte (all little-endian; f16 is IEEE half):
//
//   Q4_0  (32 values, 18 bytes): d:f16 | qs[16]            x = (nibble - 8) * d
//   Q4_1  (32 values, 20 bytes): d:f16 | m:f16 | qs[16]    x = nibble * d + m
//   Q5_0  (32 values, 22 bytes): d:f16 | qh:u32 | qs[16]   x = (nibble | hbit<<4 - 16) * d
//   Q5_1  (32 values, 24 bytes): d:f16 | m:f16 | qh:u32 | qs[16]
//   Q8_0  (32 values, 34 bytes): d:f16 | qs:int8[32]       x = q * d
//   Q8_1  (32 values, 36 bytes): d:f16 | s:f16 | qs:int8[32]  (activations only)
//   Q4_K (256 values, 144 bytes): d:f16 | dmin:f16 | scales[12] | qs[128]
//   Q5_K (256 values, 176 bytes): d:f16 | dmin:f16 | scales[12] | qh[32] | qs[128]
//   Q6_K (256 values, 210 bytes): ql[128] | qh[64] | scales:int8[16] | d:f16
//   Q8_K (256 values, 292 bytes): d:f32 | qs:int8[256] | bsums:int16[16]  (activations only)
//
// In the 32-value blocks, byte j's low nibble is value j and its high nibble
// value j+16. In Q4_K/Q5_K, the 256 values are 8 sub-blocks of 32 with 6-bit
// scales and mins packed into `scales[12]` (see `scaleMinK4`); each 64 values
// take 32 bytes of qs, low nibbles first. Q6_K: 16 sub-blocks of 16 with int8
// scales; each 128 values take 64 bytes of ql and 32 of qh.

/// Reference dequantisers.
public enum Dequantize {
    /// Something that cannot be dequantised.
    public struct Unsupported: Error, CustomStringConvertible {
        public let type: GGMLType
        public var description: String {
            "no dequantiser for \(type) tensors; Dojo reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K"
        }
    }

    /// Dequantises `count` values (a whole number of blocks) of `type` from `src`.
    public static func row(_ type: GGMLType, _ src: UnsafeRawPointer, count: Int,
                           into dst: UnsafeMutablePointer<Float>) throws {
        precondition(count % type.blockSize == 0, "count \(count) is not a multiple of \(type)'s block size")
        switch type {
        case .f32: f32(src, count: count, into: dst)
        case .f16: f16(src, count: count, into: dst)
        case .bf16: bf16(src, count: count, into: dst)
        case .q4_0: q4_0(src, count: count, into: dst)
        case .q4_1: q4_1(src, count: count, into: dst)
        case .q5_0: q5_0(src, count: count, into: dst)
        case .q5_1: q5_1(src, count: count, into: dst)
        case .q8_0: q8_0(src, count: count, into: dst)
        case .q4_K: q4_K(src, count: count, into: dst)
        case .q5_K: q5_K(src, count: count, into: dst)
        case .q6_K: q6_K(src, count: count, into: dst)
        case .q8_1, .q2_K, .q3_K, .q8_K: throw Unsupported(type: type)
        }
    }

    /// All of a tensor's values, as Float.
    public static func tensor(_ t: GGUFTensor) throws -> [Float] {
        guard t.type.canDequantize else { throw Unsupported(type: t.type) }
        return try [Float](unsafeUninitializedCapacity: t.elementCount) { buf, n in
            if t.elementCount > 0 { try row(t.type, t.pointer, count: t.elementCount, into: buf.baseAddress!) }
            n = t.elementCount
        }
    }

    /// Dequantises raw bytes (for tests); `bytes` must hold whole blocks.
    public static func bytes(_ bytes: [UInt8], as type: GGMLType) throws -> [Float] {
        let count = bytes.count / type.bytesPerBlock * type.blockSize
        precondition(bytes.count % type.bytesPerBlock == 0, "\(bytes.count) bytes is not a whole number of \(type) blocks")
        return try [Float](unsafeUninitializedCapacity: count) { buf, n in
            try bytes.withUnsafeBytes { if count > 0 { try row(type, $0.baseAddress!, count: count, into: buf.baseAddress!) } }
            n = count
        }
    }

    // MARK: Scalar conversions

    /// IEEE half → float, exact (ggml's `GGML_FP16_TO_FP32`).
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32(h >> 10) & 0x1F
        var mant = UInt32(h & 0x3FF)
        if exp == 0x1F {  // inf / nan
            return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
        }
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            // Subnormal: normalise.
            var e: UInt32 = 127 - 15 + 1
            while mant & 0x400 == 0 { mant <<= 1; e -= 1 }
            mant &= 0x3FF
            return Float(bitPattern: sign | (e << 23) | (mant << 13))
        }
        return Float(bitPattern: sign | ((exp + 127 - 15) << 23) | (mant << 13))
    }

    /// bfloat16 → float: the top 16 bits of a float.
    @inline(__always)
    public static func bf16ToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        halfToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inline(__always)
    static func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 { p.load(fromByteOffset: offset, as: UInt8.self) }

    // MARK: Float types

    public static func f32(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
    }

    public static func f16(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for i in 0..<count { dst[i] = half(src, 2 * i) }
    }

    public static func bf16(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for i in 0..<count { dst[i] = bf16ToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
    }

    // MARK: 32-value blocks

    public static func q4_0(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let blk = src + b * 18, y = dst + b * 32
            let d = half(blk, 0)
            for j in 0..<16 {
                let q = byte(blk, 2 + j)
                y[j] = Float(Int(q & 0x0F) - 8) * d
                y[j + 16] = Float(Int(q >> 4) - 8) * d
            }
        }
    }

    public static func q4_1(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let blk = src + b * 20, y = dst + b * 32
            let d = half(blk, 0), m = half(blk, 2)
            for j in 0..<16 {
                let q = byte(blk, 4 + j)
                y[j] = Float(q & 0x0F) * d + m
                y[j + 16] = Float(q >> 4) * d + m
            }
        }
    }

    public static func q5_0(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let blk = src + b * 22, y = dst + b * 32
            let d = half(blk, 0)
            let qh = UInt32(littleEndian: blk.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            for j in 0..<16 {
                let q = byte(blk, 6 + j)
                let h0 = ((qh >> UInt32(j)) << 4) & 0x10
                let h1 = (qh >> UInt32(j + 12)) & 0x10
                y[j] = Float(Int32(UInt32(q & 0x0F) | h0) - 16) * d
                y[j + 16] = Float(Int32(UInt32(q >> 4) | h1) - 16) * d
            }
        }
    }

    public static func q5_1(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let blk = src + b * 24, y = dst + b * 32
            let d = half(blk, 0), m = half(blk, 2)
            let qh = UInt32(littleEndian: blk.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            for j in 0..<16 {
                let q = byte(blk, 8 + j)
                let h0 = ((qh >> UInt32(j)) << 4) & 0x10
                let h1 = (qh >> UInt32(j + 12)) & 0x10
                y[j] = Float(UInt32(q & 0x0F) | h0) * d + m
                y[j + 16] = Float(UInt32(q >> 4) | h1) * d + m
            }
        }
    }

    public static func q8_0(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let blk = src + b * 34, y = dst + b * 32
            let d = half(blk, 0)
            for j in 0..<32 { y[j] = Float(Int8(bitPattern: byte(blk, 2 + j))) * d }
        }
    }

    // MARK: K-quants (256-value super-blocks)

    /// Scale and min of sub-block `j` (0..<8) from the 12 packed bytes:
    /// ggml's `get_scale_min_k4`.
    @inline(__always)
    public static func scaleMinK4(_ j: Int, _ s: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
        if j < 4 {
            return (byte(s, j) & 63, byte(s, j + 4) & 63)
        }
        let scale = (byte(s, j + 4) & 0x0F) | ((byte(s, j - 4) >> 6) << 4)
        let min = (byte(s, j + 4) >> 4) | ((byte(s, j) >> 6) << 4)
        return (scale, min)
    }

    public static func q4_K(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 256 {
            let blk = src + b * 144
            var y = dst + b * 256
            let d = half(blk, 0), dmin = half(blk, 2)
            let scales = blk + 4
            var q = blk + 16
            var sub = 0
            for _ in 0..<4 {  // 64 values per step: 32 low nibbles, 32 high
                let (sc1, m1) = scaleMinK4(sub, scales)
                let (sc2, m2) = scaleMinK4(sub + 1, scales)
                let d1 = d * Float(sc1), mn1 = dmin * Float(m1)
                let d2 = d * Float(sc2), mn2 = dmin * Float(m2)
                for l in 0..<32 { y[l] = d1 * Float(byte(q, l) & 0x0F) - mn1 }
                for l in 0..<32 { y[32 + l] = d2 * Float(byte(q, l) >> 4) - mn2 }
                q += 32
                y += 64
                sub += 2
            }
        }
    }

    public static func q5_K(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 256 {
            let blk = src + b * 176
            var y = dst + b * 256
            let d = half(blk, 0), dmin = half(blk, 2)
            let scales = blk + 4
            let qh = blk + 16
            var ql = blk + 48
            var sub = 0
            var u1: UInt8 = 1, u2: UInt8 = 2
            for _ in 0..<4 {
                let (sc1, m1) = scaleMinK4(sub, scales)
                let (sc2, m2) = scaleMinK4(sub + 1, scales)
                let d1 = d * Float(sc1), mn1 = dmin * Float(m1)
                let d2 = d * Float(sc2), mn2 = dmin * Float(m2)
                for l in 0..<32 {
                    let h: UInt8 = byte(qh, l) & u1 != 0 ? 16 : 0
                    y[l] = d1 * Float((byte(ql, l) & 0x0F) + h) - mn1
                }
                for l in 0..<32 {
                    let h: UInt8 = byte(qh, l) & u2 != 0 ? 16 : 0
                    y[32 + l] = d2 * Float((byte(ql, l) >> 4) + h) - mn2
                }
                ql += 32
                y += 64
                sub += 2
                u1 <<= 2
                u2 <<= 2
            }
        }
    }

    public static func q6_K(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 256 {
            let blk = src + b * 210
            var y = dst + b * 256
            let d = half(blk, 208)
            var ql = blk, qh = blk + 128, sc = blk + 192
            for _ in 0..<2 {  // 128 values per step
                for l in 0..<32 {
                    let s = l / 16
                    let h = byte(qh, l)
                    let q1 = Int(byte(ql, l) & 0x0F | ((h >> 0) & 3) << 4) - 32
                    let q2 = Int(byte(ql, l + 32) & 0x0F | ((h >> 2) & 3) << 4) - 32
                    let q3 = Int(byte(ql, l) >> 4 | ((h >> 4) & 3) << 4) - 32
                    let q4 = Int(byte(ql, l + 32) >> 4 | ((h >> 6) & 3) << 4) - 32
                    y[l] = d * Float(Int8(bitPattern: byte(sc, s))) * Float(q1)
                    y[l + 32] = d * Float(Int8(bitPattern: byte(sc, s + 2))) * Float(q2)
                    y[l + 64] = d * Float(Int8(bitPattern: byte(sc, s + 4))) * Float(q3)
                    y[l + 96] = d * Float(Int8(bitPattern: byte(sc, s + 6))) * Float(q4)
                }
                y += 128
                ql += 64
                qh += 32
                sc += 8
            }
        }
    }
}
