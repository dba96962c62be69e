// Throughput samples: documents and tokens finished per job per 10-second bucket of wall time,
// written in the transaction that marks a shard done. Rates, ETAs and the dashboard's chart are
// read back from here, so they survive a coordinator restart (Flower and the Dask dashboard lose
// their history with the process). Wall time, not the broker's monotonic clock: buckets must keep
// their meaning across a reboot or a move of the data directory to another machine.
import Foundation
import GRDB
import Wire

/// Milliseconds since 1970: the time base of throughput samples.
public struct WallClock: MillisecondClock {
    /// The system's wall clock.
    public init() {}
    public var nowMs: UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}

/// A job's current speed, from the store's samples.
public struct JobRate: Equatable, Sendable {
    public var documentsPerSecond: Double
    public var tokensPerSecond: Double
    /// Seconds left at this rate (running jobs whose input is complete and whose rate is above zero).
    public var etaSeconds: Double?
}

/// One bucket of the throughput chart.
public struct ThroughputPoint: Codable, Equatable, Sendable {
    /// Wall-clock start of the bucket.
    public var startMs: UInt64
    /// Seconds of the bucket that have passed (the bucket length, less for the bucket still open).
    public var seconds: Double
    public var documents: UInt64
    public var errors: UInt64
    public var tokens: UInt64
    public var documentsPerSecond: Double
    public var tokensPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case startMs = "start_ms", seconds, documents, errors, tokens
        case documentsPerSecond = "documents_per_second", tokensPerSecond = "tokens_per_second"
    }
}

/// `GET /api/throughput`: every bucket from `fromMs` to `toMs`, empty ones included.
public struct ThroughputSeries: Codable, Equatable, Sendable {
    /// The job the series is for; nil for all jobs together.
    public var job: String?
    public var bucketSeconds: Int
    public var fromMs: UInt64
    public var toMs: UInt64
    public var points: [ThroughputPoint]

    enum CodingKeys: String, CodingKey {
        case job, points, bucketSeconds = "bucket_seconds", fromMs = "from_ms", toMs = "to_ms"
    }
}

/// Counts by state for the coordinator's gauges.
public struct StoreGauges: Equatable, Sendable {
    public var jobsByState: [JobState: Int]
    public var shardsQueued: Int
    public var shardsInFlight: Int
    public var shardsDone: Int
    /// Documents in queued shards of jobs still to run: what more workers would take on.
    public var queuedDocuments: UInt64
}

extension JobStore {
    /// Length of one throughput bucket.
    public static let throughputBucketMs: UInt64 = 10_000
    /// The window rates are measured over.
    public static let rateWindowMs: UInt64 = 60_000

