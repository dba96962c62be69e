// Dequantisers from GGUF's block formats to Float for the loader (embedding rows, adapters,
// tests), by GGUF type id: Kernels' row dequantiser (`QuantMatmul.dequantizeRow`), which
// follows ggml's `dequantize_row_*` in ggml-quants.c operation for operation (same float
// operations in the same order, so results are bit-identical) and has a scalar twin that the
// kernel tests hold it to.
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
// scales and mins packed into `scales[12]`; each 64 values
// take 32 bytes of qs, low nibbles first. Q6_K: 16 sub-blocks of 16 with int8
// scales; each 128 values take 64 bytes of ql and 32 of qh.

import Kernels

/// Dequantisers by GGUF type.
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
        guard type.canDequantize, let format = QuantFormat(rawValue: Int(type.rawValue)) else { throw Unsupported(type: type) }
        QuantMatmul.dequantizeRow(src, format: format, k: count, into: dst)
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

    /// IEEE half → float, exact (ggml's `GGML_FP16_TO_FP32`).
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float { Models.halfToFloat(h) }

    /// bfloat16 → float: the top 16 bits of a float.
    @inline(__always)
    public static func bf16ToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }
}
