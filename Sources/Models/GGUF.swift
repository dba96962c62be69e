// GGUF reader, following the format as ggml's `gguf.cpp` reads it (v2 and
// v3, little-endian): header, metadata key/values, tensor infos, aligned
// tensor data. The file is memory-mapped; tensors are views into the mapping.
// Input is hostile: every length, count, rank and offset is checked before use.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Something wrong with a GGUF file, or a request it cannot satisfy.
public struct GGUFError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case cannotOpen, badMagic, unsupportedVersion, truncated, limitExceeded
        case invalidValueType, duplicateKey, duplicateTensor, badAlignment
        case badTensorRank, badTensorShape, unsupportedTensorType, tensorOutOfBounds
        case missingKey, wrongValueType, missingTensor, tensorMismatch
    }

    public let kind: Kind
    /// The file's path (or "<memory>").
    public let file: String
    /// What is wrong, where (key, tensor, offset) and what to do.
    public let message: String

    public var description: String { "GGUF \(file): \(message)" }
}

/// The largest string (key, value, token, tensor name) the reader accepts.
public let ggufMaxStringBytes = 1 << 20

/// An open GGUF file: metadata, tensor infos, and the mapped tensor data.
public final class GGUFFile: @unchecked Sendable {
    // Limits on hostile input beyond "it must fit in the file".
    static let maxKeyValues = 1 << 16
    static let maxTensors = 1 << 20
    static let maxArrayCount = 1 << 26
    static let maxArrayDepth = 4
    static let maxRank = 4
    static let maxTensorNameBytes = 1024

    /// Where the file came from (its path, or "<memory>").
    public let path: String
    /// 2 or 3.
    public let version: Int
    /// Metadata keys in file order.
    public let keys: [String]
    /// Metadata by key.
    public let metadata: [String: GGUFValue]
    /// Tensor infos in file order.
    public let tensorInfos: [GGUFTensorInfo]
    /// `general.alignment`, default 32.
    public let alignment: Int
    /// Absolute offset of the tensor data section.
    public let dataOffset: Int

    private let storage: GGUFStorage
    private let tensorIndex: [String: Int]

    /// Maps and parses the file at `path`.
    public convenience init(path: String) throws {
        try self.init(storage: GGUFStorage(mapping: path), path: path)
    }

    /// Parses GGUF bytes held in memory (a copy is taken); for tests and tools.
    public convenience init(bytes: [UInt8], name: String = "<memory>") throws {
        try self.init(storage: GGUFStorage(copying: bytes), path: name)
    }

