import Foundation

/// One message of the Dojo protocol between coordinator, workers and clients.
///
/// Each message travels as one ZeroMQ frame (after the ROUTER identity frame, where there is one):
///
///     offset 0  "DJ"             2 bytes magic
///     offset 2  version          u8   (`Message.protocolVersion`)
///     offset 3  kind             u8   (`Message.Kind`)
///     offset 4  fields           compact little-endian layout (see `BinaryWriter`)
///
/// The version in the header *is* the protocol version of the sender: a peer that speaks another
/// version gets `.error(.unsupportedVersion, …)` back, and that reply's layout (magic, version, kind
/// 0x7F, u16 code, string) is kept stable across versions so an older peer can still read why.
///
/// Who sends what:
/// - worker → coordinator: `hello`, `ready`, `workerHeartbeat`, `result`, `shardFailed`, `bye`
/// - coordinator → worker: `welcome`, `assign`, `heartbeat`, `cancel`, `withdraw`, `error`
/// - client → coordinator: `submitBegin`, `submitChunk`, `submitEnd`, `status`, `cancel`, `results`, `workers`
/// - coordinator → client: `submitReady`, `submitAck`, `submitted`, `statusReply`, `cancelled`,
///   `resultsReply`, `workersReply`, `error`
public enum Message: Equatable, Sendable {
    /// The protocol version this build speaks.
    public static let protocolVersion: UInt8 = 2
    /// The two magic bytes every message starts with: "DJ".
    public static let magic: (UInt8, UInt8) = (0x44, 0x4A)

    // worker → coordinator
    case hello(Hello)
    /// The worker can take `credits` more shards.
    case ready(credits: UInt32)
    case workerHeartbeat(WorkerStats)
    case result(ShardResult)
    case shardFailed(ShardFailure)
    /// The worker leaves; leases it still holds can be requeued at once.
    case bye(reason: String)

    // coordinator → worker
    case welcome(Welcome)
    case assign(Assignment)
    /// Coordinator liveness beat (workers answer nothing; any message counts as liveness).
    case heartbeat
    /// Stop work on a job (coordinator → worker), or ask to cancel it (client → coordinator).
    case cancel(jobId: String)
    /// Stop one attempt (coordinator → worker): another copy of its shard won, so its result would be dropped.
    case withdraw(jobId: String, shardId: UInt32, attemptId: UInt64)
    case error(ErrorReply)

    // client ⇄ coordinator
    case submitBegin(SubmitBegin)
    case submitReady(SubmitReady)
    case submitChunk(SubmitChunk)
    case submitAck(SubmitAck)
    case submitEnd(SubmitEnd)
    case submitted(Submitted)
    /// Status of one job, or of all jobs when `jobId` is nil.
    case status(jobId: String?)
    /// JSON document describing the job(s); its schema belongs to the coordinator.
    case statusReply(json: Data)
    case cancelled(jobId: String, wasActive: Bool)
    case results(jobId: String, shardIndex: UInt32)
    case resultsReply(ResultsReply)
    case workers
    /// JSON document listing workers; its schema belongs to the coordinator.
    case workersReply(json: Data)

    /// The kind byte of each message. Ranges: 0x01–0x0F worker→coordinator, 0x10–0x1F
    /// coordinator→worker, 0x20–0x3F client⇄coordinator, 0x7F error (both directions).
    public enum Kind: UInt8, CaseIterable, Sendable {
        case hello = 0x01, ready = 0x02, workerHeartbeat = 0x03, result = 0x04, shardFailed = 0x05, bye = 0x06
        case welcome = 0x10, assign = 0x11, heartbeat = 0x12, cancel = 0x13, withdraw = 0x14
        case submitBegin = 0x20, submitReady = 0x21, submitChunk = 0x22, submitAck = 0x23, submitEnd = 0x24
        case submitted = 0x25, status = 0x26, statusReply = 0x27, cancelled = 0x28, results = 0x29
        case resultsReply = 0x2A, workers = 0x2B, workersReply = 0x2C
        case error = 0x7F
    }

    public var kind: Kind {
        switch self {
        case .hello: return .hello
        case .ready: return .ready
        case .workerHeartbeat: return .workerHeartbeat
        case .result: return .result
        case .shardFailed: return .shardFailed
        case .bye: return .bye
        case .welcome: return .welcome
        case .assign: return .assign
        case .heartbeat: return .heartbeat
        case .cancel: return .cancel
        case .withdraw: return .withdraw
        case .error: return .error
        case .submitBegin: return .submitBegin
        case .submitReady: return .submitReady
        case .submitChunk: return .submitChunk
        case .submitAck: return .submitAck
        case .submitEnd: return .submitEnd
        case .submitted: return .submitted
        case .status: return .status
        case .statusReply: return .statusReply
        case .cancelled: return .cancelled
        case .results: return .results
        case .resultsReply: return .resultsReply
        case .workers: return .workers
        case .workersReply: return .workersReply
        }
    }
}

