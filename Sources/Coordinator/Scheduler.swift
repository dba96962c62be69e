// The coordinator's scheduling state machine: workers pull with credits, shards go out under
// leases (deadline + attempt id), silent workers and expired leases requeue their shards, shards
// that keep crashing workers are split until the poisoned document is isolated and quarantined,
// idle workers take straggler copies, and cancel revokes leases. No sockets and no clock of its
// own: every event carries `nowMs`, so tests drive it step by step. The store holds the durable
// state (shards, attempts, counts); this type holds only the live workers and their leases.
import Foundation
import Logging
import Wire

/// What the broker must send after an event.
public enum SchedulerAction: Equatable, Sendable {
    /// Send this lease's shard to the worker.
    case assign(worker: String, lease: Lease)
    /// Tell the worker to stop work on a job (cancelled or failed).
    case revoke(worker: String, jobId: String)
    /// Tell the worker to stop one attempt: another copy of the shard won.
    case withdraw(worker: String, jobId: String, shardIndex: UInt32, attemptId: UInt64)
    /// The worker is due a coordinator heartbeat.
    case heartbeat(worker: String)
}

/// One shard lent to one worker.
public struct Lease: Equatable, Sendable {
    public var jobId: String
    public var shardIndex: UInt32
    public var attemptId: UInt64
    public var startedMs: UInt64
    public var deadlineMs: UInt64
    public var cut: ShardCut
    /// A second copy of an in-flight shard given to an idle worker.
    public var straggler: Bool
}

/// A live worker as the scheduler sees it.
public struct WorkerState: Equatable, Sendable {
    public var info: WorkerInfo
    /// Shards it may still be given (from its `ready` messages).
    public var credits: UInt32
    /// Declared dead when the clock reaches this without a word from it.
    public var expiryMs: UInt64
    /// When the coordinator last heard from it (the scheduler's clock).
    public var lastHeardMs: UInt64
    public var nextHeartbeatMs: UInt64
    /// Its leases by attempt id.
    public var leases: [UInt64: Lease]
}

public final class Scheduler {
    public let store: JobStore
    public let paths: JobPaths
    public let output: OutputWriter
    public let policy: Policy
    let logger: Logger
    /// Told of results, expired leases and requeues (the broker sets it).
    public var metrics: CoordinatorMetrics?

    public private(set) var workers: [String: WorkerState] = [:]
    /// Workers with credit, in the order they asked; served round-robin.
    private var readyQueue: [String] = []
    /// Attempt id → worker holding it.
    private var attemptOwner: [UInt64: String] = [:]
    /// Results taken from workers and not yet committed, in arrival order.
    private var staged: [ShardResult] = []
    /// Who sent each staged result and when its lease began (attempt id → worker name, lease start), for metrics.
    private var stagedBy: [UInt64: (workerName: String, leaseStartedMs: UInt64?)] = [:]

    public init(store: JobStore, paths: JobPaths, output: OutputWriter, policy: Policy,
                logger: Logger = Logger(label: "dojo.scheduler")) {
        self.store = store; self.paths = paths; self.output = output; self.policy = policy; self.logger = logger
    }

    public func isKnown(_ worker: String) -> Bool { workers[worker] != nil }

    /// The logger with the worker named as everywhere else (`worker`: its name, which `dojo workers`
    /// and its own logs show) and `worker_id`: its routing id on this connection.
    func logger(forWorker id: String) -> Logger {
        var l = logger
        if let name = workers[id]?.info.name { l[metadataKey: "worker"] = "\(name)" }
        l[metadataKey: "worker_id"] = "\(id)"
        return l
    }

    // MARK: - Worker events

    /// A worker introduced itself. A worker already known under this identity restarted while it
    /// held leases: they cannot be honoured and count as crashes (a process that died on a
    /// document and came back under the same routing id must not hide the crash).
    public func hello(_ id: String, info: WorkerInfo, nowMs: UInt64) throws -> [SchedulerAction] {
        if workers[id] != nil { try drop(id, as: .expired, reason: "worker restarted holding the lease", nowMs: nowMs) }
        workers[id] = WorkerState(info: info, credits: 0, expiryMs: nowMs + policy.workerExpiryMs,
                                  lastHeardMs: nowMs, nextHeartbeatMs: nowMs + policy.heartbeatIntervalMs, leases: [:])
        try store.upsertWorker(info, nowMs: nowMs)
        logger(forWorker: id).info("worker joined", metadata: ["threads": "\(info.threads)"])
        return []
    }

