import Foundation

/// Reads newline-separated lines from a file handle in large chunks, without holding the whole input.
public final class LineReader {
    private let handle: FileHandle
    private var buffer = Data()
    private var position = 0
    private var finished = false
    private let chunkSize: Int
    /// 1-based number of the last line returned.
    public private(set) var lineNumber = 0

    public init(handle: FileHandle, chunkSize: Int = 1 << 20) {
        self.handle = handle
        self.chunkSize = chunkSize
    }

    /// The next line without its newline (a trailing `\r` is dropped too), or nil at the end.
    public func next() -> Data? {
        while true {
            if let nl = buffer[position...].firstIndex(of: UInt8(ascii: "\n")) {
                var line = buffer[position..<nl]
                position = nl + 1
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                lineNumber += 1
                return Data(line)
            }
            if finished {
                guard position < buffer.count else { return nil }
                let line = buffer[position...]
                position = buffer.count
                lineNumber += 1
                return Data(line)
            }
            // Compact, then read more.
            if position > 0 { buffer.removeSubrange(0..<position); position = 0 }
            let chunk = handle.readData(ofLength: chunkSize)
            if chunk.isEmpty { finished = true } else { buffer.append(chunk) }
        }
    }
}
