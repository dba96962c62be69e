// SafeTensorsWriter: writes small safetensors files (F32, F16, BF16) for tests
// and tiny random-weight models. Layout as huggingface/safetensors writes it:
// u64 header length, JSON header padded with spaces to a multiple of 8, data.
import Foundation
import Models

public enum SafeTensorsWriter {
    public struct WriterError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Writes `tensors` (in order, packed back to back) with an optional
    /// `__metadata__` to `url`. Values are rounded to the dtype (round to
    /// nearest even for F16 and BF16).
    public static func write(_ tensors: [(name: String, dtype: TensorDType, shape: [Int], values: [Float])],
                             metadata: [String: String]?, to url: URL) throws {
        try data(tensors, metadata: metadata).write(to: url, options: .atomic)
    }

    /// The file's bytes, for tests that corrupt them before writing.
    public static func data(_ tensors: [(name: String, dtype: TensorDType, shape: [Int], values: [Float])],
                            metadata: [String: String]?) throws -> Data {
        var header: [String: Any] = [:]
        var body = Data()
        for t in tensors {
            let count = t.shape.reduce(1, *)
            guard count == t.values.count else {
                throw WriterError(description: "SafeTensorsWriter: tensor '\(t.name)' has \(t.values.count) values for shape \(t.shape)")
            }
            let begin = body.count
            switch t.dtype {
            case .f32:
                for v in t.values { append(&body, v.bitPattern.littleEndian) }
            case .f16:
                for v in t.values { append(&body, floatToHalf(v).littleEndian) }
            case .bf16:
                for v in t.values { append(&body, floatToBFloat16(v).littleEndian) }
            default:
                throw WriterError(description: "SafeTensorsWriter: tensor '\(t.name)': dtype \(t.dtype.rawValue) is not written; use F32, F16 or BF16")
            }
            header[t.name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [begin, body.count]] as [String: Any]
        }
        if let metadata { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        append(&out, UInt64(json.count).littleEndian)
        out.append(json)
        out.append(body)
        return out
    }

    /// float32 → IEEE binary16, round to nearest even.
    public static func floatToHalf(_ x: Float) -> UInt16 {
        #if arch(x86_64) && os(macOS)
        return softFloatToHalf(x)
        #else
        return Float16(x).bitPattern
        #endif
    }

    /// float32 → bfloat16 (upper 16 bits), round to nearest even; NaN stays NaN.
    public static func floatToBFloat16(_ x: Float) -> UInt16 {
        if x.isNaN { return UInt16(truncatingIfNeeded: x.bitPattern >> 16) | 0x0040 }
        let bits = x.bitPattern
        let rounding: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    #if arch(x86_64) && os(macOS)
    private static func softFloatToHalf(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        if x.isNaN { return sign | 0x7E00 }
        let a = abs(x)
        if a >= 65520 { return sign | 0x7C00 }
        if a < Float(bitPattern: 0x3880_0000) {  // below 2^-14: subnormal
            return sign | UInt16((a * 16_777_216).rounded(.toNearestOrEven))
        }
        let e = Int((bits >> 23) & 0xFF) - 127 + 15
        var m = bits & 0x7F_FFFF
        var h = UInt32(e) << 10 | (m >> 13)
        m &= 0x1FFF
        if m > 0x1000 || (m == 0x1000 && (h & 1) == 1) { h += 1 }
        return sign | UInt16(h)
    }
    #endif

    private static func append<T: FixedWidthInteger>(_ data: inout Data, _ value: T) {
        withUnsafeBytes(of: value) { data.append(contentsOf: $0) }
    }
}