    /// Any message from a known worker proves it alive. False for an unknown worker.
    @discardableResult
    public func seen(_ id: String, nowMs: UInt64) -> Bool {
        guard workers[id] != nil else { return false }
        workers[id]!.expiryMs = nowMs + policy.workerExpiryMs
        workers[id]!.lastHeardMs = nowMs
        return true
    }

    /// The worker can take `credits` more shards.
    public func ready(_ id: String, credits: UInt32, nowMs: UInt64) throws -> [SchedulerAction] {
        guard seen(id, nowMs: nowMs) else { return [] }
        workers[id]!.credits = UInt32(min(UInt64(workers[id]!.credits) + UInt64(credits), UInt64(UInt32.max)))
        if workers[id]!.credits > 0 && !readyQueue.contains(id) { readyQueue.append(id) }
        return try dispatch(nowMs: nowMs)
    }

    /// A worker's heartbeat renews the leases it lists as active and records its rates.
    public func heartbeat(_ id: String, stats: WorkerStats, nowMs: UInt64) throws {
        guard seen(id, nowMs: nowMs) else { return }
        for attempt in stats.activeAttemptIds where workers[id]!.leases[attempt] != nil {
            workers[id]!.leases[attempt]!.deadlineMs = nowMs + policy.leaseDurationMs
        }
        try store.workerSeen(id, documentsPerSecond: stats.documentsPerSecond, tokensPerSecond: stats.tokensPerSecond,
                             models: stats.models, adapters: stats.adapters, nowMs: nowMs)
    }

    /// A shard's result: written as the shard's output when its attempt is live, else dropped.
    /// The first result of any live attempt wins; the other copies are lost. (A group of one:
    /// `stageResult` then `commitResults`.)
    public func result(_ id: String, _ result: ShardResult, nowMs: UInt64) throws -> (ResultDisposition, [SchedulerAction]) {
        if let dropped = try stageResult(id, result, nowMs: nowMs) { return (dropped, try dispatch(nowMs: nowMs)) }
        let (dispositions, actions) = try commitResults(nowMs: nowMs)
        return (dispositions[0], actions)
    }

    /// Results staged and not yet committed (group commit).
    public var stagedResultCount: Int { staged.count }

    /// Takes a result into the group the next `commitResults` writes. Its lease ends here (the
    /// worker holds it no more), but the shard stays leased in the store, so it is done only when
    /// the group commits, and a crash before that requeues it. Returns `.dropped` at once for a
    /// result of an attempt this worker does not hold, nil when staged.
    public func stageResult(_ id: String, _ result: ShardResult, nowMs: UInt64) throws -> ResultDisposition? {
        seen(id, nowMs: nowMs)
        guard attemptOwner[result.attemptId] == id else {
            // Not a lease this worker holds now: expired, lost to a straggler copy, revoked, from
            // before a restart, or someone else's. The store would refuse most of these too; the
            // owner check also refuses a live attempt claimed by the wrong worker.
            try store.bump("results_dropped")
            let reason = "attempt \(result.attemptId) is not a lease of this worker"
            logger(forWorker: id).info("result dropped", metadata: ["job": "\(result.jobId)", "shard": "\(result.shardId)",
                                                                    "attempt": "\(result.attemptId)",
                                                     "bytes": "\(result.frame.count)", "reason": "\(reason)"])
            return .dropped(reason: reason)
        }
        let leaseStartedMs = workers[id]?.leases[result.attemptId]?.startedMs
        release(result.attemptId)
        staged.append(result)
        stagedBy[result.attemptId] = (workers[id]?.info.name ?? id, leaseStartedMs)
        return nil
    }