    private init(storage: GGUFStorage, path: String) throws {
        self.storage = storage
        self.path = path
        var r = GGUFCursor(base: storage.base, count: storage.count, file: path)

        // Header: magic "GGUF", version, tensor count, key/value count.
        guard storage.count >= 4 else {
            throw r.error(.truncated, "the file is \(storage.count) bytes, too short for a GGUF header; it is not a GGUF file or was cut short")
        }
        let magic = try r.u32("magic")
        guard magic == 0x4655_4747 else {
            throw r.error(.badMagic, "bad magic \(hex32(magic)) (expected \"GGUF\"); this is not a GGUF file")
        }
        let rawVersion = try r.u32("version")
        switch rawVersion {
        case 2, 3: version = Int(rawVersion)
        case 1: throw r.error(.unsupportedVersion, "GGUF version 1 is not supported; reconvert the model with a current llama.cpp")
        default:
            if rawVersion & 0xFFFF == 0, rawVersion >> 16 != 0 {
                throw r.error(.unsupportedVersion, "the file is big-endian (version field \(rawVersion)); only little-endian GGUF is supported")
            }
            throw r.error(.unsupportedVersion, "GGUF version \(rawVersion) is not supported (2 and 3 are)")
        }
        let tensorCount = try r.u64("tensor count")
        let kvCount = try r.u64("metadata key/value count")
        // Each key/value takes at least 12 bytes, each tensor info at least 24.
        guard kvCount <= UInt64(GGUFFile.maxKeyValues), kvCount * 12 <= UInt64(r.remaining) else {
            throw r.error(.limitExceeded, "the header claims \(kvCount) metadata entries, more than the file can hold (limit \(GGUFFile.maxKeyValues)); the file is corrupt")
        }
        guard tensorCount <= UInt64(GGUFFile.maxTensors), tensorCount * 24 <= UInt64(r.remaining) else {
            throw r.error(.limitExceeded, "the header claims \(tensorCount) tensors, more than the file can hold (limit \(GGUFFile.maxTensors)); the file is corrupt")
        }

        // Metadata.
        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        keys.reserveCapacity(Int(kvCount))
        for i in 0..<Int(kvCount) {
            let key = try r.string("the key of metadata entry \(i)")
            let typeID = try r.u32("the value type of key '\(key)'")
            guard let type = GGUFValueType(rawValue: typeID) else {
                throw r.error(.invalidValueType, "key '\(key)' has value type \(typeID), which GGUF does not define; the file is corrupt")
            }
            let value = try r.value(type, key: key, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw r.error(.duplicateKey, "key '\(key)' appears twice; the file is corrupt")
            }
            keys.append(key)
        }
        self.keys = keys
        self.metadata = metadata

        // Alignment.
        var alignment = 32
        if let a = metadata["general.alignment"] {
            guard case .uint32(let v) = a, v > 0, v & (v - 1) == 0, v <= 1 << 20 else {
                throw r.error(.badAlignment, "general.alignment is \(a.summary); it must be a uint32 power of two")
            }
            alignment = Int(v)
        }
        self.alignment = alignment

        // Tensor infos.
        var infos: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        infos.reserveCapacity(Int(tensorCount))
        for i in 0..<Int(tensorCount) {
            let name = try r.string("the name of tensor \(i)", limit: GGUFFile.maxTensorNameBytes)
            let rank = try r.u32("the rank of tensor '\(name)'")
            guard rank >= 1, rank <= UInt32(GGUFFile.maxRank) else {
                throw r.error(.badTensorRank, "tensor '\(name)' has \(rank) dimensions; GGUF tensors have 1 to \(GGUFFile.maxRank)")
            }
            var dims: [Int] = []
            for d in 0..<Int(rank) {
                let n = try r.u64("dimension \(d) of tensor '\(name)'")
                guard let dim = Int(exactly: n), dim <= Int(Int32.max) * 64 else {
                    throw r.error(.badTensorShape, "tensor '\(name)' has dimension \(d) = \(n), which is not a sane size; the file is corrupt")
                }
                dims.append(dim)
            }
            let typeID = try r.u32("the type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: typeID) else {
                throw r.error(.unsupportedTensorType, "tensor '\(name)' has type \(GGMLType.name(forID: typeID)) (id \(typeID)), which Dojo does not support; use a file quantised to F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K or Q6_K (e.g. Q4_K_M)")
            }
            let relOffset = try r.u64("the data offset of tensor '\(name)'")
            var elements = 1
            for d in dims {
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                guard !o else { throw r.error(.badTensorShape, "tensor '\(name)' has shape \(dims) whose element count overflows; the file is corrupt") }
                elements = p
            }
            guard dims[0] % type.blockSize == 0, let bytes = type.byteCount(elements: elements) else {
                throw r.error(.badTensorShape, "tensor '\(name)' of type \(type) has shape \(dims); its first dimension must be a multiple of the block size \(type.blockSize)")
            }
            guard relOffset % UInt64(alignment) == 0 else {
                throw r.error(.badAlignment, "tensor '\(name)' starts at data offset \(relOffset), not a multiple of the alignment \(alignment); the file is corrupt")
            }
            guard index.updateValue(infos.count, forKey: name) == nil else {
                throw r.error(.duplicateTensor, "tensor '\(name)' appears twice; the file is corrupt")
            }
            infos.append(GGUFTensorInfo(name: name, type: type, dims: dims, elementCount: elements,
                                        byteCount: bytes, relativeOffset: relOffset, offset: 0))
        }

        // Data section: aligned after the infos; every tensor must lie inside the file.
        let (aligned, o) = r.position.addingReportingOverflow(alignment - 1)
        guard !o else { throw r.error(.truncated, "the data section offset overflows") }
        let dataOffset = aligned / alignment * alignment
        self.dataOffset = dataOffset
        let dataBytes = UInt64(max(0, storage.count - dataOffset))
        if tensorCount > 0, dataOffset > storage.count {
            throw r.error(.truncated, "the tensor data section would start at byte \(dataOffset) but the file has \(storage.count) bytes; the file was cut short")
        }
        for i in infos.indices {
            let info = infos[i]
            let (end, o) = info.relativeOffset.addingReportingOverflow(UInt64(info.byteCount))
            guard !o, end <= dataBytes else {
                throw r.error(.tensorOutOfBounds, "tensor '\(info.name)' (\(info.type), \(info.dims), \(info.byteCount) bytes) at data offset \(info.relativeOffset) ends past the end of the file (\(dataBytes) data bytes); the file is truncated or corrupt")
            }
            infos[i].offset = dataOffset + Int(info.relativeOffset)
        }
        self.tensorInfos = infos
        self.tensorIndex = index
    }

