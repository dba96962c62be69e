// Writes small GGUF files for tests: metadata of every kind and tensors from
// given raw bytes, in the layout ggml's gguf writer uses (v3 by default).
// It also writes what a real writer never would (unknown type ids, offsets
// past the end, lying counts) so the reader's hostile-input checks get tested.

import Foundation
import Models

public struct GGUFWriter {
    /// A tensor to write. `typeID` and `dims` are written as given, unchecked.
    public struct Tensor {
        public var name: String
        public var typeID: UInt32
        public var dims: [UInt64]
        public var data: [UInt8]
        /// Data offset to write instead of the computed one (for hostile files).
        public var offsetOverride: UInt64?
    }

    public var version: UInt32
    public var alignment: Int
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    public private(set) var tensors: [Tensor] = []

    /// `alignment` other than 32 is also written as `general.alignment`.
    public init(version: UInt32 = 3, alignment: Int = 32) {
        self.version = version
        self.alignment = alignment
        if alignment != 32 { metadata.append(("general.alignment", .uint32(UInt32(alignment)))) }
    }

    public mutating func add(_ key: String, _ value: GGUFValue) {
        metadata.append((key, value))
    }

    public mutating func add(_ key: String, _ s: String) { add(key, .string(s)) }
    public mutating func add(_ key: String, _ strings: [String]) { add(key, .array(.string(strings))) }

    /// A tensor of `type` with GGUF dims (ne0 first) from its raw blocks.
    public mutating func addTensor(_ name: String, type: GGMLType, dims: [Int], data: [UInt8]) {
        let n = dims.reduce(1, *)
        precondition(type.byteCount(elements: n) == data.count,
                     "tensor \(name): \(data.count) bytes do not hold \(dims) of \(type)")
        tensors.append(Tensor(name: name, typeID: type.rawValue, dims: dims.map { UInt64($0) }, data: data))
    }

    /// An F32 tensor from floats.
    public mutating func addTensor(_ name: String, dims: [Int], floats: [Float]) {
        var bytes: [UInt8] = []
        for f in floats { GGUFWriter.append(f.bitPattern, to: &bytes) }
        addTensor(name, type: .f32, dims: dims, data: bytes)
    }

    /// A tensor written exactly as given, for hostile files.
    public mutating func addRawTensor(_ t: Tensor) { tensors.append(t) }

    public static func rawTensor(_ name: String, typeID: UInt32, dims: [UInt64], data: [UInt8],
                                 offset: UInt64? = nil) -> Tensor {
        Tensor(name: name, typeID: typeID, dims: dims, data: data, offsetOverride: offset)
    }

    /// The file's bytes.
    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        out += Array("GGUF".utf8)
        GGUFWriter.append(version, to: &out)
        GGUFWriter.append(UInt64(tensors.count), to: &out)
        GGUFWriter.append(UInt64(metadata.count), to: &out)
        for (key, value) in metadata {
            GGUFWriter.appendString(key, to: &out)
            GGUFWriter.append(value.type.rawValue, to: &out)
            GGUFWriter.appendValue(value, to: &out)
        }
        // Tensor infos, with each tensor's data aligned inside the data section.
        var offsets: [UInt64] = []
        var next = 0
        for t in tensors {
            offsets.append(UInt64(next))
            next = GGUFWriter.align(next + t.data.count, alignment)
        }
        for (t, offset) in zip(tensors, offsets) {
            GGUFWriter.appendString(t.name, to: &out)
            GGUFWriter.append(UInt32(t.dims.count), to: &out)
            for d in t.dims { GGUFWriter.append(d, to: &out) }
            GGUFWriter.append(t.typeID, to: &out)
            GGUFWriter.append(t.offsetOverride ?? offset, to: &out)
        }
        if !tensors.isEmpty {
            out += [UInt8](repeating: 0, count: GGUFWriter.align(out.count, alignment) - out.count)
            let dataStart = out.count
            for (t, offset) in zip(tensors, offsets) {
                let at = dataStart + Int(offset)
                out += [UInt8](repeating: 0, count: at - out.count)
                out += t.data
            }
            out += [UInt8](repeating: 0, count: GGUFWriter.align(out.count - dataStart, alignment) + dataStart - out.count)
        }
        return out
    }

    /// Writes the file to `url`.
    public func write(to url: URL) throws {
        try Data(bytes()).write(to: url)
    }

    /// Writes the file to a fresh temporary path and returns it.
    public func writeTemporary(_ name: String = "test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("dojo-\(name)-\(UUID().uuidString).gguf")
        try write(to: url)
        return url
    }

    // MARK: Encoding

    public static func align(_ n: Int, _ a: Int) -> Int { (n + a - 1) / a * a }

    public static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    public static func appendString(_ s: String, to out: inout [UInt8]) {
        append(UInt64(s.utf8.count), to: &out)
        out += Array(s.utf8)
    }

    public static func appendValue(_ value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case .uint8(let v): append(v, to: &out)
        case .int8(let v): append(v, to: &out)
        case .uint16(let v): append(v, to: &out)
        case .int16(let v): append(v, to: &out)
        case .uint32(let v): append(v, to: &out)
        case .int32(let v): append(v, to: &out)
        case .uint64(let v): append(v, to: &out)
        case .int64(let v): append(v, to: &out)
        case .float32(let v): append(v.bitPattern, to: &out)
        case .float64(let v): append(v.bitPattern, to: &out)
        case .bool(let v): append(UInt8(v ? 1 : 0), to: &out)
        case .string(let s): appendString(s, to: &out)
        case .array(let a): appendArray(a, to: &out)
        }
    }

    public static func appendArray(_ a: GGUFArray, to out: inout [UInt8]) {
        append(a.elementType.rawValue, to: &out)
        append(UInt64(a.count), to: &out)
        switch a {
        case .uint8(let xs): xs.forEach { append($0, to: &out) }
        case .int8(let xs): xs.forEach { append($0, to: &out) }
        case .uint16(let xs): xs.forEach { append($0, to: &out) }
        case .int16(let xs): xs.forEach { append($0, to: &out) }
        case .uint32(let xs): xs.forEach { append($0, to: &out) }
        case .int32(let xs): xs.forEach { append($0, to: &out) }
        case .uint64(let xs): xs.forEach { append($0, to: &out) }
        case .int64(let xs): xs.forEach { append($0, to: &out) }
        case .float32(let xs): xs.forEach { append($0.bitPattern, to: &out) }
        case .float64(let xs): xs.forEach { append($0.bitPattern, to: &out) }
        case .bool(let xs): xs.forEach { append(UInt8($0 ? 1 : 0), to: &out) }
        case .string(let xs): xs.forEach { appendString($0, to: &out) }
        case .array(let xs): xs.forEach { appendArray($0, to: &out) }
        }
    }
}