    /// Commits the staged results as one group (files fsynced, one transaction; see
    /// `OutputWriter.accept`) and dispatches. Dispositions are in staging order. When the group
    /// cannot be written, its attempts are abandoned so their shards are queued again, and the
    /// error is thrown.
    public func commitResults(nowMs: UInt64) throws -> ([ResultDisposition], [SchedulerAction]) {
        guard let group = try beginCommit(nowMs: nowMs) else { return ([], try dispatch(nowMs: nowMs)) }
        var writeError: Error?
        do { try output.writeOutputs(group.live) } catch { writeError = error }
        return try finishCommit(group, writeError: writeError, nowMs: nowMs)
    }

    /// Starts a group commit of the staged results: checks them (`OutputWriter.prepare`) and
    /// returns the group whose `live` results' files must be written next, on any thread, before
    /// `finishCommit`. Nil when nothing is staged. Until then the shards stay leased in the store.
    public func beginCommit(nowMs: UInt64) throws -> OutputWriter.Group? {
        guard !staged.isEmpty else { return nil }
        let results = staged
        staged.removeAll(keepingCapacity: true)
        do { return try output.prepare(results) } catch {
            try abandon(results, because: error, nowMs: nowMs)
            throw error
        }
    }

    /// Ends a group commit once its files are written (or failed with `writeError`): the shards
    /// are marked done in one transaction, straggler copies of them forgotten, and the queue
    /// dispatched. A group that could not be written or recorded is abandoned (requeued) and the
    /// error thrown.
    public func finishCommit(_ group: OutputWriter.Group, writeError: Error?, nowMs: UInt64) throws
        -> ([ResultDisposition], [SchedulerAction]) {
        let dispositions: [ResultDisposition]
        do {
            if let writeError { throw writeError }
            dispositions = try output.commit(group, nowMs: nowMs)
        } catch {
            for result in group.results { stagedBy[result.attemptId] = nil }
            try abandon(group.live, because: error, nowMs: nowMs)
            throw error
        }
        var actions: [SchedulerAction] = []
        for (result, disposition) in zip(group.results, dispositions) {
            let by = stagedBy.removeValue(forKey: result.attemptId)
            guard case .written(let finished) = disposition else { continue }
            metrics?.resultWritten(result, workerName: by?.workerName ?? "", leaseStartedMs: by?.leaseStartedMs, nowMs: nowMs)
            // Straggler copies still out lost the race: forget their leases and tell their workers to
            // stop, so they take new work instead of computing a result that would be dropped.
            for (attempt, owner) in attemptOwner.sorted(by: { $0.key < $1.key }) {
                if let lease = workers[owner]?.leases[attempt], lease.jobId == result.jobId, lease.shardIndex == result.shardId {
                    release(attempt)
                    actions.append(.withdraw(worker: owner, jobId: lease.jobId, shardIndex: lease.shardIndex, attemptId: attempt))
                }
            }
            if finished { logJobFinished(result.jobId) }
        }
        return (dispositions, actions + (try dispatch(nowMs: nowMs)))
    }

    private func abandon(_ results: [ShardResult], because error: Error, nowMs: UInt64) throws {
        logger.error("result group could not be written; its shards are requeued",
                     metadata: ["results": "\(results.count)", "error": "\(error)"])
        for result in results {
            stagedBy[result.attemptId] = nil
            _ = try store.endAttempt(result.attemptId, as: .abandoned, reason: "output not written: \(error)",
                                     nowMs: nowMs)
        }
    }

    /// The worker could not run the task on a shard. After the job's `retries` such failures of
    /// one shard the job fails (a task that cannot run is not a poisoned document).
    public func shardFailed(_ id: String, _ failure: ShardFailure, nowMs: UInt64) throws -> [SchedulerAction] {
        seen(id, nowMs: nowMs)
        guard attemptOwner[failure.attemptId] == id else { return try dispatch(nowMs: nowMs) }
        release(failure.attemptId)
        var actions: [SchedulerAction] = []
        let ended = try store.endAttempt(failure.attemptId, as: .failed, reason: failure.reason, nowMs: nowMs)
        if ended?.state == .queued { metrics?.shardsRequeued() }
        if let shard = ended, let job = try store.job(shard.jobId), shard.failCount >= job.retries, shard.state == .queued {
            let why = "shard \(shard.index) failed \(shard.failCount) times: \(failure.reason)"
            actions += try end(jobId: job.id, as: .failed, error: why, nowMs: nowMs)
        }
        return actions + (try dispatch(nowMs: nowMs))
    }

