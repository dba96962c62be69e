// The rows of the coordinator's store, as Swift values. JobStore reads and writes them; nothing
// else touches SQL.
import Foundation
import GRDB

/// queued → running → completed | failed | cancelled.
public enum JobState: String, Sendable, CaseIterable {
    case queued, running, completed, failed, cancelled

    /// A finished job takes no more work.
    public var isFinished: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// A shard's life: queued → leased → done; `split` when it was replaced by two halves,
/// `cancelled` when its job was cancelled or failed.
public enum ShardState: String, Sendable, CaseIterable {
    case queued, leased, done, split, cancelled
}

/// What became of one attempt of a shard.
public enum AttemptState: String, Sendable, CaseIterable {
    /// Issued and not yet answered.
    case running
    /// Its result was written: the shard's output.
    case succeeded
    /// Another attempt of the same shard won first; its result, if any comes, is dropped.
    case lost
    /// Its worker died or went silent, or the lease ran out: counts as a crash.
    case expired
    /// The worker reported it could not run the task (`shardFailed`).
    case failed
    /// The worker left (`bye`) or the coordinator restarted: requeued, not counted as a crash.
    case abandoned
    /// Its job was cancelled or failed.
    case cancelled
}

/// One job row.
public struct JobRecord: Equatable, Sendable {
    public var id: String
    /// Submission order; FIFO among equal priorities.
    public var seq: Int64
    public var name: String
    public var task: String
    /// The spec exactly as submitted (JSON); sent to workers with every assignment.
    public var spec: Data
    public var state: JobState
    public var priority: Int
    public var retries: Int
    public var createdMs: UInt64
    public var startedMs: UInt64?
    public var finishedMs: UInt64?
    /// The whole input is spooled and cut; only then are its shards scheduled.
    public var inputComplete: Bool
    public var inputBytes: UInt64
    public var shardCount: Int
    public var documentsTotal: UInt64
    public var documentsDone: UInt64
    public var documentErrors: UInt64
    public var tokens: UInt64
    public var bytesRaw: UInt64
    public var bytesCompressed: UInt64
    /// Why the job failed, when it did.
    public var error: String?

    init(row: Row) {
        id = row["id"]; seq = row["seq"]; name = row["name"]; task = row["task"]; spec = row["spec"]
        state = JobState(rawValue: row["state"]) ?? .failed
        priority = row["priority"]; retries = row["retries"]
        createdMs = UInt64(row["created_ms"] as Int64); startedMs = (row["started_ms"] as Int64?).map(UInt64.init)
        finishedMs = (row["finished_ms"] as Int64?).map(UInt64.init)
        inputComplete = row["input_complete"]; inputBytes = UInt64(row["input_bytes"] as Int64)
        shardCount = row["shard_count"]
        documentsTotal = UInt64(row["docs_total"] as Int64); documentsDone = UInt64(row["docs_done"] as Int64)
        documentErrors = UInt64(row["docs_errors"] as Int64); tokens = UInt64(row["tokens"] as Int64)
        bytesRaw = UInt64(row["bytes_raw"] as Int64); bytesCompressed = UInt64(row["bytes_compressed"] as Int64)
        error = row["error"]
    }
}

/// Where a shard's documents lie in the job's spool, as cut by `Spool`.
public struct ShardCut: Equatable, Sendable {
    /// 1-based input line number of the shard's first document: the order outputs merge in.
    public var firstLine: UInt64
    public var byteOffset: UInt64
    public var byteLength: UInt64
    public var documentCount: Int
    public var approxTokens: UInt64

    public init(firstLine: UInt64, byteOffset: UInt64, byteLength: UInt64, documentCount: Int, approxTokens: UInt64) {
        self.firstLine = firstLine; self.byteOffset = byteOffset; self.byteLength = byteLength
        self.documentCount = documentCount; self.approxTokens = approxTokens
    }
}

/// A shard's counts once its output is written.
public struct ShardCounts: Equatable, Sendable {
    public var documents: UInt64
    public var errors: UInt64
    public var tokens: UInt64
    public var bytesRaw: UInt64
    public var bytesCompressed: UInt64

