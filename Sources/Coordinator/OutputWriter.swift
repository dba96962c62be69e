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
    /// done with the result's counts (a group of one).
    public func accept(_ result: ShardResult, nowMs: UInt64) throws -> ResultDisposition {
        try accept([result], nowMs: nowMs)[0]
    }

    /// Group commit: every live result's file is written and fsynced, the directories are fsynced
    /// once, and then all their shards are marked done in one transaction. A result counts as done
    /// only once that transaction commits: a crash before it leaves the shards leased, so they
    /// are requeued and recomputed (the files written are replaced, never read). Dispositions
    /// come back in the order of `results`; of two results for one shard the first wins.
    public func accept(_ results: [ShardResult], nowMs: UInt64) throws -> [ResultDisposition] {
        let group = try prepare(results)
        try writeOutputs(group.live)
        return try commit(group, nowMs: nowMs)
    }

    /// A group of results between its phases: liveness checked (`prepare`), files written
    /// (`writeOutputs(group.live)`, which may run on another thread), then recorded (`commit`).
    public struct Group: Sendable {
        /// Every result handed in, in order.
        public let results: [ShardResult]
        /// The results whose files must be written: live attempts, first result of each shard.
        public let live: [ShardResult]
        let liveIndices: [Int]
        var dispositions: [ResultDisposition]
    }

    /// Phase 1 of a group commit: drops the results whose attempts are not live and all but the
    /// first result of each shard (counted in `results_dropped` and logged).
    public func prepare(_ results: [ShardResult]) throws -> Group {
        struct Key: Hashable { var job: String; var shard: UInt32 }
        var dispositions = [ResultDisposition](repeating: .written(jobFinished: false), count: results.count)
        var live: [Int] = []
        var taken = Set<Key>()
        let liveness = try store.liveness(of: results.map { ($0.attemptId, $0.jobId, $0.shardId) })
        for (i, result) in results.enumerated() {
            let reason: String?
            if !taken.insert(Key(job: result.jobId, shard: result.shardId)).inserted {
                reason = "another result of shard \(result.shardId) came first"
            } else if liveness[i] != nil {
                reason = try staleReason(result)
            } else {
                reason = nil
            }
            if let reason {
                dispositions[i] = .dropped(reason: reason)
                try store.bump("results_dropped")
                logger.info("result dropped", metadata: ["job": "\(result.jobId)", "shard": "\(result.shardId)",
                                                         "attempt": "\(result.attemptId)", "bytes": "\(result.frame.count)",
                                                         "reason": "\(reason)"])
            } else {
                live.append(i)
            }
        }
        return Group(results: results, live: live.map { results[$0] }, liveIndices: live, dispositions: dispositions)
    }

    /// Phase 3 of a group commit, once the live results' files are durable: their shards are
    /// marked done in one transaction. Returns a disposition per result, in order.
    public func commit(_ group: Group, nowMs: UInt64) throws -> [ResultDisposition] {
        var dispositions = group.dispositions
        let completions = group.live.map { r in
            ShardCompletion(jobId: r.jobId, index: r.shardId, attemptId: r.attemptId,
                            counts: ShardCounts(documents: UInt64(r.documentCount), errors: UInt64(r.errorCount),
                                                tokens: r.tokenCount, bytesRaw: r.rawBytes, bytesCompressed: UInt64(r.frame.count)))
        }
        let outcomes = try store.completeShards(completions, nowMs: nowMs)
        for (i, outcome) in zip(group.liveIndices, outcomes) {
            let r = group.results[i]
            switch outcome {
            case .accepted(let finished):
                logger.debug("shard written", metadata: ["job": "\(r.jobId)", "shard": "\(r.shardId)", "attempt": "\(r.attemptId)",
                                                         "docs": "\(r.documentCount)", "bytes": "\(r.frame.count)",
                                                         "group": "\(group.live.count)"])
                dispositions[i] = .written(jobFinished: finished)
            case .stale(let reason):
                // The attempt ended while its file was written (its job was cancelled, say): the
                // file is a complete output of the shard but is never read; the shard is not done.
                logger.info("result turned stale while written", metadata: ["job": "\(r.jobId)", "shard": "\(r.shardId)",
                                                                            "reason": "\(reason)"])
                dispositions[i] = .dropped(reason: reason)
            }
        }
        return dispositions
    }

    /// The first half of a group commit, on its own: the results' frames written durably as their
    /// shards' output files, nothing recorded in the store. (`accept` runs it; tests run it alone
    /// to stand for a coordinator killed between the files and the commit.)
    public func writeOutputs(_ results: [ShardResult]) throws {
        guard !results.isEmpty else { return }
        try Self.writeDurably(results.map { (data: $0.frame, url: paths.output($0.jobId, shard: $0.shardId), tag: $0.attemptId) })
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
        try writeDurably([(data: data, url: url, tag: tag)])
    }

    /// `writeAtomically` for several files at the cost of about one: all temp files are written and
    /// their writeback started before the first fsync, so the journal commits those fsyncs wait
    /// for are shared; then all are renamed and each directory is fsynced once. On error nothing
    /// is renamed that was not fsynced, and the temp files are removed.
    public static func writeDurably(_ files: [(data: Data, url: URL, tag: UInt64)]) throws {
        var pending: [(fd: Int32, tmp: String, url: URL)] = []
        defer { for f in pending { close(f.fd); unlink(f.tmp) } }
        var directories: [String] = []
        for file in files {
            let dir = file.url.deletingLastPathComponent()
            if !directories.contains(dir.path) {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                directories.append(dir.path)
            }
            let tmp = dir.appendingPathComponent(".\(file.url.lastPathComponent).\(file.tag).tmp").path
            let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { throw SpoolError.io(path: tmp, what: "open failed: \(String(cString: strerror(errno)))") }
            pending.append((fd, tmp, file.url))
            let ok = file.data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Bool in
                var done = 0
                while done < raw.count {
                    let n = write(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 { if errno == EINTR { continue }; return false }
                    done += n
                }
                return true
            }
            guard ok else { throw SpoolError.io(path: tmp, what: "write failed: \(String(cString: strerror(errno)))") }
            startWriteback(fd)
        }
        for f in pending where fsync(f.fd) != 0 {
            throw SpoolError.io(path: f.tmp, what: "fsync failed: \(String(cString: strerror(errno)))")
        }
        while let f = pending.first {
            close(f.fd)
            pending.removeFirst()
            guard rename(f.tmp, f.url.path) == 0 else {
                unlink(f.tmp)
                throw SpoolError.io(path: f.url.path, what: "rename failed: \(String(cString: strerror(errno)))")
            }
        }
        for dir in directories {
            let dfd = open(dir, O_RDONLY)
            if dfd >= 0 { _ = fsync(dfd); close(dfd) }
        }
    }

    /// Asks the kernel to start writing a file's dirty pages now (Linux), so that a group's fsyncs
    /// wait on I/O already under way instead of issuing it one file at a time.
    private static func startWriteback(_ fd: Int32) {
        _ = syncFileRange?(fd, 0, 0, 2)  // SYNC_FILE_RANGE_WRITE: start writeback, do not wait
    }

    /// Linux's sync_file_range, looked up at run time: Swift's Glibc module does not export it
    /// (it is a _GNU_SOURCE declaration). Nil elsewhere; the fsyncs alone are then correct, only slower.
    private static let syncFileRange: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32).self)
    }()
}
