// Every timing and retry constant of the coordinator, in one value, with units in the names.
// The broker, the scheduler and the welcome message sent to workers all read it from here.

/// The coordinator's timing and retry policy (zguide's Paranoid Pirate constants, plus leases).
public struct Policy: Sendable, Equatable {
    /// How often the coordinator beats to each worker, and the broker loop's poll timeout.
    public var heartbeatIntervalMs: UInt64
    /// Intervals a worker may stay silent before it is declared dead and loses its leases.
    public var heartbeatLiveness: UInt64
    /// A lease's life from its grant or from the last worker heartbeat that listed its attempt.
    public var leaseDurationMs: UInt64
    /// The longest one attempt may run, however often it is renewed; past it the attempt counts
    /// as stalled (a crash) and the shard is requeued.
    public var attemptTimeoutMs: UInt64
    /// Straggler rule: an in-flight shard is issued again to an idle worker only when nothing is
    /// queued and its attempt has run at least this long.
    public var stragglerMinAgeMs: UInt64
    /// Straggler rule: at most this many attempts of one shard run at once.
    public var stragglerMaxCopies: Int
    /// Crashes (worker died, lease expired) before a job's original shard is split in halves, or
    /// a single-document shard is quarantined. A job spec's `retries` overrides it per job.
    public var defaultRetries: Int
    /// Crashes before a shard born from a split is split again: its parent already proved that a
    /// document in it crashes workers, so one crash is evidence enough. Single-document shards
    /// always need the job's full `retries` before they are quarantined.
    public var crashesBeforeResplit: Int
    /// Chunks a client may have in flight while it uploads a job's input (submit flow control).
    public var uploadCredits: UInt32
    /// Largest upload chunk a client may send.
    public var uploadChunkBytes: UInt32
    /// An upload with no chunk for this long is abandoned and its job failed.
    public var uploadIdleTimeoutMs: UInt64

    public init(heartbeatIntervalMs: UInt64 = 1_000, heartbeatLiveness: UInt64 = 3,
                leaseDurationMs: UInt64 = 30_000, attemptTimeoutMs: UInt64 = 600_000,
                stragglerMinAgeMs: UInt64 = 10_000, stragglerMaxCopies: Int = 2,
                defaultRetries: Int = 3, crashesBeforeResplit: Int = 1,
                uploadCredits: UInt32 = 8, uploadChunkBytes: UInt32 = 1 << 20, uploadIdleTimeoutMs: UInt64 = 60_000) {
        self.heartbeatIntervalMs = heartbeatIntervalMs; self.heartbeatLiveness = heartbeatLiveness
        self.leaseDurationMs = leaseDurationMs; self.attemptTimeoutMs = attemptTimeoutMs
        self.stragglerMinAgeMs = stragglerMinAgeMs; self.stragglerMaxCopies = stragglerMaxCopies
        self.defaultRetries = defaultRetries; self.crashesBeforeResplit = crashesBeforeResplit
        self.uploadCredits = uploadCredits; self.uploadChunkBytes = uploadChunkBytes
        self.uploadIdleTimeoutMs = uploadIdleTimeoutMs
    }

    /// A worker silent this long is dead: liveness × interval.
    public var workerExpiryMs: UInt64 { heartbeatLiveness * heartbeatIntervalMs }
}