    // MARK: Metadata accessors

    /// The raw value of `key`, or nil.
    public func value(_ key: String) -> GGUFValue? { metadata[key] }

    public func contains(_ key: String) -> Bool { metadata[key] != nil }

    /// `general.architecture` ("llama", "qwen2").
    public var architecture: String {
        get throws { try string("general.architecture") }
    }

    public func string(_ key: String) throws -> String {
        guard case .string(let s) = try required(key) else { throw wrongType(key, "a string") }
        return s
    }

    public func string(_ key: String, default d: String) throws -> String {
        contains(key) ? try string(key) : d
    }

    /// Any integer type, converted to `Int`.
    public func int(_ key: String) throws -> Int {
        guard let i = try required(key).intValue else { throw wrongType(key, "an integer") }
        return i
    }

    public func int(_ key: String, default d: Int) throws -> Int {
        contains(key) ? try int(key) : d
    }

    /// A float or integer value, as `Float`.
    public func float(_ key: String) throws -> Float {
        guard let v = try required(key).doubleValue else { throw wrongType(key, "a number") }
        return Float(v)
    }

    public func float(_ key: String, default d: Float) throws -> Float {
        contains(key) ? try float(key) : d
    }

    public func bool(_ key: String) throws -> Bool {
        guard case .bool(let b) = try required(key) else { throw wrongType(key, "a bool") }
        return b
    }

    public func bool(_ key: String, default d: Bool) throws -> Bool {
        contains(key) ? try bool(key) : d
    }

    public func array(_ key: String) throws -> GGUFArray {
        guard case .array(let a) = try required(key) else { throw wrongType(key, "an array") }
        return a
    }

    public func strings(_ key: String) throws -> [String] {
        guard case .string(let a) = try array(key) else { throw wrongType(key, "an array of strings") }
        return a
    }

    public func ints(_ key: String) throws -> [Int] {
        guard let a = try array(key).intValues else { throw wrongType(key, "an array of integers") }
        return a
    }

    public func floats(_ key: String) throws -> [Float] {
        guard let a = try array(key).floatValues else { throw wrongType(key, "an array of numbers") }
        return a
    }

    private func required(_ key: String) throws -> GGUFValue {
        guard let v = metadata[key] else {
            throw GGUFError(kind: .missingKey, file: path, message: "metadata key '\(key)' is missing; the file was not converted for this use, or for another architecture")
        }
        return v
    }

    private func wrongType(_ key: String, _ expected: String) -> GGUFError {
        GGUFError(kind: .wrongValueType, file: path,
                  message: "metadata key '\(key)' is \(metadata[key]?.summary ?? "?") of type \(metadata[key]?.type ?? .uint8); expected \(expected)")
    }

    // MARK: Tensors

    public var tensorNames: [String] { tensorInfos.map(\.name) }

