// SafeTensors: a memory-mapped safetensors file whose header is parsed and
// validated as hostile input (follows the format of huggingface/safetensors
// and candle's mmapped var_builder: weights are views into the map).
//
// Layout: [u64 little-endian header length n][n bytes of JSON][data region].
// The JSON maps tensor names to {dtype, shape, data_offsets: [begin, end]},
// offsets relative to the data region, plus an optional "__metadata__"
// object of string → string.
import Foundation

/// Element types a safetensors header may name. Only the float types convert
/// to `FloatTensor`; the others are parsed and bounds-checked so that real
/// checkpoints (which carry e.g. an I64 `position_ids` buffer) open, and their
/// raw bytes are available through `SafeTensorsFile.rawBytes(_:)`.
public enum TensorDType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"
    case f64 = "F64", i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// Whether `SafeTensorsFile.floats` can convert it to float32.
    public var isFloat: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64: return true
        default: return false
        }
    }
}

/// A safetensors file that could not be opened or a tensor that could not be read.
public struct SafeTensorsError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Fewer than 8 bytes: no header length.
        case truncated
        /// Header length above `SafeTensorsFile.maxHeaderBytes`.
        case headerTooLarge
        /// Header length runs past the end of the file.
        case headerOutsideFile
        /// Header is not valid JSON, not an object, or an entry is malformed.
        case invalidHeader
        /// A dtype the format does not define.
        case unknownDType
        /// Negative dimension, rank above 8, or element count overflow.
        case invalidShape
        /// data_offsets not [begin, end] with 0 ≤ begin ≤ end ≤ data size.
        case offsetsOutsideFile
        /// end − begin differs from product(shape) · dtype size.
        case sizeMismatch
        /// Two tensors share bytes.
        case overlap
        /// `floats(_:shape:)` asked for a name the file does not have.
        case missingTensor
        /// `floats(_:shape:)` asked for a shape the tensor does not have.
        case shapeMismatch
        /// `floats(_:shape:)` on a tensor of integer or bool type.
        case notFloat
    }

    public let kind: Kind
    /// The file's path.
    public let path: String
    /// The tensor concerned, if any.
    public let tensor: String?
    /// What went wrong and what to do.
    public let message: String

    public init(_ kind: Kind, path: String, tensor: String? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.tensor = tensor
        self.message = message
    }

    public var description: String {
        if let tensor { return "\(path): tensor '\(tensor)' \(message)" }
        return "\(path): \(message)"
    }
}

/// A safetensors file: header parsed and validated as hostile input.
public final class SafeTensorsFile: @unchecked Sendable {
    /// Largest header accepted (the reference implementation uses the same cap).
    public static let maxHeaderBytes = 100_000_000
    /// Largest rank accepted.
    public static let maxRank = 8

    struct Entry {
        let dtype: TensorDType
        let shape: [Int]
        let begin: Int  // offset of the first byte, relative to the data region
        let end: Int
    }

    public let url: URL
    /// The header's `__metadata__`, empty when absent.
    public let metadata: [String: String]
    /// Tensor names, sorted.
    public let names: [String]

    private let file: MappedFile
    private let entries: [String: Entry]
    private let dataStart: Int  // absolute offset of the data region

