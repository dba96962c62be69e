import CLZ4
import Foundation

/// What went wrong while writing or reading an LZ4 frame.
public enum LZ4FrameError: Error, Equatable, CustomStringConvertible {
    /// liblz4 refused to compress (its error name attached).
    case compressionFailed(String)
    /// The frame is not valid LZ4: bad magic, bad header, corrupted block or checksum mismatch
    /// (liblz4's error name attached).
    case corrupt(String)
    /// The input ended in the middle of a frame.
    case truncated(consumedBytes: Int)
    /// The input is empty: not even a frame header.
    case empty
    /// The frame header declares more content than the caller allows; nothing was decompressed.
    case declaredSizeTooLarge(declared: UInt64, limit: Int)
    /// Decompression produced more than the caller allows; it stopped there.
    case outputTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .compressionFailed(let name): return "LZ4 compression failed: \(name)"
        case .corrupt(let name): return "LZ4 frame is corrupt: \(name)"
        case .truncated(let n): return "LZ4 frame is truncated after \(n) bytes of input"
        case .empty: return "LZ4 frame is empty (no header)"
        case .declaredSizeTooLarge(let declared, let limit):
            return "LZ4 frame declares \(declared) bytes of content, more than the limit of \(limit) bytes"
        case .outputTooLarge(let limit):
            return "LZ4 frame decompresses to more than the limit of \(limit) bytes"
        }
    }
}

/// The LZ4 *frame* format (not the raw block format), so that `lz4 -dc` and `lz4cat` read what we
/// write. Frames are written with a content checksum and the content size recorded in the header.
///
/// Decompression treats its input as hostile: the caller gives the most bytes it accepts, a header
/// declaring more fails before anything is allocated, and output is checked as it grows. Concatenated
/// frames (what `cat a.lz4 b.lz4` gives, and what `lz4 -dc` accepts) decode as one stream.
public enum LZ4Frame {
    /// The LZ4 frame magic number, little-endian on the wire: 04 22 4D 18.
    public static let magic: [UInt8] = [0x04, 0x22, 0x4D, 0x18]

    /// Compress `data` as one LZ4 frame. `level` 0 is liblz4's fast default; 3...12 select LZ4HC.
    public static func compress(_ data: Data, level: Int32 = 0) throws -> Data {
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        prefs.frameInfo.contentSize = UInt64(data.count)
        prefs.compressionLevel = level
        let bound = LZ4F_compressFrameBound(data.count, &prefs)
        var out = Data(count: bound)
        let written: Int = data.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                LZ4F_compressFrame(dst.baseAddress, bound, src.baseAddress, data.count, &prefs)
            }
        }
        if LZ4F_isError(written) != 0 { throw LZ4FrameError.compressionFailed(errorName(written)) }
        out.count = written
        return out
    }

    /// The content size recorded in the first frame's header, or nil when the header omits it.
    public static func declaredContentSize(of frame: Data) throws -> UInt64? {
        guard !frame.isEmpty else { throw LZ4FrameError.empty }
        let dctx = try makeDecompressionContext()
        defer { LZ4F_freeDecompressionContext(dctx) }
        var info = LZ4F_frameInfo_t()
        var consumed = frame.count
        let r = frame.withUnsafeBytes { src in LZ4F_getFrameInfo(dctx, &info, src.baseAddress, &consumed) }
        if LZ4F_isError(r) != 0 { throw headerError(r, inputCount: frame.count) }
        return info.contentSize == 0 ? nil : info.contentSize
    }

    /// Decompress one or more concatenated LZ4 frames, producing at most `maxOutputBytes` bytes.
    public static func decompress(_ frame: Data, maxOutputBytes: Int) throws -> Data {
        precondition(maxOutputBytes >= 0, "maxOutputBytes must not be negative")
        guard !frame.isEmpty else { throw LZ4FrameError.empty }
        let dctx = try makeDecompressionContext()
        defer { LZ4F_freeDecompressionContext(dctx) }

        return try frame.withUnsafeBytes { (src: UnsafeRawBufferPointer) -> Data in
            let base = src.baseAddress!
            let total = src.count
            var offset = 0

            // Read the first header on its own to refuse an oversized declared content size up front.
            var info = LZ4F_frameInfo_t()
            var headerBytes = total
            let hint = LZ4F_getFrameInfo(dctx, &info, base, &headerBytes)
            if LZ4F_isError(hint) != 0 { throw headerError(hint, inputCount: total) }
            offset += headerBytes
            if info.contentSize > UInt64(maxOutputBytes) {
                throw LZ4FrameError.declaredSizeTooLarge(declared: info.contentSize, limit: maxOutputBytes)
            }

            var out = Data()
            out.reserveCapacity(Int(min(info.contentSize, UInt64(maxOutputBytes), 64 << 20)))
            let scratchCount = 256 * 1024
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchCount, alignment: 16)
            defer { scratch.deallocate() }

            while true {
                var dstSize = scratchCount
                var srcSize = total - offset
                let r = LZ4F_decompress(dctx, scratch, &dstSize, base + offset, &srcSize, nil)
                if LZ4F_isError(r) != 0 { throw LZ4FrameError.corrupt(errorName(r)) }
                offset += srcSize
                if dstSize > 0 {
                    if out.count + dstSize > maxOutputBytes { throw LZ4FrameError.outputTooLarge(limit: maxOutputBytes) }
                    out.append(scratch.assumingMemoryBound(to: UInt8.self), count: dstSize)
                }
                if r == 0 {
                    // One frame fully decoded and its checksum verified; another may follow.
                    if offset == total { return out }
                    continue
                }
                if srcSize == 0 && dstSize == 0 {
                    if offset == total { throw LZ4FrameError.truncated(consumedBytes: offset) }
                    throw LZ4FrameError.corrupt("no progress at input offset \(offset)")
                }
            }
        }
    }

    private static func makeDecompressionContext() throws -> OpaquePointer {
        var dctx: OpaquePointer?
        let r = LZ4F_createDecompressionContext(&dctx, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(r) == 0, let dctx else { throw LZ4FrameError.corrupt("cannot create context: \(errorName(r))") }
        return dctx
    }

    private static func headerError(_ code: Int, inputCount: Int) -> LZ4FrameError {
        let name = errorName(code)
        // A header cut short reports srcSize_wrong / frameHeader_incomplete.
        if name.contains("frameHeader_incomplete") || name.contains("srcSize_wrong") {
            return .truncated(consumedBytes: 0)
        }
        return .corrupt(name)
    }

    private static func errorName(_ code: Int) -> String {
        String(cString: LZ4F_getErrorName(code))
    }
}