    public func info(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensorInfos[$0] }
    }

    /// The tensor `name`: its type, GGUF dims (ne0 first) and mapped bytes.
    public func tensor(named name: String) throws -> GGUFTensor {
        guard let i = tensorIndex[name] else {
            throw GGUFError(kind: .missingTensor, file: path, message: "tensor '\(name)' is missing; the file has \(tensorInfos.count) tensors and is not the model expected")
        }
        let info = tensorInfos[i]
        let data = UnsafeRawBufferPointer(start: storage.base.map { $0 + info.offset }, count: info.byteCount)
        return GGUFTensor(info: info, data: data, owner: storage)
    }

    /// The tensor `name`, checked against the shape (GGUF order) and types the
    /// caller expects; a mismatch names the tensor and both shapes.
    public func tensor(named name: String, dims: [Int], types: [GGMLType]? = nil) throws -> GGUFTensor {
        let t = try tensor(named: name)
        guard t.dims == dims else {
            throw GGUFError(kind: .tensorMismatch, file: path, message: "tensor '\(name)' has shape \(t.dims); the model expects \(dims)")
        }
        if let types, !types.contains(t.type) {
            throw GGUFError(kind: .unsupportedTensorType, file: path, message: "tensor '\(name)' has type \(t.type); here Dojo supports \(types.map(\.name).joined(separator: ", "))")
        }
        return t
    }
}

/// Where a tensor lies and what it holds.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let type: GGMLType
    /// GGUF order: `dims[0]` (ne0) is the contiguous dimension.
    public let dims: [Int]
    public let elementCount: Int
    public let byteCount: Int
    /// Offset inside the data section, as stored.
    public let relativeOffset: UInt64
    /// Absolute offset in the file.
    public internal(set) var offset: Int
}

/// A tensor's bytes, valid as long as this value (or its file) lives.
public struct GGUFTensor: @unchecked Sendable {
    public let info: GGUFTensorInfo
    /// The raw blocks, exactly `info.byteCount` bytes.
    public let data: UnsafeRawBufferPointer
    let owner: AnyObject

    public var name: String { info.name }
    public var type: GGMLType { info.type }
    public var dims: [Int] { info.dims }
    public var elementCount: Int { info.elementCount }
    /// Start of the data (a non-null pointer even for an empty tensor).
    public var pointer: UnsafeRawPointer { data.baseAddress ?? UnsafeRawPointer(bitPattern: 1)! }
}

/// The bytes behind a GGUFFile: an mmap of the file, or a heap copy.
final class GGUFStorage: @unchecked Sendable {
    let base: UnsafeRawPointer?
    let count: Int
    private let mapped: Bool

    init(mapping path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw GGUFError(kind: .cannotOpen, file: path, message: "cannot open: \(String(cString: strerror(errno))); check the path and permissions")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw GGUFError(kind: .cannotOpen, file: path, message: "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError(kind: .cannotOpen, file: path, message: "not a regular file")
        }
        count = Int(st.st_size)
        mapped = count > 0
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw GGUFError(kind: .cannotOpen, file: path, message: "cannot map \(count) bytes: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    init(copying bytes: [UInt8]) {
        count = bytes.count
        mapped = false
        if bytes.isEmpty {
            base = nil
        } else {
            let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
            bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            base = UnsafeRawPointer(p)
        }
    }

    deinit {
        guard let base else { return }
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }
}

/// A bounds-checked little-endian reader over the file's bytes.
struct GGUFCursor {
    let base: UnsafeRawPointer?
    let count: Int
    let file: String
    var position = 0

    init(base: UnsafeRawPointer?, count: Int, file: String) {
        self.base = base
        self.count = count
        self.file = file
    }

    var remaining: Int { count - position }

    func error(_ kind: GGUFError.Kind, _ message: String) -> GGUFError {
        GGUFError(kind: kind, file: file, message: message)
    }

    private mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawPointer {
        guard n >= 0, n <= remaining, let base else {
            throw error(.truncated, "the file ends at byte \(count) while reading \(what()) (\(n) bytes at offset \(position)); the file was cut short")
        }
        defer { position += n }
        return base + position
    }

    mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let p = try need(MemoryLayout<T>.size, what())
        return T(littleEndian: p.loadUnaligned(as: T.self))
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try load(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try load(UInt64.self, what()) }

