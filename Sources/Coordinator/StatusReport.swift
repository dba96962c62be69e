// The JSON documents of `statusReply` and `workersReply`: the coordinator owns their schema, the
// CLI decodes them with these same types.
import Foundation

/// One job as `dojo status` shows it.
public struct JobStatus: Codable, Equatable, Sendable {
    public var id: String
    public var name: String
    public var task: String
    public var state: String
    public var priority: Int
    public var createdMs: UInt64
    public var startedMs: UInt64?
    public var finishedMs: UInt64?
    public var inputComplete: Bool
    public var documentsTotal: UInt64
    public var documentsDone: UInt64
    public var documentErrors: UInt64
    public var tokens: UInt64
    public var bytesRaw: UInt64
    public var bytesCompressed: UInt64
    public var shardsTotal: Int
    public var shardsDone: Int
    public var error: String?
    /// Documents per second over the last minute, from the store's throughput samples (survives restarts).
    public var documentsPerSecond: Double?
    /// Tokens per second over the same window.
    public var tokensPerSecond: Double?
    /// Seconds to finish at the current rate; nil when not running or no rate yet.
    public var etaSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case id, name, task, state, priority, error
        case createdMs = "created_ms", startedMs = "started_ms", finishedMs = "finished_ms"
        case inputComplete = "input_complete", documentsTotal = "documents_total", documentsDone = "documents_done"
        case documentErrors = "document_errors", tokens, bytesRaw = "bytes_raw", bytesCompressed = "bytes_compressed"
        case shardsTotal = "shards_total", shardsDone = "shards_done"
        case documentsPerSecond = "documents_per_second", tokensPerSecond = "tokens_per_second", etaSeconds = "eta_seconds"
    }

    public init(job: JobRecord, shardsTotal: Int, shardsDone: Int) {
        id = job.id; name = job.name; task = job.task; state = job.state.rawValue; priority = job.priority
        createdMs = job.createdMs; startedMs = job.startedMs; finishedMs = job.finishedMs
        inputComplete = job.inputComplete; documentsTotal = job.documentsTotal; documentsDone = job.documentsDone
        documentErrors = job.documentErrors; tokens = job.tokens; bytesRaw = job.bytesRaw
        bytesCompressed = job.bytesCompressed; self.shardsTotal = shardsTotal; self.shardsDone = shardsDone
        error = job.error
    }
}

/// One worker as `dojo workers` shows it.
public struct WorkerStatus: Codable, Equatable, Sendable {
    public var identity: String
    public var name: String
    public var connected: Bool
    public var threads: Int
    public var cpuFeatures: [String]
    public var models: [String]
    public var adapters: [String]
    public var softwareVersion: String
    public var lastSeenMs: UInt64
    public var documentsPerSecond: Double
    public var tokensPerSecond: Double
    public var shardsDone: UInt64
    /// Shards it holds now and shards it may still take (live workers only).
    public var leases: Int
    public var credits: UInt32
    /// The shards it works on now, as "JOB/SHARD" (live workers only).
    public var currentShards: [String]
    /// Milliseconds since the coordinator last heard from it.
    public var heartbeatAgeMs: UInt64?

    enum CodingKeys: String, CodingKey {
        case identity, name, connected, threads, models, adapters, leases, credits
        case cpuFeatures = "cpu_features", softwareVersion = "software_version", lastSeenMs = "last_seen_ms"
        case documentsPerSecond = "documents_per_second", tokensPerSecond = "tokens_per_second", shardsDone = "shards_done"
        case currentShards = "current_shards", heartbeatAgeMs = "heartbeat_age_ms"
    }

    public init(record: WorkerRecord, live: WorkerState?, nowMs: UInt64) {
        identity = record.info.identity; name = record.info.name; connected = live != nil
        threads = record.info.threads; cpuFeatures = record.info.cpuFeatures; models = record.info.models
        adapters = record.info.adapters; softwareVersion = record.info.softwareVersion; lastSeenMs = record.lastSeenMs
        documentsPerSecond = record.documentsPerSecond; tokensPerSecond = record.tokensPerSecond
        shardsDone = record.shardsDone; leases = live?.leases.count ?? 0; credits = live?.credits ?? 0
        currentShards = (live?.leases.values.sorted { $0.attemptId < $1.attemptId } ?? []).map { "\($0.jobId)/\($0.shardIndex)" }
        heartbeatAgeMs = live.map { nowMs >= $0.lastHeardMs ? nowMs - $0.lastHeardMs : 0 }
    }
}

/// `{"jobs": [...]}`.
public struct StatusDocument: Codable, Equatable, Sendable {
    public var jobs: [JobStatus]
    public init(jobs: [JobStatus]) { self.jobs = jobs }
}

/// `{"workers": [...]}`.
public struct WorkersDocument: Codable, Equatable, Sendable {
    public var workers: [WorkerStatus]
    public init(workers: [WorkerStatus]) { self.workers = workers }
}