    static func createThroughputTables(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE throughput (
                job_id TEXT NOT NULL,
                bucket_ms INTEGER NOT NULL,
                documents INTEGER NOT NULL,
                errors INTEGER NOT NULL,
                tokens INTEGER NOT NULL,
                PRIMARY KEY (job_id, bucket_ms)
            ) WITHOUT ROWID;
            CREATE INDEX throughput_by_time ON throughput(bucket_ms);
            CREATE TABLE job_times (
                job_id TEXT PRIMARY KEY,
                started_wall_ms INTEGER NOT NULL,
                last_done_wall_ms INTEGER
            );
            """)
    }

    /// Inside the transaction that turns a job running: when, in wall time, its first lease went out.
    static func recordJobStarted(_ db: Database, jobId: String, wallMs: UInt64) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO job_times (job_id, started_wall_ms) VALUES (?, ?)",
                       arguments: [jobId, Int64(wallMs)])
    }

    /// Inside the transaction that marks a shard done: adds its counts to the current bucket.
    static func recordThroughput(_ db: Database, jobId: String, counts: ShardCounts, wallMs: UInt64) throws {
        let bucket = wallMs - wallMs % throughputBucketMs
        try db.cachedStatement(sql: """
            INSERT INTO throughput (job_id, bucket_ms, documents, errors, tokens) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(job_id, bucket_ms) DO UPDATE SET documents = documents + excluded.documents,
                errors = errors + excluded.errors, tokens = tokens + excluded.tokens
            """).execute(arguments: [jobId, Int64(bucket), Int64(counts.documents), Int64(counts.errors), Int64(counts.tokens)])
        // A job first seen here (started before the samples existed) starts with its first sample.
        try db.cachedStatement(sql: """
            INSERT INTO job_times (job_id, started_wall_ms, last_done_wall_ms) VALUES (?, ?, ?)
            ON CONFLICT(job_id) DO UPDATE SET last_done_wall_ms = excluded.last_done_wall_ms
            """).execute(arguments: [jobId, Int64(wallMs), Int64(wallMs)])
    }

    // MARK: - Reading

    /// Jobs as `dojo status` and `GET /api/jobs` show them, rates and ETA filled in; one job when
    /// `jobId` is given (empty when there is no such job).
    public func jobStatuses(jobId: String? = nil) throws -> [JobStatus] {
        let now = wallClock.nowMs
        return try db.read { db in
            let jobs = try Row.fetchAll(db, sql: "SELECT * FROM jobs WHERE (?1 IS NULL OR id = ?1) ORDER BY seq",
                                        arguments: [jobId]).map(JobRecord.init)
            var progress: [String: (total: Int, done: Int)] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT job_id, COUNT(*) AS total, SUM(state = 'done') AS done FROM shards
                WHERE state != 'split' AND (?1 IS NULL OR job_id = ?1) GROUP BY job_id
                """, arguments: [jobId]) {
                progress[row["job_id"]] = (row["total"], row["done"] ?? 0)
            }
            let rates = try Self.rates(db, jobs: jobs, nowMs: now)
            return jobs.map { job in
                var status = JobStatus(job: job, shardsTotal: progress[job.id]?.total ?? 0, shardsDone: progress[job.id]?.done ?? 0)
                if let rate = rates[job.id] {
                    status.documentsPerSecond = rate.documentsPerSecond
                    status.tokensPerSecond = rate.tokensPerSecond
                    status.etaSeconds = rate.etaSeconds
                }
                return status
            }
        }
    }

    /// Rates of the given jobs at wall time `nowMs` (default: now).
    public func rates(of jobs: [JobRecord], nowMs: UInt64? = nil) throws -> [String: JobRate] {
        let now = nowMs ?? wallClock.nowMs
        return try db.read { db in try Self.rates(db, jobs: jobs, nowMs: now) }
    }

    /// Running jobs: documents finished in the last minute over the time that minute covers (from
    /// the job's first lease if that is later; at least one second). Finished jobs: documents over
    /// first lease to last result. Queued jobs have no rate.
    static func rates(_ db: Database, jobs: [JobRecord], nowMs: UInt64) throws -> [String: JobRate] {
        let windowEnd = nowMs - nowMs % throughputBucketMs + throughputBucketMs
        let windowFrom = windowEnd > rateWindowMs ? windowEnd - rateWindowMs : 0
        var times: [String: (started: UInt64, lastDone: UInt64?)] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM job_times") {
            times[row["job_id"]] = (UInt64(row["started_wall_ms"] as Int64), (row["last_done_wall_ms"] as Int64?).map(UInt64.init))
        }
        var recent: [String: (documents: UInt64, tokens: UInt64)] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT job_id, SUM(documents) AS documents, SUM(tokens) AS tokens FROM throughput
            WHERE bucket_ms >= ? GROUP BY job_id
            """, arguments: [Int64(windowFrom)]) {
            recent[row["job_id"]] = (UInt64(row["documents"] as Int64), UInt64(row["tokens"] as Int64))
        }
        var out: [String: JobRate] = [:]
        for job in jobs {
            guard let time = times[job.id] else { continue }
            switch job.state {
            case .queued:
                continue
            case .running:
                let from = max(windowFrom, time.started)
                let seconds = max(Double(nowMs > from ? nowMs - from : 0) / 1000, 1)
                let done = recent[job.id] ?? (0, 0)
                let docsPerSecond = Double(done.documents) / seconds
                var eta: Double?
                if job.inputComplete && docsPerSecond > 0 {
                    let left = job.documentsTotal > job.documentsDone ? job.documentsTotal - job.documentsDone : 0
                    eta = Double(left) / docsPerSecond
                }
                out[job.id] = JobRate(documentsPerSecond: docsPerSecond, tokensPerSecond: Double(done.tokens) / seconds,
                                      etaSeconds: eta)
            case .completed, .failed, .cancelled:
                guard let last = time.lastDone, last > time.started else { continue }
                let seconds = Double(last - time.started) / 1000
                out[job.id] = JobRate(documentsPerSecond: Double(job.documentsDone) / seconds,
                                      tokensPerSecond: Double(job.tokens) / seconds, etaSeconds: nil)
            }
        }
        return out
    }

    /// The last `minutes` of throughput, one point per bucket, for one job or all together.
    public func throughputSeries(jobId: String? = nil, minutes: Int, nowMs: UInt64? = nil) throws -> ThroughputSeries {
        let now = nowMs ?? wallClock.nowMs
        let bucket = Self.throughputBucketMs
        let lastStart = now - now % bucket
        let span = UInt64(max(1, min(minutes, 24 * 60))) * 60_000
        let firstStart = lastStart + bucket > span ? lastStart + bucket - span : 0
        var sums: [UInt64: (documents: UInt64, errors: UInt64, tokens: UInt64)] = [:]
        try db.read { db in
            for row in try Row.fetchAll(db, sql: """
                SELECT bucket_ms, SUM(documents) AS documents, SUM(errors) AS errors, SUM(tokens) AS tokens FROM throughput
                WHERE bucket_ms >= ? AND bucket_ms <= ? AND (?3 IS NULL OR job_id = ?3) GROUP BY bucket_ms
                """, arguments: [Int64(firstStart), Int64(lastStart), jobId]) {
                sums[UInt64(row["bucket_ms"] as Int64)] = (UInt64(row["documents"] as Int64), UInt64(row["errors"] as Int64),
                                                             UInt64(row["tokens"] as Int64))
            }
        }
        var points: [ThroughputPoint] = []
        for start in stride(from: firstStart, through: lastStart, by: Int(bucket)) {
            let seconds = start == lastStart ? max(Double(now - start) / 1000, 1) : Double(bucket) / 1000
            let s = sums[start] ?? (0, 0, 0)
            points.append(ThroughputPoint(startMs: start, seconds: seconds, documents: s.documents, errors: s.errors,
                                          tokens: s.tokens, documentsPerSecond: Double(s.documents) / seconds,
                                          tokensPerSecond: Double(s.tokens) / seconds))
        }
        return ThroughputSeries(job: jobId, bucketSeconds: Int(bucket / 1000), fromMs: firstStart, toMs: now, points: points)
    }

    /// Jobs by state, shards queued / in flight / done, and documents waiting in queued shards.
    public func gauges() throws -> StoreGauges {
        try db.read { db in
            var jobs: [JobState: Int] = [:]
            for state in JobState.allCases { jobs[state] = 0 }
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") {
                if let state = JobState(rawValue: row["state"]) { jobs[state] = row["n"] }
            }
            var shards: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT state, COUNT(*) AS n FROM shards WHERE state IN ('queued', 'leased', 'done') GROUP BY state
                """) {
                shards[row["state"]] = row["n"]
            }
            let queuedDocuments = try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(s.doc_count), 0) FROM shards s JOIN jobs j ON j.id = s.job_id
                WHERE s.state = 'queued' AND j.state IN ('queued', 'running')
                """) ?? 0
            return StoreGauges(jobsByState: jobs, shardsQueued: shards["queued"] ?? 0, shardsInFlight: shards["leased"] ?? 0,
                               shardsDone: shards["done"] ?? 0, queuedDocuments: UInt64(queuedDocuments))
        }
    }

    /// Whether the database answers a query (for `/healthz`).
    public func isReadable() -> Bool {
        (try? db.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }
}