    mutating func string(_ what: @autoclosure () -> String, limit: Int = ggufMaxStringBytes) throws -> String {
        let n = try u64("the length of \(what())")
        guard n <= UInt64(limit) else {
            throw error(.limitExceeded, "\(what()) claims \(n) bytes, over the \(limit)-byte limit; the file is corrupt")
        }
        guard n <= UInt64(remaining) else {
            throw error(.truncated, "\(what()) claims \(n) bytes at offset \(position) but only \(remaining) remain; the file is truncated or corrupt")
        }
        let p = try need(Int(n), what())
        return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(n)), as: UTF8.self)
    }

    mutating func value(_ type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        let what = "the value of key '\(key)'"
        switch type {
        case .uint8: return .uint8(try load(UInt8.self, what))
        case .int8: return .int8(try load(Int8.self, what))
        case .uint16: return .uint16(try load(UInt16.self, what))
        case .int16: return .int16(try load(Int16.self, what))
        case .uint32: return .uint32(try load(UInt32.self, what))
        case .int32: return .int32(try load(Int32.self, what))
        case .uint64: return .uint64(try load(UInt64.self, what))
        case .int64: return .int64(try load(Int64.self, what))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, what)))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, what)))
        case .bool: return .bool(try load(UInt8.self, what) != 0)
        case .string: return .string(try string(what))
        case .array: return .array(try array(key: key, depth: depth + 1))
        }
    }

    mutating func array(key: String, depth: Int) throws -> GGUFArray {
        guard depth <= GGUFFile.maxArrayDepth else {
            throw error(.limitExceeded, "key '\(key)' nests arrays deeper than \(GGUFFile.maxArrayDepth); the file is corrupt")
        }
        let typeID = try u32("the element type of array '\(key)'")
        guard let type = GGUFValueType(rawValue: typeID) else {
            throw error(.invalidValueType, "array '\(key)' has element type \(typeID), which GGUF does not define; the file is corrupt")
        }
        let n64 = try u64("the length of array '\(key)'")
        // Every element takes at least one byte (a string or array at least 8, 12).
        let minSize = UInt64(type.fixedSize ?? (type == .string ? 8 : 12))
        guard n64 <= UInt64(GGUFFile.maxArrayCount), n64 * minSize <= UInt64(remaining) else {
            throw error(.limitExceeded, "array '\(key)' claims \(n64) elements of type \(type), more than the file holds (limit \(GGUFFile.maxArrayCount)); the file is corrupt")
        }
        let n = Int(n64)
        func fixed<T: FixedWidthInteger>(_: T.Type) throws -> [T] {
            let p = try need(n * MemoryLayout<T>.size, "array '\(key)'")
            return (0..<n).map { T(littleEndian: p.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
        }
        switch type {
        case .uint8: return .uint8(try fixed(UInt8.self))
        case .int8: return .int8(try fixed(Int8.self))
        case .uint16: return .uint16(try fixed(UInt16.self))
        case .int16: return .int16(try fixed(Int16.self))
        case .uint32: return .uint32(try fixed(UInt32.self))
        case .int32: return .int32(try fixed(Int32.self))
        case .uint64: return .uint64(try fixed(UInt64.self))
        case .int64: return .int64(try fixed(Int64.self))
        case .float32: return .float32(try fixed(UInt32.self).map(Float.init(bitPattern:)))
        case .float64: return .float64(try fixed(UInt64.self).map(Double.init(bitPattern:)))
        case .bool: return .bool(try fixed(UInt8.self).map { $0 != 0 })
        case .string:
            var out: [String] = []
            out.reserveCapacity(n)
            for i in 0..<n { out.append(try string("element \(i) of array '\(key)'")) }
            return .string(out)
        case .array:
            var out: [GGUFArray] = []
            for _ in 0..<n { out.append(try array(key: key, depth: depth + 1)) }
            return .array(out)
        }
    }
}

/// `0x` and eight hex digits.
func hex32(_ v: UInt32) -> String {
    let h = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - h.count)) + h
}