    /// The worker leaves: its leases are requeued at once, not counted as crashes.
    public func bye(_ id: String, nowMs: UInt64) throws -> [SchedulerAction] {
        guard workers[id] != nil else { return [] }
        try drop(id, as: .abandoned, reason: "worker left", nowMs: nowMs)
        return try dispatch(nowMs: nowMs)
    }

    // MARK: - Time

    /// Purges workers silent for liveness × interval (their leases count as crashes), expires
    /// leases past their deadline or the attempt timeout, beats to workers that are due, and
    /// dispatches what was requeued.
    public func tick(nowMs: UInt64) throws -> [SchedulerAction] {
        var actions: [SchedulerAction] = []
        for id in workers.keys.sorted() where nowMs >= workers[id]!.expiryMs {
            logger(forWorker: id).warning("worker expired", metadata: ["leases": "\(workers[id]!.leases.count)"])
            try drop(id, as: .expired, reason: "worker went silent", nowMs: nowMs)
        }
        for id in workers.keys.sorted() {
            for lease in workers[id]!.leases.values.sorted(by: { $0.attemptId < $1.attemptId }) {
                let stalled = nowMs >= lease.startedMs + policy.attemptTimeoutMs
                guard nowMs >= lease.deadlineMs || stalled else { continue }
                release(lease.attemptId)
                try crashed(lease.attemptId, reason: stalled ? "attempt timed out" : "lease expired", nowMs: nowMs)
            }
            if nowMs >= workers[id]!.nextHeartbeatMs {
                workers[id]!.nextHeartbeatMs = nowMs + policy.heartbeatIntervalMs
                actions.append(.heartbeat(worker: id))
            }
        }
        return actions + (try dispatch(nowMs: nowMs))
    }

    /// The earliest time `tick` has something to do: a worker's expiry or heartbeat, a lease's
    /// deadline or attempt timeout. Nil with no workers. The broker ticks then, so a silent worker
    /// is dropped when its liveness runs out, not up to a tick period later.
    public var nextDeadlineMs: UInt64? {
        var next: UInt64?
        for worker in workers.values {
            var due = min(worker.expiryMs, worker.nextHeartbeatMs)
            for lease in worker.leases.values {
                due = min(due, lease.deadlineMs, lease.startedMs + policy.attemptTimeoutMs)
            }
            next = min(next ?? due, due)
        }
        return next
    }

    // MARK: - Jobs

    /// Cancels a job: queued shards dropped, leases revoked, job → cancelled. False when the job
    /// had already finished.
    public func cancel(jobId: String, nowMs: UInt64) throws -> (wasActive: Bool, actions: [SchedulerAction]) {
        guard let job = try store.job(jobId) else { throw JobStoreError.unknownJob(jobId) }
        guard !job.state.isFinished else { return (false, []) }
        return (true, try end(jobId: jobId, as: .cancelled, error: nil, nowMs: nowMs))
    }

    /// Fails a job the coordinator cannot go on with (its spool is unreadable, its upload broke).
    public func fail(jobId: String, error: String, nowMs: UInt64) throws -> [SchedulerAction] {
        guard let job = try store.job(jobId), !job.state.isFinished else { return [] }
        return try end(jobId: jobId, as: .failed, error: error, nowMs: nowMs)
    }

    private func end(jobId: String, as state: JobState, error: String?, nowMs: UInt64) throws -> [SchedulerAction] {
        let running = try store.finishJob(jobId: jobId, state: state, error: error, nowMs: nowMs)
        var revoked: [String] = []
        for attempt in running {
            if let owner = attemptOwner[attempt.id] {
                release(attempt.id)
                if !revoked.contains(owner) { revoked.append(owner) }
            }
        }
        logger.info("job ended", metadata: ["job": "\(jobId)", "state": "\(state.rawValue)",
                                            "revoked_leases": "\(running.count)"])
        return revoked.map { .revoke(worker: $0, jobId: jobId) }
    }

    // MARK: - Dispatch

