// Reading a shard back from its job's spool: the byte range, its documents, the payload sent to
// a worker, and the halves a poisoned shard is split into.
import Foundation

public enum ShardReader {
    /// The bytes of a shard's range in the job's input file.
    public static func read(_ cut: ShardCut, jobId: String, paths: JobPaths) throws -> Data {
        let path = paths.input(jobId).path
        guard let handle = FileHandle(forReadingAtPath: path) else { throw SpoolError.io(path: path, what: "cannot open") }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: cut.byteOffset)
            let data = try handle.read(upToCount: Int(cut.byteLength)) ?? Data()
            guard data.count == Int(cut.byteLength) else {
                throw SpoolError.io(path: path, what: "short read: \(data.count) of \(cut.byteLength) bytes at \(cut.byteOffset)")
            }
            return data
        } catch let e as SpoolError { throw e } catch { throw SpoolError.io(path: path, what: "\(error)") }
    }

    /// The bytes of a shard's range read with pread from the job's input already open as `fd`
    /// (the broker keeps it open across assignments: no open, seek and close per shard).
    public static func read(_ cut: ShardCut, fd: Int32, path: String) throws -> Data {
        var data = Data(count: Int(cut.byteLength))
        let got = data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) -> Int in
            var done = 0
            while done < raw.count {
                let n = pread(fd, raw.baseAddress! + done, raw.count - done, off_t(cut.byteOffset) + off_t(done))
                if n < 0 { if errno == EINTR { continue }; return -1 }
                if n == 0 { break }
                done += n
            }
            return done
        }
        guard got == Int(cut.byteLength) else {
            throw SpoolError.io(path: path, what: got < 0 ? "read failed: \(String(cString: strerror(errno)))"
                                                          : "short read: \(got) of \(cut.byteLength) bytes at \(cut.byteOffset)")
        }
        return data
    }

    /// The documents (non-blank lines) of a shard's bytes, with their input line numbers.
    public static func documents(in raw: Data, cut: ShardCut) -> [SpooledDocument] {
        var docs: [SpooledDocument] = []
        docs.reserveCapacity(cut.documentCount)
        var line = cut.firstLine
        var start = raw.startIndex
        while start < raw.endIndex {
            let end = raw[start...].firstIndex(of: 0x0A) ?? raw.endIndex
            let bytes = raw[start..<end]
            if bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
                docs.append(SpooledDocument(line: line, byteOffset: cut.byteOffset + UInt64(start - raw.startIndex),
                                            bytes: Data(bytes)))
            }
            line += 1
            start = end + 1
        }
        return docs
    }

    /// The JSONL a worker receives: the shard's documents, one per line, each ending in a newline.
    /// Usually the range itself (no blank lines inside, newline at the end), so no copy is made.
    public static func payload(_ raw: Data, cut: ShardCut) -> Data {
        if raw.last == 0x0A && newlineCount(raw) == cut.documentCount { return raw }
        var out = Data(capacity: raw.count + 1)
        for doc in documents(in: raw, cut: cut) { out.append(doc.bytes); out.append(0x0A) }
        return out
    }

    /// Newlines in `data`, found with memchr (a byte-by-byte walk over `Data` costs several times more).
    static func newlineCount(_ data: Data) -> Int {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int in
            guard var p = raw.baseAddress else { return 0 }
            let end = p + raw.count
            var n = 0
            while p < end, let hit = memchr(p, 0x0A, end - p) {
                n += 1
                p = UnsafeRawPointer(hit) + 1
            }
            return n
        }
    }

    /// The two halves of a shard of two or more documents, cut at a document boundary: the first
    /// holds ⌊n/2⌋ documents. Nil for a shard of one document.
    public static func halves(of cut: ShardCut, documents docs: [SpooledDocument]) -> (ShardCut, ShardCut)? {
        guard docs.count >= 2 else { return nil }
        let mid = docs.count / 2
        func cutOf(_ part: ArraySlice<SpooledDocument>, end: UInt64) -> ShardCut {
            let first = part.first!
            let tokens = part.reduce(UInt64(0)) { $0 + SpoolWriter.approxTokens(lineBytes: $1.bytes.count) }
            return ShardCut(firstLine: first.line, byteOffset: first.byteOffset, byteLength: end - first.byteOffset,
                            documentCount: part.count, approxTokens: tokens)
        }
        let end = cut.byteOffset + cut.byteLength
        return (cutOf(docs[..<mid], end: docs[mid].byteOffset), cutOf(docs[mid...], end: end))
    }
}
