import Coordinator
import Foundation
import Wire
import XCTest

/// Rates, ETA and the throughput chart come from samples in the store, on wall time: they are the
/// same after the coordinator reopens its database.
final class ThroughputTests: XCTestCase {
    /// A bucket-aligned wall time (2027-01-15).
    let t0: UInt64 = 1_800_000_000_000

    private func counts(_ docs: UInt64, errors: UInt64 = 0, tokens: UInt64) -> ShardCounts {
        ShardCounts(documents: docs, errors: errors, tokens: tokens, bytesRaw: 100, bytesCompressed: 50)
    }

    /// 100 documents in 4 shards of 25; two shards done at +5 s and +15 s.
    private func halfDoneJob(_ store: JobStore, dir: URL, wall: ManualClock) throws -> String {
        let spec = JobSpec(task: "noop", shardSize: 25)
        let job = try store.createJob(name: "rates", spec: spec, specData: Data(#"{"task":"noop"}"#.utf8), nowMs: 0)
        let (cuts, docs) = try spool(makeInput(count: 100), paths: JobPaths(dataDirectory: dir), jobId: job.id,
                                     shardSize: spec.shardSize, shardTokens: spec.shardTokens)
        try store.appendShards(jobId: job.id, cuts: cuts)
        _ = try store.completeInput(jobId: job.id, documents: docs, inputBytes: 4_100, nowMs: 0)
        let a0 = try store.leaseShard(jobId: job.id, index: 0, worker: "w", deadlineMs: 99_999, straggler: false, nowMs: 0)
        wall.set(toMs: t0 + 5_000)
        XCTAssertEqual(try store.completeShard(jobId: job.id, index: 0, attemptId: a0, counts: counts(25, errors: 1, tokens: 250),
                                               nowMs: 5_000), .accepted(jobFinished: false))
        let a1 = try store.leaseShard(jobId: job.id, index: 1, worker: "w", deadlineMs: 99_999, straggler: false, nowMs: 5_000)
        wall.set(toMs: t0 + 15_000)
        XCTAssertEqual(try store.completeShard(jobId: job.id, index: 1, attemptId: a1, counts: counts(25, tokens: 300),
                                               nowMs: 15_000), .accepted(jobFinished: false))
        return job.id
    }

    func testRatesEtaAndSeriesSurviveReopeningTheStore() throws {
        let dir = try makeDataDirectory(self)
        let wall = ManualClock(startMs: t0)
        let jobId: String
        do {
            let store = try JobStore(directory: dir, nowMs: 0, wallClock: wall)
            jobId = try halfDoneJob(store, dir: dir, wall: wall)
        }
        wall.set(toMs: t0 + 20_000)
        let store = try JobStore(directory: dir, nowMs: 1, wallClock: wall)

        // 50 documents since the first lease 20 s ago: 2.5 docs/s, 550 tokens: 27.5 tokens/s, 50 left: 20 s.
        let status = try XCTUnwrap(store.jobStatuses(jobId: jobId).first)
        XCTAssertEqual(status.state, "running")
        XCTAssertEqual(status.documentsDone, 50)
        XCTAssertEqual(status.documentsPerSecond, 2.5)
        XCTAssertEqual(status.tokensPerSecond, 27.5)
        XCTAssertEqual(status.etaSeconds, 20)
        XCTAssertEqual(try store.jobStatuses(), [status])
        XCTAssertEqual(try store.jobStatuses(jobId: "j999999"), [])

        // One minute of 10 s buckets, the last one open for 0 s (counted as 1 s).
        let series = try store.throughputSeries(minutes: 1)
        XCTAssertEqual(series.bucketSeconds, 10)
        XCTAssertEqual(series.fromMs, t0 - 30_000)
        XCTAssertEqual(series.toMs, t0 + 20_000)
        XCTAssertEqual(series.points.map(\.startMs), stride(from: t0 - 30_000, through: t0 + 20_000, by: 10_000).map { $0 })
        XCTAssertEqual(series.points.map(\.documents), [0, 0, 0, 25, 25, 0])
        XCTAssertEqual(series.points.map(\.errors), [0, 0, 0, 1, 0, 0])
        XCTAssertEqual(series.points.map(\.tokens), [0, 0, 0, 250, 300, 0])
        XCTAssertEqual(series.points.map(\.documentsPerSecond), [0, 0, 0, 2.5, 2.5, 0])
        XCTAssertEqual(series.points.map(\.seconds), [10, 10, 10, 10, 10, 1])
        XCTAssertEqual(try store.throughputSeries(jobId: "j999999", minutes: 1).points.map(\.documents), [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try store.throughputSeries(minutes: 60).points.count, 360)

        // Two quiet minutes later the rate is zero and there is no ETA.
        wall.set(toMs: t0 + 140_000)
        let stalled = try XCTUnwrap(store.jobStatuses(jobId: jobId).first)
        XCTAssertEqual(stalled.documentsPerSecond, 0)
        XCTAssertNil(stalled.etaSeconds)

        // Finished: documents over first lease to last result, no ETA.
        for index: UInt32 in 2...3 {
            let attempt = try store.leaseShard(jobId: jobId, index: index, worker: "w", deadlineMs: 999_999, straggler: false,
                                               nowMs: 140_000)
            wall.set(toMs: t0 + 150_000 + UInt64(index - 2) * 100_000)
            _ = try store.completeShard(jobId: jobId, index: index, attemptId: attempt, counts: counts(25, tokens: 100),
                                        nowMs: 150_000)
        }
        let done = try XCTUnwrap(store.jobStatuses(jobId: jobId).first)
        XCTAssertEqual(done.state, "completed")
        XCTAssertEqual(done.documentsPerSecond, 0.4)  // 100 documents in 250 s
        XCTAssertEqual(done.tokensPerSecond, 3.0)     // 750 tokens
        XCTAssertNil(done.etaSeconds)
    }

    func testQueuedJobHasNoRate() throws {
        let dir = try makeDataDirectory(self)
        let store = try JobStore(directory: dir, nowMs: 0, wallClock: ManualClock(startMs: t0))
        let job = try store.createJob(name: "q", spec: JobSpec(task: "noop"), specData: Data("{}".utf8), nowMs: 0)
        let status = try XCTUnwrap(store.jobStatuses(jobId: job.id).first)
        XCTAssertEqual(status.state, "queued")
        XCTAssertNil(status.documentsPerSecond)
        XCTAssertNil(status.tokensPerSecond)
        XCTAssertNil(status.etaSeconds)
    }

    func testGaugesCountJobsShardsAndQueuedDocuments() throws {
        let dir = try makeDataDirectory(self)
        let wall = ManualClock(startMs: t0)
        let store = try JobStore(directory: dir, nowMs: 0, wallClock: wall)
        let jobId = try halfDoneJob(store, dir: dir, wall: wall)
        _ = try store.leaseShard(jobId: jobId, index: 2, worker: "w", deadlineMs: 99_999, straggler: false, nowMs: 0)
        _ = try store.createJob(name: "uploading", spec: JobSpec(task: "noop"), specData: Data("{}".utf8), nowMs: 0)
        let gauges = try store.gauges()
        XCTAssertEqual(gauges.jobsByState, [.queued: 1, .running: 1, .completed: 0, .failed: 0, .cancelled: 0])
        XCTAssertEqual([gauges.shardsQueued, gauges.shardsInFlight, gauges.shardsDone], [1, 1, 2])
        XCTAssertEqual(gauges.queuedDocuments, 25)
        XCTAssertTrue(store.isReadable())
    }
}