    /// Hands queued shards to workers with credit, highest priority first, workers in the order
    /// they asked; when nothing is queued, idle workers take straggler copies.
    public func dispatch(nowMs: UInt64) throws -> [SchedulerAction] {
        var actions: [SchedulerAction] = []
        // With a large fleet most ready workers find nothing queued: ask the store once per call
        // whether anything is (leasing stragglers queues nothing), and look for straggler copies
        // only when some lease is old enough to have one.
        var queueEmpty = false
        var stragglersPossible: Bool?
        var i = 0
        while i < readyQueue.count {
            let id = readyQueue[i]
            guard let worker = workers[id], worker.credits > 0 else { readyQueue.remove(at: i); continue }
            if !queueEmpty {
                if let action = try leaseNextQueued(to: id, nowMs: nowMs) {
                    actions.append(action)
                    readyQueue.remove(at: i)
                    if workers[id]!.credits > 0 { readyQueue.append(id) }  // round-robin
                    i = 0
                    continue
                }
                queueEmpty = true
            }
            if stragglersPossible == nil {
                let oldest = workers.values.lazy.flatMap { $0.leases.values.lazy.map(\.startedMs) }.min()
                stragglersPossible = oldest.map { nowMs >= $0 + policy.stragglerMinAgeMs } ?? false
            }
            if worker.leases.isEmpty, stragglersPossible == true, let shard = try stragglerCandidate(for: id, nowMs: nowMs) {
                actions.append(try lease(shard, to: id, straggler: true, nowMs: nowMs))
                readyQueue.remove(at: i)
                if workers[id]!.credits > 0 { readyQueue.append(id) }
                continue
            }
            i += 1
        }
        return actions
    }

    private func lease(_ shard: ShardRecord, to id: String, straggler: Bool, nowMs: UInt64) throws -> SchedulerAction {
        let deadline = nowMs + policy.leaseDurationMs
        let attempt = try store.leaseShard(jobId: shard.jobId, index: shard.index, worker: id, deadlineMs: deadline,
                                           straggler: straggler, nowMs: nowMs)
        return try record(shard, attempt: attempt, to: id, straggler: straggler, deadlineMs: deadline, nowMs: nowMs)
    }

    /// The next queued shard leased to `id` (one store transaction), or nil when nothing is queued.
    private func leaseNextQueued(to id: String, nowMs: UInt64) throws -> SchedulerAction? {
        let deadline = nowMs + policy.leaseDurationMs
        guard let (shard, attempt) = try store.leaseNextQueuedShard(worker: id, deadlineMs: deadline, nowMs: nowMs) else {
            return nil
        }
        return try record(shard, attempt: attempt, to: id, straggler: false, deadlineMs: deadline, nowMs: nowMs)
    }

    /// Books a lease the store granted: the worker's credit, its lease, the attempt's owner.
    private func record(_ shard: ShardRecord, attempt: UInt64, to id: String, straggler: Bool, deadlineMs deadline: UInt64,
                        nowMs: UInt64) throws -> SchedulerAction {
        let lease = Lease(jobId: shard.jobId, shardIndex: shard.index, attemptId: attempt, startedMs: nowMs,
                          deadlineMs: deadline, cut: shard.cut, straggler: straggler)
        workers[id]!.credits -= 1
        workers[id]!.leases[attempt] = lease
        attemptOwner[attempt] = id
        if straggler {
            try store.bump("straggler_copies")
            logger.info("straggler copy issued", metadata: ["job": "\(shard.jobId)", "shard": "\(shard.index)",
                                                            "attempt": "\(attempt)", "worker": "\(id)"])
        }
        return .assign(worker: id, lease: lease)
    }

    /// The oldest in-flight shard with fewer than `stragglerMaxCopies` copies out, none of them held
    /// by this worker, whose oldest copy has run at least `stragglerMinAgeMs`.
    private func stragglerCandidate(for id: String, nowMs: UInt64) throws -> ShardRecord? {
        struct Key: Hashable { var job: String; var shard: UInt32 }
        var copies: [Key: (count: Int, oldest: UInt64, holders: Set<String>)] = [:]
        for (owner, worker) in workers {
            for lease in worker.leases.values {
                let key = Key(job: lease.jobId, shard: lease.shardIndex)
                var entry = copies[key] ?? (0, UInt64.max, [])
                entry.count += 1; entry.oldest = min(entry.oldest, lease.startedMs); entry.holders.insert(owner)
                copies[key] = entry
            }
        }
        let candidates = copies.filter { _, c in
            c.count < policy.stragglerMaxCopies && !c.holders.contains(id) && nowMs >= c.oldest + policy.stragglerMinAgeMs
        }.sorted { a, b in (a.value.oldest, a.key.job, a.key.shard) < (b.value.oldest, b.key.job, b.key.shard) }
        for (key, _) in candidates {
            if let shard = try store.shard(jobId: key.job, index: key.shard), shard.state == .leased { return shard }
        }
        return nil
    }

