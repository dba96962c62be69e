// The coordinator's store: one SQLite database in WAL mode under the data directory. Jobs,
// shards, the attempts log, workers and counters. Every state change is one transaction, so a
// coordinator killed at any instant reopens to a consistent state (see `recover`).
import Foundation
import GRDB
import Logging
import Wire

/// A store operation that could not be carried out.
public enum JobStoreError: Error, Equatable, CustomStringConvertible {
    case unknownJob(String)
    case unknownShard(jobId: String, index: UInt32)
    case database(String)

    public var description: String {
        switch self {
        case .unknownJob(let id): return "no job \(id) in the store"
        case .unknownShard(let job, let idx): return "no shard \(idx) of job \(job) in the store"
        case .database(let what): return "store: \(what)"
        }
    }
}

/// What reopening the store found and repaired.
public struct RecoveryReport: Equatable, Sendable {
    /// Shards that were leased when the coordinator stopped: back in the queue.
    public var requeuedShards: Int
    /// Jobs whose input upload was cut off by the stop: failed (the client must submit again).
    public var failedUploads: [String]
    /// Jobs still to run.
    public var resumedJobs: [String]

    public init(requeuedShards: Int, failedUploads: [String], resumedJobs: [String]) {
        self.requeuedShards = requeuedShards; self.failedUploads = failedUploads; self.resumedJobs = resumedJobs
    }
}

/// What became of a result handed to `completeShard`.
public enum CompletionOutcome: Equatable, Sendable {
    /// The result is the shard's output; `jobFinished` when it was the job's last shard.
    case accepted(jobFinished: Bool)
    /// The attempt is not live (stale lease, the straggler copy that lost, cancelled job): dropped.
    case stale(reason: String)
}

/// A live result to record as its shard's output (see `JobStore.completeShards`).
public struct ShardCompletion: Equatable, Sendable {
    public var jobId: String
    public var index: UInt32
    public var attemptId: UInt64
    public var counts: ShardCounts

    public init(jobId: String, index: UInt32, attemptId: UInt64, counts: ShardCounts) {
        self.jobId = jobId; self.index = index; self.attemptId = attemptId; self.counts = counts
    }
}

public final class JobStore: @unchecked Sendable {
    public static let fileName = "dojo.sqlite"

    public let directory: URL
    public private(set) var recovery: RecoveryReport
    /// The time base of throughput samples (wall time; a manual clock in tests).
    public let wallClock: any MillisecondClock
    /// A pool: WAL lets the HTTP endpoint read while the broker loop writes.
    let db: DatabasePool
    let logger: Logger

    /// Opens (creating when needed) `directory/dojo.sqlite` and repairs what a crash left behind.
    public init(directory: URL, nowMs: UInt64 = JobStore.wallClockMs(), wallClock: any MillisecondClock = WallClock(),
                logger: Logger = Logger(label: "dojo.store")) throws {
        self.directory = directory
        self.wallClock = wallClock
        self.logger = logger
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var config = Configuration()
        config.journalMode = .wal
        config.label = "dojo.store"
        config.prepareDatabase { db in
            // WAL + NORMAL survives a killed process; output files are fsynced before their commit.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        do {
            db = try DatabasePool(path: directory.appendingPathComponent(Self.fileName).path, configuration: config)
            try Self.migrator.migrate(db)
        } catch { throw JobStoreError.database("cannot open \(directory.path)/\(Self.fileName): \(error)") }
        recovery = RecoveryReport(requeuedShards: 0, failedUploads: [], resumedJobs: [])
        recovery = try recover(nowMs: nowMs)
    }

