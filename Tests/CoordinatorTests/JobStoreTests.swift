import Coordinator
import Foundation
import XCTest

final class JobStoreTests: XCTestCase {
    private func cuts(_ n: Int, docs: Int = 10) -> [ShardCut] {
        (0..<n).map { i in
            ShardCut(firstLine: UInt64(i * docs + 1), byteOffset: UInt64(i * docs * 41), byteLength: UInt64(docs * 41),
                     documentCount: docs, approxTokens: UInt64(docs * 10))
        }
    }

    func testRoundTripAndCounts() throws {
        let dir = try makeDataDirectory(self)
        let store = try JobStore(directory: dir, nowMs: 1_000)
        let spec = try JobSpec(json: Data(#"{"task":"embed","priority":2,"retries":4}"#.utf8))
        let job = try store.createJob(name: "first", spec: spec, specData: Data(#"{"task":"embed"}"#.utf8), nowMs: 1_000)
        XCTAssertEqual(job.id, "j000001")
        XCTAssertEqual(job.state, .queued)
        XCTAssertEqual(job.priority, 2)
        XCTAssertEqual(job.retries, 4)
        XCTAssertEqual(try store.appendShards(jobId: job.id, cuts: cuts(3)), [0, 1, 2])
        XCTAssertNil(try store.nextQueuedShard(), "a job whose input is still uploading is not scheduled")
        _ = try store.completeInput(jobId: job.id, documents: 30, inputBytes: 1230, nowMs: 1_001)
        XCTAssertEqual(try store.nextQueuedShard()?.index, 0)

        let a1 = try store.leaseShard(jobId: job.id, index: 0, worker: "w1", deadlineMs: 31_000, straggler: false, nowMs: 1_002)
        XCTAssertEqual(a1, 1)
        XCTAssertEqual(try store.job(job.id)?.state, .running)
        XCTAssertEqual(try store.job(job.id)?.startedMs, 1_002)
        XCTAssertEqual(try store.nextQueuedShard()?.index, 1)
        let counts = ShardCounts(documents: 10, errors: 1, tokens: 500, bytesRaw: 4000, bytesCompressed: 900)
        XCTAssertEqual(try store.completeShard(jobId: job.id, index: 0, attemptId: a1, counts: counts, nowMs: 1_003),
                       .accepted(jobFinished: false))
        XCTAssertEqual(try store.completeShard(jobId: job.id, index: 0, attemptId: a1, counts: counts, nowMs: 1_004),
                       .stale(reason: "attempt 1 is succeeded"))
        for idx: UInt32 in [1, 2] {
            let a = try store.leaseShard(jobId: job.id, index: idx, worker: "w1", deadlineMs: 31_000, straggler: false, nowMs: 1_005)
            _ = try store.completeShard(jobId: job.id, index: idx, attemptId: a, counts: counts, nowMs: 1_006)
        }
        let done = try XCTUnwrap(store.job(job.id))
        XCTAssertEqual(done.state, .completed)
        XCTAssertEqual(done.finishedMs, 1_006)
        XCTAssertEqual([done.documentsTotal, done.documentsDone, done.documentErrors, done.tokens, done.bytesRaw,
                        done.bytesCompressed], [30, 30, 3, 1500, 12000, 2700])
        XCTAssertEqual(try store.counter("shards_done"), 3)
    }

    func testReopenAfterCrashRequeuesLeasesKeepsDoneShardsAndCounts() throws {
        let dir = try makeDataDirectory(self)
        var jobId = ""
        var leasedAttempt: UInt64 = 0
        do {
            let store = try JobStore(directory: dir, nowMs: 0)
            let job = try store.createJob(name: "j", spec: JobSpec(task: "embed"), specData: Data("{}".utf8), nowMs: 0)
            jobId = job.id
            try store.appendShards(jobId: jobId, cuts: cuts(3))
            _ = try store.completeInput(jobId: jobId, documents: 30, inputBytes: 1230, nowMs: 0)
            let a = try store.leaseShard(jobId: jobId, index: 0, worker: "w1", deadlineMs: 100, straggler: false, nowMs: 1)
            _ = try store.completeShard(jobId: jobId, index: 0, attemptId: a,
                                        counts: ShardCounts(documents: 10, errors: 0, tokens: 70, bytesRaw: 400, bytesCompressed: 99),
                                        nowMs: 2)
            leasedAttempt = try store.leaseShard(jobId: jobId, index: 1, worker: "w1", deadlineMs: 100, straggler: false, nowMs: 3)
            try store.upsertWorker(WorkerInfo(identity: "w1", name: "box", threads: 2), nowMs: 3)
            // An upload cut off midway.
            let partial = try store.createJob(name: "p", spec: JobSpec(task: "embed"), specData: Data("{}".utf8), nowMs: 4)
            try store.appendShards(jobId: partial.id, cuts: cuts(1))
        }  // the coordinator dies here: nothing else is written

        let reopened = try JobStore(directory: dir, nowMs: 50)
        XCTAssertEqual(reopened.recovery, RecoveryReport(requeuedShards: 1, failedUploads: ["j000002"], resumedJobs: [jobId]))
        let shards = try reopened.shards(jobId: jobId)
        XCTAssertEqual(shards.map(\.state), [.done, .queued, .queued])
        XCTAssertNil(shards[1].leaseWorker)
        XCTAssertEqual(shards[0].counts, ShardCounts(documents: 10, errors: 0, tokens: 70, bytesRaw: 400, bytesCompressed: 99))
        let job = try XCTUnwrap(reopened.job(jobId))
        XCTAssertEqual(job.state, .running)
        XCTAssertEqual([job.documentsDone, job.tokens, job.bytesRaw, job.bytesCompressed], [10, 70, 400, 99])
        XCTAssertEqual(try reopened.attempt(leasedAttempt)?.state, .abandoned)
        // The lease held before the crash cannot be honoured: its result is dropped.
        XCTAssertEqual(try reopened.completeShard(jobId: jobId, index: 1, attemptId: leasedAttempt,
                                                  counts: ShardCounts(documents: 10, errors: 0, tokens: 0, bytesRaw: 0, bytesCompressed: 0),
                                                  nowMs: 51), .stale(reason: "attempt 2 is abandoned"))
        XCTAssertEqual(try reopened.job("j000002")?.state, .failed)
        XCTAssertEqual(try reopened.shards(jobId: "j000002").map(\.state), [.cancelled])
        XCTAssertEqual(try reopened.workers().map(\.connected), [false])
        // Attempt ids keep growing across restarts, so an old id is never handed out again.
        let next = try reopened.leaseShard(jobId: jobId, index: 1, worker: "w2", deadlineMs: 900, straggler: false, nowMs: 52)
        XCTAssertEqual(next, 3)
        XCTAssertEqual(try reopened.nextQueuedShard()?.index, 2)
        XCTAssertEqual(try reopened.counter("coordinator_starts"), 2)
    }

    func testPriorityThenSubmissionOrder() throws {
        let store = try JobStore(directory: try makeDataDirectory(self), nowMs: 0)
        var ids: [String] = []
        for (name, priority) in [("low", 0), ("high", 5), ("low2", 0)] {
            let j = try store.createJob(name: name, spec: JobSpec(task: "t", priority: priority), specData: Data("{}".utf8), nowMs: 0)
            try store.appendShards(jobId: j.id, cuts: cuts(2))
            _ = try store.completeInput(jobId: j.id, documents: 20, inputBytes: 820, nowMs: 0)
            ids.append(j.id)
        }
        var order: [String] = []
        while let s = try store.nextQueuedShard() {
            order.append("\(s.jobId)/\(s.index)")
            _ = try store.leaseShard(jobId: s.jobId, index: s.index, worker: "w", deadlineMs: 9, straggler: false, nowMs: 1)
        }
        XCTAssertEqual(order, ["\(ids[1])/0", "\(ids[1])/1", "\(ids[0])/0", "\(ids[0])/1", "\(ids[2])/0", "\(ids[2])/1"])
    }

    func testJobSpecFieldsAndDefaults() throws {
        let spec = try JobSpec(json: Data(#"{"task":"embed","model":"minilm","name":"n"}"#.utf8))
        XCTAssertEqual(spec, JobSpec(task: "embed", name: "n", shardSize: 256, shardTokens: 131_072, retries: 3, priority: 0))
        XCTAssertThrowsError(try JobSpec(json: Data(#"{"task":"embed","shard_size":0}"#.utf8))) {
            XCTAssertEqual($0 as? JobSpecError, JobSpecError(field: "shard_size", problem: "must be at least 1"))
        }
        XCTAssertThrowsError(try JobSpec(json: Data(#"{"task":"embed","retries":true}"#.utf8))) {
            XCTAssertEqual($0 as? JobSpecError, JobSpecError(field: "retries", problem: "must be an integer"))
        }
        XCTAssertThrowsError(try JobSpec(json: Data(#"{"model":"x"}"#.utf8))) {
            XCTAssertEqual(($0 as? JobSpecError)?.field, "task")
        }
        XCTAssertThrowsError(try JobSpec(json: Data("task: embed".utf8)))
    }
}