    // MARK: - Losing workers and leases

    /// Forgets a worker: each lease it held ends `as` expired (a crash) or abandoned (requeued only).
    private func drop(_ id: String, as state: AttemptState, reason: String, nowMs: UInt64) throws {
        guard let worker = workers.removeValue(forKey: id) else { return }
        readyQueue.removeAll { $0 == id }
        // A worker runs its shards in the order they were assigned, so when it dies only its oldest
        // lease was computing; the ones queued behind it go back without a crash to their name
        // (counting them would split and finally quarantine documents that never ran).
        let running = worker.leases.keys.min()
        for attempt in worker.leases.keys.sorted() {
            attemptOwner[attempt] = nil
            if state == .expired && attempt == running {
                try crashed(attempt, reason: reason, nowMs: nowMs)
            } else if state == .expired {
                if try store.endAttempt(attempt, as: .abandoned, reason: "queued on a worker that was lost (\(reason))",
                                        nowMs: nowMs)?.state == .queued { metrics?.shardsRequeued() }
            } else {
                if try store.endAttempt(attempt, as: state, reason: reason, nowMs: nowMs)?.state == .queued { metrics?.shardsRequeued() }
            }
        }
        try store.workerGone(id, nowMs: nowMs)
    }

    private func release(_ attempt: UInt64) {
        guard let owner = attemptOwner.removeValue(forKey: attempt) else { return }
        workers[owner]?.leases[attempt] = nil
    }

    /// An attempt ended in a crash (worker died or went silent, lease expired). Once a shard has
    /// crashed enough, it is split in halves, or, a single document, quarantined.
    private func crashed(_ attempt: UInt64, reason: String, nowMs: UInt64) throws {
        guard let shard = try store.endAttempt(attempt, as: .expired, reason: reason, nowMs: nowMs) else { return }
        metrics?.leaseExpired()
        if shard.state == .queued { metrics?.shardsRequeued() }
        try store.bump("attempts_crashed")
        logger.warning("attempt crashed", metadata: ["job": "\(shard.jobId)", "shard": "\(shard.index)",
                                                     "attempt": "\(attempt)", "crashes": "\(shard.crashCount)",
                                                     "reason": "\(reason)"])
        guard shard.state == .queued, let job = try store.job(shard.jobId), !job.state.isFinished else { return }
        let threshold = shard.parentIndex == nil || shard.cut.documentCount == 1 ? job.retries : policy.crashesBeforeResplit
        guard shard.crashCount >= threshold else { return }
        let raw = try ShardReader.read(shard.cut, jobId: shard.jobId, paths: paths)
        let docs = ShardReader.documents(in: raw, cut: shard.cut)
        if let halves = ShardReader.halves(of: shard.cut, documents: docs) {
            let (a, b) = try store.splitShard(jobId: shard.jobId, index: shard.index, into: halves)
            try store.bump("shards_split")
            logger.warning("shard split to isolate a crashing document",
                           metadata: ["job": "\(shard.jobId)", "shard": "\(shard.index)", "halves": "\(a),\(b)",
                                      "docs": "\(halves.0.documentCount)+\(halves.1.documentCount)"])
        } else if let doc = docs.first {
            metrics?.documentQuarantined(jobId: shard.jobId)
            if try output.quarantine(jobId: shard.jobId, shard: shard, document: doc, crashes: shard.crashCount, nowMs: nowMs) {
                logJobFinished(shard.jobId)
            }
        }
    }

    private func logJobFinished(_ jobId: String) {
        let job = try? store.job(jobId)
        logger.info("job completed", metadata: ["job": "\(jobId)", "docs": "\(job?.documentsDone ?? 0)",
                                                "errors": "\(job?.documentErrors ?? 0)"])
    }
}