// MARK: - Payloads

/// First message of a worker: who it is and what it can run.
public struct Hello: Equatable, Sendable {
    public var workerName: String
    public var threads: UInt16
    /// CPU features the kernels use, e.g. ["avx2", "fma", "avx512f"].
    public var cpuFeatures: [String]
    /// Models loaded (registry names or content hashes).
    public var models: [String]
    /// LoRA adapters loaded (names or content hashes).
    public var adapters: [String]
    /// Build of the `dojo` binary, for logs and `dojo workers` (the protocol version is in the header).
    public var softwareVersion: String

    public init(workerName: String, threads: UInt16, cpuFeatures: [String] = [], models: [String] = [],
                adapters: [String] = [], softwareVersion: String = "") {
        self.workerName = workerName; self.threads = threads; self.cpuFeatures = cpuFeatures
        self.models = models; self.adapters = adapters; self.softwareVersion = softwareVersion
    }
}

/// A worker's periodic beat with its throughput and the attempts it still holds.
public struct WorkerStats: Equatable, Sendable {
    public var documentsPerSecond: Double
    public var tokensPerSecond: Double
    /// Attempt ids of the leases the worker is working on (so the coordinator can extend them).
    public var activeAttemptIds: [UInt64]
    /// Models and adapters loaded now: the worker loads them on demand, after its hello.
    public var models: [String]
    public var adapters: [String]

    public init(documentsPerSecond: Double, tokensPerSecond: Double, activeAttemptIds: [UInt64] = [],
                models: [String] = [], adapters: [String] = []) {
        self.documentsPerSecond = documentsPerSecond; self.tokensPerSecond = tokensPerSecond
        self.activeAttemptIds = activeAttemptIds; self.models = models; self.adapters = adapters
    }
}

/// The result of one shard attempt: counts and the result lines as one LZ4 frame.
public struct ShardResult: Equatable, Sendable {
    public var jobId: String
    public var shardId: UInt32
    public var attemptId: UInt64
    public var documentCount: UInt32
    public var errorCount: UInt32
    public var tokenCount: UInt64
    /// Uncompressed size of the result lines.
    public var rawBytes: UInt64
    /// The result lines (JSONL) as one LZ4 frame, written to the output file as is.
    public var frame: Data

    public init(jobId: String, shardId: UInt32, attemptId: UInt64, documentCount: UInt32, errorCount: UInt32,
                tokenCount: UInt64, rawBytes: UInt64, frame: Data) {
        self.jobId = jobId; self.shardId = shardId; self.attemptId = attemptId; self.documentCount = documentCount
        self.errorCount = errorCount; self.tokenCount = tokenCount; self.rawBytes = rawBytes; self.frame = frame
    }
}

/// A shard attempt the worker gave up on (the task could not run at all, not a per-document error).
public struct ShardFailure: Error, Equatable, Sendable {
    public var jobId: String
    public var shardId: UInt32
    public var attemptId: UInt64
    public var reason: String

    public init(jobId: String, shardId: UInt32, attemptId: UInt64, reason: String) {
        self.jobId = jobId; self.shardId = shardId; self.attemptId = attemptId; self.reason = reason
    }
}

/// The coordinator's answer to `hello`: the timing policy the worker must follow.
public struct Welcome: Equatable, Sendable {
    public var coordinatorName: String
    public var heartbeatIntervalMs: UInt32
    /// Missed intervals after which a peer is considered dead.
    public var heartbeatLiveness: UInt16
    /// Largest message the coordinator accepts (its MAXMSGSIZE).
    public var maxMessageBytes: UInt64

    public init(coordinatorName: String, heartbeatIntervalMs: UInt32, heartbeatLiveness: UInt16, maxMessageBytes: UInt64) {
        self.coordinatorName = coordinatorName; self.heartbeatIntervalMs = heartbeatIntervalMs
        self.heartbeatLiveness = heartbeatLiveness; self.maxMessageBytes = maxMessageBytes
    }
}

/// One shard handed to a worker under a lease.
public struct Assignment: Equatable, Sendable {
    public var jobId: String
    public var shardId: UInt32
    public var attemptId: UInt64
    /// Lease deadline in milliseconds on the coordinator's clock; renewed by worker heartbeats.
    public var leaseDeadlineMs: UInt64
    /// The job's task spec, opaque to the wire (JSON or YAML).
    public var taskSpec: Data
    /// Number of documents in `documents`, for a sanity check.
    public var documentCount: UInt32
    /// The shard's input lines (JSONL) as one LZ4 frame.
    public var documents: Data
    /// 1-based input line of the shard's first document, so error records can name input lines.
    public var firstLine: UInt64

    public init(jobId: String, shardId: UInt32, attemptId: UInt64, leaseDeadlineMs: UInt64, taskSpec: Data,
                documentCount: UInt32, documents: Data, firstLine: UInt64 = 1) {
        self.jobId = jobId; self.shardId = shardId; self.attemptId = attemptId; self.leaseDeadlineMs = leaseDeadlineMs
        self.taskSpec = taskSpec; self.documentCount = documentCount; self.documents = documents
        self.firstLine = firstLine
    }
}