    public init(url: URL) throws {
        self.url = url
        let path = url.path
        let file = try MappedFile(url: url)
        self.file = file
        let bytes = file.bytes

        // Header length.
        guard bytes.count >= 8 else {
            throw SafeTensorsError(.truncated, path: path,
                "is \(bytes.count) bytes, shorter than the 8-byte header length: the file is truncated or not safetensors; re-run ops/setup")
        }
        let rawLength = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard rawLength <= UInt64(Self.maxHeaderBytes) else {
            throw SafeTensorsError(.headerTooLarge, path: path,
                "header length \(rawLength) exceeds the \(Self.maxHeaderBytes)-byte cap: the file is corrupt or not safetensors")
        }
        let headerLength = Int(rawLength)
        guard headerLength <= bytes.count - 8 else {
            throw SafeTensorsError(.headerOutsideFile, path: path,
                "header length \(headerLength) runs past the end of the file (size \(bytes.count)): the file is truncated or corrupt; re-run ops/setup")
        }
        dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart

        // Header JSON.
        let json = Data(bytes[8 ..< dataStart])
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json, options: [])
        } catch {
            throw SafeTensorsError(.invalidHeader, path: path,
                "header is not valid JSON (\(error.localizedDescription)): the file is corrupt or not safetensors")
        }
        guard let dictionary = object as? [String: Any] else {
            throw SafeTensorsError(.invalidHeader, path: path,
                "header is not a JSON object: the file is corrupt or not safetensors")
        }

        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in dictionary {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw SafeTensorsError(.invalidHeader, path: path, "__metadata__ is not an object of strings: the file is corrupt")
                }
                for (k, v) in map {
                    guard let s = v as? String else {
                        throw SafeTensorsError(.invalidHeader, path: path, "__metadata__ key '\(k)' is not a string: the file is corrupt")
                    }
                    metadata[k] = s
                }
                continue
            }
            entries[name] = try Self.parseEntry(name: name, value: value, dataSize: dataSize, path: path)
        }

        // No two tensors may share bytes (empty tensors own none).
        let spans = entries.filter { $0.value.end > $0.value.begin }
            .sorted { ($0.value.begin, $0.key) < ($1.value.begin, $1.key) }
        for i in spans.indices.dropFirst() {
            let (prevName, prev) = spans[i - 1]
            let (name, cur) = spans[i]
            if cur.begin < prev.end {
                throw SafeTensorsError(.overlap, path: path, tensor: name,
                    "data [\(cur.begin), \(cur.end)) overlaps tensor '\(prevName)' data [\(prev.begin), \(prev.end)): the file is corrupt; re-export or re-run ops/setup")
            }
        }

        self.metadata = metadata
        self.entries = entries
        self.names = entries.keys.sorted()
    }

    private static func parseEntry(name: String, value: Any, dataSize: Int, path: String) throws -> Entry {
        func fail(_ kind: SafeTensorsError.Kind, _ message: String) -> SafeTensorsError {
            SafeTensorsError(kind, path: path, tensor: name, message)
        }
        guard let object = value as? [String: Any] else {
            throw fail(.invalidHeader, "header entry is not an object {dtype, shape, data_offsets}: the file is corrupt")
        }
        guard let dtypeName = object["dtype"] as? String else {
            throw fail(.invalidHeader, "has no string 'dtype': the file is corrupt")
        }
        guard let dtype = TensorDType(rawValue: dtypeName) else {
            let known = TensorDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail(.unknownDType, "has unknown dtype '\(dtypeName)' (known: \(known)): convert the checkpoint to F32, F16 or BF16")
        }
        guard let shapeValues = object["shape"] as? [Any], let shape = integers(shapeValues) else {
            throw fail(.invalidShape, "'shape' is not an array of integers: the file is corrupt")
        }
        guard shape.count <= maxRank else {
            throw fail(.invalidShape, "has rank \(shape.count), above the limit of \(maxRank): the file is corrupt")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw fail(.invalidShape, "has a negative dimension in shape \(shape): the file is corrupt")
        }
        guard let offsetValues = object["data_offsets"] as? [Any], let offsets = integers(offsetValues), offsets.count == 2 else {
            throw fail(.invalidHeader, "'data_offsets' is not [begin, end]: the file is corrupt")
        }
        let begin = offsets[0], end = offsets[1]
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw fail(.offsetsOutsideFile,
                "data [\(begin), \(end)) lies outside the data region (size \(dataSize)): the file is truncated or corrupt; re-run ops/setup")
        }
        var elements = 1
        for d in shape {
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail(.invalidShape, "shape \(shape) has too many elements: the file is corrupt") }
            elements = p
        }
        let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, byteCount == end - begin else {
            throw fail(.sizeMismatch,
                "data [\(begin), \(end)) is \(end - begin) bytes but shape \(shape) of \(dtype.rawValue) needs \(overflow ? "more than Int.max" : String(byteCount)): the file is corrupt")
        }
        return Entry(dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// Exact integers from JSON numbers; nil for anything else (fractions,
    /// exponents, bools, strings, out-of-range numbers).
    private static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        result.reserveCapacity(values.count)
        for v in values {
            // Foundation's JSON numbers are NSNumbers; integer literals carry
            // an integer objCType, bools "c", fractions and exponents "d".
            guard let n = v as? NSNumber, !(n is NSDecimalNumber) else { return nil }
            guard let type = String(validatingCString: n.objCType), "silqSILQ".contains(type), type.count == 1 else { return nil }
            if type == "Q" || type == "L" { guard n.uint64Value <= UInt64(Int.max) else { return nil } }
            guard let i = Int(exactly: n.int64Value) else { return nil }
            result.append(i)
        }
        return result
    }

    /// The tensor's dtype and shape, or nil if the file has no such tensor.
    public func info(_ name: String) -> (dtype: TensorDType, shape: [Int])? {
        guard let e = entries[name] else { return nil }
        return (e.dtype, e.shape)
    }

    /// The tensor's raw little-endian bytes (valid while this file lives), or nil if absent.
    public func rawBytes(_ name: String) -> UnsafeRawBufferPointer? {
        guard let e = entries[name] else { return nil }
        return UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + e.begin) ..< (dataStart + e.end)])
    }

    /// The tensor as float32 with the expected shape: a zero-copy view into the
    /// map for F32 (alignment permitting), or an owned converted copy for
    /// F16/BF16/F64. Throws naming the tensor and both shapes on mismatch, or
    /// the missing name.
    public func floats(_ name: String, shape: [Int]) throws -> FloatTensor {
        guard let e = entries[name] else {
            let hint = names.count <= 5 ? names.joined(separator: ", ") : names.prefix(5).joined(separator: ", ") + ", …"
            throw SafeTensorsError(.missingTensor, path: url.path, tensor: name,
                "is not in the file (\(names.count) tensors: \(hint)): the checkpoint does not match the model architecture")
        }
        guard e.shape == shape else {
            throw SafeTensorsError(.shapeMismatch, path: url.path, tensor: name,
                "has shape \(e.shape) but \(shape) was expected: the checkpoint does not match config.json")
        }
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + e.begin) ..< (dataStart + e.end)])
        let count = raw.count / e.dtype.size
        switch e.dtype {
        case .f32:
            if let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
                return FloatTensor(shape: shape, viewing: base.assumingMemoryBound(to: Float.self), owner: file)
            }
            return FloatTensor(shape: shape) { out in
                for i in 0 ..< count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            }
        case .f16:
            return FloatTensor(shape: shape) { out in
                for i in 0 ..< count {
                    out[i] = halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            }
        case .bf16:
            return FloatTensor(shape: shape) { out in
                for i in 0 ..< count {
                    let h = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(h) << 16)
                }
            }
        case .f64:
            return FloatTensor(shape: shape) { out in
                for i in 0 ..< count {
                    out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                }
            }
        case .i64, .i32, .i16, .i8, .u8, .bool:
            throw SafeTensorsError(.notFloat, path: url.path, tensor: name,
                "has dtype \(e.dtype.rawValue), not a float type: it is not a weight; read it with rawBytes(_:)")
        }
    }
}

