// A job's input on disk: `DIR/jobs/<job>/input.jsonl`, written chunk by chunk as the client
// streams it and cut into shards on the way. Shards are byte ranges of that file; nothing held in
// memory grows with the job (not even the current line: only its start offset and length).
import Foundation

/// A spool file that could not be written or read.
public enum SpoolError: Error, Equatable, CustomStringConvertible {
    case io(path: String, what: String)
    case finished(jobId: String)

    public var description: String {
        switch self {
        case .io(let path, let what): return "spool \(path): \(what)"
        case .finished(let job): return "spool of job \(job) is already finished; no more input is accepted"
        }
    }
}

/// One document read back from a shard's byte range.
public struct SpooledDocument: Equatable, Sendable {
    /// 1-based line number in the job's input.
    public var line: UInt64
    /// Offset of the line's first byte in the input file.
    public var byteOffset: UInt64
    /// The line, without its newline.
    public var bytes: Data

    public init(line: UInt64, byteOffset: UInt64, bytes: Data) {
        self.line = line; self.byteOffset = byteOffset; self.bytes = bytes
    }
}

/// Where a job's files live under the data directory.
public struct JobPaths: Sendable {
    public let root: URL

    public init(dataDirectory: URL) { root = dataDirectory }

    public func jobDirectory(_ jobId: String) -> URL { root.appendingPathComponent("jobs").appendingPathComponent(jobId) }
    public func input(_ jobId: String) -> URL { jobDirectory(jobId).appendingPathComponent("input.jsonl") }
    public func outputDirectory(_ jobId: String) -> URL { jobDirectory(jobId).appendingPathComponent("output") }
    public func output(_ jobId: String, shard: UInt32) -> URL {
        outputDirectory(jobId).appendingPathComponent("\(shard).jsonl.lz4")
    }
}

/// Streams one job's input to its spool file and cuts shards while it goes: a shard closes when it
/// holds `shardSize` documents, or before a document whose approximate tokens would take it past
/// `shardTokens` (a single document larger than that is a shard of its own). Blank lines are not
/// documents; they count as input lines.
public final class SpoolWriter {
    public let jobId: String
    public let shardSize: Int
    public let shardTokens: UInt64
    public private(set) var bytesWritten: UInt64 = 0
    public private(set) var documentCount: UInt64 = 0

    private let path: String
    private var file: FileHandle?
    // The line being read: where it starts, its number, whether a non-blank byte was seen.
    private var lineStart: UInt64 = 0
    private var lineNumber: UInt64 = 1
    private var lineHasContent = false
    // The shard being filled.
    private var shardStart: UInt64 = 0
    private var shardFirstLine: UInt64 = 0
    private var shardEnd: UInt64 = 0
    private var shardDocs = 0
    private var shardTokenCount: UInt64 = 0

    /// Creates (truncating) the job's input file.
    public init(paths: JobPaths, jobId: String, shardSize: Int, shardTokens: Int) throws {
        precondition(shardSize >= 1 && shardTokens >= 1, "shard limits are validated by JobSpec")
        self.jobId = jobId; self.shardSize = shardSize; self.shardTokens = UInt64(shardTokens)
        let url = paths.input(jobId)
        path = url.path
        do {
            try FileManager.default.createDirectory(at: paths.outputDirectory(jobId), withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw SpoolError.io(path: path, what: "cannot create")
            }
            file = try FileHandle(forWritingTo: url)
        } catch let e as SpoolError { throw e } catch { throw SpoolError.io(path: path, what: "\(error)") }
    }

    deinit { try? file?.close() }

    /// The approximate token count of a document line: its bytes / 4, rounded up, at least 1.
    public static func approxTokens(lineBytes: Int) -> UInt64 { UInt64(max(1, (lineBytes + 3) / 4)) }

    /// Appends a chunk (boundaries anywhere, even inside a UTF-8 sequence) and returns the shards
    /// this chunk completed.
    public func append(_ chunk: Data) throws -> [ShardCut] {
        guard let file else { throw SpoolError.finished(jobId: jobId) }
        do { try file.write(contentsOf: chunk) } catch { throw SpoolError.io(path: path, what: "write failed: \(error)") }
        var cuts: [ShardCut] = []
        chunk.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { return }
            let count = raw.count
            var i = 0
            while i < count {
                if !lineHasContent {
                    // Skip leading whitespace; usually the first byte is `{` and this stops at once.
                    while i < count, raw[i] == 0x20 || raw[i] == 0x09 || raw[i] == 0x0D { i += 1 }
                    if i < count && raw[i] != 0x0A { lineHasContent = true }
                }
                guard i < count else { break }
                if let nl = memchr(base + i, 0x0A, count - i) {
                    let at = base.distance(to: UnsafeRawPointer(nl))
                    endLine(at: bytesWritten + UInt64(at), into: &cuts)
                    i = at + 1
                } else {
                    i = count
                }
            }
        }
        bytesWritten += UInt64(chunk.count)
        return cuts
    }

    /// Ends the input: a last line without a newline is a document; the last shard is cut; the
    /// file is fsynced and closed. Returns the shards cut.
    public func finish() throws -> [ShardCut] {
        guard let file else { throw SpoolError.finished(jobId: jobId) }
        var cuts: [ShardCut] = []
        if lineHasContent {
            addDocument(start: lineStart, end: bytesWritten, contentBytes: Int(bytesWritten - lineStart), into: &cuts)
        }
        closeShard(into: &cuts)
        do {
            try file.synchronize()
            try file.close()
        } catch { throw SpoolError.io(path: path, what: "fsync failed: \(error)") }
        self.file = nil
        return cuts
    }

    /// Abandons the upload: closes the file (the job is failed or cancelled by the caller).
    public func abandon() {
        try? file?.close()
        file = nil
    }

    private func endLine(at newline: UInt64, into cuts: inout [ShardCut]) {
        if lineHasContent {
            addDocument(start: lineStart, end: newline + 1, contentBytes: Int(newline - lineStart), into: &cuts)
        }
        lineStart = newline + 1
        lineNumber += 1
        lineHasContent = false
    }

    /// A document occupying [start, end) (its newline included when it has one).
    private func addDocument(start: UInt64, end: UInt64, contentBytes: Int, into cuts: inout [ShardCut]) {
        let tokens = Self.approxTokens(lineBytes: contentBytes)
        if shardDocs > 0 && shardTokenCount + tokens > shardTokens { closeShard(into: &cuts) }
        if shardDocs == 0 { shardStart = start; shardFirstLine = lineNumber }
        shardDocs += 1
        shardTokenCount += tokens
        shardEnd = end
        documentCount += 1
        if shardDocs >= shardSize { closeShard(into: &cuts) }
    }

    private func closeShard(into cuts: inout [ShardCut]) {
        guard shardDocs > 0 else { return }
        cuts.append(ShardCut(firstLine: shardFirstLine, byteOffset: shardStart, byteLength: shardEnd - shardStart,
                             documentCount: shardDocs, approxTokens: shardTokenCount))
        shardDocs = 0
        shardTokenCount = 0
    }
}