/// Error codes carried by `.error`. Unknown codes from newer peers decode as `.unknown`.
public enum ErrorCode: Equatable, Sendable {
    case badMessage, unsupportedVersion, unexpectedMessage, unknownJob, invalidSpec, notFound, busy
    case unauthorized, tooLarge, internalError
    case unknown(UInt16)

    public var rawValue: UInt16 {
        switch self {
        case .badMessage: return 1
        case .unsupportedVersion: return 2
        case .unexpectedMessage: return 3
        case .unknownJob: return 4
        case .invalidSpec: return 5
        case .notFound: return 6
        case .busy: return 7
        case .unauthorized: return 8
        case .tooLarge: return 9
        case .internalError: return 10
        case .unknown(let v): return v
        }
    }

    public init(rawValue: UInt16) {
        switch rawValue {
        case 1: self = .badMessage
        case 2: self = .unsupportedVersion
        case 3: self = .unexpectedMessage
        case 4: self = .unknownJob
        case 5: self = .invalidSpec
        case 6: self = .notFound
        case 7: self = .busy
        case 8: self = .unauthorized
        case 9: self = .tooLarge
        case 10: self = .internalError
        default: self = .unknown(rawValue)
        }
    }
}

public struct ErrorReply: Equatable, Sendable {
    public var code: ErrorCode
    public var message: String

    public init(code: ErrorCode, message: String) { self.code = code; self.message = message }
}

/// Start of a job upload: the spec and the job's name; the input follows as chunks.
public struct SubmitBegin: Equatable, Sendable {
    public var name: String
    /// The job spec (YAML), validated by the coordinator before anything is queued.
    public var spec: Data
    /// Total input bytes when known (a file), nil when streaming from a pipe.
    public var totalBytes: UInt64?

    public init(name: String, spec: Data, totalBytes: UInt64? = nil) {
        self.name = name; self.spec = spec; self.totalBytes = totalBytes
    }
}

/// The coordinator accepted the spec: the client may send `credits` chunks of at most `maxChunkBytes`.
public struct SubmitReady: Equatable, Sendable {
    public var uploadId: UInt64
    public var credits: UInt32
    public var maxChunkBytes: UInt32

    public init(uploadId: UInt64, credits: UInt32, maxChunkBytes: UInt32) {
        self.uploadId = uploadId; self.credits = credits; self.maxChunkBytes = maxChunkBytes
    }
}

/// One piece of the input (raw JSONL bytes; chunk boundaries need not fall on line ends).
public struct SubmitChunk: Equatable, Sendable {
    public var uploadId: UInt64
    /// 0, 1, 2, … in order; the coordinator rejects gaps.
    public var sequence: UInt64
    public var bytes: Data

    public init(uploadId: UInt64, sequence: UInt64, bytes: Data) {
        self.uploadId = uploadId; self.sequence = sequence; self.bytes = bytes
    }
}

/// Flow control: chunks up to `sequence` are spooled; the client may send `credits` more.
public struct SubmitAck: Equatable, Sendable {
    public var uploadId: UInt64
    public var sequence: UInt64
    public var credits: UInt32

    public init(uploadId: UInt64, sequence: UInt64, credits: UInt32) {
        self.uploadId = uploadId; self.sequence = sequence; self.credits = credits
    }
}

/// End of the input; counts let the coordinator check nothing was lost.
public struct SubmitEnd: Equatable, Sendable {
    public var uploadId: UInt64
    public var chunkCount: UInt64
    public var totalBytes: UInt64

    public init(uploadId: UInt64, chunkCount: UInt64, totalBytes: UInt64) {
        self.uploadId = uploadId; self.chunkCount = chunkCount; self.totalBytes = totalBytes
    }
}

/// The job is recorded and queued.
public struct Submitted: Equatable, Sendable {
    public var jobId: String
    public var documentCount: UInt64
    public var shardCount: UInt32

    public init(jobId: String, documentCount: UInt64, shardCount: UInt32) {
        self.jobId = jobId; self.documentCount = documentCount; self.shardCount = shardCount
    }
}

/// One shard's output, as stored (an LZ4 frame), or why it is not there.
public struct ResultsReply: Equatable, Sendable {
    public enum State: UInt8, Sendable {
        case done = 0, pending = 1, noSuchShard = 2
    }

    public var jobId: String
    public var shardIndex: UInt32
    public var shardCount: UInt32
    public var state: State
    /// The shard's output frame when `state == .done`, empty otherwise.
    public var frame: Data

    public init(jobId: String, shardIndex: UInt32, shardCount: UInt32, state: State, frame: Data = Data()) {
        self.jobId = jobId; self.shardIndex = shardIndex; self.shardCount = shardCount; self.state = state
        self.frame = frame
    }
}