    public static func wallClockMs() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    // MARK: - Schema

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
            CREATE TABLE jobs (
                id TEXT PRIMARY KEY,
                seq INTEGER NOT NULL UNIQUE,
                name TEXT NOT NULL,
                task TEXT NOT NULL,
                spec BLOB NOT NULL,
                state TEXT NOT NULL,
                priority INTEGER NOT NULL,
                retries INTEGER NOT NULL,
                created_ms INTEGER NOT NULL,
                started_ms INTEGER,
                finished_ms INTEGER,
                input_complete INTEGER NOT NULL DEFAULT 0,
                input_bytes INTEGER NOT NULL DEFAULT 0,
                shard_count INTEGER NOT NULL DEFAULT 0,
                next_shard_idx INTEGER NOT NULL DEFAULT 0,
                docs_total INTEGER NOT NULL DEFAULT 0,
                docs_done INTEGER NOT NULL DEFAULT 0,
                docs_errors INTEGER NOT NULL DEFAULT 0,
                tokens INTEGER NOT NULL DEFAULT 0,
                bytes_raw INTEGER NOT NULL DEFAULT 0,
                bytes_compressed INTEGER NOT NULL DEFAULT 0,
                error TEXT
            );
            CREATE INDEX jobs_by_state ON jobs(state, priority, seq);
            CREATE TABLE shards (
                job_id TEXT NOT NULL REFERENCES jobs(id),
                idx INTEGER NOT NULL,
                parent_idx INTEGER,
                first_line INTEGER NOT NULL,
                byte_offset INTEGER NOT NULL,
                byte_length INTEGER NOT NULL,
                doc_count INTEGER NOT NULL,
                approx_tokens INTEGER NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                crash_count INTEGER NOT NULL DEFAULT 0,
                fail_count INTEGER NOT NULL DEFAULT 0,
                attempt_id INTEGER,
                lease_worker TEXT,
                lease_deadline_ms INTEGER,
                done_docs INTEGER,
                done_errors INTEGER,
                done_tokens INTEGER,
                done_bytes_raw INTEGER,
                done_bytes_compressed INTEGER,
                quarantined INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (job_id, idx)
            );
            CREATE INDEX shards_by_state ON shards(state, job_id, first_line);
            CREATE INDEX shards_by_order ON shards(job_id, first_line);
            CREATE TABLE attempts (
                id INTEGER PRIMARY KEY,
                job_id TEXT NOT NULL,
                shard_idx INTEGER NOT NULL,
                worker TEXT NOT NULL,
                straggler INTEGER NOT NULL,
                state TEXT NOT NULL,
                started_ms INTEGER NOT NULL,
                ended_ms INTEGER,
                reason TEXT
            );
            CREATE INDEX attempts_by_shard ON attempts(job_id, shard_idx, state);
            CREATE INDEX attempts_running ON attempts(state) WHERE state = 'running';
            CREATE TABLE workers (
                identity TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                threads INTEGER NOT NULL,
                features TEXT NOT NULL,
                models TEXT NOT NULL,
                adapters TEXT NOT NULL,
                software TEXT NOT NULL,
                connected INTEGER NOT NULL,
                first_seen_ms INTEGER NOT NULL,
                last_seen_ms INTEGER NOT NULL,
                docs_per_s REAL NOT NULL DEFAULT 0,
                tokens_per_s REAL NOT NULL DEFAULT 0,
                shards_done INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """)
        }
        m.registerMigration("v2-throughput") { db in try createThroughputTables(db) }
        return m
    }

    // MARK: - Recovery

    /// Puts the store back into a state the scheduler can resume from: leases cannot be honoured
    /// across a restart, so leased shards are queued again and their attempts abandoned (a late
    /// result for them is dropped); finished shards stay done; uploads cut off midway fail.
    func recover(nowMs: UInt64) throws -> RecoveryReport {
        try db.write { db in
            let now = Int64(nowMs)
            let requeued = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM shards WHERE state = 'leased'") ?? 0
            try db.execute(sql: """
                UPDATE attempts SET state = 'abandoned', ended_ms = ?, reason = 'coordinator restarted'
                WHERE state = 'running'
                """, arguments: [now])
            try db.execute(sql: """
                UPDATE shards SET state = 'queued', lease_worker = NULL, lease_deadline_ms = NULL
                WHERE state = 'leased'
                """)
            let cutOff = try String.fetchAll(db, sql: """
                SELECT id FROM jobs WHERE input_complete = 0 AND state IN ('queued', 'running') ORDER BY seq
                """)
            for id in cutOff {
                try Self.finish(db, jobId: id, state: .failed,
                                error: "input upload was interrupted by a coordinator restart; submit the job again",
                                nowMs: nowMs)
            }
            try db.execute(sql: "UPDATE workers SET connected = 0")
            try Self.bump(db, "coordinator_starts", by: 1)
            // A job whose last shard finished in the transaction that the crash interrupted cannot
            // exist (completion is part of that transaction), but checking costs nothing.
            let open = try String.fetchAll(db, sql: "SELECT id FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq")
            var resumed: [String] = []
            for id in open where try !Self.completeIfFinished(db, jobId: id, nowMs: nowMs) { resumed.append(id) }
            return RecoveryReport(requeuedShards: requeued, failedUploads: cutOff, resumedJobs: resumed)
        }
    }

    // MARK: - Jobs

    /// Records a new job (queued, input not yet complete) and returns it.
    public func createJob(name: String, spec: JobSpec, specData: Data, nowMs: UInt64) throws -> JobRecord {
        try db.write { db in
            let seq = try Self.bump(db, "job_seq", by: 1)
            let id = String(format: "j%06lld", seq)
            try db.execute(sql: """
                INSERT INTO jobs (id, seq, name, task, spec, state, priority, retries, created_ms)
                VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)
                """, arguments: [id, seq, name, spec.task, specData, spec.priority, spec.retries, Int64(nowMs)])
            return try Self.job(db, id)
        }
    }

    /// Adds shards cut from the job's spool, in one transaction; returns their indices.
    @discardableResult
    public func appendShards(jobId: String, cuts: [ShardCut]) throws -> [UInt32] {
        guard !cuts.isEmpty else { return [] }
        return try db.write { db in
            guard var next = try Int64.fetchOne(db, sql: "SELECT next_shard_idx FROM jobs WHERE id = ?", arguments: [jobId]) else {
                throw JobStoreError.unknownJob(jobId)
            }
            var indices: [UInt32] = []
            for cut in cuts {
                try Self.insertShard(db, jobId: jobId, index: next, parent: nil, cut: cut)
                indices.append(UInt32(next)); next += 1
            }
            try db.execute(sql: """
                UPDATE jobs SET next_shard_idx = ?, shard_count = shard_count + ? WHERE id = ?
                """, arguments: [next, cuts.count, jobId])
            return indices
        }
    }

    /// The whole input is spooled: the job's shards may now be scheduled. An empty input
    /// completes the job at once.
    public func completeInput(jobId: String, documents: UInt64, inputBytes: UInt64, nowMs: UInt64) throws -> JobRecord {
        try db.write { db in
            try db.execute(sql: """
                UPDATE jobs SET input_complete = 1, docs_total = ?, input_bytes = ? WHERE id = ?
                """, arguments: [Int64(documents), Int64(inputBytes), jobId])
            guard db.changesCount == 1 else { throw JobStoreError.unknownJob(jobId) }
            _ = try Self.completeIfFinished(db, jobId: jobId, nowMs: nowMs)
            return try Self.job(db, jobId)
        }
    }

    /// Ends a job that has not finished: cancelled by a user, or failed with `error`. Queued and
    /// leased shards are cancelled; returns the attempts that were running (their leases are revoked).
    public func finishJob(jobId: String, state: JobState, error: String? = nil, nowMs: UInt64) throws -> [AttemptRecord] {
        precondition(state == .cancelled || state == .failed, "finishJob ends a job as cancelled or failed")
        return try db.write { db in
            _ = try Self.job(db, jobId)
            return try Self.finish(db, jobId: jobId, state: state, error: error, nowMs: nowMs)
        }
    }

    public func job(_ id: String) throws -> JobRecord? {
        try db.read { db in try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]).map(JobRecord.init) }
    }

    /// All jobs, in submission order.
    public func jobs() throws -> [JobRecord] {
        try db.read { db in try Row.fetchAll(db, sql: "SELECT * FROM jobs ORDER BY seq").map(JobRecord.init) }
    }

    // MARK: - Shards

    public func shard(jobId: String, index: UInt32) throws -> ShardRecord? {
        try db.read { db in try Self.shard(db, jobId, index) }
    }

    /// All of a job's shards, split ones included, by index.
    public func shards(jobId: String) throws -> [ShardRecord] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM shards WHERE job_id = ? ORDER BY idx", arguments: [jobId]).map(ShardRecord.init)
        }
    }

    /// The shards whose outputs make up the job's result, in input order (split shards are
    /// replaced by their halves).
    public func outputShards(jobId: String) throws -> [ShardRecord] {
        try db.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM shards WHERE job_id = ? AND state != 'split' ORDER BY first_line
                """, arguments: [jobId]).map(ShardRecord.init)
        }
    }

    /// Output shards (split ones left out) per job: how many, and how many are done.
    public func shardProgress(jobId: String? = nil) throws -> [String: (total: Int, done: Int)] {
        try db.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT job_id, COUNT(*) AS total, SUM(state = 'done') AS done FROM shards
                WHERE state != 'split' AND (?1 IS NULL OR job_id = ?1) GROUP BY job_id
                """, arguments: [jobId])
            var out: [String: (total: Int, done: Int)] = [:]
            for row in rows { out[row["job_id"]] = (row["total"], row["done"] ?? 0) }
            return out
        }
    }

    /// The `ordinal`-th output shard of a job in input order, and how many output shards it has.
    public func outputShard(jobId: String, ordinal: Int) throws -> (shard: ShardRecord?, count: Int) {
        try db.read { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM shards WHERE job_id = ? AND state != 'split'",
                                         arguments: [jobId]) ?? 0
            guard ordinal >= 0 && ordinal < count else { return (nil, count) }
            let shard = try Row.fetchOne(db, sql: """
                SELECT * FROM shards WHERE job_id = ? AND state != 'split' ORDER BY first_line LIMIT 1 OFFSET ?
                """, arguments: [jobId, ordinal]).map(ShardRecord.init)
            return (shard, count)
        }
    }

    /// The next shard to issue: highest job priority first, then submission order, then input order.
    public func nextQueuedShard() throws -> ShardRecord? {
        try db.read { db in try Self.nextQueuedShard(db) }
    }

    /// `nextQueuedShard` and `leaseShard` in one transaction (one per assignment, not two):
    /// the shard leased and its new attempt id, or nil when nothing is queued.
    public func leaseNextQueuedShard(worker: String, deadlineMs: UInt64, nowMs: UInt64) throws -> (ShardRecord, UInt64)? {
        try db.write { db in
            guard let shard = try Self.nextQueuedShard(db) else { return nil }
            let attempt = try Self.leaseShard(db, jobId: shard.jobId, index: shard.index, worker: worker, deadlineMs: deadlineMs,
                                              straggler: false, nowMs: nowMs, wallMs: wallClock.nowMs)
            return (shard, attempt)
        }
    }

    static func nextQueuedShard(_ db: Database) throws -> ShardRecord? {
        // Job by job rather than one join ordered over every queued shard: each step is one seek
        // in shards_by_state, so the cost does not grow with the number of queued shards.
        let jobs = try String.fetchAll(db.cachedStatement(sql: """
            SELECT id FROM jobs WHERE input_complete = 1 AND state IN ('queued', 'running') ORDER BY priority DESC, seq
            """))
        for id in jobs {
            if let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT * FROM shards WHERE state = 'queued' AND job_id = ? ORDER BY first_line LIMIT 1
                """), arguments: [id]) { return ShardRecord(row: row) }
        }
        return nil
    }

    /// Leases a shard to a worker under a new attempt id (a straggler copy leaves the shard's
    /// other attempt running). The job turns running on its first lease.
    public func leaseShard(jobId: String, index: UInt32, worker: String, deadlineMs: UInt64, straggler: Bool,
                           nowMs: UInt64) throws -> UInt64 {
        try db.write { db in
            try Self.leaseShard(db, jobId: jobId, index: index, worker: worker, deadlineMs: deadlineMs, straggler: straggler,
                                nowMs: nowMs, wallMs: wallClock.nowMs)
        }
    }

    static func leaseShard(_ db: Database, jobId: String, index: UInt32, worker: String, deadlineMs: UInt64, straggler: Bool,
                           nowMs: UInt64, wallMs: UInt64) throws -> UInt64 {
        let attemptId = try Self.bump(db, "attempt_id", by: 1)
        try db.cachedStatement(sql: """
            INSERT INTO attempts (id, job_id, shard_idx, worker, straggler, state, started_ms)
            VALUES (?, ?, ?, ?, ?, 'running', ?)
            """).execute(arguments: [attemptId, jobId, Int64(index), worker, straggler, Int64(nowMs)])
        try db.cachedStatement(sql: """
            UPDATE shards SET state = 'leased', attempts = attempts + 1, attempt_id = ?, lease_worker = ?,
                lease_deadline_ms = ?
            WHERE job_id = ? AND idx = ? AND state IN ('queued', 'leased')
            """).execute(arguments: [attemptId, worker, Int64(deadlineMs), jobId, Int64(index)])
        guard db.changesCount == 1 else { throw JobStoreError.unknownShard(jobId: jobId, index: index) }
        try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'running', started_ms = COALESCE(started_ms, ?) WHERE id = ? AND state = 'queued'
            """).execute(arguments: [Int64(nowMs), jobId])
        if db.changesCount == 1 { try recordJobStarted(db, jobId: jobId, wallMs: wallMs) }
        return UInt64(attemptId)
    }

    /// `isLive` for several attempts in one read transaction: per attempt, nil when live, else why not.
    public func liveness(of attempts: [(attemptId: UInt64, jobId: String, index: UInt32)]) throws -> [String?] {
        try db.read { db in try attempts.map { try Self.liveness(db, attemptId: $0.attemptId, jobId: $0.jobId, index: $0.index) } }
    }

    /// Whether a result of this attempt would be accepted now: the attempt is running, belongs to
    /// this shard, and the shard is leased. The output writer asks before it writes anything.
    public func isLive(attemptId: UInt64, jobId: String, index: UInt32) throws -> Bool {
        try db.read { db in try Self.liveness(db, attemptId: attemptId, jobId: jobId, index: index) == nil }
    }

    /// Marks a shard done with its counts, in one transaction with the job's counts and, when it
    /// was the last, the job's completion. The attempt must still be live; other running attempts
    /// of the shard (straggler copies) become `lost`.
    public func completeShard(jobId: String, index: UInt32, attemptId: UInt64, counts: ShardCounts,
                              nowMs: UInt64) throws -> CompletionOutcome {
        try completeShards([ShardCompletion(jobId: jobId, index: index, attemptId: attemptId, counts: counts)], nowMs: nowMs)[0]
    }

    /// Group commit: marks several shards done in one transaction (one WAL commit instead of one
    /// per shard), each as `completeShard` would, outcomes in the same order. A job whose last
    /// shard is in the group reports `jobFinished` on that job's last completion of the group.
    public func completeShards(_ completions: [ShardCompletion], nowMs: UInt64) throws -> [CompletionOutcome] {
        guard !completions.isEmpty else { return [] }
        let wallMs = wallClock.nowMs
        return try db.write { db in
            var outcomes: [CompletionOutcome] = []
            outcomes.reserveCapacity(completions.count)
            var lastOfJob: [String: Int] = [:]
            for (i, c) in completions.enumerated() {
                let outcome = try Self.completeShard(db, c, nowMs: nowMs, wallMs: wallMs)
                outcomes.append(outcome)
                if case .accepted = outcome { lastOfJob[c.jobId] = i }
            }
            for (jobId, i) in lastOfJob.sorted(by: { $0.value < $1.value }) {
                if try Self.completeIfFinished(db, jobId: jobId, nowMs: nowMs) { outcomes[i] = .accepted(jobFinished: true) }
            }
            return outcomes
        }
    }

    /// One shard's completion inside a group's transaction (the job's completion is checked by the
    /// caller once per job): `.accepted(jobFinished: false)` or why the attempt is stale.
    static func completeShard(_ db: Database, _ c: ShardCompletion, nowMs: UInt64, wallMs: UInt64) throws -> CompletionOutcome {
        if let why = try liveness(db, attemptId: c.attemptId, jobId: c.jobId, index: c.index) { return .stale(reason: why) }
        let now = Int64(nowMs)
        let worker = try String.fetchOne(db.cachedStatement(sql: "SELECT worker FROM attempts WHERE id = ?"), arguments: [Int64(c.attemptId)])
        try db.cachedStatement(sql: "UPDATE attempts SET state = 'succeeded', ended_ms = ? WHERE id = ?").execute(arguments: [now, Int64(c.attemptId)])
        try db.cachedStatement(sql: """
            UPDATE attempts SET state = 'lost', ended_ms = ?, reason = 'another attempt finished first'
            WHERE job_id = ? AND shard_idx = ? AND state = 'running'
            """).execute(arguments: [now, c.jobId, Int64(c.index)])
        if let worker {
            try db.cachedStatement(sql: "UPDATE workers SET shards_done = shards_done + 1 WHERE identity = ?").execute(arguments: [worker])
        }
        try markDone(db, jobId: c.jobId, index: c.index, counts: c.counts, quarantined: false)
        try recordThroughput(db, jobId: c.jobId, counts: c.counts, wallMs: wallMs)
        return .accepted(jobFinished: false)
    }

    /// Marks a shard done with the coordinator's own quarantine record as its output.
    public func quarantineShard(jobId: String, index: UInt32, counts: ShardCounts, nowMs: UInt64) throws -> Bool {
        try db.write { db in
            try Self.markDone(db, jobId: jobId, index: index, counts: counts, quarantined: true)
            try Self.recordThroughput(db, jobId: jobId, counts: counts, wallMs: wallClock.nowMs)
            return try Self.completeIfFinished(db, jobId: jobId, nowMs: nowMs)
        }
    }

    /// Ends a running attempt that produced no result. `expired` counts a crash and `failed` a
    /// task failure against the shard; the shard is queued again when no other attempt of it
    /// runs. Returns the shard as it now stands, or nil when the attempt was not running.
    public func endAttempt(_ attemptId: UInt64, as state: AttemptState, reason: String, nowMs: UInt64) throws -> ShardRecord? {
        precondition([.expired, .failed, .abandoned].contains(state), "endAttempt ends an attempt without a result")
        return try db.write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM attempts WHERE id = ? AND state = 'running'"), arguments: [Int64(attemptId)]) else { return nil }
            let attempt = AttemptRecord(row: row)
            try db.cachedStatement(sql: "UPDATE attempts SET state = ?, ended_ms = ?, reason = ? WHERE id = ?").execute(arguments: [state.rawValue, Int64(nowMs), reason, Int64(attemptId)])
            let crash = state == .expired ? 1 : 0, fail = state == .failed ? 1 : 0
            try db.cachedStatement(sql: """
                UPDATE shards SET crash_count = crash_count + ?, fail_count = fail_count + ? WHERE job_id = ? AND idx = ?
                """).execute(arguments: [crash, fail, attempt.jobId, Int64(attempt.shardIndex)])
            let others = try Int.fetchOne(db.cachedStatement(sql: """
                SELECT COUNT(*) FROM attempts WHERE job_id = ? AND shard_idx = ? AND state = 'running'
                """), arguments: [attempt.jobId, Int64(attempt.shardIndex)]) ?? 0
            if others == 0 {
                try db.cachedStatement(sql: """
                    UPDATE shards SET state = 'queued', lease_worker = NULL, lease_deadline_ms = NULL
                    WHERE job_id = ? AND idx = ? AND state = 'leased'
                    """).execute(arguments: [attempt.jobId, Int64(attempt.shardIndex)])
            }
            return try Self.shard(db, attempt.jobId, attempt.shardIndex)
        }
    }

    /// Replaces a queued shard by its two halves (cut by the caller at a document boundary).
    public func splitShard(jobId: String, index: UInt32, into halves: (ShardCut, ShardCut)) throws -> (UInt32, UInt32) {
        try db.write { db in
            try db.execute(sql: "UPDATE shards SET state = 'split' WHERE job_id = ? AND idx = ? AND state = 'queued'",
                           arguments: [jobId, Int64(index)])
            guard db.changesCount == 1 else { throw JobStoreError.unknownShard(jobId: jobId, index: index) }
            guard let next = try Int64.fetchOne(db, sql: "SELECT next_shard_idx FROM jobs WHERE id = ?", arguments: [jobId]) else {
                throw JobStoreError.unknownJob(jobId)
            }
            try Self.insertShard(db, jobId: jobId, index: next, parent: index, cut: halves.0)
            try Self.insertShard(db, jobId: jobId, index: next + 1, parent: index, cut: halves.1)
            try db.execute(sql: "UPDATE jobs SET next_shard_idx = ? WHERE id = ?", arguments: [next + 2, jobId])
            return (UInt32(next), UInt32(next + 1))
        }
    }

    public func attempt(_ id: UInt64) throws -> AttemptRecord? {
        try db.read { db in try Row.fetchOne(db, sql: "SELECT * FROM attempts WHERE id = ?", arguments: [Int64(id)]).map(AttemptRecord.init) }
    }

    /// The attempts log of a job, oldest first.
    public func attempts(jobId: String) throws -> [AttemptRecord] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM attempts WHERE job_id = ? ORDER BY id", arguments: [jobId]).map(AttemptRecord.init)
        }
    }

    // MARK: - Workers

    /// A worker said hello: record what it is; it is connected from now.
    public func upsertWorker(_ info: WorkerInfo, nowMs: UInt64) throws {
        try db.write { db in
            try db.execute(sql: """
                INSERT INTO workers (identity, name, threads, features, models, adapters, software, connected,
                                     first_seen_ms, last_seen_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
                ON CONFLICT(identity) DO UPDATE SET name = excluded.name, threads = excluded.threads,
                    features = excluded.features, models = excluded.models, adapters = excluded.adapters,
                    software = excluded.software, connected = 1, last_seen_ms = excluded.last_seen_ms
                """, arguments: [info.identity, info.name, info.threads, info.cpuFeatures.joined(separator: ","),
                                 info.models.joined(separator: ","), info.adapters.joined(separator: ","),
                                 info.softwareVersion, Int64(nowMs), Int64(nowMs)])
        }
    }

    /// A worker's heartbeat: when it was heard, how fast it goes and what it has loaded.
    public func workerSeen(_ identity: String, documentsPerSecond: Double, tokensPerSecond: Double,
                           models: [String], adapters: [String], nowMs: UInt64) throws {
        try db.write { db in
            try db.cachedStatement(sql: """
                UPDATE workers SET last_seen_ms = ?, docs_per_s = ?, tokens_per_s = ?, models = ?, adapters = ?
                WHERE identity = ?
                """).execute(arguments: [Int64(nowMs), documentsPerSecond, tokensPerSecond, models.joined(separator: ","),
                                         adapters.joined(separator: ","), identity])
        }
    }

    public func workerGone(_ identity: String, nowMs: UInt64) throws {
        try db.write { db in
            try db.execute(sql: "UPDATE workers SET connected = 0 WHERE identity = ?", arguments: [identity])
        }
    }

    /// Every worker ever seen, connected ones first, then by name.
    public func workers() throws -> [WorkerRecord] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM workers ORDER BY connected DESC, name, identity").map(WorkerRecord.init)
        }
    }

    // MARK: - Counters

    public func counter(_ name: String) throws -> Int64 {
        try db.read { db in try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = ?", arguments: [name]) ?? 0 }
    }

    @discardableResult
    public func bump(_ name: String, by delta: Int64 = 1) throws -> Int64 {
        try db.write { db in try Self.bump(db, name, by: delta) }
    }

    // MARK: - Inside transactions

    @discardableResult
    static func bump(_ db: Database, _ name: String, by delta: Int64) throws -> Int64 {
        try db.cachedStatement(sql: """
            INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value
            """).execute(arguments: [name, delta])
        return try Int64.fetchOne(db.cachedStatement(sql: "SELECT value FROM counters WHERE name = ?"), arguments: [name]) ?? delta
    }

    static func job(_ db: Database, _ id: String) throws -> JobRecord {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM jobs WHERE id = ?"), arguments: [id]) else {
            throw JobStoreError.unknownJob(id)
        }
        return JobRecord(row: row)
    }

    static func shard(_ db: Database, _ jobId: String, _ index: UInt32) throws -> ShardRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM shards WHERE job_id = ? AND idx = ?"), arguments: [jobId, Int64(index)])
            .map(ShardRecord.init)
    }

    static func insertShard(_ db: Database, jobId: String, index: Int64, parent: UInt32?, cut: ShardCut) throws {
        try db.execute(sql: """
            INSERT INTO shards (job_id, idx, parent_idx, first_line, byte_offset, byte_length, doc_count, approx_tokens, state)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued')
            """, arguments: [jobId, index, parent.map { Int64($0) }, Int64(cut.firstLine), Int64(cut.byteOffset),
                             Int64(cut.byteLength), cut.documentCount, Int64(cut.approxTokens)])
    }

    /// Nil when the attempt is live for this shard, else why not.
    static func liveness(_ db: Database, attemptId: UInt64, jobId: String, index: UInt32) throws -> String? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT a.state AS attempt_state, a.job_id, a.shard_idx, s.state AS shard_state
            FROM attempts a LEFT JOIN shards s ON s.job_id = a.job_id AND s.idx = a.shard_idx WHERE a.id = ?
            """), arguments: [Int64(attemptId)]) else { return "unknown attempt \(attemptId)" }
        guard row["job_id"] == jobId, row["shard_idx"] == Int64(index) else {
            return "attempt \(attemptId) belongs to another shard"
        }
        let attemptState: String = row["attempt_state"]
        guard attemptState == AttemptState.running.rawValue else { return "attempt \(attemptId) is \(attemptState)" }
        let shardState: String? = row["shard_state"]
        guard shardState == ShardState.leased.rawValue else { return "shard is \(shardState ?? "missing")" }
        return nil
    }

    static func markDone(_ db: Database, jobId: String, index: UInt32, counts: ShardCounts, quarantined: Bool) throws {
        try db.cachedStatement(sql: """
            UPDATE shards SET state = 'done', lease_worker = NULL, lease_deadline_ms = NULL, done_docs = ?,
                done_errors = ?, done_tokens = ?, done_bytes_raw = ?, done_bytes_compressed = ?, quarantined = ?
            WHERE job_id = ? AND idx = ? AND state IN ('queued', 'leased')
            """).execute(arguments: [Int64(counts.documents), Int64(counts.errors), Int64(counts.tokens), Int64(counts.bytesRaw),
                             Int64(counts.bytesCompressed), quarantined, jobId, Int64(index)])
        guard db.changesCount == 1 else { throw JobStoreError.unknownShard(jobId: jobId, index: index) }
        try db.cachedStatement(sql: """
            UPDATE jobs SET docs_done = docs_done + ?, docs_errors = docs_errors + ?, tokens = tokens + ?,
                bytes_raw = bytes_raw + ?, bytes_compressed = bytes_compressed + ?
            WHERE id = ?
            """).execute(arguments: [Int64(counts.documents), Int64(counts.errors), Int64(counts.tokens), Int64(counts.bytesRaw),
                             Int64(counts.bytesCompressed), jobId])
        try bump(db, "shards_done", by: 1)
        try bump(db, "documents_done", by: Int64(counts.documents))
    }

    /// Completes the job when its input is in and no shard is left to run; true when it did.
    static func completeIfFinished(_ db: Database, jobId: String, nowMs: UInt64) throws -> Bool {
        // EXISTS stops at the first open shard; a COUNT would walk every queued shard of the job
        // on each completion (quadratic over a large job).
        let open = try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM shards WHERE state IN ('queued', 'leased') AND job_id = ?)
            """), arguments: [jobId]) ?? false
        guard !open else { return false }
        try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'completed', finished_ms = ?
            WHERE id = ? AND input_complete = 1 AND state IN ('queued', 'running')
            """).execute(arguments: [Int64(nowMs), jobId])
        return db.changesCount == 1
    }

    @discardableResult
    static func finish(_ db: Database, jobId: String, state: JobState, error: String?, nowMs: UInt64) throws -> [AttemptRecord] {
        let now = Int64(nowMs)
        let running = try Row.fetchAll(db, sql: """
            SELECT * FROM attempts WHERE job_id = ? AND state = 'running' ORDER BY id
            """, arguments: [jobId]).map(AttemptRecord.init)
        try db.execute(sql: """
            UPDATE jobs SET state = ?, finished_ms = ?, error = COALESCE(?, error)
            WHERE id = ? AND state IN ('queued', 'running')
            """, arguments: [state.rawValue, now, error, jobId])
        guard db.changesCount == 1 else { return [] }
        try db.execute(sql: """
            UPDATE attempts SET state = 'cancelled', ended_ms = ?, reason = ? WHERE job_id = ? AND state = 'running'
            """, arguments: [now, "job \(state.rawValue)", jobId])
        try db.execute(sql: """
            UPDATE shards SET state = 'cancelled', lease_worker = NULL, lease_deadline_ms = NULL
            WHERE job_id = ? AND state IN ('queued', 'leased')
            """, arguments: [jobId])
        return running
    }
}
