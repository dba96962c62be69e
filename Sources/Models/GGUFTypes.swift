// GGUF's element types (ggml's `enum ggml_type`, ids as ggml numbers them) and
// metadata value types (`enum gguf_type`). Block sizes and bytes per block are
// ggml's `ggml_type_traits` for the types Dojo reads; see Dequantize.swift for
// the byte layout of each block.

/// A tensor element type as GGUF stores it: the id is ggml's `GGML_TYPE_*`.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    // 4 and 5 (Q4_2, Q4_3) were removed from ggml.
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case bf16 = 30

    /// Elements per block (1 for the float types; 32 for the legacy quants;
    /// 256, `QK_K`, for the K-quants).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K: return 256
        }
    }

    /// Bytes per block, exactly `sizeof(block_*)` in ggml.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18   // d:f16, qs[16]
        case .q4_1: return 20   // d:f16, m:f16, qs[16]
        case .q5_0: return 22   // d:f16, qh[4], qs[16]
        case .q5_1: return 24   // d:f16, m:f16, qh[4], qs[16]
        case .q8_0: return 34   // d:f16, qs:int8[32]
        case .q8_1: return 36   // d:f16, s:f16, qs:int8[32]
        case .q2_K: return 84   // scales[16], qs[64], d:f16, dmin:f16
        case .q3_K: return 110  // hmask[32], qs[64], scales[12], d:f16
        case .q4_K: return 144  // d:f16, dmin:f16, scales[12], qs[128]
        case .q5_K: return 176  // d:f16, dmin:f16, scales[12], qh[32], qs[128]
        case .q6_K: return 210  // ql[128], qh[64], scales:int8[16], d:f16
        case .q8_K: return 292  // d:f32, qs:int8[256], bsums:int16[16]
        }
    }

    /// ggml's name for the type ("Q4_K", "BF16").
    public var name: String { GGMLType.name(forID: rawValue) }

    public var description: String { name }

    /// Whether `Dequantize` has a reference dequantiser for this type.
    public var canDequantize: Bool {
        switch self {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K: return true
        case .q8_1, .q2_K, .q3_K, .q8_K: return false
        }
    }

    /// Bytes taken by `count` elements, or nil when `count` is not a whole
    /// number of blocks or the size overflows.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }

    /// ggml's name for any type id, including ones Dojo does not read, so an
    /// error can say which type a file uses.
    public static func name(forID id: UInt32) -> String {
        let names: [UInt32: String] = [
            0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 4: "Q4_2 (removed)", 5: "Q4_3 (removed)",
            6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K",
            13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
            19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8",
            25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16",
            34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
        ]
        return names[id] ?? "unknown type \(id)"
    }
}

/// A metadata value's type tag (`enum gguf_type`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// Bytes of one value of a fixed-size type; nil for string and array.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}
