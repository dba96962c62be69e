import Foundation

/// Why a message could not be decoded. Decoding never traps: every malformed input ends here.
public enum WireDecodingError: Error, Equatable, CustomStringConvertible {
    /// Fewer bytes remain than the field needs.
    case truncated(field: String, needed: Int, remaining: Int)
    /// The frame does not start with the protocol's magic bytes: not a Dojo message.
    case badMagic
    /// A Dojo message of a protocol version this build does not speak.
    case unsupportedVersion(got: UInt8, supported: UInt8)
    /// The message-kind byte names no known message.
    case unknownKind(UInt8)
    /// A length or count exceeds its cap.
    case tooLarge(field: String, length: Int, limit: Int)
    /// A string field is not valid UTF-8.
    case invalidUTF8(field: String)
    /// A field holds a value outside its domain (a flag that is not 0/1, an unknown enum raw value).
    case invalidValue(field: String, value: UInt64)
    /// Bytes remain after the last field.
    case trailingBytes(Int)
    /// A multipart message had the wrong number of frames.
    case wrongFrameCount(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .truncated(let field, let needed, let remaining):
            return "message truncated reading \(field): needs \(needed) bytes, \(remaining) remain"
        case .badMagic: return "not a Dojo message (bad magic bytes)"
        case .unsupportedVersion(let got, let supported):
            return "protocol version \(got) is not supported (this build speaks version \(supported)); upgrade the older side"
        case .unknownKind(let k): return "unknown message kind 0x\(String(k, radix: 16))"
        case .tooLarge(let field, let length, let limit): return "\(field) is \(length) long, over the limit of \(limit)"
        case .invalidUTF8(let field): return "\(field) is not valid UTF-8"
        case .invalidValue(let field, let value): return "\(field) has invalid value \(value)"
        case .trailingBytes(let n): return "\(n) unexpected bytes after the message"
        case .wrongFrameCount(let expected, let got): return "expected \(expected) frame(s), got \(got)"
        }
    }
}

extension WireDecodingError {
    /// The code to put in the `.error` reply to the peer that sent the bad message.
    public var replyCode: ErrorCode {
        switch self {
        case .unsupportedVersion: return .unsupportedVersion
        case .tooLarge: return .tooLarge
        default: return .badMessage
        }
    }

    /// The `.error` reply for the peer that sent the bad message (a reply and a log line, never a crash).
    public var reply: Message { .error(ErrorReply(code: replyCode, message: description)) }
}

/// Reads the layout `BinaryWriter` writes, treating the input as hostile: every read is bounds
/// checked, every length is capped, and errors name the field.
public struct BinaryReader {
    private let data: Data
    private var position: Int // absolute index into `data`

    public init(_ data: Data) {
        self.data = data
        self.position = data.startIndex
    }

    public var remaining: Int { data.endIndex - position }

    public mutating func readUInt8(_ field: String) throws -> UInt8 {
        try need(1, field)
        defer { position += 1 }
        return data[position]
    }

    public mutating func readUInt16(_ field: String) throws -> UInt16 { try readLittleEndian(field) }
    public mutating func readUInt32(_ field: String) throws -> UInt32 { try readLittleEndian(field) }
    public mutating func readUInt64(_ field: String) throws -> UInt64 { try readLittleEndian(field) }
    public mutating func readInt64(_ field: String) throws -> Int64 { Int64(bitPattern: try readLittleEndian(field)) }
    public mutating func readDouble(_ field: String) throws -> Double { Double(bitPattern: try readLittleEndian(field)) }

    public mutating func readBool(_ field: String) throws -> Bool {
        let b = try readUInt8(field)
        guard b <= 1 else { throw WireDecodingError.invalidValue(field: field, value: UInt64(b)) }
        return b == 1
    }

    /// u16 length + UTF-8, at most `maxBytes` bytes.
    public mutating func readString(_ field: String, maxBytes: Int) throws -> String {
        let length = Int(try readUInt16(field + ".length"))
        guard length <= maxBytes else { throw WireDecodingError.tooLarge(field: field, length: length, limit: maxBytes) }
        try need(length, field)
        let bytes = data[position ..< position + length]
        position += length
        guard let s = String(validating: bytes, as: UTF8.self) else { throw WireDecodingError.invalidUTF8(field: field) }
        return s
    }

    /// u32 length + bytes, at most `maxBytes` bytes. The result is a fresh `Data` starting at index 0.
    public mutating func readBytes(_ field: String, maxBytes: Int) throws -> Data {
        let length = Int(try readUInt32(field + ".length"))
        guard length <= maxBytes else { throw WireDecodingError.tooLarge(field: field, length: length, limit: maxBytes) }
        try need(length, field)
        defer { position += length }
        return Data(data[position ..< position + length])
    }

    /// u16 count + strings, at most `maxCount` items of at most `maxBytes` bytes each.
    public mutating func readStrings(_ field: String, maxCount: Int, maxBytes: Int) throws -> [String] {
        let count = Int(try readUInt16(field + ".count"))
        guard count <= maxCount else { throw WireDecodingError.tooLarge(field: field, length: count, limit: maxCount) }
        var out: [String] = []
        out.reserveCapacity(count)
        for i in 0 ..< count { out.append(try readString("\(field)[\(i)]", maxBytes: maxBytes)) }
        return out
    }

    /// u16 count + u64 values, at most `maxCount` items.
    public mutating func readUInt64s(_ field: String, maxCount: Int) throws -> [UInt64] {
        let count = Int(try readUInt16(field + ".count"))
        guard count <= maxCount else { throw WireDecodingError.tooLarge(field: field, length: count, limit: maxCount) }
        try need(count * 8, field)
        var out: [UInt64] = []
        out.reserveCapacity(count)
        for i in 0 ..< count { out.append(try readUInt64("\(field)[\(i)]")) }
        return out
    }

    /// u8 presence flag + string.
    public mutating func readOptionalString(_ field: String, maxBytes: Int) throws -> String? {
        try readBool(field + ".present") ? try readString(field, maxBytes: maxBytes) : nil
    }

    /// Throws unless every byte has been read.
    public func expectEnd() throws {
        if remaining != 0 { throw WireDecodingError.trailingBytes(remaining) }
    }

    private func need(_ count: Int, _ field: String) throws {
        if count > remaining { throw WireDecodingError.truncated(field: field, needed: count, remaining: remaining) }
    }

    private mutating func readLittleEndian<T: FixedWidthInteger>(_ field: String) throws -> T {
        let size = MemoryLayout<T>.size
        try need(size, field)
        var value: T = 0
        for i in 0 ..< size { value |= T(data[position + i]) << (8 * i) }
        position += size
        return value
    }
}
