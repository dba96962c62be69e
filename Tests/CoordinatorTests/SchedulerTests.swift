import Coordinator
import Foundation
import Wire
import XCTest

final class SchedulerTests: XCTestCase {
    /// A worker that says nothing for liveness × interval (3 × 1 s) loses its lease; the shard is
    /// requeued and completed by another worker.
    func testSilentWorkerLosesItsShardAfterThreeIntervals() throws {
        let h = try SchedulerHarness(self, policy: Policy(stragglerMinAgeMs: 60_000))
        let job = try h.submit(makeInput(count: 10))
        let first = try h.join("w1", nowMs: 0).leases
        XCTAssertEqual(first.map(\.worker), ["w1"])
        XCTAssertEqual(first[0].lease.attemptId, 1)
        _ = try h.scheduler.hello("w2", info: WorkerInfo(identity: "w2", name: "w2", threads: 1), nowMs: 0)
        for t: UInt64 in [1_000, 2_000, 2_999] {
            try h.scheduler.heartbeat("w2", stats: WorkerStats(documentsPerSecond: 0, tokensPerSecond: 0), nowMs: t)
            XCTAssertEqual(try h.scheduler.tick(nowMs: t).leases.count, 0)
            XCTAssertEqual(try h.store.shard(jobId: job.id, index: 0)?.state, .leased, "at \(t) ms")
        }
        try h.scheduler.heartbeat("w2", stats: WorkerStats(documentsPerSecond: 0, tokensPerSecond: 0), nowMs: 3_000)
        _ = try h.scheduler.tick(nowMs: 3_000)
        XCTAssertFalse(h.scheduler.isKnown("w1"))
        let shard = try XCTUnwrap(h.store.shard(jobId: job.id, index: 0))
        XCTAssertEqual(shard.state, .queued)
        XCTAssertEqual(shard.crashCount, 1)
        XCTAssertEqual(try h.store.attempt(1)?.state, .expired)

        let second = try h.scheduler.ready("w2", credits: 1, nowMs: 3_000).leases
        XCTAssertEqual(second.map(\.worker), ["w2"])
        XCTAssertEqual(second[0].lease.attemptId, 2)
        let (disposition, _) = try h.scheduler.result("w2", try h.result(for: second[0].lease), nowMs: 3_500)
        XCTAssertEqual(disposition, .written(jobFinished: true))
        XCTAssertEqual(try h.store.job(job.id)?.state, .completed)
        XCTAssertEqual(try h.store.job(job.id)?.documentsDone, 10)
        XCTAssertEqual(try h.mergedLines(job.id).count, 10)
    }

    /// A worker that dies holding two shards was computing only the first (it runs them in the
    /// order given): that one counts a crash, the one queued behind it goes back without one, so an
    /// innocent shard is never split or quarantined for sitting in a dying worker's queue.
    func testLostWorkerCrashCountsOnlyTheShardItWasComputing() throws {
        let h = try SchedulerHarness(self, policy: Policy(stragglerMinAgeMs: 60_000))
        let job = try h.submit(makeInput(count: 20), spec: JobSpec(task: "noop", shardSize: 10))
        let leases = try h.join("w1", credits: 2, nowMs: 0).leases
        XCTAssertEqual(leases.map { "\($0.lease.shardIndex)/\($0.lease.attemptId)" }, ["0/1", "1/2"])
        _ = try h.scheduler.tick(nowMs: 3_000)
        XCTAssertFalse(h.scheduler.isKnown("w1"))
        XCTAssertEqual(try h.store.attempt(1)?.state, .expired)
        XCTAssertEqual(try h.store.attempt(2)?.state, .abandoned)
        XCTAssertEqual(try h.store.shards(jobId: job.id).map(\.state), [.queued, .queued])
        XCTAssertEqual(try h.store.shards(jobId: job.id).map(\.crashCount), [1, 0])
    }

    /// A worker loads models when a shard needs them, after its hello; its heartbeats keep the
    /// store's view (`dojo workers`, the API) of what it has loaded current.
    func testHeartbeatReportsModelsLoadedAfterHello() throws {
        let h = try SchedulerHarness(self)
        _ = try h.join("w1", nowMs: 0)
        XCTAssertEqual(try h.store.workers().map(\.info.models), [[]])
        try h.scheduler.heartbeat("w1", stats: WorkerStats(documentsPerSecond: 5, tokensPerSecond: 50,
                                                           models: ["all-MiniLM-L6-v2"], adapters: ["cuad-lora"]), nowMs: 1_000)
        let worker = try XCTUnwrap(h.store.workers().first)
        XCTAssertEqual(worker.info.models, ["all-MiniLM-L6-v2"])
        XCTAssertEqual(worker.info.adapters, ["cuad-lora"])
        XCTAssertEqual(worker.lastSeenMs, 1_000)
    }

