// Exactly-once output: a shard's result frame goes to DIR/jobs/<job>/output/<shard>.jsonl.lz4 by
// temp file, fsync, rename, fsync of the directory, and only then is the shard marked done in the
// store (one transaction with its counts). A result whose attempt is not live is dropped.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import Wire

/// What the output writer did with a result.
public enum ResultDisposition: Equatable, Sendable {
    /// Written and recorded; `jobFinished` when it was the job's last shard.
    case written(jobFinished: Bool)
    /// Not the shard's live attempt (stale lease, the straggler copy that lost, cancelled job).
    case dropped(reason: String)
}

public final class OutputWriter {
    public let store: JobStore
    public let paths: JobPaths
    let logger: Logger

    public init(store: JobStore, paths: JobPaths, logger: Logger = Logger(label: "dojo.output")) {
        self.store = store; self.paths = paths; self.logger = logger
    }

    /// Writes a worker's result as its shard's output if its attempt is live, then marks the shard
    /// done with the result's counts.
    public func accept(_ result: ShardResult, nowMs: UInt64) throws -> ResultDisposition {
        let job = result.jobId, shard = result.shardId, attempt = result.attemptId
        guard try store.isLive(attemptId: attempt, jobId: job, index: shard) else {
            let reason = try staleReason(result)
            try store.bump("results_dropped")
            logger.info("result dropped", metadata: ["job": "\(job)", "shard": "\(shard)", "attempt": "\(attempt)",
                                                     "bytes": "\(result.frame.count)", "reason": "\(reason)"])
            return .dropped(reason: reason)
        }
        try Self.writeAtomically(result.frame, to: paths.output(job, shard: shard), tag: attempt)
        let counts = ShardCounts(documents: UInt64(result.documentCount), errors: UInt64(result.errorCount),
                                 tokens: result.tokenCount, bytesRaw: result.rawBytes,
                                 bytesCompressed: UInt64(result.frame.count))
        switch try store.completeShard(jobId: job, index: shard, attemptId: attempt, counts: counts, nowMs: nowMs) {
        case .accepted(let finished):
            logger.debug("shard written", metadata: ["job": "\(job)", "shard": "\(shard)", "attempt": "\(attempt)",
                                                     "docs": "\(result.documentCount)", "bytes": "\(result.frame.count)"])
            return .written(jobFinished: finished)
        case .stale(let reason):
            // Cannot happen while one loop owns the store (liveness was checked above); the file
            // written is a complete output of this shard either way.
            logger.warning("result turned stale while written", metadata: ["job": "\(job)", "shard": "\(shard)", "reason": "\(reason)"])
            return .dropped(reason: reason)
        }
    }

    /// Writes the coordinator's own output for a quarantined single-document shard: one error
    /// record, `{"id": …, "error": "document crashed or stalled the worker N times; quarantined"}`
    /// (or `{"line": n, …}` when the line has no JSON id).
    public func quarantine(jobId: String, shard: ShardRecord, document: SpooledDocument, crashes: Int,
                           nowMs: UInt64) throws -> Bool {
        let record = Self.quarantineRecord(document: document, crashes: crashes)
        let frame = try LZ4Frame.compress(record)
        try Self.writeAtomically(frame, to: paths.output(jobId, shard: shard.index), tag: 0)
        let counts = ShardCounts(documents: 1, errors: 1, tokens: 0, bytesRaw: UInt64(record.count),
                                 bytesCompressed: UInt64(frame.count))
        let finished = try store.quarantineShard(jobId: jobId, index: shard.index, counts: counts, nowMs: nowMs)
        try store.bump("documents_quarantined")
        logger.warning("document quarantined", metadata: ["job": "\(jobId)", "shard": "\(shard.index)",
                                                          "line": "\(document.line)", "crashes": "\(crashes)"])
        return finished
    }

    /// The error record line (with its newline) for a document that crashed workers.
    public static func quarantineRecord(document: SpooledDocument, crashes: Int) -> Data {
        let message = "document crashed or stalled the worker \(crashes) times; quarantined"
        let errorJSON = jsonFragment(message) ?? "\"quarantined\""
        var key = "\"line\":\(document.line)"
        if let object = try? JSONSerialization.jsonObject(with: document.bytes) as? [String: Any], let id = object["id"],
           !(id is NSNull), let idJSON = jsonFragment(id) {
            key = "\"id\":\(idJSON)"
        }
        return Data("{\(key),\"error\":\(errorJSON)}\n".utf8)
    }

    private static func jsonFragment(_ value: Any) -> String? {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .withoutEscapingSlashes]) else {
            return nil
        }
        return String(decoding: data, as: UTF8.self)
    }

    private func staleReason(_ result: ShardResult) throws -> String {
        guard let attempt = try store.attempt(result.attemptId) else { return "unknown attempt \(result.attemptId)" }
        guard attempt.jobId == result.jobId, attempt.shardIndex == result.shardId else {
            return "attempt \(result.attemptId) belongs to another shard"
        }
        if attempt.state != .running { return "attempt \(result.attemptId) is \(attempt.state.rawValue)" }
        let state = try store.shard(jobId: result.jobId, index: result.shardId)?.state.rawValue ?? "missing"
        return "shard is \(state)"
    }

    // MARK: - Reading outputs back

    /// The stored frame of the `ordinal`-th output shard in input order, and how many there are.
    public func frame(jobId: String, ordinal: Int) throws -> (shard: ShardRecord?, count: Int, frame: Data?) {
        let (found, count) = try store.outputShard(jobId: jobId, ordinal: ordinal)
        guard let shard = found else { return (nil, count, nil) }
        guard shard.state == .done else { return (shard, count, nil) }
        return (shard, count, try Data(contentsOf: paths.output(jobId, shard: shard.index)))
    }

    /// Every done shard's output decompressed, in input order, handed to `sink` one shard at a time
    /// (memory holds one shard). Returns the number of shards not done (pending or cancelled).
    @discardableResult
    public func merge(jobId: String, maxShardBytes: Int = 1 << 30, into sink: (Data) throws -> Void) throws -> Int {
        var missing = 0
        for shard in try store.outputShards(jobId: jobId) {
            guard shard.state == .done else { missing += 1; continue }
            let frame = try Data(contentsOf: paths.output(jobId, shard: shard.index))
            try sink(try LZ4Frame.decompress(frame, maxOutputBytes: maxShardBytes))
        }
        return missing
    }

    // MARK: - Durable writes

    /// temp file → write → fsync → rename → fsync(dir). Readers see the old file or the whole new one.
    public static func writeAtomically(_ data: Data, to url: URL, tag: UInt64) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).\(tag).tmp")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw SpoolError.io(path: tmp.path, what: "open failed: \(String(cString: strerror(errno)))") }
        var ok = true
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; ok = false; return }
                done += n
            }
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard ok && synced else {
            unlink(tmp.path)
            throw SpoolError.io(path: tmp.path, what: "write or fsync failed: \(String(cString: strerror(errno)))")
        }
        guard rename(tmp.path, url.path) == 0 else {
            throw SpoolError.io(path: url.path, what: "rename failed: \(String(cString: strerror(errno)))")
        }
        let dfd = open(dir.path, O_RDONLY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}
