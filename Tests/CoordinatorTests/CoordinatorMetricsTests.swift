import Coordinator
import Foundation
import Wire
import XCTest

/// The Prometheus series ops/ relies on, with the values a small job leaves behind.
final class CoordinatorMetricsTests: XCTestCase {
    /// Lines of the exposition that start with `prefix`, sorted (the registry emits families in no fixed order).
    private func lines(_ text: String, _ prefix: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix + "{") || $0.hasPrefix(prefix + " ") }.sorted()
    }

    func testSmallJobWithOneLostWorker() throws {
        let h = try SchedulerHarness(self)
        let metrics = CoordinatorMetrics(store: h.store)
        h.scheduler.metrics = metrics
        let job = try h.submit(makeInput(count: 100), spec: JobSpec(task: "noop", shardSize: 30))
        XCTAssertEqual(job.shardCount, 4)

        // w0 takes a shard and goes silent: after 3 s its lease expires and the shard is requeued.
        XCTAssertEqual(try h.join("w0", nowMs: 0).leases.count, 1)
        _ = try h.scheduler.tick(nowMs: 3_000)
        XCTAssertFalse(h.scheduler.isKnown("w0"))

        // box-1 does the four shards, 250 ms each, reporting 3 errors in the last one.
        _ = try h.scheduler.hello("id-1", info: WorkerInfo(identity: "id-1", name: "box-1", threads: 1), nowMs: 3_000)
        var now: UInt64 = 3_000
        var lease = try XCTUnwrap(try h.scheduler.ready("id-1", credits: 1, nowMs: now).leases.first?.lease)
        var tokens: UInt64 = 0
        for i in 0..<4 {
            now += 250
            var result = try h.result(for: lease)
            if i == 3 { result.errorCount = 3 }
            tokens += result.tokenCount
            let (disposition, actions) = try h.scheduler.result("id-1", result, nowMs: now)
            XCTAssertEqual(disposition, .written(jobFinished: i == 3))
            XCTAssertTrue(actions.leases.isEmpty)
            if i < 3 { lease = try XCTUnwrap(try h.scheduler.ready("id-1", credits: 1, nowMs: now).leases.first?.lease) }
        }
        now += 1_500
        let text = try metrics.exposition(live: LiveSnapshot(workers: h.scheduler.workers, publishedMs: now), nowMs: now)

        let j = job.id
        XCTAssertEqual(lines(text, "dojo_documents_processed_total"), [#"dojo_documents_processed_total{job="\#(j)",task="noop",worker="box-1"} 100"#])
        XCTAssertEqual(lines(text, "dojo_tokens_processed_total"), [#"dojo_tokens_processed_total{job="\#(j)",task="noop",worker="box-1"} \#(tokens)"#])
        XCTAssertEqual(lines(text, "dojo_document_errors_total"), [#"dojo_document_errors_total{job="\#(j)",task="noop"} 3"#])
        XCTAssertEqual(lines(text, "dojo_lease_expiries_total"), ["dojo_lease_expiries_total 1"])
        XCTAssertEqual(lines(text, "dojo_requeues_total"), ["dojo_requeues_total 1"])
        XCTAssertEqual(lines(text, "dojo_jobs"), [#"dojo_jobs{state="cancelled"} 0.0"#, #"dojo_jobs{state="completed"} 1.0"#,
                                                  #"dojo_jobs{state="failed"} 0.0"#, #"dojo_jobs{state="queued"} 0.0"#,
                                                  #"dojo_jobs{state="running"} 0.0"#])
        XCTAssertEqual(lines(text, "dojo_shards"), [#"dojo_shards{state="done"} 4.0"#, #"dojo_shards{state="in_flight"} 0.0"#,
                                                    #"dojo_shards{state="queued"} 0.0"#])
        XCTAssertEqual(lines(text, "dojo_queued_documents"), ["dojo_queued_documents 0.0"])
        XCTAssertEqual(lines(text, "dojo_workers_connected"), ["dojo_workers_connected 1.0"])
        XCTAssertEqual(lines(text, "dojo_worker_heartbeat_age_seconds"), [#"dojo_worker_heartbeat_age_seconds{worker="box-1"} 1.5"#])
        let raw = try h.store.job(j)!.bytesRaw, compressed = try h.store.job(j)!.bytesCompressed
        XCTAssertEqual(lines(text, "dojo_result_bytes_total"), [#"dojo_result_bytes_total{kind="compressed"} \#(compressed)"#,
                                                                #"dojo_result_bytes_total{kind="raw"} \#(raw)"#])
        // Four shards of 250 ms: all in the 0.25 s bucket and above, none below.
        XCTAssertTrue(text.contains(#"dojo_shard_duration_seconds_bucket{task="noop",le="0.1"} 0"#), text)
        XCTAssertTrue(text.contains(#"dojo_shard_duration_seconds_bucket{task="noop",le="0.25"} 4"#), text)
        XCTAssertTrue(text.contains(#"dojo_shard_duration_seconds_count{task="noop"} 4"#), text)
        XCTAssertTrue(text.contains(#"dojo_shard_duration_seconds_sum{task="noop"} 1.0"#), text)
        // The job is finished: no rate or ETA series for it.
        XCTAssertEqual(lines(text, "dojo_job_documents_per_second"), [])
        XCTAssertEqual(lines(text, "dojo_job_eta_seconds"), [])
        XCTAssertTrue(text.contains("# TYPE dojo_documents_processed_total counter"))
        XCTAssertTrue(text.contains("# TYPE dojo_shard_duration_seconds histogram"))

        // The worker leaves: its heartbeat series goes with it.
        _ = try h.scheduler.bye("id-1", nowMs: now)
        let after = try metrics.exposition(live: LiveSnapshot(workers: h.scheduler.workers, publishedMs: now), nowMs: now)
        XCTAssertEqual(lines(after, "dojo_worker_heartbeat_age_seconds"), [])
        XCTAssertEqual(lines(after, "dojo_workers_connected"), ["dojo_workers_connected 0.0"])
    }

    func testRunningJobExportsRateAndEta() throws {
        let dir = try makeDataDirectory(self)
        let wall = ManualClock(startMs: 1_800_000_000_000)
        let store = try JobStore(directory: dir, nowMs: 0, wallClock: wall)
        let paths = JobPaths(dataDirectory: dir)
        let scheduler = Scheduler(store: store, paths: paths, output: OutputWriter(store: store, paths: paths), policy: Policy())
        let metrics = CoordinatorMetrics(store: store)
        scheduler.metrics = metrics
        let spec = JobSpec(task: "noop", shardSize: 10)
        let job = try store.createJob(name: "r", spec: spec, specData: Data("{}".utf8), nowMs: 0)
        let (cuts, docs) = try spool(makeInput(count: 40), paths: paths, jobId: job.id, shardSize: 10, shardTokens: spec.shardTokens)
        try store.appendShards(jobId: job.id, cuts: cuts)
        _ = try store.completeInput(jobId: job.id, documents: docs, inputBytes: 0, nowMs: 0)
        _ = try scheduler.hello("w", info: WorkerInfo(identity: "w", name: "w", threads: 1), nowMs: 0)
        let lease = try XCTUnwrap(try scheduler.ready("w", credits: 1, nowMs: 0).leases.first?.lease)
        wall.advance(byMs: 5_000)
        let lines = try SchedulerHarnessLines.result(lease, paths: paths)
        _ = try scheduler.result("w", lines, nowMs: 5_000)
        let text = try metrics.exposition(live: LiveSnapshot(workers: scheduler.workers, publishedMs: 5_000), nowMs: 5_000)
        // 10 documents in 5 s: 2 docs/s, 30 left: 15 s.
        XCTAssertTrue(text.contains(#"dojo_job_documents_per_second{job="\#(job.id)"} 2.0"#), text)
        XCTAssertTrue(text.contains(#"dojo_job_eta_seconds{job="\#(job.id)"} 15.0"#), text)
        XCTAssertTrue(text.contains("dojo_queued_documents 30.0"), text)
    }
}

/// A no-op result for a lease, without a harness.
enum SchedulerHarnessLines {
    static func result(_ lease: Lease, paths: JobPaths) throws -> ShardResult {
        let raw = try ShardReader.read(lease.cut, jobId: lease.jobId, paths: paths)
        let body = ShardReader.payload(raw, cut: lease.cut)
        return ShardResult(jobId: lease.jobId, shardId: lease.shardIndex, attemptId: lease.attemptId,
                           documentCount: UInt32(lease.cut.documentCount), errorCount: 0, tokenCount: 0,
                           rawBytes: UInt64(body.count), frame: try LZ4Frame.compress(body))
    }
}