    public init(documents: UInt64, errors: UInt64, tokens: UInt64, bytesRaw: UInt64, bytesCompressed: UInt64) {
        self.documents = documents; self.errors = errors; self.tokens = tokens
        self.bytesRaw = bytesRaw; self.bytesCompressed = bytesCompressed
    }
}

/// One shard row.
public struct ShardRecord: Equatable, Sendable {
    public var jobId: String
    /// The shard's id within its job (its output file name); halves of a split get new ids.
    public var index: UInt32
    /// The shard this one is half of, when it came from a split.
    public var parentIndex: UInt32?
    public var cut: ShardCut
    public var state: ShardState
    /// Attempts issued, of any outcome.
    public var attempts: Int
    /// Attempts whose worker died, went silent or stalled.
    public var crashCount: Int
    /// Attempts the worker reported as failed (`shardFailed`).
    public var failCount: Int
    /// The latest attempt issued (a straggler copy may run beside an older one).
    public var currentAttemptId: UInt64?
    public var leaseWorker: String?
    public var leaseDeadlineMs: UInt64?
    /// Counts of the winning result, when done.
    public var counts: ShardCounts?
    /// Its output is the coordinator's quarantine error record, not a worker's result.
    public var quarantined: Bool

    init(row: Row) {
        jobId = row["job_id"]; index = UInt32(row["idx"] as Int64)
        parentIndex = (row["parent_idx"] as Int64?).map { UInt32($0) }
        cut = ShardCut(firstLine: UInt64(row["first_line"] as Int64), byteOffset: UInt64(row["byte_offset"] as Int64),
                       byteLength: UInt64(row["byte_length"] as Int64), documentCount: row["doc_count"],
                       approxTokens: UInt64(row["approx_tokens"] as Int64))
        state = ShardState(rawValue: row["state"]) ?? .queued
        attempts = row["attempts"]; crashCount = row["crash_count"]; failCount = row["fail_count"]
        currentAttemptId = (row["attempt_id"] as Int64?).map(UInt64.init)
        leaseWorker = row["lease_worker"]; leaseDeadlineMs = (row["lease_deadline_ms"] as Int64?).map(UInt64.init)
        if let docs = row["done_docs"] as Int64? {
            counts = ShardCounts(documents: UInt64(docs), errors: UInt64(row["done_errors"] as Int64),
                                 tokens: UInt64(row["done_tokens"] as Int64),
                                 bytesRaw: UInt64(row["done_bytes_raw"] as Int64),
                                 bytesCompressed: UInt64(row["done_bytes_compressed"] as Int64))
        } else { counts = nil }
        quarantined = row["quarantined"]
    }
}

/// One attempt row: the log of every lease ever granted.
public struct AttemptRecord: Equatable, Sendable {
    public var id: UInt64
    public var jobId: String
    public var shardIndex: UInt32
    public var worker: String
    public var straggler: Bool
    public var state: AttemptState
    public var startedMs: UInt64
    public var endedMs: UInt64?
    public var reason: String?

    init(row: Row) {
        id = UInt64(row["id"] as Int64); jobId = row["job_id"]; shardIndex = UInt32(row["shard_idx"] as Int64)
        worker = row["worker"]; straggler = row["straggler"]
        state = AttemptState(rawValue: row["state"]) ?? .expired
        startedMs = UInt64(row["started_ms"] as Int64); endedMs = (row["ended_ms"] as Int64?).map(UInt64.init)
        reason = row["reason"]
    }
}

/// What a worker told the coordinator about itself (hello and heartbeats).
public struct WorkerInfo: Equatable, Sendable {
    /// The worker's transport identity, hex.
    public var identity: String
    public var name: String
    public var threads: Int
    public var cpuFeatures: [String]
    public var models: [String]
    public var adapters: [String]
    public var softwareVersion: String

    public init(identity: String, name: String, threads: Int, cpuFeatures: [String] = [], models: [String] = [],
                adapters: [String] = [], softwareVersion: String = "") {
        self.identity = identity; self.name = name; self.threads = threads; self.cpuFeatures = cpuFeatures
        self.models = models; self.adapters = adapters; self.softwareVersion = softwareVersion
    }
}

/// One worker row: what it is, when it was last heard, how fast it goes.
public struct WorkerRecord: Equatable, Sendable {
    public var info: WorkerInfo
    public var connected: Bool
    public var firstSeenMs: UInt64
    public var lastSeenMs: UInt64
    public var documentsPerSecond: Double
    public var tokensPerSecond: Double
    public var shardsDone: UInt64

    init(row: Row) {
        func list(_ s: String) -> [String] { s.isEmpty ? [] : s.split(separator: ",").map(String.init) }
        info = WorkerInfo(identity: row["identity"], name: row["name"], threads: row["threads"],
                          cpuFeatures: list(row["features"]), models: list(row["models"]),
                          adapters: list(row["adapters"]), softwareVersion: row["software"])
        connected = row["connected"]; firstSeenMs = UInt64(row["first_seen_ms"] as Int64)
        lastSeenMs = UInt64(row["last_seen_ms"] as Int64)
        documentsPerSecond = row["docs_per_s"]; tokensPerSecond = row["tokens_per_s"]
        shardsDone = UInt64(row["shards_done"] as Int64)
    }
}