    /// Exactly once: a straggler copy that wins makes the original's result stale, and a result
    /// after the lease expired is dropped; each shard has one output file and counts add up once.
    func testExactlyOnceUnderStragglersAndStaleLeases() throws {
        let policy = Policy(leaseDurationMs: 4_000, stragglerMinAgeMs: 2_000)
        let h = try SchedulerHarness(self, policy: policy)
        let job = try h.submit(makeInput(count: 20), spec: JobSpec(task: "noop", shardSize: 10))
        let a = try h.join("w1", credits: 2, nowMs: 0).leases
        XCTAssertEqual(a.map(\.lease.shardIndex), [0, 1])
        XCTAssertEqual(try h.join("w2", credits: 1, nowMs: 0).leases.count, 0, "nothing queued, no straggler yet")
        let beat = WorkerStats(documentsPerSecond: 1, tokensPerSecond: 1, activeAttemptIds: [1, 2])
        try h.scheduler.heartbeat("w1", stats: beat, nowMs: 1_000)
        try h.scheduler.heartbeat("w2", stats: WorkerStats(documentsPerSecond: 0, tokensPerSecond: 0), nowMs: 1_000)
        XCTAssertEqual(try h.scheduler.tick(nowMs: 1_000).leases.count, 0)
        try h.scheduler.heartbeat("w1", stats: beat, nowMs: 2_000)
        try h.scheduler.heartbeat("w2", stats: WorkerStats(documentsPerSecond: 0, tokensPerSecond: 0), nowMs: 2_000)
        let copy = try h.scheduler.tick(nowMs: 2_000).leases
        XCTAssertEqual(copy.map(\.worker), ["w2"])
        XCTAssertEqual(copy[0].lease.shardIndex, 0)
        XCTAssertEqual(copy[0].lease.attemptId, 3)
        XCTAssertTrue(copy[0].lease.straggler)

        // The straggler copy finishes first and wins; the original is withdrawn and its result dropped.
        let (won, afterWin) = try h.scheduler.result("w2", try h.result(for: copy[0].lease, tag: "copy"), nowMs: 2_500)
        XCTAssertEqual(won, .written(jobFinished: false))
        XCTAssertEqual(afterWin.filter { if case .withdraw = $0 { return true } else { return false } },
                       [.withdraw(worker: "w1", jobId: job.id, shardIndex: 0, attemptId: 1)])
        XCTAssertEqual(try h.store.attempt(1)?.state, .lost)
        XCTAssertEqual(try h.scheduler.result("w1", try h.result(for: a[0].lease, tag: "orig"), nowMs: 2_600).0,
                       .dropped(reason: "attempt 1 is not a lease of this worker"))

        // Shard 1's lease is not renewed (w1 stops listing it) and expires at 2,000 + 4,000.
        try h.scheduler.heartbeat("w1", stats: WorkerStats(documentsPerSecond: 1, tokensPerSecond: 1), nowMs: 3_000)
        for t: UInt64 in [4_000, 5_000] {
            try h.scheduler.heartbeat("w1", stats: WorkerStats(documentsPerSecond: 1, tokensPerSecond: 1), nowMs: t)
            try h.scheduler.heartbeat("w2", stats: WorkerStats(documentsPerSecond: 0, tokensPerSecond: 0), nowMs: t)
            _ = try h.scheduler.tick(nowMs: t)
        }
        XCTAssertEqual(try h.store.shard(jobId: job.id, index: 1)?.state, .leased)
        try h.scheduler.heartbeat("w2", stats: WorkerStats(documentsPerSecond: 0, tokensPerSecond: 0), nowMs: 6_000)
        try h.scheduler.heartbeat("w1", stats: WorkerStats(documentsPerSecond: 1, tokensPerSecond: 1), nowMs: 6_000)
        XCTAssertEqual(try h.scheduler.tick(nowMs: 6_000).leases.count, 0)
        XCTAssertEqual(try h.store.attempt(2)?.state, .expired)
        XCTAssertEqual(try h.store.shard(jobId: job.id, index: 1)?.state, .queued)
        // The stale result arrives late: dropped, and the shard stays queued.
        XCTAssertEqual(try h.scheduler.result("w1", try h.result(for: a[1].lease, tag: "late"), nowMs: 6_100).0,
                       .dropped(reason: "attempt 2 is not a lease of this worker"))
        XCTAssertEqual(try h.store.shard(jobId: job.id, index: 1)?.state, .queued)
        let redo = try h.scheduler.ready("w2", credits: 1, nowMs: 6_200).leases
        XCTAssertEqual(redo.map { "\($0.worker)/\($0.lease.shardIndex)/\($0.lease.attemptId)" }, ["w2/1/4"])
        XCTAssertEqual(try h.scheduler.result("w2", try h.result(for: redo[0].lease, tag: "redo"), nowMs: 6_300).0,
                       .written(jobFinished: true))

        XCTAssertEqual(try h.outputFiles(job.id), ["0.jsonl.lz4", "1.jsonl.lz4"])
        let lines = try h.mergedLines(job.id)
        XCTAssertEqual(lines.count, 20)
        XCTAssertEqual(lines.first, #"{"id":"d1","copy":true}"#)
        XCTAssertEqual(lines.last, #"{"id":"d20","redo":true}"#)
        XCTAssertEqual(Set(lines.map { $0.components(separatedBy: "\"")[3] }).count, 20)
        let done = try XCTUnwrap(h.store.job(job.id))
        XCTAssertEqual([done.documentsTotal, done.documentsDone, done.documentErrors, done.tokens], [20, 20, 0, 200])
        XCTAssertEqual(try h.store.counter("results_dropped"), 2)
        XCTAssertEqual(try h.store.counter("shards_done"), 2)
    }

    /// A shard of 10 documents where document 7 kills every worker that runs it: the shard is
    /// split until d7 stands alone, d7 gets a quarantine record, the other 9 complete.
    func testPoisonDocumentIsIsolatedAndQuarantined() throws {
        let h = try SchedulerHarness(self)
        let job = try h.submit(makeInput(count: 10))
        var now: UInt64 = 0
        var generation = 0
        var worker = "w0"
        var actions = try h.join(worker, nowMs: now)
        var crashes = 0
        var rounds = 0
        while try h.store.job(job.id)?.state == .running, rounds < 100 {
            rounds += 1
            guard let lease = actions.leases.first?.lease else { XCTFail("no work handed out at \(now) ms"); break }
            let ids = try h.documents(of: lease).map { String(decoding: $0.bytes, as: UTF8.self) }
            if ids.contains(where: { $0.contains("\"d7\"") }) {
                // The worker process dies: silence until it is declared dead, then a new one joins.
                crashes += 1
                now += 3_000
                _ = try h.scheduler.tick(nowMs: now)
                generation += 1
                worker = "w\(generation)"
                actions = try h.join(worker, nowMs: now)
            } else {
                now += 10
                _ = try h.scheduler.result(worker, try h.result(for: lease), nowMs: now)
                actions = try h.scheduler.ready(worker, credits: 1, nowMs: now)
            }
        }
        XCTAssertEqual(try h.store.job(job.id)?.state, .completed)
        // 3 crashes of the original shard, 1 each of the halves d6–d10 and d6–d7, 3 of d7 alone.
        XCTAssertEqual(crashes, 8)
        XCTAssertEqual(try h.store.counter("attempts_crashed"), 8)
        XCTAssertEqual(try h.store.counter("shards_split"), 3)
        let lines = try h.mergedLines(job.id)
        XCTAssertEqual(lines, (1...10).map { i in
            i == 7 ? #"{"id":"d7","error":"document crashed or stalled the worker 3 times; quarantined"}"#
                   : "{\"id\":\"d\(i)\",\"ok\":true}"
        })
        let done = try XCTUnwrap(h.store.job(job.id))
        XCTAssertEqual([done.documentsDone, done.documentErrors], [10, 1])
        XCTAssertEqual(try h.store.outputShards(jobId: job.id).map(\.cut.documentCount), [5, 1, 1, 3])
    }

    /// A worker process that dies and comes back under the same routing id says hello while the
    /// coordinator still counts its lease: that lease ends as a crash, and the shard goes out again.
    func testHelloAgainWhileHoldingALeaseCountsAsACrash() throws {
        let h = try SchedulerHarness(self)
        let job = try h.submit(makeInput(count: 10))
        XCTAssertEqual(try h.join("w1", nowMs: 0).leases.map(\.lease.attemptId), [1])
        let again = try h.join("w1", nowMs: 500).leases
        XCTAssertEqual(try h.store.attempt(1)?.state, .expired)
        XCTAssertEqual(try h.store.shard(jobId: job.id, index: 0)?.crashCount, 1)
        XCTAssertEqual(again.map { "\($0.worker)/\($0.lease.attemptId)" }, ["w1/2"])
    }

    func testQuarantineRecordForLineWithoutJSONId() {
        let doc = SpooledDocument(line: 12, byteOffset: 0, bytes: Data("not json".utf8))
        XCTAssertEqual(String(decoding: OutputWriter.quarantineRecord(document: doc, crashes: 3), as: UTF8.self),
                       "{\"line\":12,\"error\":\"document crashed or stalled the worker 3 times; quarantined\"}\n")
        let numeric = SpooledDocument(line: 1, byteOffset: 0, bytes: Data(#"{"id":42,"text":"x"}"#.utf8))
        XCTAssertEqual(String(decoding: OutputWriter.quarantineRecord(document: numeric, crashes: 5), as: UTF8.self),
                       "{\"id\":42,\"error\":\"document crashed or stalled the worker 5 times; quarantined\"}\n")
    }

    func testCancelDropsQueuedShardsAndRevokesLeases() throws {
        let h = try SchedulerHarness(self)
        let job = try h.submit(makeInput(count: 30), spec: JobSpec(task: "noop", shardSize: 10))
        let leased = try h.join("w1", nowMs: 0).leases
        XCTAssertEqual(leased.count, 1)
        let (wasActive, actions) = try h.scheduler.cancel(jobId: job.id, nowMs: 100)
        XCTAssertTrue(wasActive)
        XCTAssertEqual(actions, [.revoke(worker: "w1", jobId: job.id)])
        XCTAssertEqual(try h.store.job(job.id)?.state, .cancelled)
        XCTAssertEqual(try h.store.shards(jobId: job.id).map(\.state), [.cancelled, .cancelled, .cancelled])
        XCTAssertEqual(try h.scheduler.result("w1", try h.result(for: leased[0].lease), nowMs: 200).0,
                       .dropped(reason: "attempt 1 is not a lease of this worker"))
        XCTAssertEqual(try h.outputFiles(job.id), [])
        XCTAssertEqual(try h.scheduler.ready("w1", credits: 1, nowMs: 300).leases.count, 0)
        XCTAssertEqual(try h.scheduler.cancel(jobId: job.id, nowMs: 400).wasActive, false)
    }

    func testHigherPriorityJobsGoFirstThenSubmissionOrder() throws {
        let h = try SchedulerHarness(self)
        let low = try h.submit(makeInput(count: 20), spec: JobSpec(task: "noop", shardSize: 10, priority: 0))
        let high = try h.submit(makeInput(count: 10), spec: JobSpec(task: "noop", shardSize: 10, priority: 9))
        let later = try h.submit(makeInput(count: 10), spec: JobSpec(task: "noop", shardSize: 10, priority: 0))
        let order = try h.join("w", credits: 4, nowMs: 0).leases.map { "\($0.lease.jobId)/\($0.lease.shardIndex)" }
        XCTAssertEqual(order, ["\(high.id)/0", "\(low.id)/0", "\(low.id)/1", "\(later.id)/0"])
    }

    func testShardFailuresFailTheJobAfterRetries() throws {
        let h = try SchedulerHarness(self)
        let job = try h.submit(makeInput(count: 20), spec: JobSpec(task: "noop", shardSize: 10, retries: 2))
        var actions = try h.join("w", credits: 1, nowMs: 0)
        for attempt in 1...2 {
            let lease = try XCTUnwrap(actions.leases.first?.lease)
            XCTAssertEqual(lease.shardIndex, 0, "attempt \(attempt)")
            actions = try h.scheduler.shardFailed("w", ShardFailure(jobId: job.id, shardId: 0, attemptId: lease.attemptId,
                                                                      reason: "model not found"), nowMs: 10)
            actions += try h.scheduler.ready("w", credits: 1, nowMs: 10)
        }
        let failed = try XCTUnwrap(h.store.job(job.id))
        XCTAssertEqual(failed.state, .failed)
        XCTAssertEqual(failed.error, "shard 0 failed 2 times: model not found")
        XCTAssertEqual(actions.leases.count, 0)
    }
}
