import Foundation

/// Appends fields in the protocol's compact little-endian layout.
///
/// Layout: fixed-width little-endian integers; `Double` as its IEEE-754 bit pattern (u64);
/// strings as u16 byte length + UTF-8; byte blobs as u32 length + bytes; lists as u16 count + items;
/// optionals as a u8 presence flag (0 or 1) + the value. `BinaryReader` reads the same layout and
/// enforces caps; the writer trusts its caller (message values are built by our own code).
public struct BinaryWriter {
    public private(set) var data: Data

    public init(capacity: Int = 64) {
        data = Data()
        data.reserveCapacity(capacity)
    }

    public mutating func write(_ value: UInt8) { data.append(value) }
    public mutating func write(_ value: UInt16) { writeLittleEndian(value) }
    public mutating func write(_ value: UInt32) { writeLittleEndian(value) }
    public mutating func write(_ value: UInt64) { writeLittleEndian(value) }
    public mutating func write(_ value: Int64) { writeLittleEndian(UInt64(bitPattern: value)) }
    public mutating func write(_ value: Double) { writeLittleEndian(value.bitPattern) }
    public mutating func write(_ value: Bool) { data.append(value ? 1 : 0) }

    /// u16 length + UTF-8 bytes. Strings longer than 65,535 bytes are a programmer error.
    public mutating func write(_ value: String) {
        let utf8 = Array(value.utf8)
        precondition(utf8.count <= Int(UInt16.max), "string field longer than 65535 bytes")
        write(UInt16(utf8.count))
        data.append(contentsOf: utf8)
    }

    /// u32 length + bytes.
    public mutating func write(_ value: Data) {
        precondition(value.count <= Int(UInt32.max), "byte field longer than 4 GiB")
        write(UInt32(value.count))
        data.append(value)
    }

    /// u16 count + strings.
    public mutating func write(_ values: [String]) {
        precondition(values.count <= Int(UInt16.max), "list longer than 65535 items")
        write(UInt16(values.count))
        for v in values { write(v) }
    }

    /// u16 count + u64 values.
    public mutating func write(_ values: [UInt64]) {
        precondition(values.count <= Int(UInt16.max), "list longer than 65535 items")
        write(UInt16(values.count))
        for v in values { write(v) }
    }

    /// u8 presence flag + the string.
    public mutating func write(_ value: String?) {
        if let value { write(UInt8(1)); write(value) } else { write(UInt8(0)) }
    }

    private mutating func writeLittleEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }
}