/// IEEE 754 binary16 → binary32, exact for every input (subnormals, ±inf, NaN).
@inline(__always)
public func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x03FF)
    if exponent == 0x1F {  // inf / NaN
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {
        if mantissa == 0 { return Float(bitPattern: sign) }
        // Subnormal: mantissa · 2^-24, exact in float32.
        let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)  // 2^-24
        return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// A float32 tensor: either a view into a mapped file (kept alive by `owner`) or an owned buffer.
public final class FloatTensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    /// What keeps a view's memory alive (the mapped file); nil for owned tensors.
    public let owner: AnyObject?
    private let base: UnsafeMutablePointer<Float>
    private let owned: Bool

    public var pointer: UnsafePointer<Float> { UnsafePointer(base) }
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: base, count: count) }
    /// Whether this tensor is a zero-copy view into a file.
    public var isView: Bool { !owned }

    /// The elements as an array (a copy).
    public var array: [Float] { Array(buffer) }

    private static func elementCount(_ shape: [Int]) -> Int {
        precondition(shape.allSatisfy { $0 >= 0 }, "FloatTensor: negative dimension in \(shape)")
        return shape.reduce(1, *)
    }

    /// Owned copy of `values`; `values.count` must equal the product of `shape`.
    public convenience init(shape: [Int], copying values: [Float]) {
        precondition(Self.elementCount(shape) == values.count,
                     "FloatTensor: \(values.count) values for shape \(shape)")
        self.init(shape: shape) { out in
            values.withUnsafeBufferPointer { src in
                if let s = src.baseAddress { out.baseAddress!.update(from: s, count: src.count) }
            }
        }
    }

    /// Owned, zero-filled.
    public convenience init(shape: [Int], zeros: ()) {
        self.init(shape: shape) { out in out.update(repeating: 0) }
    }

    /// Owned, filled by `fill` (which must write every element).
    public init(shape: [Int], filling fill: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let count = Self.elementCount(shape)
        self.shape = shape
        self.count = count
        self.owner = nil
        self.owned = true
        self.base = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
        do {
            try fill(UnsafeMutableBufferPointer(start: base, count: count))
        } catch {
            base.deallocate()
            throw error
        }
    }

    /// A view of `count(shape)` floats at `pointer`, kept alive by `owner`.
    public init(shape: [Int], viewing pointer: UnsafePointer<Float>, owner: AnyObject) {
        self.shape = shape
        self.count = Self.elementCount(shape)
        self.owner = owner
        self.owned = false
        self.base = UnsafeMutablePointer(mutating: pointer)
    }

    /// Writable access to an owned tensor's elements (for merges and tests).
    /// Views into read-only maps cannot be written.
    public func withMutableBuffer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(owned, "FloatTensor: cannot write to a view into a read-only mapped file")
        return try body(UnsafeMutableBufferPointer(start: base, count: count))
    }

    deinit {
        if owned { base.deallocate() }
    }
}
