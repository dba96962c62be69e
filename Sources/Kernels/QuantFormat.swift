// QuantFormat: the weight formats the quantized kernels read, with ggml's type ids as raw
// values (Models maps its GGMLType onto these) and ggml's block layouts byte for byte:
//
//   Q4_0  (32 values, 18 bytes): d:f16 | qs[16]            w = (nibble - 8) * d
//   Q4_1  (32 values, 20 bytes): d:f16 | m:f16 | qs[16]    w = nibble * d + m
//   Q5_0  (32 values, 22 bytes): d:f16 | qh:u32 | qs[16]   w = (nibble | hbit<<4 - 16) * d
//   Q5_1  (32 values, 24 bytes): d:f16 | m:f16 | qh:u32 | qs[16]
//   Q8_0  (32 values, 34 bytes): d:f16 | qs:int8[32]       w = q * d
//   Q4_K (256 values, 144 bytes): d:f16 | dmin:f16 | scales[12] | qs[128]
//   Q5_K (256 values, 176 bytes): d:f16 | dmin:f16 | scales[12] | qh[32] | qs[128]
//   Q6_K (256 values, 210 bytes): ql[128] | qh[64] | scales:int8[16] | d:f16
//   Q8_K (256 values, 292 bytes): d:f32 | qs:int8[256] | bsums:int16[16]   (activations only)
//
// In the 32-value blocks byte j's low nibble is value j and its high nibble value j+16
// (Q5: bit j of qh is value j's fifth bit). Each weight format names the format its
// activations are quantized to (`activationQuantization`).

/// A weight format of the quantized matmul; raw values are ggml's `GGML_TYPE_*` ids.
public enum QuantFormat: Int, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case bf16 = 30

    /// Elements per block: 1 for the float formats, 32 for the legacy quants, 256 for K-quants.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return 32
        case .q4_K, .q5_K, .q6_K: return 256
        }
    }

    /// Bytes per block, exactly `sizeof(block_*)` in ggml.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        }
    }

    /// Bytes of one row of `k` elements (k a multiple of `blockSize`).
    public func rowBytes(_ k: Int) -> Int {
        precondition(k % blockSize == 0, "k \(k) is not a multiple of \(self)'s block size \(blockSize)")
        return k / blockSize * bytesPerBlock
    }

    /// What the activations are converted to before the dot products with this format.
    public var activationQuantization: ActivationQuantization {
        switch self {
        case .f32, .f16, .bf16: return .none
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return .q8
        case .q4_K, .q5_K, .q6_K: return .q8K
        }
    }

    /// ggml's name ("Q4_1").
    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        }
    }
}

/// The partner format activations are quantized to, one row at a time.
public enum ActivationQuantization: Sendable {
    /// Kept as Float (the float weight formats).
    case none
    /// Blocks of 32: d = amax/127 stored as f16 (ggml's Q8_0; with the block sum d·Σq as ggml's
    /// Q8_1 keeps for the min term of Q4_1/Q5_1), q = round-half-even(x/d).
    case q8
    /// Blocks of 256 (ggml's Q8_K): d:f32 = -max/127 with max the value of largest magnitude,
    /// q = round-half-even(x/d), bsums = sums of each 16 q.
    case q8K

    /// Elements per scale.
    public var blockSize: Int {
        switch self {
        case .none: return 1
        case .q8: return 32
        case .q8K: return 256
        }
    }
}

// MARK: - Half-precision helpers shared by the quant kernels

/// IEEE half → float (exact; vcvtph2ps with F16C).
@inline(__always)
func quantHalf(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
}

/// Float rounded to the nearest half and back (how ggml stores a Q8_0 block's scale).
@inline(__always)
func roundedToHalf(_ x: Float) -> Float { Float(Float16(x)) }
